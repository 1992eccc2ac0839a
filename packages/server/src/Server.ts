/**
 * The OpenAI-compatible routing server on node:http. Every request runs in
 * its own fiber with its own scope: a failure ends that request only, and a
 * client that disconnects interrupts the fiber, which closes the scope and
 * aborts the upstream call. Streaming answers pass the upstream's
 * server-sent events through one event at a time.
 *
 * Node's own HTTP server is used rather than an Effect HTTP server so that
 * streamed bytes and connection closes map one to one between the client and
 * the upstream.
 *
 * Endpoints: POST /v1/chat/completions, GET /v1/models, GET /health,
 * GET /metrics. Shutdown (closing the layer's scope) stops accepting
 * connections and lets in-flight requests finish up to `shutdownTimeoutMs`.
 */
import { Errors } from "@routellm/core"
import { Cause, Context, Effect, FiberSet, Layer, type Scope } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as ApiError from "./ApiError.ts"
import { Metrics } from "./Metrics.ts"
import { type Decision, Routing } from "./Routing.ts"
import * as Upstream from "./Upstream.ts"

export interface Options {
  /** Default: the config's host, then 127.0.0.1. */
  readonly host?: string | undefined
  /** 0 picks a free port. Default: the config's port, then 6060. */
  readonly port?: number | undefined
  /** Where API keys and the auth token are read (default process.env). */
  readonly environment?: NodeJS.ProcessEnv | undefined
}

export interface ServerShape {
  readonly host: string
  readonly port: number
  /** e.g. http://127.0.0.1:6060 */
  readonly url: string
  /** Requests being handled now. */
  readonly inFlight: Effect.Effect<number>
}

export class Server extends Context.Service<Server, ServerShape>()("@routellm/server/Server") {
  /** Listen while the layer is in use; needs Routing and Metrics. */
  static readonly layer = (options: Options = {}) => Layer.effect(Server, make(options))
}

const routellmHeaders = (decision: Decision): Record<string, string> => {
  const headers: Record<string, string> = { "x-routellm-model": decision.model }
  if (decision.router !== undefined) headers["x-routellm-router"] = decision.router
  if (decision.winRate !== undefined) headers["x-routellm-win-rate"] = String(decision.winRate)
  if (decision.threshold !== undefined) headers["x-routellm-threshold"] = String(decision.threshold)
  return headers
}

const sendJson = (response: Http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  if (response.headersSent || response.destroyed) return
  const text = typeof body === "string" ? body : JSON.stringify(body)
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers
  })
  response.end(text)
}

/** Read the request body, at most `limit` bytes; a larger body is drained and answered with 413. */
const readBody = (request: Http.IncomingMessage, limit: number) =>
  Effect.callback<string, ApiError.InvalidRequestError>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    let tooLarge = Number(request.headers["content-length"] ?? 0) > limit
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) tooLarge = true
      if (!tooLarge) chunks.push(chunk)
      // Draining lets the client read the 413; a client that keeps sending far past the limit is cut off.
      else if (size > limit * 8 + 1024 * 1024) request.destroy()
    }
    const onEnd = () => {
      cleanup()
      resume(
        tooLarge
          ? Effect.fail(
            new ApiError.InvalidRequestError({
              reason: `request body exceeds the limit of ${limit} bytes`,
              code: "request_too_large",
              status: 413
            })
          )
          : Effect.succeed(Buffer.concat(chunks).toString("utf8"))
      )
    }
    const onError = (error: Error) => {
      cleanup()
      resume(Effect.fail(ApiError.invalidRequest(`could not read the request body: ${error.message}`)))
    }
    const cleanup = () => {
      request.off("data", onData)
      request.off("end", onEnd)
      request.off("error", onError)
    }
    request.on("data", onData)
    request.on("end", onEnd)
    request.on("error", onError)
    return Effect.sync(cleanup)
  })

/** Wait until the response can take more data (or the client is gone). */
const drained = (response: Http.ServerResponse) =>
  Effect.callback<void>((resume) => {
    const done = () => {
      response.off("drain", done)
      response.off("close", done)
      resume(Effect.void)
    }
    response.on("drain", done)
    response.on("close", done)
    return Effect.sync(() => {
      response.off("drain", done)
      response.off("close", done)
    })
  })

