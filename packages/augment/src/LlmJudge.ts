/**
 * `augment/llm-judge`: battles from a judge model's pairwise verdicts. For
 * every prompt the judge sees the strong and the weak answer twice, once in
 * each order (position swap). Verdicts that agree give the preferred model a
 * win; verdicts that disagree (or call a tie) give a tie. The verdict format
 * is parsed strictly: a reply must contain exactly one verdict token; one that
 * does not is asked again, and if it still fails the prompt is counted as
 * unparseable and left out, never guessed.
 *
 * Using the RouteLLM / MT-Bench judge prompt: set `judgePrompt.system` and
 * `judgePrompt.template` to the paper's wording (its placeholders map to
 * {question}, {answer_a}, {answer_b}) and `verdicts` to its tokens
 * ("[[A]]", "[[B]]", "[[C]]" for the MT-Bench pairwise prompt); see
 * pipelines/augment-llm-judge.yaml.
 */
import { type ArtifactStore, type Augmenter, Errors, Files, ModelAliases, Plugin, type Records } from "@routellm/core"
import { Effect, type FileSystem, Schema, type Scope, Stream } from "effect"
import * as Path from "node:path"
import * as ChatClient from "./ChatClient.ts"
import * as Sources from "./internal/Sources.ts"
import * as WithinBudget from "./internal/WithinBudget.ts"

export const id = "augment/llm-judge"

const PromptSet = Schema.Struct({
  path: Schema.String.annotate({ description: "JSONL, JSON or CSV file (or directory), relative to the pipeline" }),
  promptField: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("prompt"))),
  strongResponseField: Schema.optionalKey(Schema.String).annotate({ description: "Recorded strong response (else generated)" }),
  weakResponseField: Schema.optionalKey(Schema.String).annotate({ description: "Recorded weak response (else generated)" }),
  limit: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0)))
})

export const Verdicts = Schema.Struct({
  a: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("[[A]]"))),
  b: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("[[B]]"))),
  tie: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("[[C]]")))
})
export type Verdicts = typeof Verdicts.Type

export const JudgePrompt = Schema.Struct({
  system: Schema.String,
  template: Schema.String.annotate({ description: "User message with {question}, {answer_a} and {answer_b}" })
})
export type JudgePrompt = typeof JudgePrompt.Type

/** Our own wording. */
export const defaultJudgePrompt: JudgePrompt = {
  system: [
    "You compare two AI assistants' answers to the same user request.",
    "Judge which answer serves the user better: correctness first, then helpfulness, relevance, depth and clarity.",
    "Ignore which answer comes first and how long each is. Explain your reasoning in a few sentences,",
    "then give your decision on the last line as exactly one of: [[A]] if Answer A is better, [[B]] if Answer B is better, [[C]] for a tie."
  ].join(" "),
  template: "[User request]\n{question}\n\n[Answer A]\n{answer_a}\n[End of Answer A]\n\n[Answer B]\n{answer_b}\n[End of Answer B]"
}

export const Config = Schema.Struct({
  prompts: Schema.optionalKey(PromptSet).annotate({ description: "Prompt set; default: the unique prompts of the input battles" }),
  strong: Schema.optionalKey(ChatClient.Endpoint).annotate({ description: "Generates strong responses not recorded" }),
  weak: Schema.optionalKey(ChatClient.Endpoint),
  judge: ChatClient.Endpoint,
  strongName: Schema.optionalKey(Schema.String),
  weakName: Schema.optionalKey(Schema.String),
  judgePrompt: JudgePrompt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(defaultJudgePrompt))),
  verdicts: Verdicts.pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
  parseRetries: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(2))).annotate({
    description: "How often an unparseable verdict is asked again before it is counted as unparseable"
  }),
  limits: ChatClient.Limits.pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
  includeInput: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(false)))
}).annotate({ description: "LLM-as-judge battles: pairwise verdicts in both orders, consistent -> win, inconsistent -> tie" })
export type Config = typeof Config.Type

export type Position = "a" | "b" | "tie"

/** The one verdict a reply commits to, or undefined when it names none or several. */
export const parseVerdict = (reply: string, verdicts: Verdicts): Position | undefined => {
  const occurrences = (token: string) => reply.split(token).length - 1
  const found = (["a", "b", "tie"] as const).map((position) => [position, occurrences(verdicts[position])] as const)
  const named = found.filter(([, count]) => count > 0)
  return named.length === 1 && named[0]![1] === 1 ? named[0]![0] : undefined
}

