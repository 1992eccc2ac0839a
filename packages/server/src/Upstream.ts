/**
 * Calls to an OpenAI-compatible upstream's `/chat/completions`, with a
 * timeout per attempt and retries with exponential backoff for 429, 5xx,
 * connection errors and timeouts. Retries only happen before anything has
 * been sent to the client: a streaming call returns as soon as the upstream's
 * headers arrive, and its body is never retried.
 *
 * Every call belongs to a Scope (the request): closing it aborts the upstream
 * connection, which is how a client that disconnects cancels the upstream
 * request.
 */
import { Effect, type Scope } from "effect"
import { redact, type UpstreamError, UpstreamStatusError, UpstreamTimeoutError, UpstreamUnreachableError } from "./ApiError.ts"
import type * as Config from "./Config.ts"

export interface CallOptions {
  readonly name: string
  readonly upstream: Config.Upstream
  /** The request body, already serialised (model replaced by the upstream's id). */
  readonly body: string
  readonly stream: boolean
  readonly apiKey: string | undefined
  readonly timeoutMs: number
  readonly retry: Config.Retry
  /** Texts that must never appear in errors (API keys, the auth token). */
  readonly secrets: ReadonlyArray<string>
}

export interface Answer {
  /** Status 2xx. For streaming calls the body is still open; otherwise `text` holds it. */
  readonly response: Response
  readonly text: string | undefined
  readonly attempts: number
}

type Outcome =
  | { readonly _tag: "Ok"; readonly response: Response; readonly text: string | undefined }
  | { readonly _tag: "Status"; readonly status: number; readonly text: string; readonly retryAfterMs: number | undefined }
  | { readonly _tag: "Timeout" }
  | { readonly _tag: "Connection"; readonly reason: string }

const isRetryable = (outcome: Outcome) =>
  outcome._tag === "Timeout" || outcome._tag === "Connection" ||
  (outcome._tag === "Status" && (outcome.status === 429 || outcome.status >= 500))

/** `Retry-After` in seconds or as an HTTP date. */
const retryAfterMs = (header: string | null): number | undefined => {
  if (header === null) return undefined
  const seconds = Number(header)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(header)
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined
}

const describe = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  const cause = (error as { cause?: unknown }).cause
  const code = typeof cause === "object" && cause !== null && "code" in cause ? ` (${String(cause.code)})` : ""
  return `${error.message}${code}`
}

/** One shared abort reason: `abort()` without one builds a DOMException (and its stack) every time. */
const cancelled = new Error("upstream request cancelled")

export const chatCompletionsUrl = (baseURL: string) => `${baseURL.replace(/\/+$/, "")}/chat/completions`

/**
 * One call with retries. The returned response's body (streaming) stays
 * open until read or until the caller's scope closes.
 */
export const call = Effect.fnUntraced(function*(
  options: CallOptions
): Effect.fn.Return<Answer, UpstreamError, Scope.Scope> {
  // Aborted when the request's scope closes before the upstream answer was read to the end.
  const request = yield* Effect.acquireRelease(
    Effect.sync(() => new AbortController()),
    (controller) => Effect.sync(() => controller.abort(cancelled))
  )
  const url = chatCompletionsUrl(options.upstream.baseURL)
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: options.stream ? "text/event-stream" : "application/json"
  }
  if (options.apiKey !== undefined) headers.authorization = `Bearer ${options.apiKey}`

  const once = Effect.callback<Outcome>((resume) => {
    const attempt = new AbortController()
    const onRequestAbort = () => attempt.abort(cancelled)
    request.signal.addEventListener("abort", onRequestAbort)
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      attempt.abort(cancelled)
    }, options.timeoutMs)
    // `keepOpen`: the body is still streaming and must stay linked to the request's abort.
    const finish = (outcome: Outcome, keepOpen: boolean) => {
      clearTimeout(timer)
      if (!keepOpen) request.signal.removeEventListener("abort", onRequestAbort)
      resume(Effect.succeed(outcome))
    }
    ;(async () => {
      try {
        const response = await fetch(url, { method: "POST", headers, body: options.body, signal: attempt.signal })
        if (!response.ok) {
          const text = await response.text()
          finish({ _tag: "Status", status: response.status, text, retryAfterMs: retryAfterMs(response.headers.get("retry-after")) }, false)
        } else if (options.stream) {
          // The timeout covers the wait for headers; the body then streams for as long as it takes.
          finish({ _tag: "Ok", response, text: undefined }, true)
        } else {
          const text = await response.text()
          finish({ _tag: "Ok", response, text }, false)
        }
      } catch (error) {
        finish(timedOut ? { _tag: "Timeout" } : { _tag: "Connection", reason: describe(error) }, false)
      }
    })()
    // Interrupted while waiting (client gone, shutdown): abort this attempt.
    return Effect.sync(() => {
      clearTimeout(timer)
      attempt.abort(cancelled)
    })
  })

  for (let attempt = 0;; attempt++) {
    const outcome = yield* once
    if (outcome._tag === "Ok") return { response: outcome.response, text: outcome.text, attempts: attempt + 1 }
    if (!isRetryable(outcome) || attempt >= options.retry.attempts) {
      const attempts = attempt + 1
      switch (outcome._tag) {
        case "Status":
          return yield* new UpstreamStatusError({
            upstream: options.name,
            status: outcome.status,
            body: redact(outcome.text, options.secrets)
          })
        case "Timeout":
          return yield* new UpstreamTimeoutError({ upstream: options.name, timeoutMs: options.timeoutMs, attempts })
        case "Connection":
          return yield* new UpstreamUnreachableError({
            upstream: options.name,
            reason: redact(outcome.reason, options.secrets),
            attempts
          })
      }
    }
    const backoff = Math.min(options.retry.maxDelayMs, options.retry.initialDelayMs * 2 ** attempt)
    const delay = Math.min(
      options.retry.maxDelayMs,
      outcome._tag === "Status" && outcome.retryAfterMs !== undefined ? outcome.retryAfterMs : backoff
    )
    yield* Effect.logWarning(
      `upstream ${options.name}: ${
        outcome._tag === "Status" ? `status ${outcome.status}` : outcome._tag === "Timeout" ? "timeout" : "connection error"
      }; retry ${attempt + 1}/${options.retry.attempts} in ${delay} ms`
    )
    yield* Effect.sleep(delay)
  }
})
