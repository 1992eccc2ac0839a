/**
 * `benchmark/outcomes`: any per-prompt outcome table as a benchmark.
 *
 * - CSV with one score column per model (RouterBench: `prompt`, `<model>`,
 *   `<model>|model_response`, `<model>|total_cost`, ...): model columns are the
 *   columns without `|` whose values are numbers or True/False.
 * - JSON `[{ question | prompt, scores: { model: score } }]` (RouterDC, LLMRouter).
 *
 * Two models are named in config (defaults GPT-4 / Mixtral when present, else
 * the best and worst by mean score); every model stays in the rows for routers
 * over more than two models. An optional seeded split by prompt text keeps
 * held-out prompts apart for evaluating routers trained on the rest
 * (`augment/split` keeps the other part of the training battles). Prompts
 * stored as a list of turns are read as their first turn, as
 * `dataset/outcome-battles` reads them, so both sides split the same text.
 */
import { Errors, Files, Hash, ModelAliases, Plugin, PromptTurns, Random, type Records, Settings } from "@routellm/core"
import { Effect, Schema } from "effect"
import * as Path from "node:path"
import { defaultStrong, defaultWeak, parseOutcome, resolvePair, type RoutingBenchmark } from "./Benchmarks.ts"
import { estimateTokens } from "./Metrics.ts"

export const Split = Schema.Struct({
  seed: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))),
  testFraction: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 })).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(0.2))
  ),
  part: Schema.Literals(["train", "test"]).pipe(Schema.withDecodingDefaultKey(Effect.succeed("test" as const)))
}).annotate({ description: "Keep one side of a seeded split by prompt (same prompt, same side)" })
export type Split = typeof Split.Type

export const Config = Schema.Struct({
  file: Schema.String.annotate({
    description: "CSV or JSON outcome table; relative to the pipeline directory, else to ROUTELLM_DATA_DIR"
  }),
  name: Schema.optionalKey(Schema.String),
  strong: Schema.optionalKey(Schema.String),
  weak: Schema.optionalKey(Schema.String),
  models: Schema.optionalKey(Schema.Array(Schema.String)).annotate({
    description: "Models to keep (default: every model in the table)"
  }),
  split: Schema.optionalKey(Split),
  exclude: Schema.optionalKey(Schema.Array(Schema.String)).annotate({
    description: "JSONL files of contaminated prompts (eval_prompt or prompt field) to drop"
  }),
  promptTurns: Schema.optionalKey(Schema.Literals(["first", "verbatim"])).annotate({
    description:
      "first (default): a prompt stored as a list of turns (RouterBench's Python list repr) is routed, split and matched on its first turn, as dataset/outcome-battles reads it; verbatim: the cell as it is"
  })
}).annotate({ description: "Per-prompt outcome table (CSV/JSON, one score per model) as a benchmark" })
export type Config = typeof Config.Type

const reservedColumns = new Set(["", "sample_id", "prompt", "question", "eval_name", "oracle_model_to_route_to", "cluster_id"])

/** Resolve a path against the base directory, then the data directory. */
const locate = (file: string, baseDirectory: string) =>
  Effect.gen(function*() {
    const direct = Path.resolve(baseDirectory, file)
    if (Path.isAbsolute(file) || (yield* Files.exists(direct))) return direct
    const settings = yield* Settings.Settings
    if (settings.dataDirectory !== undefined) {
      const underData = Path.resolve(settings.dataDirectory, file)
      if (yield* Files.exists(underData)) return underData
    }
    return direct
  })

interface Table {
  readonly prompts: Array<string>
  readonly models: Array<string>
  readonly scores: Array<Float64Array>
  readonly outputTokens: Record<string, Float64Array>
  readonly recordedCosts: Record<string, Float64Array>
}

