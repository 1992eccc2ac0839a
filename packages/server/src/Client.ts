/**
 * Routing without a server: `new RouteLLM({ config })` takes the serve config
 * (an object or a YAML file), routes each request in-process and calls the
 * chosen upstream with the official `openai` client. Its
 * `chat.completions.create` is shaped like the openai package's: it returns a
 * ChatCompletion, or an openai `Stream` of chunks when `stream: true`, and
 * rejects with the openai package's own errors for upstream failures.
 *
 * Effect users take the same thing as a service, `RouteLLMClient`.
 */
import { ArtifactStore, type Errors, type Plugin, PluginRegistry, RandomRouter, Retry } from "@routellm/core"
import { Context, Effect, Layer, ManagedRuntime, Stream } from "effect"
import * as Path from "node:path"
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from "openai"
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming
} from "openai/resources/chat/completions"
import { Stream as OpenAIStream } from "openai/streaming"
import { type InvalidRequestError, type UpstreamError, UpstreamStatusError, UpstreamTimeoutError, UpstreamUnreachableError } from "./ApiError.ts"
import * as Config from "./Config.ts"
import { type Decision, Routing } from "./Routing.ts"

/** The openai client's per-request options (signal, timeout, headers, ...). */
export type RequestOptions = NonNullable<Parameters<OpenAI["chat"]["completions"]["create"]>[1]>

export type RoutingFailure = InvalidRequestError | Errors.RouterError

export interface ClientShape {
  readonly routing: Routing["Service"]
  /** The openai client of each upstream model. */
  readonly upstreams: ReadonlyMap<string, OpenAI>
  /** Route a request without calling an upstream. */
  readonly route: (params: { readonly model: unknown; readonly messages: unknown }) => Effect.Effect<Decision, RoutingFailure>
  /** A non-streaming completion; `completion.model` is the routed model. */
  readonly create: (
    params: ChatCompletionCreateParamsNonStreaming,
    options?: RequestOptions
  ) => Effect.Effect<{ readonly decision: Decision; readonly completion: ChatCompletion }, RoutingFailure | UpstreamError>
  /** A streaming completion: the decision once the upstream answered, then its chunks. */
  readonly stream: (
    params: Omit<ChatCompletionCreateParamsStreaming, "stream">,
    options?: RequestOptions
  ) => Effect.Effect<
    { readonly decision: Decision; readonly chunks: Stream.Stream<ChatCompletionChunk, UpstreamError> },
    RoutingFailure | UpstreamError
  >
}

const upstreamError = (name: string, secrets: ReadonlyArray<string>) => (cause: unknown): UpstreamError => {
  if (cause instanceof APIConnectionTimeoutError) return new UpstreamTimeoutError({ upstream: name, timeoutMs: 0, attempts: 0 })
  if (cause instanceof APIConnectionError) {
    return new UpstreamUnreachableError({ upstream: name, reason: redactText(cause.message, secrets), attempts: 0 })
  }
  if (cause instanceof APIError && cause.status !== undefined) {
    return new UpstreamStatusError({
      upstream: name,
      status: cause.status,
      body: redactText(JSON.stringify({ error: cause.error ?? { message: cause.message } }), secrets)
    })
  }
  return new UpstreamUnreachableError({
    upstream: name,
    reason: redactText(cause instanceof Error ? cause.message : String(cause), secrets),
    attempts: 0
  })
}

const redactText = (text: string, secrets: ReadonlyArray<string>) =>
  secrets.reduce((result, secret) => (secret.length >= 4 ? result.split(secret).join("[redacted]") : result), text)

