/**
 * `dataset/outcome-battles`: golden-label battles derived from per-prompt
 * outcome tables (the paper's golden-label augmentation in reusable form).
 * For each prompt and each pair of models with a score, the better-scoring
 * model wins and equal scores (within `margin`) tie.
 *
 * Formats, by extension:
 * - `.csv` (RouterBench): a `prompt` column and one score column per model;
 *   model columns are those with a `<model>|model_response` or
 *   `<model>|total_cost` sibling (or the `modelColumns` option); empty cells
 *   are missing scores.
 * - `.json` (RouterDC, LLMRouter): an array of `{ question | prompt, scores: { model: score } }`.
 * - `.jsonl`: one such record per line.
 * A source that is a directory means every .csv/.json/.jsonl file in it.
 *
 * `labels: reference` turns absolute correctness into battles instead: each
 * model's score on a prompt is a battle against a virtual model
 * `reference:<source>` whose outcome is the score itself (1: the model wins,
 * 0: the reference wins, a fractional s: two battles of weights s and 1 - s,
 * one won by each side). A router trained on battles then learns how hard
 * each prompt is (the reference model's strength on it), which pairwise
 * battles between two models that are both right or both wrong never show.
 * `both` emits the pairwise and the reference battles.
 */
import { Errors, Files, Plugin, PromptTurns, type Records } from "@routellm/core"
import { Effect, Schema } from "effect"
import * as Path from "node:path"
import * as Source from "./internal/Source.ts"

export const id = "dataset/outcome-battles"

export const Config = Schema.Struct({
  sources: Schema.Array(Schema.String).pipe(Schema.withDecodingDefaultKey(Effect.succeed([]))).annotate({
    description: "Outcome files or directories relative to the data root (dir: or ROUTELLM_DATA_DIR), e.g. train/routerbench"
  }),
  files: Schema.Array(Schema.String).pipe(Schema.withDecodingDefaultKey(Effect.succeed([]))).annotate({
    description: "Outcome files or directories relative to the pipeline's directory"
  }),
  dir: Source.DirectoryOption,
  onInvalid: Source.OnInvalid,
  models: Schema.optionalKey(Schema.Array(Schema.String)).annotate({
    description: "Use only these models (any alias spelling); default every model in the table"
  }),
  involving: Schema.optionalKey(Schema.Array(Schema.String)).annotate({
    description: "Keep only pairs in which at least one model is one of these"
  }),
  margin: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))).annotate({
    description: "Scores closer than this tie"
  }),
  ties: Schema.Literals(["keep", "drop"]).pipe(Schema.withDecodingDefaultKey(Effect.succeed("keep" as const))).annotate({
    description: "Keep tied pairs as tie battles or drop them"
  }),
  promptColumn: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("prompt"))).annotate({
    description: "CSV column holding the prompt"
  }),
  promptTurns: Schema.Literals(["first", "verbatim"]).pipe(Schema.withDecodingDefaultKey(Effect.succeed("first" as const))).annotate({
    description:
      "first: a prompt stored as a list of turns (RouterBench's Python list repr, or a JSON list) is routed on its first turn; verbatim: keep the cell as it is"
  }),
  modelColumns: Schema.optionalKey(Schema.Array(Schema.String)).annotate({
    description: "CSV columns holding model scores (default: columns with a <model>|model_response or <model>|total_cost sibling)"
  }),
  // Optional rather than defaulted, so the configs (and cached steps) of existing pairwise pipelines do not change.
  labels: Schema.optionalKey(Schema.Literals(["pairwise", "reference", "both"])).annotate({
    description:
      "pairwise (default): a battle per pair of scored models; reference: a battle per model against the virtual model reference:<source> that the score decides (scores in [0, 1]; fractional s: weights s and 1 - s); both: all of them"
  })
}).annotate({ description: "Golden-label battles from per-prompt outcome tables (RouterBench CSV, RouterDC / LLMRouter JSON)" })
export type Config = typeof Config.Type

