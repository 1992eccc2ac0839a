/**
 * `benchmark/alpaca-eval`: AlpacaEval's judge battles as a routing benchmark
 * for one pair of models (`train/alpaca_eval/battles.jsonl`).
 *
 * The strong model is a model the battles use as their baseline (`model_1`:
 * gpt4_1106_preview or text_davinci_003); the weak model is any model judged
 * against it. On each prompt the strong model's score is the judges' mean
 * preference for it over that pair's judgements: preference 1 (model_1 wins)
 * counts 1, 2 counts 0, 1.5 counts 0.5 and values between scale linearly
 * (`2 - preference`); 0 marks an invalid judgement and is skipped. Judgements
 * are averaged per annotator, then over annotators. The weak model scores
 * `1 - ` that, so a router that sends a prompt to the strong model gains the
 * judges' preference for it there.
 */
import { Errors, Files, Hash, ModelAliases, Plugin, type Records, Settings } from "@routellm/core"
import { Effect, Schema } from "effect"
import * as Path from "node:path"
import type { RoutingBenchmark } from "./Benchmarks.ts"
import { inTestPart, Split } from "./Outcomes.ts"

export const id = "benchmark/alpaca-eval"
export const relativePath = "train/alpaca_eval/battles.jsonl"

export const Config = Schema.Struct({
  file: Schema.optionalKey(Schema.String).annotate({ description: "The battles file, relative to the pipeline's directory (overrides dir)" }),
  dir: Schema.optionalKey(Schema.String).annotate({
    description:
      "A data root in the layout of ../shared/data (train/alpaca_eval/battles.jsonl), relative to the pipeline's directory; default ROUTELLM_DATA_DIR"
  }),
  strong: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("gpt4_1106_preview"))).annotate({
    description: "Strong model: a baseline of the battles (model_1: gpt4_1106_preview or text_davinci_003), any alias spelling"
  }),
  weak: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("Mixtral-8x7B-Instruct-v0.1"))).annotate({
    description: "Weak model: any model judged against the strong one, any alias spelling"
  }),
  annotators: Schema.optionalKey(
    Schema.Array(Schema.String).annotate({ description: "Keep only judgements by these annotators (e.g. alpaca_eval_gpt4_turbo_fn)" })
  ),
  split: Schema.optionalKey(Split),
  name: Schema.optionalKey(Schema.String).annotate({ description: "Display name (default AlpacaEval <strong> vs <weak>)" })
}).annotate({ description: "AlpacaEval judge preferences for a baseline model over one model judged against it, as a routing benchmark" })
export type Config = typeof Config.Type

const Row = Schema.Struct({
  prompt: Schema.String,
  model_1: Schema.String,
  model_2: Schema.String,
  preference: Schema.Finite,
  annotator: Schema.optionalKey(Schema.String)
})
const decodeRow = Schema.decodeUnknownExit(Row)

/** The file a config reads: `file:`, else `<dir or ROUTELLM_DATA_DIR>/train/alpaca_eval/battles.jsonl`. */
export const resolveFile = (config: Config, context: Plugin.MakeContext) =>
  Effect.gen(function*() {
    if (config.file !== undefined) return Path.resolve(context.baseDirectory, config.file)
    const root = config.dir !== undefined ? Path.resolve(context.baseDirectory, config.dir) : (yield* Settings.Settings).dataDirectory
    if (root === undefined) {
      return yield* new Errors.MissingInputError({
        path: relativePath,
        field: "file",
        hint: "set file: (a path), dir: (a data root containing train/) or the ROUTELLM_DATA_DIR environment variable"
      })
    }
    return Path.join(root, relativePath)
  })

const options = (config: Config) => ({
  strong: ModelAliases.canonical(config.strong),
  weak: ModelAliases.canonical(config.weak),
  annotators: config.annotators,
  split: config.split
})

const fingerprintOf = (file: string, bytes: Uint8Array, config: Config) =>
  Hash.hashValue({ id, file: { name: Path.basename(file), sha256: Hash.sha256(bytes) }, options: options(config) })

const fingerprint = (config: Config, context: Plugin.MakeContext) =>
  Effect.gen(function*() {
    const file = yield* resolveFile(config, context)
    return fingerprintOf(file, yield* Files.readBytes(file, "file"), config)
  })

/** The strong model's score of one judgement: 1 when model_1 (the strong baseline) wins, 0 when model_2 does. */
export const strongScore = (preference: number): number => 2 - preference

/** Every spelling of a model the alias table knows, as it appears quoted in a JSON line (lower case). */
const quotedSpellings = (name: string): Array<string> => {
  const canonical = ModelAliases.canonical(name)
  return [...new Set([name, canonical, ...(ModelAliases.table[canonical] ?? [])])].map((spelling) => JSON.stringify(spelling.trim()).toLowerCase())
}

type Judgement = { readonly line: number; readonly row: typeof Row.Type }

const decodeJudgement = (file: string, line: number, text: string): Effect.Effect<Judgement, Errors.InputError> => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return Effect.fail(new Errors.InputError({ file, line, reason: `invalid JSON: ${error instanceof Error ? error.message : String(error)}` }))
  }
  const decoded = decodeRow(value)
  return decoded._tag === "Failure"
    ? Effect.fail(new Errors.InputError({ file, line, reason: "expected { prompt, model_1, model_2, preference, annotator }" }))
    : Effect.succeed({ line, row: decoded.value })
}