export const make = Effect.fn("RouteLLMClient.make")(function*(environment: NodeJS.ProcessEnv = process.env) {
  const routing = yield* Routing
  const config = routing.config
  const secrets: Array<string> = []
  const upstreams = new Map<string, OpenAI>()
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    const apiKey = upstream.apiKeyEnv === undefined ? undefined : environment[upstream.apiKeyEnv]
    if (apiKey !== undefined && apiKey !== "") secrets.push(apiKey)
    upstreams.set(
      name,
      new OpenAI({
        baseURL: upstream.baseURL,
        // Local OpenAI-compatible servers often take no key; the openai client insists on one.
        apiKey: apiKey ?? "none",
        // Retries follow the server's policy (core Retry) below, not the openai client's own.
        maxRetries: 0,
        timeout: upstream.timeoutMs ?? config.timeoutMs
      })
    )
  }
  const upstreamModel = (decision: Decision) => decision.upstream.model ?? decision.model
  const policy: Retry.Policy = {
    retries: config.retry.attempts,
    initialDelayMs: config.retry.initialDelayMs,
    maxDelayMs: config.retry.maxDelayMs,
    retryAfterLimitMs: config.retry.retryAfterLimitMs
  }
  const verdict = (cause: unknown): Retry.Verdict => {
    if (cause instanceof APIError && cause.status !== undefined) {
      return { retryable: cause.status === 429 || cause.status >= 500, retryAfterMs: Retry.retryAfterMs(cause.headers) }
    }
    return { retryable: cause instanceof APIConnectionError }
  }

  const route = (params: { readonly model: unknown; readonly messages: unknown }) => routing.decide(params.model, params.messages)

  const create = Effect.fn("RouteLLMClient.create")(function*(
    params: ChatCompletionCreateParamsNonStreaming,
    options?: RequestOptions
  ) {
    const decision = yield* route(params)
    const client = upstreams.get(decision.model)!
    const completion = yield* Effect.tryPromise({
      try: (signal) => client.chat.completions.create({ ...params, model: upstreamModel(decision) }, { ...options, signal }),
      catch: (cause) => cause
    }).pipe(Retry.retry(policy, verdict), Effect.mapError(upstreamError(decision.model, secrets)))
    return { decision, completion: { ...completion, model: decision.model } }
  })

  const stream = Effect.fn("RouteLLMClient.stream")(function*(
    params: Omit<ChatCompletionCreateParamsStreaming, "stream">,
    options?: RequestOptions
  ) {
    const decision = yield* route(params)
    const client = upstreams.get(decision.model)!
    const upstream = yield* Effect.tryPromise({
      try: (signal) => client.chat.completions.create({ ...params, model: upstreamModel(decision), stream: true }, { ...options, signal }),
      catch: (cause) => cause
    }).pipe(Retry.retry(policy, verdict), Effect.mapError(upstreamError(decision.model, secrets)))
    const chunks = Stream.fromAsyncIterable(upstream, upstreamError(decision.model, secrets)).pipe(
      Stream.map((chunk): ChatCompletionChunk => ({ ...chunk, model: decision.model })),
      // Stopping early (or being interrupted) cancels the upstream request.
      Stream.ensuring(Effect.sync(() => upstream.controller.abort()))
    )
    return { decision, chunks }
  })

  return RouteLLMClient.of({ routing, upstreams, route, create, stream })
})

export class RouteLLMClient extends Context.Service<RouteLLMClient, ClientShape>()("@routellm/server/RouteLLMClient") {
  /** The client over an already built Routing service. */
  static readonly layerFromRouting = (environment?: NodeJS.ProcessEnv) => Layer.effect(RouteLLMClient, make(environment))

  /**
   * The client from a checked config: builds the routers (needs the plugin
   * registry and the artifact store) and the upstream clients.
   */
  static readonly layer = (config: Config.ServeConfig, options: { readonly baseDirectory?: string; readonly environment?: NodeJS.ProcessEnv } = {}) =>
    RouteLLMClient.layerFromRouting(options.environment).pipe(
      Layer.provideMerge(Routing.layer(config, options.baseDirectory ?? process.cwd()))
    )
}