/** One prompt's scores, in the table's model order; NaN marks a missing score. */
export interface Outcome {
  readonly file: string
  readonly line: number
  readonly prompt: string
  readonly models: ReadonlyArray<string>
  readonly scores: ReadonlyArray<number>
}

const JsonRecord = Schema.Struct({
  question: Schema.optionalKey(Schema.String),
  prompt: Schema.optionalKey(Schema.String),
  scores: Schema.Record(Schema.String, Schema.NullOr(Schema.Finite))
})
const decodeJsonRecord = Source.decodeRow(JsonRecord)

const extensions = [".csv", ".json", ".jsonl"]

/** Expand directories into their outcome files, sorted, so the order is stable. */
export const expandSources = (paths: ReadonlyArray<string>) =>
  Effect.forEach(paths, (path) =>
    Effect.gen(function*() {
      yield* Files.requireExists(path, "sources")
      if (!(yield* Files.isDirectory(path))) return [path]
      const names = yield* Files.readDirectory(path, "sources")
      return names.filter((name) => extensions.includes(Path.extname(name))).map((name) => Path.join(path, name))
    })).pipe(Effect.map((lists) => lists.flat()))

export const resolveSources = (config: Config, context: Plugin.MakeContext) =>
  Effect.gen(function*() {
    const paths = config.files.map((file) => Path.resolve(context.baseDirectory, file))
    if (config.sources.length > 0) {
      const root = yield* Source.dataRoot(config.dir, context)
      if (root === undefined) {
        return yield* new Errors.MissingInputError({
          path: config.sources.join(", "),
          field: "sources",
          hint: "set dir: (a data root containing train/) or the ROUTELLM_DATA_DIR environment variable, or name files: instead"
        })
      }
      paths.push(...config.sources.map((source) => Path.join(root, source)))
    }
    if (paths.length === 0) {
      return yield* new Errors.InputError({ file: "(config)", field: "sources", reason: "name at least one outcome file in sources: or files:" })
    }
    return yield* expandSources(paths)
  })

/** The first turn of a prompt stored as a list of turns; other prompts unchanged (core's PromptTurns, shared with benchmark/outcomes). */
export const firstTurn = (prompt: string): string => PromptTurns.firstTurn(prompt)

const parseScore = (text: string): number => (text.trim() === "" ? Number.NaN : Number(text))

/** Read the outcome rows of a RouterBench-style CSV. */
export const readCsv = (file: string, config: Config, invalid: Source.InvalidRows) =>
  Effect.gen(function*() {
    const text = yield* Files.readText(file, "sources")
    const { header, rows } = yield* Files.parseCsv(text, file)
    const promptIndex = header.indexOf(config.promptColumn)
    if (promptIndex < 0) {
      return yield* new Errors.InputError({ file, line: 1, field: config.promptColumn, reason: `no prompt column "${config.promptColumn}"` })
    }
    const columns = config.modelColumns ??
      header.filter((name) => name !== "" && (header.includes(`${name}|model_response`) || header.includes(`${name}|total_cost`)))
    const indices = columns.map((column) => header.indexOf(column))
    const missing = columns.filter((_, index) => indices[index]! < 0)
    if (missing.length > 0) {
      return yield* new Errors.InputError({ file, line: 1, reason: `model columns not in the header: ${missing.join(", ")}` })
    }
    if (columns.length < 2) {
      return yield* new Errors.InputError({ file, line: 1, reason: "fewer than two model score columns (set modelColumns)" })
    }
    const outcomes: Array<Outcome> = []
    for (const row of rows) {
      if (row.value.length !== header.length) {
        yield* invalid.report(file, row.line, `expected ${header.length} fields, found ${row.value.length}`)
        continue
      }
      const prompt = row.value[promptIndex]!
      const scores = indices.map((index) => parseScore(row.value[index]!))
      const bad = scores.findIndex((score, index) => Number.isNaN(score) && row.value[indices[index]!]!.trim() !== "")
      if (prompt.trim() === "") {
        yield* invalid.report(file, row.line, `empty ${config.promptColumn}`)
        continue
      }
      if (bad >= 0) {
        yield* invalid.report(file, row.line, `column "${columns[bad]}": not a number: ${JSON.stringify(row.value[indices[bad]!])}`)
        continue
      }
      outcomes.push({ file, line: row.line, prompt: config.promptTurns === "first" ? firstTurn(prompt) : prompt, models: columns, scores })
    }
    return outcomes
  })

