/**
 * Errors of the routing server and client, and their rendering in OpenAI's
 * error format (`{"error": {"message", "type", "param", "code"}}`) with the
 * HTTP status a client expects. Messages never contain API keys: upstream
 * error bodies pass through `redact` first.
 */
import { Errors } from "@routellm/core"
import { Schema } from "effect"

/** A request the server cannot route: malformed body, unknown model or router, bad threshold. */
export class InvalidRequestError extends Schema.TaggedError<InvalidRequestError>()("InvalidRequestError", {
  reason: Schema.String,
  param: Schema.optionalKey(Schema.String),
  code: Schema.optionalKey(Schema.String),
  status: Schema.optionalKey(Schema.Number)
}) {
  override get message(): string {
    return this.reason
  }
}

/** The upstream answered with a status that is not retried or still failed after the retries. */
export class UpstreamStatusError extends Schema.TaggedError<UpstreamStatusError>()("UpstreamStatusError", {
  upstream: Schema.String,
  status: Schema.Number,
  /** The upstream's body, redacted. */
  body: Schema.String,
  /** The upstream's Retry-After header, passed on to the client with a 429 or 503. */
  retryAfter: Schema.optionalKey(Schema.String),
  attempts: Schema.optionalKey(Schema.Number)
}) {
  override get message(): string {
    return `upstream ${this.upstream} answered ${this.status}: ${this.body.slice(0, 500)}`
  }
}

/** The upstream could not be reached (connection refused, reset, DNS) after the retries. */
export class UpstreamUnreachableError extends Schema.TaggedError<UpstreamUnreachableError>()("UpstreamUnreachableError", {
  upstream: Schema.String,
  reason: Schema.String,
  attempts: Schema.Number
}) {
  override get message(): string {
    return `upstream ${this.upstream} unreachable after ${this.attempts} attempt(s): ${this.reason}`
  }
}

/** The upstream did not answer within its timeout, on every attempt. */
export class UpstreamTimeoutError extends Schema.TaggedError<UpstreamTimeoutError>()("UpstreamTimeoutError", {
  upstream: Schema.String,
  timeoutMs: Schema.Number,
  attempts: Schema.Number
}) {
  override get message(): string {
    return `upstream ${this.upstream} timed out after ${this.timeoutMs} ms on ${this.attempts} attempt(s)`
  }
}

export type UpstreamError = UpstreamStatusError | UpstreamUnreachableError | UpstreamTimeoutError

export interface Rendered {
  readonly status: number
  readonly body: {
    readonly error: { readonly message: string; readonly type: string; readonly param: string | null; readonly code: string | null }
  }
}

const render = (status: number, message: string, type: string, param: string | null, code: string | null): Rendered => ({
  status,
  body: { error: { message, type, param, code } }
})

const statusType = (status: number): string =>
  status === 401
    ? "authentication_error"
    : status === 403
    ? "permission_error"
    : status === 404
    ? "not_found_error"
    : status === 429
    ? "rate_limit_error"
    : status >= 500
    ? "server_error"
    : "invalid_request_error"

export const invalidRequest = (reason: string, param?: string, code?: string) =>
  new InvalidRequestError({
    reason,
    ...(param === undefined ? {} : { param }),
    ...(code === undefined ? {} : { code })
  })

/** An error an endpoint sends back, in OpenAI's format. */
export const fromStatus = (status: number, message: string, code: string | null = null): Rendered => render(status, message, statusType(status), null, code)

/**
 * Render any failure of a request. An upstream's own OpenAI-format error body
 * passes through with its status; anything unexpected is a 500 whose message
 * does not leak internals beyond the error's own message.
 */
export const toOpenAI = (error: unknown): Rendered => {
  if (error instanceof InvalidRequestError) {
    const status = error.status ?? 400
    return render(status, error.reason, statusType(status), error.param ?? null, error.code ?? null)
  }
  if (error instanceof UpstreamStatusError) {
    try {
      const parsed = JSON.parse(error.body) as unknown
      if (typeof parsed === "object" && parsed !== null && "error" in parsed && typeof parsed.error === "object" && parsed.error !== null) {
        const upstreamError = parsed.error as Record<string, unknown>
        return render(
          error.status,
          typeof upstreamError.message === "string" ? upstreamError.message : error.message,
          typeof upstreamError.type === "string" ? upstreamError.type : statusType(error.status),
          typeof upstreamError.param === "string" ? upstreamError.param : null,
          typeof upstreamError.code === "string" ? upstreamError.code : null
        )
      }
    } catch {
      // Not JSON: describe it below.
    }
    return render(error.status, error.message, statusType(error.status), null, "upstream_error")
  }
  if (error instanceof UpstreamUnreachableError) return render(502, error.message, "server_error", null, "upstream_unreachable")
  if (error instanceof UpstreamTimeoutError) return render(504, error.message, "server_error", null, "upstream_timeout")
  if (error instanceof Errors.RouterError) return render(500, `router failed: ${error.message}`, "server_error", null, "router_error")
  return render(500, `internal error: ${Errors.format(error)}`, "server_error", null, "internal_error")
}

/** Replace every secret (API keys, the auth token) that occurs in a text. */
export const redact = (text: string, secrets: ReadonlyArray<string>): string => {
  let result = text
  for (const secret of secrets) {
    if (secret.length >= 4) result = result.split(secret).join("[redacted]")
  }
  return result
}
