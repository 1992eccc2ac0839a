/**
 * Threshold calibration: the threshold that sends a chosen share of traffic
 * to the strong model (RouteLLM's `calibrate_threshold.py`: the
 * (1 - share) quantile of the router's win rates on a prompt sample), with a
 * bootstrap confidence interval for the share that threshold will produce on
 * new traffic from the same distribution.
 */
import { Errors, Files, Random } from "@routellm/core"
import { Effect } from "effect"
import * as Path from "node:path"
import * as Metrics from "./Metrics.ts"

export interface Calibration {
  readonly threshold: number
  /** The share asked for. */
  readonly strongFraction: number
  /** The share of the sample at or above the threshold. */
  readonly sampleShare: number
  /** Bootstrap percentile interval of the share on new traffic. */
  readonly interval: readonly [number, number]
  readonly confidence: number
  readonly prompts: number
  readonly resamples: number
}

/**
 * The bootstrap resamples the prompt sample with replacement and measures the
 * share routed strong at the fixed threshold; sorting the win rates once makes
 * each resample a count of indices past the threshold's position.
 */
export const calibrate = (
  winRates: Metrics.Numbers,
  strongFraction: number,
  options: { readonly resamples?: number; readonly seed?: number; readonly confidence?: number } = {}
): Calibration => {
  if (!(strongFraction >= 0 && strongFraction <= 1)) throw new RangeError(`strong fraction must be in [0, 1], got ${strongFraction}`)
  const n = winRates.length
  if (n === 0) throw new RangeError("no prompts to calibrate on")
  const resamples = options.resamples ?? 1000
  const confidence = options.confidence ?? 0.95
  const threshold = Metrics.thresholdForStrongFraction(winRates, strongFraction)
  const sampleShare = Metrics.strongShare(winRates, threshold)
  const strong = Uint8Array.from(winRates as ArrayLike<number>, (value) => (value >= threshold ? 1 : 0))
  const generator = Random.make(options.seed ?? 0)
  const shares = new Float64Array(resamples)
  for (let b = 0; b < resamples; b++) {
    let count = 0
    for (let i = 0; i < n; i++) count += strong[generator.int(n)]!
    shares[b] = count / n
  }
  shares.sort()
  const tail = (1 - confidence) / 2
  return {
    threshold,
    strongFraction,
    sampleShare,
    interval: [Metrics.quantileSorted(shares, tail), Metrics.quantileSorted(shares, 1 - tail)],
    confidence,
    prompts: n,
    resamples
  }
}

const textOf = (value: unknown): string | undefined => {
  if (typeof value === "string") return value
  if (typeof value !== "object" || value === null) return undefined
  const record = value as Record<string, unknown>
  for (const key of ["prompt", "question", "instruction", "text"]) if (typeof record[key] === "string") return record[key]
  if (Array.isArray(record.turns) && typeof record.turns[0] === "string") return record.turns[0]
  if (Array.isArray(record.messages)) {
    const users = record.messages.filter((message: unknown) =>
      typeof message === "object" && message !== null && (message as { role?: unknown }).role === "user"
    ) as Array<{ content?: unknown }>
    const last = users[users.length - 1]
    if (typeof last?.content === "string") return last.content
  }
  return undefined
}

/**
 * Prompts from a file: JSONL (strings, or objects with prompt / question /
 * instruction / text, `turns` (first) or chat `messages` (last user
 * message)), JSON arrays of the same, or CSV with a prompt or question column.
 */
export const readPrompts = Effect.fn("Calibration.readPrompts")(function*(file: string) {
  if (Path.extname(file) === ".csv") {
    const table = yield* Files.readCsv(file, "--prompts")
    const column = ["prompt", "question", "instruction", "text"].find((name) => table.header.includes(name))
    if (column === undefined) {
      return yield* new Errors.InputError({ file, line: 1, field: "prompt", reason: "no prompt/question/instruction/text column" })
    }
    return table.rows.map((row) => row.value[column]!)
  }
  const text = yield* Files.readText(file, "--prompts")
  const values: Array<{ readonly line?: number; readonly value: unknown }> = Path.extname(file) === ".json"
    ? yield* Effect.flatMap(Files.parseJson(text, file, { allowNaN: true }), (parsed) =>
      Array.isArray(parsed)
        ? Effect.succeed(parsed.map((value) => ({ value })))
        : Effect.fail(new Errors.InputError({ file, reason: "expected an array of prompts" })))
    : (yield* Files.parseJsonl(text, file)).rows
  const prompts: Array<string> = []
  for (const [index, entry] of values.entries()) {
    const prompt = textOf(entry.value)
    if (prompt === undefined) {
      return yield* new Errors.InputError({
        file,
        ...(entry.line === undefined ? { field: `[${index}]` } : { line: entry.line }),
        reason: "no prompt text (expected a string or prompt/question/turns/messages)"
      })
    }
    prompts.push(prompt)
  }
  return prompts
})
