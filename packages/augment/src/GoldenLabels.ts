/**
 * `augment/golden-labels`: in-domain battles from questions with a known
 * answer. The strong and the weak model answer every question (through any
 * OpenAI-compatible endpoint), each answer is graded automatically, and each
 * question becomes a battle: a win for the model that alone was right, a tie
 * otherwise. Where the outcomes are already recorded (the RouteLLM CSVs), no
 * model is called. Writes `outcomes.jsonl` (the outcome table) and
 * `gradings.jsonl` (responses, extracted answers) beside the battles.
 */
import { type ArtifactStore, type Augmenter, Errors, Files, ModelAliases, Plugin, type Records } from "@routellm/core"
import { Effect, type FileSystem, Schema, type Scope, Stream } from "effect"
import * as Path from "node:path"
import * as AnswerExtraction from "./AnswerExtraction.ts"
import * as ChatClient from "./ChatClient.ts"
import * as Sources from "./internal/Sources.ts"
import * as WithinBudget from "./internal/WithinBudget.ts"
import * as Outcomes from "./Outcomes.ts"

export const id = "augment/golden-labels"

const Questions = Schema.Struct({
  path: Schema.String.annotate({ description: "JSONL, JSON or CSV file (or a directory of them), relative to the pipeline" }),
  promptField: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("question"))),
  answerField: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("answer"))),
  answerType: AnswerExtraction.AnswerType.annotate({
    description: "choice: option letters; number: final number (GSM8K `#### N`); exact: normalised string match"
  }),
  letters: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("ABCD"))),
  limit: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0))).annotate({ description: "Use the first N questions" })
})

const Recorded = Schema.Struct({
  path: Schema.String.annotate({ description: "CSV/JSONL file or directory with recorded correctness per model" }),
  promptField: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("prompt"))),
  strongField: Schema.String.annotate({ description: "Column with the strong model's correctness (True/False, 0/1)" }),
  weakField: Schema.String,
  limit: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0)))
})

const PromptTemplate = Schema.Struct({
  system: Schema.optionalKey(Schema.String),
  template: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("{question}"))).annotate({
    description: "User message; {question} is replaced by the question"
  })
})

export const Config = Schema.Struct({
  questions: Schema.optionalKey(Questions).annotate({ description: "Questions with ground truth: both models are called" }),
  recorded: Schema.optionalKey(Recorded).annotate({ description: "Outcomes already recorded: no model is called" }),
  strong: Schema.optionalKey(ChatClient.Endpoint),
  weak: Schema.optionalKey(ChatClient.Endpoint),
  strongName: Schema.optionalKey(Schema.String).annotate({ description: "Strong model name in the battles (default: canonical model name)" }),
  weakName: Schema.optionalKey(Schema.String),
  prompt: Schema.optionalKey(PromptTemplate).annotate({ description: "Prompt for answering; a default per answer type" }),
  limits: ChatClient.Limits.pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
  dropTies: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(false))),
  includeInput: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(false))).annotate({
    description: "Pass the input battles through before the golden-label battles"
  })
}).annotate({ description: "Golden-label battles from graded strong/weak answers to questions with ground truth" })
export type Config = typeof Config.Type

export const defaultPrompts: Readonly<Record<AnswerExtraction.AnswerType, typeof PromptTemplate.Type>> = {
  choice: {
    system: "Answer the multiple-choice question. Think briefly, then finish with a line of the form 'Answer: X', where X is the letter of the correct option.",
    template: "{question}"
  },
  number: {
    system: "Solve the problem step by step. Finish with a line of the form '#### N', where N is the final numeric answer.",
    template: "{question}"
  },
  exact: { system: "Reply with the final answer only.", template: "{question}" }
}

export interface Grading {
  readonly prompt: string
  readonly truth: string
  readonly strong: { readonly response: string; readonly extracted: string | null; readonly correct: boolean }
  readonly weak: { readonly response: string; readonly extracted: string | null; readonly correct: boolean }
}