export interface RouteLLMOptions {
  /** The serve config as an object, or the path of a YAML/JSON serve config file. */
  readonly config: Config.ServeConfigInput | string
  /** Router plugins to build routers from (default: router/random); pass e.g. `...RouterMf.plugins`. */
  readonly plugins?: ReadonlyArray<Plugin.Any>
  /** Where relative artifact paths resolve (default: the config file's directory, or the working directory). */
  readonly baseDirectory?: string
  /** Artifact store root (default: ROUTELLM_CACHE_DIR). */
  readonly cacheDirectory?: string
  /** Where API keys are read (default: process.env). */
  readonly environment?: NodeJS.ProcessEnv
}

/** An OpenAI-shaped client that routes in-process. Call `close()` when done to release the routers. */
export class RouteLLM {
  readonly #runtime: ManagedRuntime.ManagedRuntime<RouteLLMClient, unknown>

  readonly chat: {
    readonly completions: {
      create(params: ChatCompletionCreateParamsNonStreaming, options?: RequestOptions): Promise<ChatCompletion>
      create(params: ChatCompletionCreateParamsStreaming, options?: RequestOptions): Promise<OpenAIStream<ChatCompletionChunk>>
    }
  }

  constructor(options: RouteLLMOptions) {
    const environment = options.environment ?? process.env
    const fromFile = typeof options.config === "string"
    const baseDirectory = options.baseDirectory ??
      (fromFile ? Path.dirname(Path.resolve(options.config as string)) : process.cwd())
    const config = fromFile
      ? Config.load(options.config as string, environment)
      : Config.decode(options.config, "RouteLLM config", environment)
    const services = Layer.mergeAll(
      PluginRegistry.PluginRegistry.layer(options.plugins ?? [RandomRouter.plugin]),
      options.cacheDirectory === undefined
        ? ArtifactStore.ArtifactStore.layer
        : ArtifactStore.ArtifactStore.layerAt(options.cacheDirectory)
    )
    const layer = Layer.unwrap(Effect.map(config, (checked) => RouteLLMClient.layer(checked, { baseDirectory, environment })))
      .pipe(Layer.provide(services))
    this.#runtime = ManagedRuntime.make(layer)
    const runtime = this.#runtime

    async function create(params: ChatCompletionCreateParamsNonStreaming, options?: RequestOptions): Promise<ChatCompletion>
    async function create(
      params: ChatCompletionCreateParamsStreaming,
      options?: RequestOptions
    ): Promise<OpenAIStream<ChatCompletionChunk>>
    async function create(
      params: ChatCompletionCreateParamsNonStreaming | ChatCompletionCreateParamsStreaming,
      options?: RequestOptions
    ): Promise<ChatCompletion | OpenAIStream<ChatCompletionChunk>> {
      const client = await runtime.runPromise(RouteLLMClient.useSync((service) => service))
      const decision = await runtime.runPromise(client.route(params))
      const upstream = client.upstreams.get(decision.model)!
      const model = decision.upstream.model ?? decision.model
      // Upstream calls go through the openai client directly, so failures are its own error classes.
      if (params.stream === true) {
        const chunks = await upstream.chat.completions.create({ ...params, model }, options)
        return new OpenAIStream<ChatCompletionChunk>(async function*() {
          for await (const chunk of chunks) yield { ...chunk, model: decision.model }
        }, chunks.controller)
      }
      const completion = await upstream.chat.completions.create({ ...params, model }, options)
      return { ...completion, model: decision.model }
    }
    this.chat = { completions: { create } }
  }

  /** The routing decision for a request, without calling an upstream. */
  route(params: { readonly model: string; readonly messages: ReadonlyArray<unknown> }): Promise<Decision> {
    return this.#runtime.runPromise(RouteLLMClient.use((client) => client.route(params)))
  }

  /** Release the routers (and anything their plugins hold open). */
  close(): Promise<void> {
    return this.#runtime.dispose()
  }
}
