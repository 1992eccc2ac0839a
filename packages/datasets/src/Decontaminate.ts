/**
 * `augment/decontaminate`: drop training battles whose prompt duplicates an
 * evaluation prompt, so a router is never scored on what it was trained on.
 *
 * Evaluation prompts come from benchmark plugins named in the config
 * (`benchmark/mmlu`, ...), from benchmark steps among the step's inputs, and
 * from files. A training prompt is contaminated when, after normalisation
 * (Unicode NFKC, lower case, collapsed whitespace):
 * - exact: it equals an evaluation prompt;
 * - containment: one contains the other and the shorter has at least
 *   `minimumContainedLength` characters (training sets often wrap a
 *   benchmark question in extra instructions);
 * - similarity (with an `embedder`): the cosine similarity of their
 *   embeddings is at least `threshold`, as the paper decontaminated.
 * The report counts dropped battles and prompts by method, by evaluation
 * source and by training source, with a few examples.
 */
import { ArtifactStore, type Dataset, Embedder, Errors, Files, Hash, Matrix, Plugin, PluginRegistry, Port, Progress, type Records } from "@routellm/core"
import { Similarity } from "@routellm/embedders"
import { Effect, Schema, Stream } from "effect"
import * as Path from "node:path"

export const id = "augment/decontaminate"

export const Config = Schema.Struct({
  benchmarks: Schema.Array(Plugin.Reference).pipe(Schema.withDecodingDefaultKey(Effect.succeed([]))).annotate({
    description: "Benchmarks whose prompts are evaluation prompts, e.g. [benchmark/mmlu, { uses: benchmark/gsm8k, with: {...} }]"
  }),
  files: Schema.Array(Schema.String).pipe(Schema.withDecodingDefaultKey(Effect.succeed([]))).annotate({
    description:
      "Files of evaluation prompts relative to the pipeline's directory: .jsonl/.json records with prompt, question, eval_prompt or turns, .csv with a prompt column, or .txt with one prompt per line"
  }),
  exact: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))).annotate({
    description: "Drop prompts equal to an evaluation prompt after normalisation"
  }),
  containment: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))).annotate({
    description: "Drop prompts that contain, or are contained in, an evaluation prompt"
  }),
  minimumContainedLength: Schema.Int.check(Schema.isGreaterThanOrEqualTo(8)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(48))).annotate({
    description: "Containment only counts when the shorter normalised text has at least this many characters"
  }),
  embedder: Schema.optionalKey(Plugin.Reference).annotate({
    description: "Also drop prompts whose embedding is close to an evaluation prompt's (e.g. embedder/use-lite)"
  }),
  threshold: Schema.Finite.check(Schema.isBetween({ minimum: -1, maximum: 1 })).pipe(Schema.withDecodingDefaultKey(Effect.succeed(0.95))).annotate({
    description: "Cosine similarity at or above which a prompt is contaminated"
  }),
  examples: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(5))).annotate({
    description: "Dropped (training, evaluation) prompt pairs to show in the report"
  })
}).annotate({ description: "Drop training battles whose prompts duplicate evaluation prompts (exact, containment, embedding similarity)" })
export type Config = typeof Config.Type

/** One evaluation set's prompts. */
export interface EvaluationSource {
  readonly name: string
  readonly prompts: ReadonlyArray<string>
}

export type Method = "exact" | "containment" | "similarity"

export interface Match {
  readonly method: Method
  readonly source: string
  readonly evaluationPrompt: string
  readonly similarity?: number
}

/** The text two prompts are compared on. */
export const normalize = (text: string): string => text.normalize("NFKC").toLowerCase().replace(/\s+/g, " ").trim()

const promptOfRecord = (value: unknown): string | undefined => {
  if (typeof value === "string") return value
  if (typeof value !== "object" || value === null) return undefined
  const record = value as Record<string, unknown>
  for (const key of ["prompt", "question", "eval_prompt", "instruction"]) {
    if (typeof record[key] === "string") return record[key] as string
  }
  if (Array.isArray(record.turns) && typeof record.turns[0] === "string") return record.turns[0] as string
  return undefined
}