const outcomeOfRecord = (file: string, line: number, value: unknown): Outcome | { readonly reason: string } => {
  const decoded = decodeJsonRecord(value)
  if ("reason" in decoded) return decoded
  const prompt = decoded.value.question ?? decoded.value.prompt
  if (prompt === undefined || prompt.trim() === "") return { reason: "no question or prompt" }
  const models = Object.keys(decoded.value.scores)
  return { file, line, prompt, models, scores: models.map((model) => decoded.value.scores[model] ?? Number.NaN) }
}

/** Read the outcome rows of a RouterDC / LLMRouter JSON array or a JSONL file. */
export const readJson = (file: string, config: Config, invalid: Source.InvalidRows) =>
  Effect.gen(function*() {
    let rows: ReadonlyArray<Files.Row<unknown>>
    if (file.endsWith(".jsonl")) {
      const parsed = yield* Files.readJsonl(file, { field: "sources", onInvalid: "skip" })
      for (const row of parsed.invalid) yield* invalid.report(file, row.line, row.reason)
      rows = parsed.rows
    } else {
      rows = yield* Source.readJsonArray(file, { allowNaN: true })
    }
    const outcomes: Array<Outcome> = []
    for (const row of rows) {
      const outcome = outcomeOfRecord(file, row.line, row.value)
      if ("reason" in outcome) yield* invalid.report(file, row.line, outcome.reason)
      else outcomes.push(config.promptTurns === "first" ? { ...outcome, prompt: firstTurn(outcome.prompt) } : outcome)
    }
    return outcomes
  })

/** Golden-label battles of one prompt: every pair of scored models, better score wins. */
export const battlesOf = (
  outcome: Outcome,
  options: {
    readonly models?: ReadonlySet<string> | undefined
    readonly involving?: ReadonlySet<string> | undefined
    readonly margin: number
    readonly ties: "keep" | "drop"
    readonly source: string
  }
): Array<Records.Battle> => {
  const names = outcome.models.map(Source.model)
  const battles: Array<Records.Battle> = []
  for (let i = 0; i < names.length; i++) {
    const scoreA = outcome.scores[i]!
    if (Number.isNaN(scoreA) || (options.models !== undefined && !options.models.has(names[i]!))) continue
    for (let j = i + 1; j < names.length; j++) {
      const scoreB = outcome.scores[j]!
      if (Number.isNaN(scoreB) || (options.models !== undefined && !options.models.has(names[j]!))) continue
      if (names[i] === names[j]) continue
      if (options.involving !== undefined && !options.involving.has(names[i]!) && !options.involving.has(names[j]!)) continue
      const difference = scoreA - scoreB
      const winner: Records.Winner = Math.abs(difference) <= options.margin ? "tie" : difference > 0 ? "model_a" : "model_b"
      if (winner === "tie" && options.ties === "drop") continue
      battles.push({ prompt: outcome.prompt, model_a: names[i]!, model_b: names[j]!, winner, source: options.source })
    }
  }
  return battles
}

/** The virtual model a source's reference battles are played against. */
export const referenceModel = (source: string): string => `reference:${source}`

/**
 * Reference battles of one prompt: every scored model against the source's
 * reference, won by the model with probability its score. Undefined (with a
 * reason) when a score is outside [0, 1].
 */
