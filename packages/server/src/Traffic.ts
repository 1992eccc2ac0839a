/**
 * Learning from traffic: the two plugins `pipelines/from-traffic.yaml` runs
 * on the server's decision log (written with `decisionLog.includePrompt`).
 *
 * - `dataset/traffic-log` reads the log, keeps each distinct prompt once and
 *   splits the prompts into a training and a held-out part by a seeded hash
 *   of the prompt, so a prompt always lands in the same part however the log
 *   grows. Its records carry no preference yet (`winner: tie`, `weight: 0`):
 *   `augment/llm-judge` turns them into battles by generating both answers
 *   and judging them.
 * - `eval/traffic` compares routers on the held-out judged battles: the
 *   serving router by the scores it logged when it routed those prompts, and
 *   each retrained router (the router steps in `needs`) by scoring them
 *   again. It reports how well each ranks the prompts the strong model wins
 *   (AUC) and the share of prompts whose routed answer the judge preferred at
 *   each strong-call share, next to random routing and the oracle.
 */
import { Errors, Files, Hash, Plugin, PluginRegistry, Port, Random, type Records, Router } from "@routellm/core"
import { Effect, Schema, Stream } from "effect"
import * as Path from "node:path"
import { promptHash } from "./DecisionLog.ts"

const LogEntry = Schema.Struct({
  promptHash: Schema.String,
  prompt: Schema.optionalKey(Schema.String),
  router: Schema.String,
  scores: Schema.Record(Schema.String, Schema.Number)
})
type LogEntry = typeof LogEntry.Type
const decodeEntry = Schema.decodeUnknownExit(LogEntry)

const LogOption = Schema.String.annotate({
  description: "The decision log (JSONL, written with decisionLog.includePrompt) or a directory of them, relative to the pipeline"
})

interface LogRow {
  readonly file: string
  readonly line: number
  readonly entry: LogEntry
}

/** Every readable entry of the log files; unreadable lines are counted, not fatal (the server may be appending). */
const readLog = Effect.fnUntraced(function*(path: string, field: string) {
  yield* Files.requireExists(path, field)
  const files = (yield* Files.isDirectory(path))
    ? (yield* Files.readDirectory(path, field)).filter((name) => name.endsWith(".jsonl")).sort().map((name) => Path.join(path, name))
    : [path]
  const rows: Array<LogRow> = []
  const invalid: Array<{ readonly file: string; readonly line: number; readonly reason: string }> = []
  for (const file of files) {
    const parsed = yield* Files.readJsonl(file, { field, onInvalid: "skip" })
    for (const bad of parsed.invalid) invalid.push({ file, ...bad })
    for (const row of parsed.rows) {
      const decoded = decodeEntry(row.value)
      if (decoded._tag === "Failure") invalid.push({ file, line: row.line, reason: "not a decision log entry" })
      else rows.push({ file, line: row.line, entry: decoded.value })
    }
  }
  return { files, rows, invalid }
})

/** Held out when the seeded hash of the prompt falls under the held-out share. */
export const isHeldOut = (seed: number, hash: string, heldOut: number): boolean => Random.hashUniform(seed, hash) < heldOut

export const TrafficLogConfig = Schema.Struct({
  log: LogOption,
  part: Schema.Literals(["train", "held-out", "all"]).pipe(Schema.withDecodingDefaultKey(Effect.succeed("train" as const))),
  heldOut: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 0.9 })).pipe(Schema.withDecodingDefaultKey(Effect.succeed(0.2))).annotate({
    description: "Share of the distinct prompts held out for the comparison"
  }),
  seed: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))),
  router: Schema.optionalKey(Schema.String).annotate({ description: "Keep only the decisions of this router" }),
  strongName: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("strong"))),
  weakName: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("weak")))
}).annotate({ description: "Distinct routed prompts from the server's decision log, split into training and held-out parts" })
export type TrafficLogConfig = typeof TrafficLogConfig.Type

const trafficLogId = "dataset/traffic-log"

