/**
 * Calls to an OpenAI-compatible upstream's `/chat/completions` over
 * node:http(s) with one keep-alive agent per upstream, a timeout per attempt,
 * and the shared retry policy (core Retry) for 429, 5xx, connection errors
 * and timeouts. Retries only happen before anything has been sent to the
 * client: a streaming call returns as soon as the upstream's headers arrive,
 * and its body is never retried.
 *
 * node:http rather than `fetch`: under 256 concurrent requests Node 20's
 * fetch cost about three times the CPU per call and starved the server's
 * accept queue, so new client connections waited seconds (bench/server.ts
 * and the measurements in the README).
 *
 * Every call belongs to a Scope (the request): closing it destroys the
 * upstream connection if the answer was not read to the end, which is how a
 * client that disconnects cancels the upstream request.
 */
import { Retry } from "@routellm/core"
import { Effect, type Scope } from "effect"
import * as Http from "node:http"
import * as Https from "node:https"
import { redact, type UpstreamError, UpstreamStatusError, UpstreamTimeoutError, UpstreamUnreachableError } from "./ApiError.ts"
import type * as Config from "./Config.ts"

export interface CallOptions {
  readonly name: string
  readonly upstream: Config.Upstream
  /** The connection pool and endpoint of this upstream (see `connections`). */
  readonly connection: Connection
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
  readonly status: number
  readonly contentType: string
  /** Non-streaming: the whole body. */
  readonly text: string | undefined
  /** Streaming: the open body, read by the caller; destroyed when the caller's scope closes before its end. */
  readonly body: Http.IncomingMessage | undefined
  /** Attempts this call took (1 without retries). */
  readonly attempts: number
}

type Failure =
  | { readonly _tag: "Status"; readonly status: number; readonly text: string; readonly retryAfter: string | undefined }
  | { readonly _tag: "Timeout" }
  | { readonly _tag: "Connection"; readonly reason: string }

const verdict = (failure: Failure): Retry.Verdict =>
  failure._tag === "Status"
    ? {
      retryable: failure.status === 429 || failure.status >= 500,
      retryAfterMs: Retry.retryAfterMs({ get: (name) => (name === "retry-after" ? failure.retryAfter : undefined) })
    }
    : { retryable: true }

const describe = (error: Error): string => {
  const code = (error as { code?: unknown }).code
  return `${error.message}${typeof code === "string" && !error.message.includes(code) ? ` (${code})` : ""}`
}

export const chatCompletionsUrl = (baseURL: string) => `${baseURL.replace(/\/+$/, "")}/chat/completions`

/** How to reach one upstream: its keep-alive connection pool and its endpoint. */
export interface Connection {
  readonly agent: Http.Agent
  readonly url: URL
  /** The request options for the endpoint, built once (node:http would convert the URL on every call). */
  readonly target: Http.RequestOptions
}