export type Preference = "strong" | "weak" | "tie"

/** Order 1 shows the strong answer as A; order 2 (swapped) shows it as B. */
export const toPreference = (position: Position, strongFirst: boolean): Preference =>
  position === "tie" ? "tie" : (position === "a") === strongFirst ? "strong" : "weak"

/** Consistent verdicts give a win; anything else is a tie. */
export const combine = (first: Preference, second: Preference): Records.Winner =>
  first === second && first !== "tie" ? (first === "strong" ? "model_a" : "model_b") : "tie"

const fill = (template: string, values: Readonly<Record<string, string>>): string =>
  template.replace(/\{(question|answer_a|answer_b)\}/g, (_, name: string) => values[name] ?? "")

const fail = (reason: string) => new Errors.PluginError({ pluginId: id, reason })

interface Item {
  readonly prompt: string
  readonly strongResponse?: string | undefined
  readonly weakResponse?: string | undefined
}

export interface Judgement {
  readonly prompt: string
  readonly strongFirst: Position | null
  readonly weakFirst: Position | null
  readonly winner: Records.Winner | null
  readonly attempts: number
}

const loadItems = Effect.fnUntraced(function*(config: Config, context: Plugin.StepContext, records: Stream.Stream<Records.Battle, any>) {
  if (config.prompts === undefined) {
    const battles = yield* Stream.runCollect(records)
    const seen = new Set<string>()
    const items: Array<Item> = []
    for (const item of battles) {
      if (!seen.has(item.prompt)) {
        seen.add(item.prompt)
        items.push({ prompt: item.prompt })
      }
    }
    // Records that carry no preference (weight 0: prompts to be judged, as dataset/traffic-log writes them) are not passed on.
    return { items, input: battles.filter((battle) => battle.weight !== 0) }
  }
  const set = config.prompts
  const rows = yield* Sources.read(Sources.resolvePath(context.baseDirectory, set.path), "prompts.path")
  const items: Array<Item> = []
  for (const row of set.limit === undefined ? rows : rows.slice(0, set.limit)) {
    items.push({
      prompt: yield* Sources.text(row, set.promptField),
      strongResponse: set.strongResponseField === undefined ? undefined : yield* Sources.text(row, set.strongResponseField),
      weakResponse: set.weakResponseField === undefined ? undefined : yield* Sources.text(row, set.weakResponseField)
    })
  }
  return { items, input: config.includeInput ? yield* Stream.runCollect(records) : [] }
})

