/**
 * The one retry policy for calls to remote APIs (upstream chat completions,
 * embeddings, judge and answer generation), on Effect's `Schedule`: capped
 * exponential backoff, a server's `Retry-After` honoured up to a limit, and a
 * classification of each failure into retryable or final.
 *
 * A `Retry-After` longer than the limit stops the retries at once, so the
 * caller can hand the wait to its own client (the routing server answers 429
 * with the upstream's Retry-After) instead of holding a connection open.
 */
import { Duration, Effect, Schedule, Schema } from "effect"

/** How to retry, as a config section (all fields optional; defaults below). */
export const Policy = Schema.Struct({
  retries: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).annotate({
    description: "Retries after the first attempt for retryable failures (429, 5xx, timeouts, connection errors)"
  }),
  initialDelayMs: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)).annotate({
    description: "First backoff delay; doubles on each retry"
  }),
  maxDelayMs: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)).annotate({
    description: "Cap on the backoff delay (not on a Retry-After the server asked for)"
  }),
  retryAfterLimitMs: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)).annotate({
    description: "Longest Retry-After that is waited for; a longer one ends the retries at once"
  })
})
export type Policy = typeof Policy.Type

/** What one failed attempt says about trying again. */
export interface Verdict {
  readonly retryable: boolean
  /** The delay the server asked for, in milliseconds. */
  readonly retryAfterMs?: number | undefined
}

/** Statuses worth another attempt: timeouts, conflicts, rate limits and server errors. */
export const isRetryableStatus = (status: number): boolean => status === 408 || status === 409 || status === 429 || status >= 500

/** Anything with a `get(name)` for headers: fetch's Headers, the openai client's, a plain adapter. */
export interface HeaderLookup {
  readonly get: (name: string) => string | null | undefined
}

/**
 * The delay a response asks for: `retry-after-ms` (OpenAI's), else
 * `retry-after` in seconds or as an HTTP date. Undefined when absent or
 * unreadable; never negative.
 */
export const retryAfterMs = (headers: HeaderLookup | undefined, now: number = Date.now()): number | undefined => {
  if (headers === undefined) return undefined
  const milliseconds = headers.get("retry-after-ms")
  if (milliseconds != null && milliseconds.trim() !== "") {
    const value = Number(milliseconds)
    if (Number.isFinite(value)) return Math.max(0, value)
  }
  const header = headers.get("retry-after")
  if (header == null || header.trim() === "") return undefined
  const text = header.trim()
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000
  // An HTTP date names its weekday and month; anything else (a negative number) is unreadable.
  if (!/[A-Za-z]/.test(text)) return undefined
  const date = Date.parse(text)
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined
}

/** Backoff before retry number `retry` (1-based), without Retry-After. */
export const backoffMs = (policy: Policy, retry: number): number => Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (retry - 1))

export interface RetryInfo<E> {
  readonly error: E
  /** 1 for the first retry. */
  readonly retry: number
  readonly delayMs: number
}

/**
 * The schedule of a policy for failures of type E. It continues while the
 * failure is retryable, retries are left and any Retry-After is within the
 * limit; the delay is the Retry-After when given, else the capped backoff.
 */
export const schedule = <E>(
  policy: Policy,
  classify: (error: E) => Verdict,
  onRetry?: (info: RetryInfo<E>) => Effect.Effect<void>
): Schedule.Schedule<Duration.Duration, E> => {
  const base = Schedule.exponential(Duration.millis(policy.initialDelayMs)).pipe(
    Schedule.setInputType<E>(),
    Schedule.while(({ input, attempt }) => {
      if (attempt > policy.retries) return false
      const verdict = classify(input)
      return verdict.retryable && (verdict.retryAfterMs === undefined || verdict.retryAfterMs <= policy.retryAfterLimitMs)
    }),
    Schedule.modifyDelay(({ input, duration }) => {
      const asked = classify(input).retryAfterMs
      return Effect.succeed(
        asked !== undefined ? Duration.millis(asked) : Duration.min(duration, Duration.millis(policy.maxDelayMs))
      )
    })
  )
  return onRetry === undefined ? base : base.pipe(
    Schedule.tap(({ input, attempt, duration }) => onRetry({ error: input, retry: attempt, delayMs: Duration.toMillis(duration) }))
  )
}

/** Run `effect`, retrying its failures under the policy. */
export const retry: {
  <E>(
    policy: Policy,
    classify: (error: E) => Verdict,
    onRetry?: (info: RetryInfo<E>) => Effect.Effect<void>
  ): <A, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
} = (policy, classify, onRetry) => (effect) => Effect.retry(effect, schedule(policy, classify, onRetry))

/**
 * Whether a failure's Retry-After is beyond the policy's limit, so the caller
 * should pass the wait on rather than retry.
 */
export const exceedsLimit = (policy: Policy, verdict: Verdict): boolean => verdict.retryAfterMs !== undefined && verdict.retryAfterMs > policy.retryAfterLimitMs