/** One keep-alive agent per upstream; destroyed (all sockets closed) when the scope closes. */
export const connections = (config: Config.ServeConfig): Effect.Effect<ReadonlyMap<string, Connection>, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() =>
      new Map(
        Object.entries(config.upstreams).map(([name, upstream]) => {
          const options: Http.AgentOptions = {
            keepAlive: true,
            scheduling: "lifo",
            // Keep every idle connection: reconnecting costs more than an open socket.
            maxFreeSockets: Number.POSITIVE_INFINITY,
            ...(upstream.maxSockets === undefined ? {} : { maxSockets: upstream.maxSockets })
          }
          const url = new URL(chatCompletionsUrl(upstream.baseURL))
          const agent = url.protocol === "https:" ? new Https.Agent(options) : new Http.Agent(options)
          const target: Http.RequestOptions = {
            protocol: url.protocol,
            hostname: url.hostname.replace(/^\[|\]$/g, ""),
            port: url.port === "" ? undefined : Number(url.port),
            path: `${url.pathname}${url.search}`,
            method: "POST",
            agent,
            ...(url.username === "" ? {} : { auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` })
          }
          return [name, { agent, url, target }] as const
        })
      )
    ),
    (pool) => Effect.sync(() => pool.forEach((connection) => connection.agent.destroy()))
  )

/**
 * One call with retries. A streaming answer's body stays open until read or
 * until the caller's scope closes.
 */
export const call = Effect.fnUntraced(function*(
  options: CallOptions
): Effect.fn.Return<Answer, UpstreamError, Scope.Scope> {
  const { target, url } = options.connection
  const transport = url.protocol === "https:" ? Https : Http
  const headers: Record<string, string | number> = {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(options.body),
    accept: options.stream ? "text/event-stream" : "application/json"
  }
  if (options.apiKey !== undefined) headers.authorization = `Bearer ${options.apiKey}`

  const once = Effect.callback<{ readonly response: Http.IncomingMessage; readonly text: string | undefined }, Failure>((resume) => {
    let timedOut = false
    let settled = false
    const request = transport.request({ ...target, headers })
    // Non-streaming: the timeout covers the whole answer; streaming: until the headers.
    const timer = setTimeout(() => {
      timedOut = true
      request.destroy()
    }, options.timeoutMs)
    const settle = (effect: Effect.Effect<{ readonly response: Http.IncomingMessage; readonly text: string | undefined }, Failure>) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resume(effect)
    }
    const broken = (error: Error) => settle(Effect.fail(timedOut ? { _tag: "Timeout" } : { _tag: "Connection", reason: describe(error) }))
    request.on("error", broken)
    request.on("response", (response) => {
      const status = response.statusCode ?? 0
      if (options.stream && status >= 200 && status < 300) {
        // A break before the reader attaches must not become an uncaught 'error'; the reader sees the destroyed body.
        response.on("error", () => {})
        settle(Effect.succeed({ response, text: undefined }))
        return
      }
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on("error", broken)
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8")
        if (status >= 200 && status < 300) settle(Effect.succeed({ response, text }))
        else {
          const retryAfter = response.headers["retry-after"]
          settle(Effect.fail({ _tag: "Status", status, text, retryAfter: typeof retryAfter === "string" ? retryAfter : undefined }))
        }
      })
    })
    request.end(options.body)
    // Interrupted while waiting (client gone, shutdown): abort this attempt.
    return Effect.sync(() => {
      settled = true
      clearTimeout(timer)
      request.destroy()
    })
  })

  let attempts = 1
  const policy: Retry.Policy = {
    retries: options.retry.attempts,
    initialDelayMs: options.retry.initialDelayMs,
    maxDelayMs: options.retry.maxDelayMs,
    retryAfterLimitMs: options.retry.retryAfterLimitMs
  }
  // The schedule is only built when the first attempt failed (the common case needs none).
  const first = yield* Effect.result(once)
  let replay: Failure | undefined = first._tag === "Failure" ? first.failure : undefined
  const outcome = first._tag === "Success" ? first.success : yield* Effect.suspend(() => {
    if (replay === undefined) return once
    const failure = replay
    replay = undefined
    return Effect.fail(failure)
  }).pipe(
    Retry.retry(policy, verdict, (info) => {
      attempts++
      const what = info.error._tag === "Status" ? `status ${info.error.status}` : info.error._tag === "Timeout" ? "timeout" : "connection error"
      return Effect.logWarning(`upstream ${options.name}: ${what}; retry ${info.retry}/${policy.retries} in ${info.delayMs} ms`)
    }),
    Effect.mapError((failure): UpstreamError => {
      switch (failure._tag) {
        case "Status":
          return new UpstreamStatusError({
            upstream: options.name,
            status: failure.status,
            body: redact(failure.text, options.secrets),
            attempts,
            ...(failure.retryAfter === undefined ? {} : { retryAfter: failure.retryAfter })
          })
        case "Timeout":
          return new UpstreamTimeoutError({ upstream: options.name, timeoutMs: options.timeoutMs, attempts })
        case "Connection":
          return new UpstreamUnreachableError({ upstream: options.name, reason: redact(failure.reason, options.secrets), attempts })
      }
    })
  )
  const response = outcome.response
  if (outcome.text === undefined) {
    // The request's scope owns the open stream: closing it early drops the connection.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        if (!response.complete) response.destroy()
      })
    )
  }
  return {
    status: response.statusCode ?? 200,
    contentType: response.headers["content-type"] ?? "",
    text: outcome.text,
    body: outcome.text === undefined ? response : undefined,
    attempts
  }
})

/** Whether a failed call may go on to the next model of a fallback chain (not for the client's own mistakes). */
export const canFallBack = (error: UpstreamError): boolean => error._tag !== "UpstreamStatusError" || error.status === 429 || error.status >= 500

/**
 * The next chunk of a response body, or undefined at its end. Fails when the
 * connection breaks before the end.
 */
export const readChunk = (body: Http.IncomingMessage): Effect.Effect<Buffer | undefined, Error> =>
  Effect.callback<Buffer | undefined, Error>((resume) => {
    const cleanup = () => {
      body.off("readable", tryRead)
      body.off("end", tryRead)
      body.off("error", onError)
      body.off("close", onClose)
    }
    function tryRead(): boolean {
      const chunk = body.read() as Buffer | null
      if (chunk !== null) {
        cleanup()
        resume(Effect.succeed(chunk))
        return true
      }
      if (body.readableEnded) {
        cleanup()
        resume(Effect.succeed(undefined))
        return true
      }
      return false
    }
    function onError(error: Error) {
      cleanup()
      resume(Effect.fail(error))
    }
    function onClose() {
      if (tryRead()) return
      cleanup()
      resume(Effect.fail(new Error("the upstream closed the connection")))
    }
    if (tryRead()) return
    if (body.destroyed) {
      resume(Effect.fail(new Error("the upstream closed the connection")))
      return
    }
    body.on("readable", tryRead)
    body.on("end", tryRead)
    body.on("error", onError)
    body.on("close", onClose)
    return Effect.sync(cleanup)
  })