export const referenceBattlesOf = (
  outcome: Outcome,
  options: {
    readonly models?: ReadonlySet<string> | undefined
    readonly involving?: ReadonlySet<string> | undefined
    readonly source: string
  }
): Array<Records.Battle> | { readonly reason: string } => {
  const reference = referenceModel(options.source)
  const battles: Array<Records.Battle> = []
  for (let i = 0; i < outcome.models.length; i++) {
    const score = outcome.scores[i]!
    const model = Source.model(outcome.models[i]!)
    if (Number.isNaN(score) || (options.models !== undefined && !options.models.has(model))) continue
    if (options.involving !== undefined && !options.involving.has(model) && !options.involving.has(reference)) continue
    if (!(score >= 0 && score <= 1)) return { reason: `reference labels need scores in [0, 1]; ${outcome.models[i]} scores ${score}` }
    const base = { prompt: outcome.prompt, model_a: model, model_b: reference, source: options.source }
    if (score === 1) battles.push({ ...base, winner: "model_a" })
    else if (score === 0) battles.push({ ...base, winner: "model_b" })
    else battles.push({ ...base, winner: "model_a", weight: score }, { ...base, winner: "model_b", weight: 1 - score })
  }
  return battles
}

/** The name a battle's `source` records: the file relative to its data root when possible. */
const sourceName = (file: string): string => {
  const parts = file.split(Path.sep)
  const train = parts.lastIndexOf("train")
  return train >= 0 ? parts.slice(train + 1).join("/") : Path.basename(file)
}

export const read = (files: ReadonlyArray<string>, config: Config, invalid: Source.InvalidRows) =>
  Effect.gen(function*() {
    const models = config.models === undefined ? undefined : new Set(config.models.map(Source.model))
    const involving = config.involving === undefined ? undefined : new Set(config.involving.map(Source.model))
    const battles: Array<Records.Battle> = []
    for (const file of files) {
      const outcomes = file.endsWith(".csv") ? yield* readCsv(file, config, invalid) : yield* readJson(file, config, invalid)
      const source = sourceName(file)
      for (const outcome of outcomes) {
        const labels = config.labels ?? "pairwise"
        if (labels !== "reference") {
          for (const battle of battlesOf(outcome, { models, involving, margin: config.margin, ties: config.ties, source })) {
            battles.push(battle)
          }
        }
        if (labels !== "pairwise") {
          const reference = referenceBattlesOf(outcome, { models, involving, source })
          if ("reason" in reference) yield* invalid.report(outcome.file, outcome.line, reference.reason)
          else for (const battle of reference) battles.push(battle)
        }
      }
    }
    return battles
  })

const options = (config: Config) => ({
  models: config.models,
  involving: config.involving,
  margin: config.margin,
  ties: config.ties,
  promptColumn: config.promptColumn,
  promptTurns: config.promptTurns,
  modelColumns: config.modelColumns,
  // Absent for pairwise labels, so pairwise datasets keep their fingerprints.
  ...(config.labels === undefined || config.labels === "pairwise" ? {} : { labels: config.labels })
})

export const plugin = Plugin.dataset({
  id,
  version: "1.0.0",
  description:
    "Golden-label battles from per-prompt outcome tables: for each prompt and model pair the better-scoring model wins, equal scores tie; or each model against a reference the score decides",
  config: Config,
  fingerprint: (config, context) => Effect.flatMap(resolveSources(config, context), (files) => Source.fingerprintFiles(id, files, options(config))),
  make: (config, context) =>
    Effect.gen(function*() {
      const files = yield* resolveSources(config, context)
      const fingerprint = yield* Source.fingerprintFiles(id, files, options(config))
      return yield* Source.makeDataset(id, fingerprint, config.onInvalid, (invalid) => read(files, config, invalid))
    })
})