const fingerprintOf = (files: ReadonlyArray<string>, config: TrafficLogConfig) =>
  Effect.gen(function*() {
    const contents: Array<string> = []
    for (const file of files) contents.push(Hash.sha256(yield* Files.readText(file, "log")))
    return Hash.hashValue({ id: trafficLogId, contents, part: config.part, heldOut: config.heldOut, seed: config.seed, router: config.router ?? null })
  })

export const trafficLog = Plugin.dataset({
  id: trafficLogId,
  version: "1.0.0",
  description: "Distinct routed prompts from the routing server's decision log, split by a seeded hash into training and held-out parts (no labels yet)",
  config: TrafficLogConfig,
  fingerprint: (config, context) =>
    Effect.gen(function*() {
      const { files } = yield* readLog(Path.resolve(context.baseDirectory, config.log), "log")
      return yield* fingerprintOf(files, config)
    }),
  make: (config, context) =>
    Effect.gen(function*() {
      const path = Path.resolve(context.baseDirectory, config.log)
      const { files, rows, invalid } = yield* readLog(path, "log")
      const skipped = invalid.map((row) => ({ file: row.file, line: row.line, reason: row.reason }))
      const seen = new Set<string>()
      const records: Array<Records.Battle> = []
      for (const { file, line, entry } of rows) {
        if (config.router !== undefined && entry.router !== config.router) continue
        if (entry.prompt === undefined) {
          skipped.push({ file, line, reason: "logged without the prompt (set decisionLog.includePrompt: true in the serve config)" })
          continue
        }
        if (seen.has(entry.promptHash)) continue
        seen.add(entry.promptHash)
        const heldOut = isHeldOut(config.seed, entry.promptHash, config.heldOut)
        if (config.part === "train" ? heldOut : config.part === "held-out" ? !heldOut : false) continue
        records.push({ prompt: entry.prompt, model_a: config.strongName, model_b: config.weakName, winner: "tie", weight: 0, source: "traffic-log" })
      }
      if (records.length === 0) {
        return yield* new Errors.InputError({
          file: path,
          field: "log",
          reason: `no ${config.part === "all" ? "" : `${config.part} `}prompts in the decision log (${rows.length} entries, ${skipped.length} skipped${
            skipped.length > 0 ? `; first: ${skipped[0]!.reason}` : ""
          })`
        })
      }
      return {
        id: trafficLogId,
        fingerprint: yield* fingerprintOf(files, config),
        records: Stream.fromIterable(records),
        skipped
      }
    })
})

export const TrafficEvalConfig = Schema.Struct({
  log: LogOption,
  serving: Schema.optionalKey(Schema.String).annotate({
    description: "The router in the log whose logged scores are the baseline (default: the router that routed most of the held-out prompts)"
  }),
  strongName: Schema.optionalKey(Schema.String).annotate({
    description: "The strong model's name in the judged battles (default: model_a of the first battle, as augment/llm-judge writes them)"
  }),
  shares: Schema.Array(Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }))).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]))
  ).annotate({ description: "Strong-call shares the quality is reported at" })
}).annotate({ description: "Compare the serving router (its logged scores) with retrained routers on held-out judged traffic" })
export type TrafficEvalConfig = typeof TrafficEvalConfig.Type

/** P(score of a strong-win prompt > score of a weak-win prompt), ties counting half; labels 0.5 (ties) are left out. */
export const auc = (scores: ReadonlyArray<number>, labels: ReadonlyArray<number>): number => {
  const order = scores.map((score, index) => ({ score, label: labels[index]! })).filter((item) => item.label !== 0.5)
    .sort((left, right) => left.score - right.score)
  let positives = 0
  let negatives = 0
  let rankSum = 0
  for (let start = 0; start < order.length;) {
    let end = start
    while (end < order.length && order[end]!.score === order[start]!.score) end++
    const averageRank = (start + end + 1) / 2
    for (let index = start; index < end; index++) {
      if (order[index]!.label === 1) {
        positives++
        rankSum += averageRank
      } else negatives++
    }
    start = end
  }
  return positives === 0 || negatives === 0 ? Number.NaN : (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives)
}

