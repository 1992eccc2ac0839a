/**
 * The OpenAI-compatible routing server on node:http. Every request runs in
 * its own fiber with its own scope: a failure ends that request only, and a
 * client that disconnects interrupts the fiber, which closes the scope and
 * aborts the upstream call. Streaming answers pass the upstream's
 * server-sent events through one event at a time; a stream that stalls
 * longer than `streamIdleTimeoutMs`, breaks, or ends without `[DONE]` ends
 * with an error event, never with a clean-looking truncated answer.
 *
 * After an upstream's retries fail, the request falls back along the
 * config's chain for that model (marked in `x-routellm-fallback` and
 * /metrics). Token usage (streamed or not) gives the dollars per router,
 * model and client key, and the saving against the strong model. Routed
 * requests can be written to the decision log with shadow routers' scores.
 *
 * Node's own HTTP server is used rather than an Effect HTTP server so that
 * streamed bytes and connection closes map one to one between the client and
 * the upstream.
 *
 * Endpoints: POST /v1/chat/completions (JSON bodies only: anything else is a
 * 415), GET /v1/models, GET /health, GET /metrics. Browsers are refused
 * unless `cors.origins` names their origin. Shutdown (closing the layer's
 * scope) stops accepting connections and lets in-flight requests finish up
 * to `shutdownTimeoutMs`.
 */
import { Errors } from "@routellm/core"
import { Cause, Context, Effect, Exit, Fiber, FiberSet, Layer, type Scope } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { StringDecoder } from "node:string_decoder"
import * as ApiError from "./ApiError.ts"
import * as Config from "./Config.ts"
import * as DecisionLog from "./DecisionLog.ts"
import { Metrics, type StreamFailure } from "./Metrics.ts"
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

/** Token counts an upstream reported. */
interface Usage {
  readonly promptTokens: number
  readonly completionTokens: number
}

const usageOf = (value: unknown): Usage | undefined => {
  if (typeof value !== "object" || value === null) return undefined
  const usage = value as { prompt_tokens?: unknown; completion_tokens?: unknown }
  return typeof usage.prompt_tokens === "number" && typeof usage.completion_tokens === "number"
    ? { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens }
    : undefined
}

/** What the handling of one chat request learnt, for metrics and the decision log (also when it fails). */
interface RequestState {
  decision?: Decision
  /** The model that answered (the decision's, or one of its fallbacks). */
  answeredBy?: string
  fallbackChain?: ReadonlyArray<string>
  usage?: Usage
  dollars?: number
  shadows?: Fiber.Fiber<Record<string, number>, never>
}