const run = Effect.fnUntraced(function*(config: Config, context: Plugin.StepContext, records: Stream.Stream<Records.Battle, any>) {
  const { items, input } = yield* loadItems(config, context, records)
  const needsStrong = items.some((item) => item.strongResponse === undefined)
  const needsWeak = items.some((item) => item.weakResponse === undefined)
  if (needsStrong && config.strong === undefined) return yield* fail("strong responses are not recorded: set a `strong` endpoint")
  if (needsWeak && config.weak === undefined) return yield* fail("weak responses are not recorded: set a `weak` endpoint")
  const strongName = config.strongName ?? (config.strong === undefined ? undefined : ModelAliases.canonical(config.strong.model))
  const weakName = config.weakName ?? (config.weak === undefined ? undefined : ModelAliases.canonical(config.weak.model))
  if (strongName === undefined || weakName === undefined) return yield* fail("set strongName and weakName (the names used in the battles)")
  const client = yield* ChatClient.make(config.limits)

  const respond = (endpoint: ChatClient.Endpoint | undefined, recorded: string | undefined, prompt: string) =>
    recorded !== undefined
      ? Effect.succeed(recorded)
      : Effect.map(client.complete(endpoint!, [{ role: "user", content: prompt }]), (reply) => reply.content)

  /** One order: ask, and on an unparseable reply ask again with the reply and a reminder. */
  const judgeOnce = (prompt: string, answerA: string, answerB: string) => {
    const messages: Array<Records.ChatMessage> = [
      { role: "system", content: config.judgePrompt.system },
      { role: "user", content: fill(config.judgePrompt.template, { question: prompt, answer_a: answerA, answer_b: answerB }) }
    ]
    const reminder = `Your reply must contain exactly one of ${config.verdicts.a}, ${config.verdicts.b} or ${config.verdicts.tie}. Give your final verdict now.`
    const loop = (attempt: number, conversation: Array<Records.ChatMessage>): Effect.Effect<
      { readonly position: Position | undefined; readonly attempts: number },
      ChatClient.LlmError | ChatClient.BudgetExhaustedError | Errors.FileError
    > =>
      Effect.flatMap(client.complete(config.judge, conversation), (reply) => {
        const position = parseVerdict(reply.content, config.verdicts)
        if (position !== undefined || attempt >= config.parseRetries) return Effect.succeed({ position, attempts: attempt + 1 })
        return loop(attempt + 1, [...conversation, { role: "assistant", content: reply.content }, { role: "user", content: reminder }])
      })
    return loop(0, messages)
  }

  const { results: judgements, overBudget: notJudged } = yield* WithinBudget.forEach(
    "llm judge",
    items,
    config.limits.concurrency,
    (item) =>
      Effect.gen(function*() {
        const [strongAnswer, weakAnswer] = yield* Effect.all([
          respond(config.strong, item.strongResponse, item.prompt),
          respond(config.weak, item.weakResponse, item.prompt)
        ], { concurrency: 2 })
        const [first, second] = yield* Effect.all([
          judgeOnce(item.prompt, strongAnswer, weakAnswer),
          judgeOnce(item.prompt, weakAnswer, strongAnswer)
        ], { concurrency: 2 })
        const winner = first.position === undefined || second.position === undefined
          ? null
          : combine(toPreference(first.position, true), toPreference(second.position, false))
        return {
          prompt: item.prompt,
          strongFirst: first.position ?? null,
          weakFirst: second.position ?? null,
          winner,
          attempts: first.attempts + second.attempts
        }
      })
  ).pipe(Effect.mapError((error) => fail(error.message)))

  const done = judgements.filter((judgement): judgement is Judgement => judgement !== undefined)
  const parsed = done.filter((judgement) => judgement.winner !== null)
  const battles: Array<Records.Battle> = parsed.map((judgement) => ({
    prompt: judgement.prompt,
    model_a: strongName,
    model_b: weakName,
    winner: judgement.winner!,
    source: id
  }))
  const preferences = parsed.map((judgement) =>
    [
      toPreference(judgement.strongFirst!, true),
      toPreference(judgement.weakFirst!, false)
    ] as const
  )
  const consistent = preferences.filter(([first, second]) => first === second).length
  const singleVerdicts = parsed.flatMap((judgement) => [judgement.strongFirst!, judgement.weakFirst!])
  const decisive = singleVerdicts.filter((position) => position !== "tie")
  const total = ChatClient.totals(client.usage())
  yield* Files.writeJsonl(Path.join(context.directory, "judgements.jsonl"), done)
  const count = (winner: Records.Winner) => battles.filter((item) => item.winner === winner).length
  return {
    records: [...input, ...battles],
    report: {
      prompts: items.length,
      judged: done.length,
      unparseable: done.length - parsed.length,
      notJudged,
      budgetExhausted: client.budgetExhausted(),
      strongWins: count("model_a"),
      weakWins: count("model_b"),
      ties: count("tie"),
      // Agreement of a verdict with its position-swapped twin (1 = no position effect).
      positionConsistency: parsed.length === 0 ? 0 : consistent / parsed.length,
      // Share of decisive single verdicts that chose the answer shown first (0.5 = no position bias).
      firstPositionPreference: decisive.length === 0 ? 0 : decisive.filter((position) => position === "a").length / decisive.length,
      judgeRetries: done.reduce((sum, judgement) => sum + judgement.attempts, 0) - 2 * done.length,
      modelCalls: total.calls,
      cachedCalls: total.cachedCalls,
      retries: total.retries,
      promptTokens: total.promptTokens,
      completionTokens: total.completionTokens,
      dollars: total.dollars,
      cachedDollars: total.cachedDollars,
      usage: client.usage()
    }
  }
})

export const make = (config: Config, context: Plugin.StepContext) =>
  Effect.gen(function*() {
    const services = yield* Effect.context<ArtifactStore.ArtifactStore | FileSystem.FileSystem | Scope.Scope>()
    return {
      id,
      augment: (records) => run(config, context, records).pipe(Effect.provideContext(services))
    } satisfies Augmenter.AugmenterShape
  })

export const plugin = Plugin.augmenter({
  id,
  version: "1.0.0",
  description: "LLM-as-judge battles: pairwise verdicts in both orders (position swap), strict verdict parsing, spending cap",
  config: Config,
  fingerprint: (config, context) =>
    config.prompts === undefined ? Effect.succeed("") : Sources.fingerprint(Sources.resolvePath(context.baseDirectory, config.prompts.path)),
  make
})