/**
 * The share of prompts whose routed answer the judge preferred (ties count
 * half) when the top `share` of prompts by score go to the strong model.
 */
export const qualityAt = (scores: ReadonlyArray<number>, labels: ReadonlyArray<number>, share: number): number => {
  const order = scores.map((score, index) => index).sort((left, right) => scores[right]! - scores[left]! || left - right)
  const strongCount = Math.round(share * order.length)
  let total = 0
  order.forEach((index, rank) => {
    const label = labels[index]!
    total += rank < strongCount ? label : 1 - label
  })
  return order.length === 0 ? Number.NaN : total / order.length
}

export interface RouterResult {
  readonly name: string
  readonly source: "log" | "retrained"
  readonly auc: number
  readonly quality: ReadonlyArray<{ readonly share: number; readonly value: number }>
  /** Mean quality over the shares. */
  readonly meanQuality: number
}

const evaluate = (
  name: string,
  source: RouterResult["source"],
  scores: ReadonlyArray<number>,
  labels: ReadonlyArray<number>,
  shares: ReadonlyArray<number>
): RouterResult => {
  const quality = shares.map((share) => ({ share, value: qualityAt(scores, labels, share) }))
  return { name, source, auc: auc(scores, labels), quality, meanQuality: quality.reduce((sum, point) => sum + point.value, 0) / Math.max(1, quality.length) }
}

const markdown = (report: {
  readonly prompts: number
  readonly strongWins: number
  readonly weakWins: number
  readonly ties: number
  readonly routers: ReadonlyArray<RouterResult>
  readonly random: ReadonlyArray<{ readonly share: number; readonly value: number }>
  readonly oracle: number
  readonly best: string
}) => {
  const shares = report.random.map((point) => point.share)
  const percent = (value: number) => (Number.isNaN(value) ? "-" : `${(100 * value).toFixed(1)}%`)
  return [
    "# Routers on held-out traffic",
    "",
    `${report.prompts} held-out prompts judged: the strong model's answer won ${report.strongWins}, the weak model's ${report.weakWins}, ${report.ties} ties.`,
    `Quality: share of prompts whose routed answer the judge preferred (ties half). The oracle reaches ${percent(report.oracle)}.`,
    "",
    `| router | scores | AUC | mean quality | ${shares.map((share) => `${Math.round(100 * share)}% strong`).join(" | ")} |`,
    `|---|---|---|---|${shares.map(() => "---").join("|")}|`,
    ...report.routers.map((router) =>
      `| ${router.name} | ${router.source} | ${Number.isNaN(router.auc) ? "-" : router.auc.toFixed(3)} | ${percent(router.meanQuality)} | ${
        router.quality.map((point) => percent(point.value)).join(" | ")
      } |`
    ),
    `| (random routing) | expected | 0.500 | ${percent(report.random.reduce((sum, point) => sum + point.value, 0) / Math.max(1, report.random.length))} | ${
      report.random.map((point) => percent(point.value)).join(" | ")
    } |`,
    "",
    `Best on held-out traffic: **${report.best}**.`,
    ""
  ].join("\n")
}