const readCsvTable = (path: string) =>
  Effect.gen(function*() {
    const table = yield* Files.readCsv(path, "file")
    const promptColumn = table.header.includes("prompt") ? "prompt" : table.header.includes("question") ? "question" : undefined
    if (promptColumn === undefined) {
      return yield* new Errors.InputError({ file: path, line: 1, field: "prompt", reason: "no prompt or question column" })
    }
    const candidates = table.header.filter((name) => !reservedColumns.has(name) && !name.includes("|"))
    const columns = candidates.filter((name) =>
      table.rows.every((row) => {
        const text = row.value[name]!.trim()
        return text === "" || !Number.isNaN(parseOutcome(text))
      })
    )
    const models = columns.map(ModelAliases.canonical)
    const outputTokens: Record<string, Float64Array> = {}
    const recordedCosts: Record<string, Float64Array> = {}
    columns.forEach((column, index) => {
      if (table.header.includes(`${column}|model_response`)) {
        outputTokens[models[index]!] = Float64Array.from(table.rows, (row) => estimateTokens(row.value[`${column}|model_response`]!))
      }
      if (table.header.includes(`${column}|total_cost`)) {
        recordedCosts[models[index]!] = Float64Array.from(table.rows, (row) => parseOutcome(row.value[`${column}|total_cost`]!))
      }
    })
    return {
      prompts: table.rows.map((row) => row.value[promptColumn]!),
      models,
      scores: columns.map((column) => Float64Array.from(table.rows, (row) => parseOutcome(row.value[column]!))),
      outputTokens,
      recordedCosts
    } satisfies Table
  })

const JsonRow = Schema.Struct({
  question: Schema.optionalKey(Schema.String),
  prompt: Schema.optionalKey(Schema.String),
  scores: Schema.Record(Schema.String, Schema.NullOr(Schema.Number))
})

const readJsonTable = (path: string) =>
  Effect.gen(function*() {
    const text = yield* Files.readText(path, "file")
    const parsed = path.endsWith(".jsonl")
      ? (yield* Files.parseJsonl(text, path)).rows.map((row) => row.value)
      : yield* Files.parseJson(text, path, { allowNaN: true })
    if (!Array.isArray(parsed)) {
      return yield* new Errors.InputError({ file: path, reason: "expected an array of { question, scores } objects" })
    }
    const rows = yield* Effect.forEach(parsed, (value, index) =>
      Schema.decodeUnknownEffect(JsonRow)(value).pipe(
        Effect.mapError((error) => new Errors.InputError({ file: path, field: `[${index}]`, reason: error.message }))
      ))
    const modelSet = new Map<string, string>()
    for (const row of rows) for (const name of Object.keys(row.scores)) modelSet.set(name, ModelAliases.canonical(name))
    const names = [...modelSet.keys()]
    const prompts: Array<string> = []
    for (const [index, row] of rows.entries()) {
      const prompt = row.question ?? row.prompt
      if (prompt === undefined) {
        return yield* new Errors.InputError({ file: path, field: `[${index}].question`, reason: "missing question/prompt" })
      }
      prompts.push(prompt)
    }
    return {
      prompts,
      models: names.map((name) => modelSet.get(name)!),
      scores: names.map((name) => Float64Array.from(rows, (row) => row.scores[name] ?? Number.NaN)),
      outputTokens: {},
      recordedCosts: {}
    } satisfies Table
  })

/** Which side of the split a prompt falls on (by its text, so duplicates agree). */
export const inTestPart = (prompt: string, split: Split): boolean => Random.hashUniform(split.seed, prompt) < split.testFraction

const mean = (values: Float64Array) => {
  let total = 0
  let count = 0
  for (const value of values) {
    if (Number.isNaN(value)) continue
    total += value
    count++
  }
  return count === 0 ? Number.NaN : total / count
}

const fingerprint = (config: Config, context: Plugin.MakeContext) =>
  Effect.gen(function*() {
    const path = yield* locate(config.file, context.baseDirectory)
    const contents = [yield* Files.readText(path, "file")]
    for (const exclude of config.exclude ?? []) contents.push(yield* Files.readText(yield* locate(exclude, context.baseDirectory), "exclude"))
    return Hash.hashValue({
      id: "benchmark/outcomes",
      files: contents.map(Hash.sha256),
      config: { ...config, file: Path.basename(config.file), exclude: undefined, promptTurns: config.promptTurns ?? "first" }
    })
  })