const fail = (reason: string) => new Errors.PluginError({ pluginId: id, reason })

export const messagesFor = (template: typeof PromptTemplate.Type, question: string): Array<Records.ChatMessage> => [
  ...(template.system === undefined ? [] : [{ role: "system" as const, content: template.system }]),
  { role: "user" as const, content: template.template.split("{question}").join(question) }
]

const writeLines = Files.writeJsonl

/** The recorded-outcomes path: read correctness columns, derive battles, call nothing. */
const fromRecorded = Effect.fnUntraced(function*(config: Config, recorded: typeof Recorded.Type, context: Plugin.StepContext) {
  const path = Sources.resolvePath(context.baseDirectory, recorded.path)
  const rows = yield* Sources.read(path, "recorded.path")
  const strongName = config.strongName ?? ModelAliases.canonical(recorded.strongField)
  const weakName = config.weakName ?? ModelAliases.canonical(recorded.weakField)
  const outcomes: Array<Records.OutcomeRow> = []
  for (const row of recorded.limit === undefined ? rows : rows.slice(0, recorded.limit)) {
    outcomes.push({
      prompt: yield* Sources.text(row, recorded.promptField),
      scores: {
        [strongName]: yield* Sources.outcome(row, recorded.strongField),
        [weakName]: yield* Sources.outcome(row, recorded.weakField)
      },
      source: Path.basename(row.file)
    })
  }
  const battles = Outcomes.battles(outcomes, { strong: strongName, weak: weakName }, { strong: strongName, weak: weakName }, {
    dropTies: config.dropTies,
    source: id
  })
  yield* writeLines(Path.join(context.directory, "outcomes.jsonl"), outcomes)
  const mean = (name: string) => outcomes.reduce((sum, row) => sum + row.scores[name]!, 0) / Math.max(1, outcomes.length)
  return {
    battles,
    report: {
      mode: "recorded",
      questions: outcomes.length,
      modelCalls: 0,
      strongAccuracy: mean(strongName),
      weakAccuracy: mean(weakName),
      ...Outcomes.count(battles)
    }
  }
})

interface Question {
  readonly prompt: string
  readonly truth: string
}