/** Evaluation prompts from a file (see `files` in the config). */
export const readPromptFile = (file: string) =>
  Effect.gen(function*() {
    const records: Array<{ readonly line: number; readonly value: unknown }> = []
    if (file.endsWith(".csv")) {
      const table = yield* Files.readCsv(file, "files")
      if (!table.header.includes("prompt")) return yield* new Errors.InputError({ file, line: 1, field: "prompt", reason: "missing column" })
      for (const row of table.rows) records.push({ line: row.line, value: row.value.prompt })
    } else if (file.endsWith(".jsonl")) {
      records.push(...(yield* Files.readJsonl(file, { field: "files" })).rows)
    } else if (file.endsWith(".json")) {
      const value = yield* Files.readJson(file, { field: "files", allowNaN: true })
      if (!Array.isArray(value)) return yield* new Errors.InputError({ file, reason: "expected a JSON array" })
      value.forEach((entry, index) => records.push({ line: index + 1, value: entry }))
    } else {
      const text = yield* Files.readText(file, "files")
      text.split("\n").forEach((line, index) => line.trim() !== "" && records.push({ line: index + 1, value: line }))
    }
    const prompts: Array<string> = []
    for (const record of records) {
      const prompt = promptOfRecord(record.value)
      if (prompt === undefined) {
        return yield* new Errors.InputError({ file, line: record.line, reason: "no prompt, question, eval_prompt, instruction or turns field" })
      }
      prompts.push(prompt)
    }
    return { name: Path.basename(file), prompts } satisfies EvaluationSource
  })

/** What the step takes: battles to clean, and benchmark steps whose prompts count as evaluation prompts. */
export const inputs = {
  battles: Port.many(Port.battles, { min: 1, description: "training battles to decontaminate" }),
  benchmarks: Port.many(Port.outcomes, { description: "benchmark steps whose prompts are evaluation prompts (besides benchmarks:)" })
}

/** Evaluation prompts of a benchmark step among the inputs (its outcome rows). */
const readBenchmarkInput = (input: Port.Received<typeof Port.outcomes>) =>
  Effect.map(input.read, (rows) => ({ name: input.value.name, prompts: rows.map((row) => row.prompt) }))

/** Every evaluation source the config and inputs name. */
export const evaluationSources = (
  config: Config,
  context: Plugin.MakeContext,
  benchmarkInputs: ReadonlyArray<Port.Received<typeof Port.outcomes>> = []
) =>
  Effect.gen(function*() {
    const sources: Array<EvaluationSource> = []
    for (const reference of config.benchmarks) {
      const benchmark = yield* PluginRegistry.makeBenchmark(reference, context, `${id} benchmarks`)
      sources.push({ name: benchmark.name, prompts: benchmark.rows.map((row) => row.prompt) })
    }
    for (const input of benchmarkInputs) sources.push(yield* readBenchmarkInput(input))
    for (const file of config.files) sources.push(yield* readPromptFile(Path.resolve(context.baseDirectory, file)))
    return sources
  })

/**
 * Pairs (a, b) where a normalised text of `containers` contains one of
 * `contained`, found through an index of each contained text's first
 * `window` characters, then confirmed in full.
 */
const containments = (
  containers: ReadonlyArray<string>,
  contained: ReadonlyArray<string>,
  window: number
): Map<number, number> => {
  const byPrefix = new Map<string, Array<number>>()
  contained.forEach((text, index) => {
    if (text.length < window) return
    const key = text.slice(0, window)
    const list = byPrefix.get(key)
    if (list === undefined) byPrefix.set(key, [index])
    else list.push(index)
  })
  const found = new Map<number, number>()
  if (byPrefix.size === 0) return found
  containers.forEach((text, containerIndex) => {
    for (let start = 0; start + window <= text.length; start++) {
      const candidates = byPrefix.get(text.slice(start, start + window))
      if (candidates === undefined) continue
      const match = candidates.find((candidate) => text.startsWith(contained[candidate]!, start))
      if (match !== undefined) {
        found.set(containerIndex, match)
        return
      }
    }
  })
  return found
}