/** Set `model` in one server-sent event's JSON data; other lines pass unchanged. */
export const rewriteEvent = (event: string, model: string): { readonly text: string; readonly done: boolean } => {
  let done = false
  const lines = event.split(/\r?\n/).map((line) => {
    if (!line.startsWith("data:")) return line
    const payload = line.slice(5).trimStart()
    if (payload === "[DONE]") {
      done = true
      return line
    }
    try {
      const value = JSON.parse(payload) as unknown
      if (typeof value === "object" && value !== null && !Array.isArray(value) && "model" in value) {
        return `data: ${JSON.stringify({ ...value, model })}`
      }
    } catch {
      // Not JSON (a comment or a partial line): forward as the upstream sent it.
    }
    return line
  })
  return { text: lines.join("\n"), done }
}

const eventBoundary = /\r?\n\r?\n/

export const make = Effect.fn("Server.make")(function*(options: Options): Effect.fn.Return<ServerShape, never, Routing | Metrics | Scope.Scope> {
  const routing = yield* Routing
  const metrics = yield* Metrics
  const config = routing.config
  const environment = options.environment ?? process.env
  const apiKeys = new Map<string, string | undefined>(
    Object.entries(config.upstreams).map(([name, upstream]) => [
      name,
      upstream.apiKeyEnv === undefined ? undefined : environment[upstream.apiKeyEnv]
    ])
  )
  const authToken = config.authTokenEnv === undefined ? undefined : environment[config.authTokenEnv]
  const secrets = [...apiKeys.values(), authToken].filter((secret): secret is string => secret !== undefined && secret !== "")
  const tokenDigest = authToken === undefined ? undefined : createHash("sha256").update(authToken).digest()

  const authorized = (request: Http.IncomingMessage): boolean => {
    if (tokenDigest === undefined) return true
    const header = request.headers.authorization ?? ""
    const match = /^Bearer\s+(.+)$/i.exec(header)
    if (match === null) return false
    // Compare digests so the comparison takes the same time whatever the token's length.
    return timingSafeEqual(createHash("sha256").update(match[1]!.trim()).digest(), tokenDigest)
  }

  const fail = (response: Http.ServerResponse, error: unknown, extraHeaders: Record<string, string> = {}) => {
    const rendered = ApiError.toOpenAI(error)
    const body = { error: { ...rendered.body.error, message: ApiError.redact(rendered.body.error.message, secrets) } }
    sendJson(response, rendered.status, body, extraHeaders)
    return rendered.status
  }

  const streamAnswer = Effect.fnUntraced(function*(
    response: Http.ServerResponse,
    upstream: Response,
    decision: Decision,
    upstreamStarted: number
  ) {
    response.writeHead(upstream.status, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      ...routellmHeaders(decision)
    })
    response.flushHeaders()
    const reader = upstream.body!.getReader()
    const decoder = new TextDecoder()
    let buffer = ""
    let sawDone = false
    const write = (text: string) => response.write(text) ? Effect.void : drained(response)
    const emit = (event: string) => {
      if (event.trim() === "") return Effect.void
      const rewritten = rewriteEvent(event, decision.model)
      if (rewritten.done) sawDone = true
      return write(`${rewritten.text}\n\n`)
    }
    for (;;) {
      const chunk = yield* Effect.tryPromise({
        try: () => reader.read(),
        catch: (cause) => cause
      })
      if (chunk.done) break
      buffer += decoder.decode(chunk.value, { stream: true })
      for (let match = eventBoundary.exec(buffer); match !== null; match = eventBoundary.exec(buffer)) {
        const event = buffer.slice(0, match.index)
        buffer = buffer.slice(match.index + match[0].length)
        yield* emit(event)
      }
    }
    buffer += decoder.decode()
    yield* emit(buffer)
    if (!sawDone) yield* write("data: [DONE]\n\n")
    response.end()
    yield* metrics.observeUpstream(decision.model, "total", (performance.now() - upstreamStarted) / 1000)
  })

  const chat = Effect.fnUntraced(function*(
    request: Http.IncomingMessage,
    response: Http.ServerResponse,
    state: { decision?: Decision }
  ) {
    const raw = yield* readBody(request, config.maxBodyBytes)
    let body: Record<string, unknown>
    try {
      const parsed = JSON.parse(raw) as unknown
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        return yield* ApiError.invalidRequest("the request body must be a JSON object", undefined, "invalid_json")
      }
      body = parsed as Record<string, unknown>
    } catch (error) {
      return yield* ApiError.invalidRequest(
        `malformed JSON in the request body: ${error instanceof Error ? error.message : String(error)}`,
        undefined,
        "invalid_json"
      )
    }
    const decision = yield* routing.decide(body.model, body.messages)
    state.decision = decision
    if (decision.router !== undefined) yield* metrics.observeRouting(decision.router, decision.routingSeconds)
    const stream = body.stream === true
    const upstreamStarted = performance.now()
    const answer = yield* Upstream.call({
      name: decision.model,
      upstream: decision.upstream,
      body: JSON.stringify({ ...body, model: decision.upstream.model ?? decision.model }),
      stream,
      apiKey: apiKeys.get(decision.model),
      timeoutMs: decision.upstream.timeoutMs ?? config.timeoutMs,
      retry: config.retry,
      secrets
    }).pipe(Effect.tapError(() => metrics.observeUpstream(decision.model, "total", (performance.now() - upstreamStarted) / 1000)))
    yield* metrics.observeUpstream(decision.model, "first_byte", (performance.now() - upstreamStarted) / 1000)
    const contentType = answer.response.headers.get("content-type") ?? ""
    if (stream && answer.response.body !== null && contentType.includes("text/event-stream")) {
      const streamed = yield* Effect.exit(streamAnswer(response, answer.response, decision, upstreamStarted))
      if (streamed._tag === "Failure") {
        // Headers are out: tell the client in-band, as OpenAI does, and end the stream.
        const error = {
          error: { message: `upstream ${decision.model} stream broke`, type: "server_error", param: null, code: "upstream_stream_error" }
        }
        if (!response.destroyed) response.end(`data: ${JSON.stringify(error)}\n\n`)
        yield* metrics.recordStreamError(decision.router, decision.model)
        yield* Effect.logWarning(`stream from ${decision.model} broke mid-way`)
      }
      return { decision, status: answer.response.status }
    }
    let text = answer.text ?? (yield* Effect.promise(() => answer.response.text()))
    try {
      const value = JSON.parse(text) as unknown
      if (typeof value === "object" && value !== null && !Array.isArray(value) && "model" in value) {
        text = JSON.stringify({ ...value, model: decision.model })
      }
    } catch {
      // Not JSON: forward the upstream's body unchanged.
    }
    yield* metrics.observeUpstream(decision.model, "total", (performance.now() - upstreamStarted) / 1000)
    sendJson(response, answer.response.status, text, {
      ...routellmHeaders(decision),
      ...(contentType === "" ? {} : { "content-type": contentType })
    })
    return { decision, status: answer.response.status }
  })

  const handle = (request: Http.IncomingMessage, response: Http.ServerResponse) =>
    Effect.gen(function*() {
      const started = performance.now()
      const path = (request.url ?? "/").split("?")[0]!
      const method = request.method ?? "GET"
      const isChat = path === "/v1/chat/completions"
      let decision: Decision | undefined
      const state: { decision?: Decision } = {}
      let status: number
      if (path.startsWith("/v1/") && !authorized(request)) {
        status = fail(
          response,
          new ApiError.InvalidRequestError({ reason: "invalid or missing bearer token", code: "invalid_api_key", status: 401 }),
          { "www-authenticate": "Bearer" }
        )
        request.resume()
      } else if (isChat && method === "POST") {
        const outcome = yield* Effect.exit(
          Effect.scoped(chat(request, response, state)).pipe(
            // The client went away (or shutdown cancelled the request): count it as nginx's 499.
            Effect.onInterrupt(() =>
              metrics.recordRequest({ router: state.decision?.router, model: state.decision?.model, status: 499, strong: state.decision?.strong })
            )
          )
        )
        if (outcome._tag === "Success") {
          decision = outcome.value.decision
          status = outcome.value.status
        } else {
          decision = state.decision
          const failure = outcome.cause.reasons.find((reason) => reason._tag === "Fail")
          const died = outcome.cause.reasons.find((reason) => reason._tag === "Die")
          const error = failure !== undefined && failure._tag === "Fail"
            ? failure.error
            : died !== undefined && died._tag === "Die"
            ? died.defect
            : new Error("interrupted")
          const tooLarge = error instanceof ApiError.InvalidRequestError && error.status === 413
          status = fail(response, error, tooLarge ? { connection: "close" } : {})
          yield* Effect.logWarning(`${method} ${path} ${status}: ${ApiError.redact(ApiError.toOpenAI(error).body.error.message, secrets)}`)
        }
      } else if (method === "GET" && path === "/v1/models") {
        status = 200
        const created = Math.floor(Date.now() / 1000)
        sendJson(response, 200, {
          object: "list",
          data: routing.modelIds.map((id) => ({ id, object: "model", created, owned_by: "routellm" }))
        })
      } else if (method === "GET" && path === "/health") {
        status = 200
        sendJson(response, 200, { status: "ok", routers: [...routing.routers.keys()], upstreams: Object.keys(config.upstreams) })
      } else if (method === "GET" && path === "/metrics") {
        status = 200
        const text = yield* metrics.render
        response.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" })
        response.end(text)
      } else {
        request.resume()
        const known = isChat || path === "/v1/models" || path === "/health" || path === "/metrics"
        status = fail(
          response,
          new ApiError.InvalidRequestError({
            reason: known ? `method ${method} not allowed on ${path}` : `no endpoint ${method} ${path}`,
            code: known ? "method_not_allowed" : "not_found",
            status: known ? 405 : 404
          })
        )
      }
      if (isChat) {
        yield* metrics.recordRequest({
          router: decision?.router,
          model: decision?.model,
          status,
          strong: decision?.strong
        })
      }
      yield* Effect.logInfo(
        `${method} ${path} ${status}${decision === undefined ? "" : ` ${decision.router ?? "direct"} -> ${decision.model}`} ${
          (performance.now() - started).toFixed(1)
        } ms`
      )
    }).pipe(
      // A bug in one request's handling answers that request with a 500 and nothing else.
      Effect.catchCause((cause) =>
        Cause.hasInterruptsOnly(cause)
          ? Effect.void
          : Effect.gen(function*() {
            const error = Cause.squash(cause)
            fail(response, error)
            yield* Effect.logError(`${request.method} ${request.url}: ${ApiError.redact(Errors.format(error), secrets)}`)
          })
      )
    )

  // Created before the listener, so it is finalized after it: shutdown first
  // waits for in-flight requests, then interrupts what is left.
  const fibers = yield* FiberSet.make<void, never>()
  const run = yield* FiberSet.runtime(fibers)<never>()
  let closing = false

  const server = Http.createServer((request, response) => {
    if (closing) {
      request.resume()
      fail(
        response,
        new ApiError.InvalidRequestError({ reason: "the server is shutting down", code: "shutting_down", status: 503 }),
        { connection: "close" }
      )
      return
    }
    const fiber = run(handle(request, response))
    // A client that goes away before the answer is complete cancels the request (and its upstream call).
    response.on("close", () => {
      if (!response.writableFinished) fiber.interruptUnsafe()
    })
  })
  server.keepAliveTimeout = 65_000

  const host = options.host ?? config.host ?? "127.0.0.1"
  const port = options.port ?? config.port ?? 6060
  const address = yield* Effect.acquireRelease(
    Effect.callback<AddressInfo>((resume) => {
      const onError = (error: Error) => resume(Effect.die(error))
      server.once("error", onError)
      server.listen(port, host, () => {
        server.off("error", onError)
        resume(Effect.succeed(server.address() as AddressInfo))
      })
    }),
    () =>
      Effect.gen(function*() {
        closing = true
        server.close()
        server.closeIdleConnections()
        const pending = yield* FiberSet.size(fibers)
        if (pending > 0) yield* Effect.logInfo(`shutting down: waiting for ${pending} in-flight request(s)`)
        yield* FiberSet.awaitEmpty(fibers).pipe(Effect.timeoutOrElse({
          duration: config.shutdownTimeoutMs,
          orElse: () => Effect.logWarning(`shutdown deadline of ${config.shutdownTimeoutMs} ms passed; cancelling the rest`)
        }))
        server.closeAllConnections()
      })
  )
  const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address
  yield* Effect.logInfo(`routellm server listening on http://${urlHost}:${address.port}`)
  return Server.of({
    host: address.address,
    port: address.port,
    url: `http://${urlHost}:${address.port}`,
    inFlight: FiberSet.size(fibers)
  })
})