const routellmHeaders = (decision: Decision, state: RequestState): Record<string, string> => {
  const headers: Record<string, string> = { "x-routellm-model": state.answeredBy ?? decision.model }
  if (decision.router !== undefined) headers["x-routellm-router"] = decision.router
  if (decision.winRate !== undefined) headers["x-routellm-win-rate"] = String(decision.winRate)
  if (decision.threshold !== undefined) headers["x-routellm-threshold"] = String(decision.threshold)
  if (decision.target !== undefined) headers["x-routellm-target"] = decision.target
  if (decision.escalated) headers["x-routellm-escalated"] = "true"
  if (state.fallbackChain !== undefined && state.fallbackChain.length > 1) {
    headers["x-routellm-fallback"] = state.fallbackChain.join(">")
  }
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
          : Effect.succeed(chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8"))
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

export interface RewrittenEvent {
  /** The event to forward, or undefined to drop it (the usage-only chunk the router asked for itself). */
  readonly text: string | undefined
  readonly done: boolean
  readonly usage: Usage | undefined
}

/**
 * Set `model` in one server-sent event's JSON data and read its usage; other
 * lines pass unchanged. With `hideUsage` (the router asked for usage, the
 * client did not), the usage-only chunk is dropped and `usage` fields removed.
 */
export const rewriteEvent = (event: string, model: string, hideUsage = false): RewrittenEvent => {
  let done = false
  let usage: Usage | undefined
  let drop = false
  const lines = event.split(/\r?\n/).map((line) => {
    if (!line.startsWith("data:")) return line
    const payload = line.slice(5).trimStart()
    if (payload === "[DONE]") {
      done = true
      return line
    }
    try {
      const value = JSON.parse(payload) as unknown
      if (typeof value === "object" && value !== null && !Array.isArray(value)) {
        const record = value as Record<string, unknown>
        usage = usageOf(record.usage) ?? usage
        if (hideUsage) {
          if (Array.isArray(record.choices) && record.choices.length === 0 && record.usage !== undefined) drop = true
          delete record.usage
        }
        if ("model" in record) record.model = model
        return `data: ${JSON.stringify(record)}`
      }
    } catch {
      // Not JSON (a comment or a partial line): forward as the upstream sent it.
    }
    return line
  })
  return { text: drop ? undefined : lines.join("\n"), done, usage }
}

const eventBoundary = /\r?\n\r?\n/

const isJson = (contentType: string | undefined) => contentType !== undefined && /^application\/(?:json|[\w.+-]+\+json)\s*(?:;|$)/i.test(contentType)

const errorEvent = (message: string, code: string) => `data: ${JSON.stringify({ error: { message, type: "server_error", param: null, code } })}\n\n`

/**
 * Forward a server-sent event stream from the upstream's body to the client,
 * one event at a time with `model` rewritten, until the body ends, breaks,
 * or sends nothing for `idleMs`. Driven by the body's own events (one timer,
 * refreshed per chunk) rather than one effect per chunk: this is the hot
 * path of streaming. Backpressure: the body is paused while the client's
 * socket is full.
 */
const pumpEvents = (
  body: Http.IncomingMessage,
  response: Http.ServerResponse,
  model: string,
  hideUsage: boolean,
  idleMs: number
) =>
  Effect.callback<{ readonly failure: StreamFailure | undefined; readonly usage: Usage | undefined }>((resume) => {
    const decoder = new StringDecoder("utf8")
    let buffer = ""
    let sawDone = false
    let usage: Usage | undefined
    let settled = false
    const emit = (event: string) => {
      if (event.trim() === "") return
      const rewritten = rewriteEvent(event, model, hideUsage)
      if (rewritten.done) sawDone = true
      if (rewritten.usage !== undefined) usage = rewritten.usage
      if (rewritten.text !== undefined && !response.write(`${rewritten.text}\n\n`)) {
        body.pause()
        response.once("drain", () => body.resume())
      }
    }
    const finish = (failure: StreamFailure | undefined) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      body.off("data", onData)
      body.off("end", onEnd)
      body.off("error", onBroken)
      body.off("close", onClose)
      resume(Effect.succeed({ failure, usage }))
    }
    const timer = setTimeout(() => finish("stalled"), idleMs)
    const onData = (chunk: Buffer) => {
      timer.refresh()
      buffer += decoder.write(chunk)
      for (let match = eventBoundary.exec(buffer); match !== null; match = eventBoundary.exec(buffer)) {
        const event = buffer.slice(0, match.index)
        buffer = buffer.slice(match.index + match[0].length)
        emit(event)
      }
    }
    const onEnd = () => {
      buffer += decoder.end()
      emit(buffer)
      finish(sawDone ? undefined : "truncated")
    }
    const onBroken = () => finish("broken")
    const onClose = () => {
      // 'close' after 'end' is the normal case, handled by onEnd.
      if (!body.complete) finish("broken")
    }
    body.on("data", onData)
    body.on("end", onEnd)
    body.on("error", onBroken)
    body.on("close", onClose)
    return Effect.sync(() => {
      settled = true
      clearTimeout(timer)
      body.off("data", onData)
      body.off("end", onEnd)
      body.off("error", onBroken)
      body.off("close", onClose)
    })
  })

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
  // Client keys by name; the auth token counts as the key "default".
  const clientKeys: Array<{ readonly name: string; readonly digest: Buffer; readonly token: string }> = []
  const addClientKey = (name: string, token: string | undefined) => {
    if (token !== undefined && token !== "") clientKeys.push({ name, token, digest: createHash("sha256").update(token).digest() })
  }
  if (config.authTokenEnv !== undefined) addClientKey("default", environment[config.authTokenEnv])
  for (const [name, variable] of Object.entries(config.clientKeys ?? {})) addClientKey(name, environment[variable])
  const secrets = [...apiKeys.values(), ...clientKeys.map((key) => key.token)]
    .filter((secret): secret is string => secret !== undefined && secret !== "")
  const connections = yield* Upstream.connections(config)
  const decisionLog = config.decisionLog === undefined ? undefined : yield* DecisionLog.open(config.decisionLog, routing.baseDirectory)
  const shadowRouters = config.decisionLog?.shadowRouters ?? []
  metrics.addGauges(() => routing.governor.state.gauges())
  const allowedOrigins = new Set(config.cors?.origins ?? [])

  /** The client key's name, "anonymous" with auth off, or undefined when the request is not authorized. */
  const clientOf = (request: Http.IncomingMessage): string | undefined => {
    if (clientKeys.length === 0) return "anonymous"
    const match = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? "")
    if (match === null) return undefined
    // Compare digests so the comparison takes the same time whatever the token's length.
    const digest = createHash("sha256").update(match[1]!.trim()).digest()
    for (const key of clientKeys) if (timingSafeEqual(digest, key.digest)) return key.name
    return undefined
  }

  const fail = (response: Http.ServerResponse, error: unknown, extraHeaders: Record<string, string> = {}) => {
    const rendered = ApiError.toOpenAI(error)
    const body = { error: { ...rendered.body.error, message: ApiError.redact(rendered.body.error.message, secrets) } }
    const retryAfter: Record<string, string> = error instanceof ApiError.UpstreamStatusError && error.retryAfter !== undefined
      ? { "retry-after": error.retryAfter }
      : {}
    sendJson(response, rendered.status, body, { ...retryAfter, ...extraHeaders })
    return rendered.status
  }

  /** Price of the tokens on a model, and on the router's strong model. */
  const account = (decision: Decision, model: string, usage: Usage, apiKey: string, state: RequestState) => {
    const dollars = Config.dollarsOf(config.upstreams[model]?.price, usage.promptTokens, usage.completionTokens)
    const strongModel = decision.router === undefined
      ? undefined
      : config.routers[decision.router]?.strong ?? config.strong
    const strongDollars = strongModel === undefined
      ? undefined
      : Config.dollarsOf(config.upstreams[strongModel]?.price, usage.promptTokens, usage.completionTokens)
    state.usage = usage
    if (dollars !== undefined) {
      state.dollars = dollars
      routing.recordCost(decision, dollars)
    }
    metrics.recordCost({
      router: decision.router,
      model,
      apiKey,
      promptTokens: usage.promptTokens,
      completionTokens: usage.completionTokens,
      dollars,
      strongDollars
    })
  }

  const streamAnswer = Effect.fnUntraced(function*(
    response: Http.ServerResponse,
    answer: Upstream.Answer,
    decision: Decision,
    state: RequestState,
    hideUsage: boolean,
    apiKey: string,
    upstreamStarted: number
  ) {
    const model = state.answeredBy!
    response.writeHead(answer.status, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      ...routellmHeaders(decision, state)
    })
    response.flushHeaders()
    const body = answer.body!
    const { failure, usage } = yield* pumpEvents(body, response, model, hideUsage, config.streamIdleTimeoutMs)
    if (usage !== undefined) account(decision, model, usage, apiKey, state)
    metrics.observeUpstream(model, "total", (performance.now() - upstreamStarted) / 1000)
    if (failure === undefined) {
      response.end()
      return
    }
    // Headers are out: tell the client in-band, as OpenAI does, and end the stream without [DONE].
    body.destroy()
    const message = failure === "stalled"
      ? `upstream ${model} sent nothing for ${config.streamIdleTimeoutMs} ms; the stream was cut off`
      : failure === "truncated"
      ? `upstream ${model} ended the stream without [DONE]; the answer may be incomplete`
      : `upstream ${model} stream broke`
    if (!response.destroyed) response.end(errorEvent(message, `upstream_stream_${failure}`))
    metrics.recordStreamError(decision.router, model, failure)
    yield* Effect.logWarning(`stream from ${model}: ${message}`)
  })

  /** Call the decided model, then its fallbacks in turn while the failure allows one. */
  const callWithFallbacks = Effect.fnUntraced(function*(
    body: Record<string, unknown>,
    stream: boolean,
    injectUsage: boolean,
    decision: Decision,
    state: RequestState
  ): Effect.fn.Return<Upstream.Answer, ApiError.UpstreamError, Scope.Scope> {
    const chain = [decision.model, ...(config.fallbacks?.[decision.model] ?? [])]
    const tried: Array<string> = []
    for (let index = 0;; index++) {
      const model = chain[index]!
      const upstream = config.upstreams[model]!
      tried.push(model)
      state.fallbackChain = tried
      const payload = {
        ...body,
        model: upstream.model ?? model,
        ...(injectUsage ? { stream_options: { ...(body.stream_options as object | undefined), include_usage: true } } : {})
      }
      const started = performance.now()
      const result = yield* Effect.result(Upstream.call({
        name: model,
        upstream,
        connection: connections.get(model)!,
        body: JSON.stringify(payload),
        stream,
        apiKey: apiKeys.get(model),
        timeoutMs: upstream.timeoutMs ?? config.timeoutMs,
        retry: config.retry,
        secrets
      }))
      if (result._tag === "Success") {
        metrics.recordRetries(model, result.success.attempts - 1)
        metrics.observeUpstream(model, "first_byte", (performance.now() - started) / 1000)
        state.answeredBy = model
        if (index > 0) metrics.recordFallback(decision.router, chain[0]!, model)
        return result.success
      }
      const error = result.failure
      metrics.observeUpstream(model, "total", (performance.now() - started) / 1000)
      metrics.recordRetries(model, (error.attempts ?? 1) - 1)
      if (index === chain.length - 1 || !Upstream.canFallBack(error)) return yield* error
      yield* Effect.logWarning(`upstream ${model} failed (${ApiError.redact(error.message, secrets)}); falling back to ${chain[index + 1]}`)
    }
  })

  const chat = Effect.fnUntraced(function*(
    request: Http.IncomingMessage,
    response: Http.ServerResponse,
    state: RequestState,
    apiKey: string
  ) {
    if (!isJson(request.headers["content-type"])) {
      request.resume()
      return yield* new ApiError.InvalidRequestError({
        reason: `the request body must be JSON (content-type: application/json), not ${request.headers["content-type"] ?? "unspecified"}`,
        code: "unsupported_media_type",
        status: 415
      })
    }
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
    if (decision.router !== undefined) {
      metrics.observeRouting(decision.router, decision.routingSeconds)
      if (decision.escalated) metrics.recordEscalation(decision.router)
    }
    if (decisionLog !== undefined && decision.router !== undefined && shadowRouters.length > 0) {
      // Scored while the upstream answers; never obeyed, never fails the request.
      const prompt = decision.prompt ?? ""
      state.shadows = yield* Effect.forkChild(Effect.gen(function*() {
        const scores: Record<string, number> = {}
        for (const name of shadowRouters) {
          const score = yield* Effect.result(routing.score(name, prompt))
          if (score._tag === "Success") scores[name] = score.success
        }
        return scores
      }))
    }
    const stream = body.stream === true
    const clientWantsUsage = typeof body.stream_options === "object" && body.stream_options !== null &&
      (body.stream_options as { include_usage?: unknown }).include_usage === true
    const injectUsage = stream && config.streamUsage && !clientWantsUsage
    const upstreamStarted = performance.now()
    const answer = yield* callWithFallbacks(body, stream, injectUsage, decision, state)
    const model = state.answeredBy!
    if (stream && answer.body !== undefined && answer.contentType.includes("text/event-stream")) {
      yield* streamAnswer(response, answer, decision, state, injectUsage, apiKey, upstreamStarted)
      return answer.status
    }
    let text = answer.text ?? ""
    if (answer.body !== undefined) {
      // A streaming request answered without a stream: read the body whole.
      const chunks: Array<Buffer> = []
      for (let chunk = yield* Upstream.readChunk(answer.body).pipe(Effect.orElseSucceed(() => undefined)); chunk !== undefined;) {
        chunks.push(chunk)
        chunk = yield* Upstream.readChunk(answer.body).pipe(Effect.orElseSucceed(() => undefined))
      }
      text = Buffer.concat(chunks).toString("utf8")
    }
    try {
      const value = JSON.parse(text) as unknown
      if (typeof value === "object" && value !== null && !Array.isArray(value)) {
        const record = value as Record<string, unknown>
        const usage = usageOf(record.usage)
        if (usage !== undefined) account(decision, model, usage, apiKey, state)
        if ("model" in record) {
          record.model = model
          text = JSON.stringify(record)
        }
      }
    } catch {
      // Not JSON: forward the upstream's body unchanged.
    }
    metrics.observeUpstream(model, "total", (performance.now() - upstreamStarted) / 1000)
    sendJson(response, answer.status, text, {
      ...routellmHeaders(decision, state),
      ...(answer.contentType === "" ? {} : { "content-type": answer.contentType })
    })
    return answer.status
  })

  const writeDecision = (state: RequestState, status: number, latencyMs: number, apiKey: string) =>
    decisionLog === undefined ? Effect.void : Effect.gen(function*() {
      const decision = state.decision
      if (decision === undefined || decision.router === undefined || decision.winRate === undefined) return
      const scores: Record<string, number> = { [decision.router]: decision.winRate }
      if (state.shadows !== undefined) Object.assign(scores, yield* Fiber.join(state.shadows))
      const prompt = decision.prompt ?? ""
      decisionLog.write({
        time: new Date().toISOString(),
        promptHash: DecisionLog.promptHash(prompt),
        ...(decisionLog.config.includePrompt ? { prompt } : {}),
        router: decision.router,
        target: decision.target ?? "",
        threshold: decision.threshold ?? Number.NaN,
        scores,
        strong: decision.strong === true,
        model: decision.model,
        ...(state.answeredBy !== undefined && state.answeredBy !== decision.model ? { answeredBy: state.answeredBy } : {}),
        escalated: decision.escalated,
        status,
        latencyMs: Math.round(latencyMs * 1000) / 1000,
        routingMs: Math.round(decision.routingSeconds * 1e6) / 1000,
        ...(state.usage === undefined ? {} : { promptTokens: state.usage.promptTokens, completionTokens: state.usage.completionTokens }),
        ...(state.dollars === undefined ? {} : { dollars: state.dollars }),
        apiKey
      })
    })

  const requestLine = (method: string, path: string, status: number, state: RequestState, started: number) =>
    config.requestLog
      ? Effect.logInfo(
        `${method} ${path} ${status}${
          state.decision === undefined ? "" : ` ${state.decision.router ?? "direct"} -> ${state.answeredBy ?? state.decision.model}`
        } ${(performance.now() - started).toFixed(1)} ms`
      )
      : Effect.void

  const recordChat = (state: RequestState, status: number): void =>
    metrics.recordRequest({
      router: state.decision?.router,
      model: state.answeredBy ?? state.decision?.model,
      status,
      strong: state.decision?.strong
    })

  const corsHeaders = (origin: string): Record<string, string> => ({
    "access-control-allow-origin": origin,
    "access-control-expose-headers": "x-routellm-model, x-routellm-router, x-routellm-win-rate, x-routellm-threshold, x-routellm-target, x-routellm-fallback",
    vary: "origin"
  })

  const handle = (request: Http.IncomingMessage, response: Http.ServerResponse) =>
    Effect.gen(function*() {
      const started = performance.now()
      const url = request.url ?? "/"
      const query = url.indexOf("?")
      const path = query === -1 ? url : url.slice(0, query)
      const method = request.method ?? "GET"
      const isChat = path === "/v1/chat/completions"
      const state: RequestState = {}
      const origin = request.headers.origin
      let status: number
      let apiKey: string | undefined
      if (origin !== undefined && !allowedOrigins.has(origin)) {
        request.resume()
        status = fail(
          response,
          new ApiError.InvalidRequestError({
            reason: `cross-origin requests from ${origin} are not allowed (list the origin in the config's cors.origins)`,
            code: "origin_not_allowed",
            status: 403
          })
        )
      } else if (origin !== undefined && method === "OPTIONS") {
        request.resume()
        status = 204
        response.writeHead(204, {
          ...corsHeaders(origin),
          "access-control-allow-methods": "GET, POST, OPTIONS",
          "access-control-allow-headers": "authorization, content-type",
          "access-control-max-age": "600"
        })
        response.end()
      } else {
        if (origin !== undefined) { for (const [name, value] of Object.entries(corsHeaders(origin))) response.setHeader(name, value) }
        apiKey = path.startsWith("/v1/") ? clientOf(request) : "anonymous"
        if (apiKey === undefined) {
          status = fail(
            response,
            new ApiError.InvalidRequestError({ reason: "invalid or missing bearer token", code: "invalid_api_key", status: 401 }),
            { "www-authenticate": "Bearer" }
          )
          request.resume()
        } else if (isChat && method === "POST") {
          const key = apiKey
          const outcome = yield* Effect.exit(
            Effect.scoped(chat(request, response, state, key)).pipe(
              // The client went away (or shutdown cancelled the request): count and log it as nginx's 499.
              Effect.onInterrupt(() =>
                Effect.andThen(
                  Effect.sync(() => recordChat(state, 499)),
                  Effect.andThen(writeDecision(state, 499, performance.now() - started, key), requestLine(method, path, 499, state, started))
                )
              )
            )
          )
          if (Exit.isSuccess(outcome)) {
            status = outcome.value
          } else {
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
      }
      if (isChat) {
        recordChat(state, status)
        if (apiKey !== undefined) yield* writeDecision(state, status, performance.now() - started, apiKey)
      }
      yield* requestLine(method, path, status, state, started)
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
      server.listen({ port, host, backlog: 4096 }, () => {
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