/** Match unique training prompts against evaluation sources by text (exact, containment). */
export const matchText = (
  prompts: ReadonlyArray<string>,
  sources: ReadonlyArray<EvaluationSource>,
  options: { readonly exact: boolean; readonly containment: boolean; readonly minimumContainedLength: number }
): Map<number, Match> => {
  const matches = new Map<number, Match>()
  const evaluation = sources.flatMap((source) => source.prompts.map((prompt) => ({ source: source.name, prompt, text: normalize(prompt) })))
  const training = prompts.map(normalize)
  if (options.exact) {
    const byText = new Map<string, (typeof evaluation)[number]>()
    for (const entry of evaluation) if (!byText.has(entry.text)) byText.set(entry.text, entry)
    training.forEach((text, index) => {
      const entry = byText.get(text)
      if (entry !== undefined) matches.set(index, { method: "exact", source: entry.source, evaluationPrompt: entry.prompt })
    })
  }
  if (options.containment) {
    const window = options.minimumContainedLength
    const evaluationTexts = evaluation.map((entry) => entry.text)
    // A training prompt wrapping an evaluation prompt, and one that is part of an evaluation prompt.
    for (const [trainingIndex, evaluationIndex] of containments(training, evaluationTexts, window)) {
      if (matches.has(trainingIndex)) continue
      const entry = evaluation[evaluationIndex]!
      matches.set(trainingIndex, { method: "containment", source: entry.source, evaluationPrompt: entry.prompt })
    }
    for (const [evaluationIndex, trainingIndex] of containments(evaluationTexts, training, window)) {
      if (matches.has(trainingIndex)) continue
      const entry = evaluation[evaluationIndex]!
      matches.set(trainingIndex, { method: "containment", source: entry.source, evaluationPrompt: entry.prompt })
    }
  }
  return matches
}

/**
 * For each training row, the most similar evaluation row, in blocks of one
 * matrix product each (onnxruntime's MatMul with the evaluation embeddings as
 * a constant).
 */
export const nearest = async (training: Matrix.Matrix, evaluation: Matrix.Matrix, onBlock?: (rows: number) => void) => {
  const index = new Int32Array(training.rows).fill(-1)
  const similarity = new Float32Array(training.rows).fill(Number.NEGATIVE_INFINITY)
  if (evaluation.rows === 0 || training.rows === 0) return { index, similarity }
  const engine = await Similarity.onnx(evaluation)
  try {
    const blockSize = 512
    for (let start = 0; start < training.rows; start += blockSize) {
      const end = Math.min(training.rows, start + blockSize)
      const block = Matrix.make(end - start, training.columns, training.data.subarray(start * training.columns, end * training.columns))
      const products = (await engine.similarities(block)).data
      for (let row = 0; row < end - start; row++) {
        const offset = row * evaluation.rows
        for (let column = 0; column < evaluation.rows; column++) {
          if (products[offset + column]! > similarity[start + row]!) {
            similarity[start + row] = products[offset + column]!
            index[start + row] = column
          }
        }
      }
      onBlock?.(end - start)
    }
  } finally {
    await engine.release()
  }
  return { index, similarity }
}

const increment = (counts: Record<string, number>, key: string, amount = 1) => {
  counts[key] = (counts[key] ?? 0) + amount
}