/** The model path: answer, grade, derive battles; stops cleanly at the spending cap. */
const fromModels = Effect.fnUntraced(function*(config: Config, questions: typeof Questions.Type, context: Plugin.StepContext) {
  if (config.strong === undefined || config.weak === undefined) {
    return yield* fail("questions need `strong` and `weak` endpoints (or use `recorded:` for outcomes already recorded)")
  }
  const strong = config.strong
  const weak = config.weak
  const path = Sources.resolvePath(context.baseDirectory, questions.path)
  const rows = yield* Sources.read(path, "questions.path")
  const list: Array<Question> = []
  let invalidTruth = 0
  for (const row of questions.limit === undefined ? rows : rows.slice(0, questions.limit)) {
    const prompt = yield* Sources.text(row, questions.promptField)
    const truth = AnswerExtraction.normalizeTruth(yield* Sources.text(row, questions.answerField), questions.answerType, questions.letters)
    if (truth === undefined) invalidTruth++
    else list.push({ prompt, truth })
  }
  const template = config.prompt ?? defaultPrompts[questions.answerType]
  const strongName = config.strongName ?? ModelAliases.canonical(strong.model)
  const weakName = config.weakName ?? ModelAliases.canonical(weak.model)
  if (strongName === weakName) return yield* fail(`strong and weak model are both named "${strongName}"; set strongName/weakName`)
  const client = yield* ChatClient.make(config.limits)
  const { results: gradings, overBudget: unanswered } = yield* WithinBudget.forEach(
    "golden labels",
    list,
    config.limits.concurrency,
    (question) =>
      Effect.gen(function*() {
        const messages = messagesFor(template, question.prompt)
        const [strongReply, weakReply] = yield* Effect.all([client.complete(strong, messages), client.complete(weak, messages)], {
          concurrency: 2
        })
        const strongGrade = AnswerExtraction.grade(strongReply.content, question.truth, questions.answerType, questions.letters)
        const weakGrade = AnswerExtraction.grade(weakReply.content, question.truth, questions.answerType, questions.letters)
        return {
          prompt: question.prompt,
          truth: question.truth,
          strong: { response: strongReply.content, extracted: strongGrade.extracted ?? null, correct: strongGrade.correct },
          weak: { response: weakReply.content, extracted: weakGrade.extracted ?? null, correct: weakGrade.correct }
        }
      })
  ).pipe(Effect.mapError((error) => fail(error.message)))
  const graded = gradings.filter((grading): grading is Grading => grading !== undefined)
  const outcomes: Array<Records.OutcomeRow> = graded.map((grading) => ({
    prompt: grading.prompt,
    scores: { [strongName]: grading.strong.correct ? 1 : 0, [weakName]: grading.weak.correct ? 1 : 0 }
  }))
  const battles = Outcomes.battles(outcomes, { strong: strongName, weak: weakName }, { strong: strongName, weak: weakName }, {
    dropTies: config.dropTies,
    source: id
  })
  yield* writeLines(Path.join(context.directory, "outcomes.jsonl"), outcomes)
  yield* writeLines(Path.join(context.directory, "gradings.jsonl"), graded)
  const usage = client.usage()
  const total = ChatClient.totals(usage)
  const share = (predicate: (grading: Grading) => boolean) => graded.filter(predicate).length / Math.max(1, graded.length)
  return {
    battles,
    report: {
      mode: "models",
      questions: list.length,
      graded: graded.length,
      invalidTruth,
      budgetExhausted: client.budgetExhausted(),
      unanswered,
      strongAccuracy: share((grading) => grading.strong.correct),
      weakAccuracy: share((grading) => grading.weak.correct),
      strongUnextracted: graded.filter((grading) => grading.strong.extracted === null).length,
      weakUnextracted: graded.filter((grading) => grading.weak.extracted === null).length,
      ...Outcomes.count(battles),
      modelCalls: total.calls,
      cachedCalls: total.cachedCalls,
      retries: total.retries,
      promptTokens: total.promptTokens,
      completionTokens: total.completionTokens,
      dollars: total.dollars,
      cachedDollars: total.cachedDollars,
      usage
    }
  }
})

export const make = (config: Config, context: Plugin.StepContext) =>
  Effect.gen(function*() {
    if ((config.questions === undefined) === (config.recorded === undefined)) {
      return yield* fail("set exactly one of `questions` (call the models) or `recorded` (outcomes already recorded)")
    }
    // The augmenter runs later, outside this effect: keep the services it needs (store, scope).
    const services = yield* Effect.context<ArtifactStore.ArtifactStore | FileSystem.FileSystem | Scope.Scope>()
    return {
      id,
      augment: (records) =>
        Effect.gen(function*() {
          const input = config.includeInput ? yield* Stream.runCollect(records) : []
          const result = config.recorded !== undefined
            ? yield* fromRecorded(config, config.recorded, context)
            : yield* fromModels(config, config.questions!, context)
          return { records: [...input, ...result.battles], report: result.report }
        }).pipe(Effect.provideContext(services))
    } satisfies Augmenter.AugmenterShape
  })

export const plugin = Plugin.augmenter({
  id,
  version: "1.0.0",
  description: "Golden-label battles: strong and weak answers to questions with ground truth, graded automatically (or recorded outcomes)",
  config: Config,
  fingerprint: (config, context) => {
    const source = config.recorded ?? config.questions
    return source === undefined ? Effect.succeed("") : Sources.fingerprint(Sources.resolvePath(context.baseDirectory, source.path))
  },
  make
})
