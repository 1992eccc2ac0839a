/**
 * What the benchmark plugins of this package share: the model pair options,
 * contamination lists, and the details beyond core's Benchmark contract that
 * evaluation uses when a benchmark has them (output lengths, recorded costs).
 */
import { type Benchmark, Errors, Files, ModelAliases, type Records } from "@routellm/core"
import { Effect, Schema } from "effect"

export const defaultStrong = "gpt-4-1106-preview"
export const defaultWeak = "mixtral-8x7b-instruct-v0.1"

/** Optional details a benchmark may carry besides core's BenchmarkShape. */
export interface Details {
  /** Output tokens of each model's recorded answer per row (estimated from its text). */
  readonly outputTokens?: Readonly<Record<string, Float64Array>>
  /** Dollars each model's recorded answer cost per row, when the source records it. */
  readonly recordedCosts?: Readonly<Record<string, Float64Array>>
  /**
   * How the optimal curve counts strong calls: RouteLLM uses `n * fraction`
   * for MMLU/GSM8K and `int(n * fraction)` for MT Bench.
   */
  readonly optimalCalls?: "fractional" | "floor"
  /** Rows dropped, counted by reason (e.g. contaminated, without a score of the pair); they sum to `dropped`. */
  readonly droppedReasons?: Readonly<Record<string, number>>
  /** Display multiplier for scores (100 for accuracy in percent). */
  readonly displayScale?: number
}

export interface RoutingBenchmark extends Benchmark.BenchmarkShape {
  readonly details?: Details
}

export const detailsOf = (benchmark: Benchmark.BenchmarkShape): Details => (benchmark as RoutingBenchmark).details ?? {}

/** 100 for accuracy benchmarks (scores 0/1 shown in percent), else 1. */
export const displayScale = (benchmark: Benchmark.BenchmarkShape): number =>
  detailsOf(benchmark).displayScale ?? (benchmark.scoreLabel.startsWith("accuracy") ? 100 : 1)

/** Config fields of every RouteLLM evaluation benchmark. */
export const routeLlmFields = {
  dir: Schema.optionalKey(Schema.String).annotate({
    description: "Directory with the RouteLLM evaluation files (eval/routellm layout); default ROUTELLM_DATA_DIR, else download"
  }),
  strong: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed(defaultStrong))).annotate({
    description: "Strong model (any spelling in the alias table)"
  }),
  weak: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed(defaultWeak))).annotate({
    description: "Weak model (any spelling in the alias table)"
  }),
  decontaminate: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))).annotate({
    description: "Drop the prompts listed in contaminated_prompts.jsonl"
  })
}

/** The `eval_prompt` values of a `contaminated_prompts.jsonl`. */
export const readContaminated = (path: string) =>
  Effect.gen(function*() {
    const { rows } = yield* Files.readJsonl(path, { field: "contaminated_prompts" })
    const prompts = new Set<string>()
    for (const row of rows) {
      const value = row.value as { readonly eval_prompt?: unknown }
      if (typeof value?.eval_prompt !== "string") {
        return yield* new Errors.InputError({ file: path, line: row.line, field: "eval_prompt", reason: "expected a string" })
      }
      prompts.add(value.eval_prompt)
    }
    return prompts
  })

/** `True`/`False` (pandas' spelling) or a number. */
export const parseOutcome = (text: string): number => {
  const trimmed = text.trim()
  if (trimmed === "True" || trimmed === "true") return 1
  if (trimmed === "False" || trimmed === "false") return 0
  if (trimmed === "" || trimmed === "nan" || trimmed === "NaN") return Number.NaN
  const value = Number(trimmed)
  return Number.isFinite(value) ? value : Number.NaN
}

/** The canonical names of the configured pair, checked against the models the source has. */
export const resolvePair = (
  models: ReadonlyArray<string>,
  strong: string,
  weak: string,
  file: string
): Effect.Effect<Records.ModelPair, Errors.InputError> => {
  const strongName = ModelAliases.find(models, strong)
  const weakName = ModelAliases.find(models, weak)
  if (strongName === undefined || weakName === undefined) {
    return Effect.fail(
      new Errors.InputError({
        file,
        field: strongName === undefined ? "strong" : "weak",
        reason: ModelAliases.missing(models, strongName === undefined ? strong : weak)
      })
    )
  }
  if (strongName === weakName) {
    return Effect.fail(new Errors.InputError({ file, field: "weak", reason: `strong and weak are the same model (${strongName})` }))
  }
  return Effect.succeed({ strong: strongName, weak: weakName })
}

/** Per-model score columns of the rows, in row order. */
export const scoreColumns = (benchmark: Benchmark.BenchmarkShape, models: ReadonlyArray<string>) =>
  models.map((model) => Float64Array.from(benchmark.rows, (row) => row.scores[model] ?? Number.NaN))