export const make = (config: Config, context: Plugin.StepContext<typeof inputs>) =>
  Effect.gen(function*() {
    const sources = yield* evaluationSources(config, context, context.ports.benchmarks)
    const embedder = config.embedder === undefined
      ? undefined
      : yield* PluginRegistry.makeEmbedder(config.embedder, context, `${id} embedder`)
    const store = yield* ArtifactStore.ArtifactStore
    const progressReporter = yield* Progress.Reporter
    const augment = (records: Stream.Stream<Records.Battle, Dataset.DatasetError>) =>
      Effect.gen(function*() {
        const battles = yield* Stream.runCollect(records)
        const prompts = [...new Set(battles.map((battle) => battle.prompt))]
        const matches = matchText(prompts, sources, config)
        if (embedder !== undefined) {
          const evaluation = sources.flatMap((source) => source.prompts.map((prompt) => ({ source: source.name, prompt })))
          const remaining = prompts.map((_, index) => index).filter((index) => !matches.has(index))
          const embed = (texts: ReadonlyArray<string>, label: string) => Embedder.embedAll(embedder, texts, { label }).pipe(Effect.map(Matrix.normalizeRows))
          const evaluationVectors = yield* embed(evaluation.map((entry) => entry.prompt), `${id}: embedding evaluation prompts`)
          const trainingVectors = yield* embed(remaining.map((index) => prompts[index]!), `${id}: embedding training prompts`)
          const progress = yield* Progress.start(`${id}: comparing ${remaining.length} x ${evaluation.length} prompts`, remaining.length)
          const found = yield* Effect.tryPromise({
            try: () => nearest(trainingVectors, evaluationVectors, (rows) => Effect.runSync(progress.advance(rows))),
            catch: (cause) => new Errors.PluginError({ pluginId: id, reason: `similarity product failed: ${Errors.format(cause)}` })
          })
          yield* progress.done
          remaining.forEach((promptIndex, row) => {
            if (found.index[row]! >= 0 && found.similarity[row]! >= config.threshold) {
              const entry = evaluation[found.index[row]!]!
              matches.set(promptIndex, { method: "similarity", source: entry.source, evaluationPrompt: entry.prompt, similarity: found.similarity[row]! })
            }
          })
        }
        const contaminated = new Map<string, Match>()
        matches.forEach((match, index) => contaminated.set(prompts[index]!, match))
        const kept: Array<Records.Battle> = []
        const byMethod: Record<string, number> = {}
        const byEvaluationSource: Record<string, number> = {}
        const byTrainingSource: Record<string, number> = {}
        const promptsByEvaluationSource: Record<string, number> = {}
        for (const match of contaminated.values()) increment(promptsByEvaluationSource, match.source)
        for (const battle of battles) {
          const match = contaminated.get(battle.prompt)
          if (match === undefined) {
            kept.push(battle)
            continue
          }
          increment(byMethod, match.method)
          increment(byEvaluationSource, match.source)
          increment(byTrainingSource, battle.source ?? "(unnamed)")
        }
        const report = {
          evaluationSources: Object.fromEntries(sources.map((source) => [source.name, source.prompts.length])),
          trainingPrompts: prompts.length,
          droppedPrompts: contaminated.size,
          droppedBattles: battles.length - kept.length,
          droppedBattlesByMethod: byMethod,
          droppedBattlesByEvaluationSource: byEvaluationSource,
          droppedPromptsByEvaluationSource: promptsByEvaluationSource,
          droppedBattlesByTrainingSource: byTrainingSource,
          examples: [...contaminated.entries()].slice(0, config.examples).map(([prompt, match]) => ({
            training: prompt.slice(0, 200),
            evaluation: match.evaluationPrompt.slice(0, 200),
            source: match.source,
            method: match.method,
            ...(match.similarity === undefined ? {} : { similarity: Number(match.similarity.toFixed(4)) })
          }))
        }
        return { records: kept, report }
      }).pipe(
        Effect.provideService(ArtifactStore.ArtifactStore, store),
        Effect.provideService(Progress.Reporter, progressReporter)
      )
    return { id, augment }
  })

/** Fingerprint of the evaluation prompts the config names (benchmark fingerprints and file contents). */
const fingerprint = (config: Config, context: Plugin.MakeContext) =>
  Effect.scoped(Effect.gen(function*() {
    const benchmarks: Array<string> = []
    for (const reference of config.benchmarks) {
      const benchmark = yield* PluginRegistry.makeBenchmark(reference, context, `${id} benchmarks`)
      benchmarks.push(benchmark.fingerprint)
    }
    const files: Array<string> = []
    for (const file of config.files) {
      const path = Path.resolve(context.baseDirectory, file)
      const bytes = yield* Files.readBytes(path, "files")
      files.push(Hash.sha256(bytes))
    }
    return Hash.hashValue({ id, benchmarks, files })
  }))

export const plugin = Plugin.augmenter({
  id,
  version: "1.0.0",
  description: "Drop training battles whose prompts duplicate evaluation prompts (exact, containment, embedding similarity); reports counts per source",
  config: Config,
  inputs,
  fingerprint,
  make
})