/** Why no judgement of the pair exists: the baselines, or the models judged against the strong one (reads every line). */
const missingPair = (file: string, lines: ReadonlyArray<string>, config: Config) =>
  Effect.gen(function*() {
    const judgements: Array<Judgement> = []
    for (const [index, text] of lines.entries()) if (text.trim() !== "") judgements.push(yield* decodeJudgement(file, index + 1, text))
    const baselines = [...new Set(judgements.map((entry) => entry.row.model_1))]
    const strongName = ModelAliases.find(baselines, config.strong)
    if (strongName === undefined) {
      return new Errors.InputError({
        file,
        field: "strong",
        reason: `${ModelAliases.missing(baselines, config.strong)} (the strong model must be a baseline, model_1, of the battles)`
      })
    }
    const opponents = [...new Set(judgements.filter((entry) => ModelAliases.same(entry.row.model_1, strongName)).map((entry) => entry.row.model_2))]
    return new Errors.InputError({
      file,
      field: "weak",
      reason: `${ModelAliases.missing(opponents, config.weak)} (models judged against ${strongName})`
    })
  })

export const make = Effect.fn("AlpacaEval.make")(function*(config: Config, context: Plugin.MakeContext) {
  const file = yield* resolveFile(config, context)
  const bytes = yield* Files.readBytes(file, "file")
  const text = new TextDecoder().decode(bytes)
  const lines = text.split("\n")
  // Only lines that name both models are parsed (a few thousand of 100,000); lower-casing keeps the line breaks.
  const lowered = text.toLowerCase().split("\n")
  const strongSpellings = quotedSpellings(config.strong)
  const weakSpellings = quotedSpellings(config.weak)
  const pair = { strong: ModelAliases.canonical(config.strong), weak: ModelAliases.canonical(config.weak) }
  if (pair.strong === pair.weak) {
    return yield* new Errors.InputError({ file, field: "weak", reason: `strong and weak are the same model (${pair.strong})` })
  }
  const judgements: Array<Judgement> = []
  for (let index = 0; index < lines.length; index++) {
    const line = lowered[index]!
    if (!strongSpellings.some((spelling) => line.includes(spelling)) || !weakSpellings.some((spelling) => line.includes(spelling))) continue
    const judgement = yield* decodeJudgement(file, index + 1, lines[index]!)
    if (ModelAliases.canonical(judgement.row.model_1) === pair.strong && ModelAliases.canonical(judgement.row.model_2) === pair.weak) {
      judgements.push(judgement)
    }
  }
  if (judgements.length === 0) return yield* (yield* missingPair(file, lines, config))
  const strongName = judgements[0]!.row.model_1
  const weakName = judgements[0]!.row.model_2
  const annotators = config.annotators === undefined ? undefined : new Set(config.annotators)
  // prompt -> annotator -> [sum of strong scores, judgements]
  const byPrompt = new Map<string, Map<string, [number, number]>>()
  const invalidPrompts = new Set<string>()
  for (const { line, row } of judgements) {
    const annotator = row.annotator ?? ""
    if (annotators !== undefined && !annotators.has(annotator)) continue
    if (config.split !== undefined && inTestPart(row.prompt, config.split) !== (config.split.part === "test")) continue
    if (row.preference === 0) {
      invalidPrompts.add(row.prompt)
      continue
    }
    if (!(row.preference >= 1 && row.preference <= 2)) {
      return yield* new Errors.InputError({ file, line, field: "preference", reason: `expected 0 (invalid) or a value in [1, 2], got ${row.preference}` })
    }
    let perAnnotator = byPrompt.get(row.prompt)
    if (perAnnotator === undefined) byPrompt.set(row.prompt, perAnnotator = new Map())
    const entry = perAnnotator.get(annotator) ?? [0, 0]
    entry[0] += strongScore(row.preference)
    entry[1]++
    perAnnotator.set(annotator, entry)
  }
  if (byPrompt.size === 0) {
    return yield* new Errors.InputError({
      file,
      reason: `no valid judgement of ${weakName} against ${strongName}${annotators === undefined ? "" : ` by ${[...annotators].join(", ")}`}${
        config.split === undefined ? "" : ` in the ${config.split.part} part of the split`
      }`
    })
  }
  // A prompt whose every judgement of the pair is invalid has no score.
  const unscored = [...invalidPrompts].filter((prompt) => !byPrompt.has(prompt)).length
  const outcomeRows: Array<Records.OutcomeRow> = []
  for (const [prompt, perAnnotator] of byPrompt) {
    let total = 0
    for (const [sum, count] of perAnnotator.values()) total += sum / count
    const score = total / perAnnotator.size
    outcomeRows.push({ prompt, scores: { [pair.strong]: score, [pair.weak]: 1 - score } })
  }
  const benchmark: RoutingBenchmark = {
    id,
    name: config.name ?? `AlpacaEval ${pair.strong} vs ${pair.weak}`,
    fingerprint: fingerprintOf(file, bytes, config),
    strongModel: pair.strong,
    weakModel: pair.weak,
    models: [pair.strong, pair.weak],
    rows: outcomeRows,
    scoreLabel: "judge preference (%)",
    dropped: unscored,
    details: {
      droppedReasons: { "with only invalid judgements": unscored },
      optimalCalls: "fractional",
      displayScale: 100
    }
  }
  return benchmark
})

export const plugin = Plugin.benchmark({
  id,
  version: "1.0.0",
  description: "AlpacaEval judge preferences of a baseline model (model_1) over a model judged against it, per prompt, as a routing benchmark",
  config: Config,
  fingerprint,
  make
})