export const trafficEval = Plugin.step({
  id: "eval/traffic",
  version: "1.0.0",
  description:
    "Compare the serving router (its logged scores) with retrained routers on held-out judged traffic: AUC and routed-answer quality by strong share",
  config: TrafficEvalConfig,
  inputs: {
    battles: Port.many(Port.battles, { min: 1, description: "judged battles on the held-out prompts (augment/llm-judge)" }),
    routers: Port.many(Port.router(), { description: "retrained routers to compare with the serving one" })
  },
  output: Port.report,
  run: (config, context) =>
    Effect.gen(function*() {
      const fail = (reason: string) => new Errors.PluginError({ pluginId: "eval/traffic", reason })
      const battles: Array<Records.Battle> = []
      for (const input of context.ports.battles) battles.push(...(yield* input.read))
      const judged = battles.filter((battle) => battle.weight !== 0)
      if (judged.length === 0) return yield* fail("no judged battles among the inputs: name the augment/llm-judge step of the held-out part in needs")
      const strongName = config.strongName ?? judged[0]!.model_a
      // One label per prompt: 1 the strong answer won, 0 the weak one, 0.5 a tie.
      const labelByPrompt = new Map<string, number>()
      for (const battle of judged) {
        const strongIsA = battle.model_a === strongName
        if (!strongIsA && battle.model_b !== strongName) continue
        const label = battle.winner === "tie" ? 0.5 : (battle.winner === "model_a") === strongIsA ? 1 : 0
        labelByPrompt.set(battle.prompt, label)
      }
      const { rows } = yield* readLog(Path.resolve(context.baseDirectory, config.log), "log")
      const logged = new Map<string, LogEntry>()
      for (const row of rows) logged.set(row.entry.promptHash, row.entry)
      const counts = new Map<string, number>()
      for (const prompt of labelByPrompt.keys()) {
        const entry = logged.get(promptHash(prompt))
        if (entry !== undefined) counts.set(entry.router, (counts.get(entry.router) ?? 0) + 1)
      }
      const serving = config.serving ?? [...counts.entries()].sort((left, right) => right[1] - left[1])[0]?.[0]
      if (serving === undefined) return yield* fail("none of the judged prompts is in the decision log: is `log` the log the traffic came from?")
      const prompts: Array<string> = []
      const labels: Array<number> = []
      const servingScores: Array<number> = []
      let unlogged = 0
      for (const [prompt, label] of labelByPrompt) {
        const score = logged.get(promptHash(prompt))?.scores[serving]
        if (score === undefined) {
          unlogged++
          continue
        }
        prompts.push(prompt)
        labels.push(label)
        servingScores.push(score)
      }
      if (prompts.length === 0) return yield* fail(`router "${serving}" scored none of the judged prompts in the log`)
      const results: Array<RouterResult> = [evaluate(serving, "log", servingScores, labels, config.shares)]
      for (const input of context.ports.routers) {
        const router = yield* PluginRegistry.makeRouter(
          { uses: input.uses, with: (input as { readonly config?: unknown }).config ?? {} },
          { baseDirectory: context.baseDirectory, trained: input as unknown as Plugin.StepInput },
          `eval/traffic: router step ${input.stepId}`
        )
        const scores = yield* Router.scoreAll(router, prompts, { label: `eval/traffic: scoring ${prompts.length} held-out prompts with ${input.stepId}` })
        results.push(evaluate(input.stepId, "retrained", [...scores], labels, config.shares))
      }
      const strongRate = labels.reduce((sum, label) => sum + label, 0) / labels.length
      const random = config.shares.map((share) => ({ share, value: share * strongRate + (1 - share) * (1 - strongRate) }))
      const oracle = labels.reduce((sum, label) => sum + Math.max(label, 1 - label), 0) / labels.length
      const best = [...results].sort((left, right) => right.meanQuality - left.meanQuality || right.auc - left.auc)[0]!.name
      const report = {
        prompts: prompts.length,
        unlogged,
        serving,
        strongWins: labels.filter((label) => label === 1).length,
        weakWins: labels.filter((label) => label === 0).length,
        ties: labels.filter((label) => label === 0.5).length,
        routers: results,
        random,
        oracle,
        best
      }
      yield* Files.writeJson(Path.join(context.directory, "report.json"), report)
      yield* Files.writeText(Path.join(context.directory, "report.md"), markdown(report))
      return {
        value: report,
        summary: {
          prompts: report.prompts,
          serving,
          best,
          ...Object.fromEntries(results.map((result) => [result.name, { auc: result.auc, meanQuality: result.meanQuality }]))
        }
      }
    })
})

export const plugins: ReadonlyArray<Plugin.Any> = [trafficLog, trafficEval]