export const make = Effect.fn("Outcomes.make")(function*(config: Config, context: Plugin.MakeContext) {
  const path = yield* locate(config.file, context.baseDirectory)
  const table = path.endsWith(".csv") ? yield* readCsvTable(path) : yield* readJsonTable(path)
  // The text routers see, the split hashes and training battles carry (dataset/outcome-battles unwraps turns alike).
  const prompts = config.promptTurns === "verbatim" ? table.prompts : table.prompts.map(PromptTurns.firstTurn)
  const seen = new Map<string, number>()
  for (const [index, model] of table.models.entries()) {
    const earlier = seen.get(model)
    if (earlier !== undefined) {
      return yield* new Errors.InputError({
        file: path,
        reason: `two model columns name the same model ${model} (columns ${earlier + 1} and ${index + 1} of the models); keep one`
      })
    }
    seen.set(model, index)
  }
  let keep = table.models.map((_, index) => index)
  if (config.models !== undefined) {
    keep = []
    for (const wanted of config.models) {
      const found = ModelAliases.find(table.models, wanted)
      if (found === undefined) {
        return yield* new Errors.InputError({
          file: path,
          field: "models",
          reason: ModelAliases.missing(table.models, wanted)
        })
      }
      keep.push(table.models.indexOf(found))
    }
  }
  const listed = keep.map((index) => table.models[index]!)
  if (listed.length < 2) {
    return yield* new Errors.InputError({ file: path, reason: `need at least two model columns, found ${listed.join(", ") || "none"}` })
  }
  // Defaults: the paper's pair when the table has it, else the best and the worst model by mean score.
  const byMean = [...listed].sort((left, right) => mean(table.scores[table.models.indexOf(right)]!) - mean(table.scores[table.models.indexOf(left)]!))
  const hasDefaults = ModelAliases.find(listed, defaultStrong) !== undefined && ModelAliases.find(listed, defaultWeak) !== undefined
  const strong = config.strong ?? (hasDefaults ? defaultStrong : byMean[0]!)
  const weak = config.weak ?? (hasDefaults ? defaultWeak : byMean[byMean.length - 1]!)
  const pair = yield* resolvePair(listed, strong, weak, path)

  const excluded = new Set<string>()
  for (const exclude of config.exclude ?? []) {
    const { rows } = yield* Files.readJsonl(yield* locate(exclude, context.baseDirectory), { field: "exclude" })
    for (const row of rows) {
      const value = row.value as { readonly eval_prompt?: unknown; readonly prompt?: unknown }
      const prompt = value.eval_prompt ?? value.prompt
      if (typeof prompt === "string") excluded.add(prompt)
    }
  }
  // A row is kept when the pair has both scores; other models stay listed only where every kept row scores them.
  const strongIndex = table.models.indexOf(pair.strong)
  const weakIndex = table.models.indexOf(pair.weak)
  const kept: Array<number> = []
  let contaminated = 0
  let missingOutcome = 0
  for (let p = 0; p < prompts.length; p++) {
    const prompt = prompts[p]!
    if (config.split !== undefined && inTestPart(prompt, config.split) !== (config.split.part === "test")) continue
    if (excluded.has(prompt) || excluded.has(table.prompts[p]!)) {
      contaminated++
      continue
    }
    if (Number.isNaN(table.scores[strongIndex]![p]!) || Number.isNaN(table.scores[weakIndex]![p]!)) {
      missingOutcome++
      continue
    }
    kept.push(p)
  }
  const complete = keep.filter((index) => kept.every((p) => !Number.isNaN(table.scores[index]![p]!)))
  const models = complete.map((index) => table.models[index]!)
  const rows: Array<Records.OutcomeRow> = kept.map((p) => ({
    prompt: prompts[p]!,
    scores: Object.fromEntries(complete.map((index) => [table.models[index]!, table.scores[index]![p]!]))
  }))
  const pick = (record: Record<string, Float64Array>) =>
    Object.fromEntries(
      Object.entries(record)
        .filter(([model]) => models.includes(model))
        .map(([model, values]) => [model, Float64Array.from(kept, (p) => values[p]!)])
    )
  const scoreRange = rows.every((row) => Object.values(row.scores).every((value) => value === 0 || value === 1))
  const benchmark: RoutingBenchmark = {
    id: "benchmark/outcomes",
    name: config.name ?? Path.basename(path).replace(/\.(csv|jsonl?)$/, ""),
    fingerprint: yield* fingerprint(config, context),
    strongModel: pair.strong,
    weakModel: pair.weak,
    models,
    rows,
    scoreLabel: scoreRange ? "accuracy" : "score",
    dropped: contaminated + missingOutcome,
    details: {
      droppedReasons: { contaminated, "without a score of the pair": missingOutcome },
      optimalCalls: "fractional",
      displayScale: scoreRange ? 100 : 1,
      outputTokens: pick(table.outputTokens),
      recordedCosts: pick(table.recordedCosts)
    }
  }
  return benchmark
})

export const plugin = Plugin.benchmark({
  id: "benchmark/outcomes",
  version: "1.1.0",
  description: "Any per-prompt outcome table (RouterBench CSV, RouterDC/LLMRouter JSON) as a benchmark for two or more models",
  config: Config,
  fingerprint,
  make
})
