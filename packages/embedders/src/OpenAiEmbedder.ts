/**
 * `embedder/openai`: embeddings from any OpenAI-compatible `/embeddings`
 * endpoint (OpenAI's `text-embedding-3-small` by default, which RouteLLM's SW
 * and MF routers used) through the `openai` client. Requests are batched and
 * retried under the shared policy (core Retry: capped exponential backoff, or
 * the server's Retry-After up to a limit) on 408, 409, 429, 5xx and
 * connection errors. The API key is read from the environment variable
 * named in the config and never appears in errors or logs.
 */
import { Errors, Hash, Matrix, Plugin, Retry } from "@routellm/core"
import type { EmbedderShape } from "@routellm/core/Embedder"
import { Effect, Schema } from "effect"
import OpenAI from "openai"

export const id = "embedder/openai"

export const defaultBaseUrl = "https://api.openai.com/v1"

/** Output widths of OpenAI's embedding models (others are found with one probe request). */
export const knownDimensions: Readonly<Record<string, number>> = {
  "text-embedding-3-small": 1536,
  "text-embedding-3-large": 3072,
  "text-embedding-ada-002": 1536
}

export const Config = Schema.Struct({
  model: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("text-embedding-3-small"))),
  baseUrl: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed(defaultBaseUrl))).annotate({
    description: "OpenAI-compatible base URL (OpenAI, Azure proxy, vLLM, Ollama, a local server)"
  }),
  apiKeyEnv: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("OPENAI_API_KEY"))).annotate({
    description: "environment variable holding the API key (keys never go in pipeline files)"
  }),
  dimensions: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))).annotate({
    description: "ask the model for shorter vectors (text-embedding-3 models)"
  }),
  batchSize: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(256)))
    .annotate({ description: "texts per request (OpenAI accepts up to 2048)" }),
  retries: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(6))),
  backoffMs: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(1000)))
    .annotate({ description: "first retry delay; doubles on each retry (a Retry-After header wins)" }),
  maxBackoffMs: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))).annotate({
    description: "cap on the doubling retry delay (default 60 s)"
  }),
  retryAfterLimitMs: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))).annotate({
    description: "longest Retry-After the embedder waits for; a longer one fails the batch (default 120 s)"
  }),
  timeoutMs: Schema.Finite.pipe(Schema.withDecodingDefaultKey(Effect.succeed(60_000)))
}).annotate({ description: "OpenAI-compatible embeddings endpoint (text-embedding-3-small by default)" })
export type Config = typeof Config.Type

/** A failure is retried unless the server answered with a status that is not worth another attempt (400, 401, ...). */
const verdict = (cause: unknown): Retry.Verdict => {
  if (!(cause instanceof OpenAI.APIError) || cause.status === undefined) return { retryable: true }
  return { retryable: Retry.isRetryableStatus(cause.status), retryAfterMs: Retry.retryAfterMs(cause.headers) }
}

export const make = Effect.fn("OpenAiEmbedder.make")(function*(config: Config) {
  const key = process.env[config.apiKeyEnv]
  if ((key === undefined || key === "") && config.baseUrl === defaultBaseUrl) {
    return yield* new Errors.PluginError({
      pluginId: id,
      reason: `environment variable ${config.apiKeyEnv} is not set (it holds the API key for ${config.baseUrl})`
    })
  }
  // Local OpenAI-compatible servers often need no key; the client insists on one.
  const apiKey = key === undefined || key === "" ? "no-key" : key
  const client = new OpenAI({ apiKey, baseURL: config.baseUrl, maxRetries: 0, timeout: config.timeoutMs })
  const redact = (text: string) => (apiKey.length >= 4 ? text.split(apiKey).join("***") : text)

  const requestOnce = (texts: ReadonlyArray<string>) =>
    Effect.tryPromise({
      try: (signal) =>
        client.embeddings.create(
          {
            model: config.model,
            input: [...texts],
            encoding_format: "float",
            ...(config.dimensions === undefined ? {} : { dimensions: config.dimensions })
          },
          { signal }
        ),
      catch: (cause) => cause
    })

  const policy: Retry.Policy = {
    retries: config.retries,
    initialDelayMs: config.backoffMs,
    maxDelayMs: config.maxBackoffMs ?? 60_000,
    retryAfterLimitMs: config.retryAfterLimitMs ?? 120_000
  }

  const request = (texts: ReadonlyArray<string>) =>
    Effect.suspend(() => {
      let attempts = 1
      return requestOnce(texts).pipe(
        Retry.retry(policy, verdict, () => Effect.sync(() => void attempts++)),
        Effect.mapError((cause) => {
          const status = cause instanceof OpenAI.APIError ? cause.status : undefined
          const what = cause instanceof Error ? cause.message : String(cause)
          return new Errors.EmbedderError({
            embedderId: id,
            reason: redact(
              `${config.model} at ${config.baseUrl}: ${status === undefined ? "" : `HTTP ${status}: `}${what} (after ${attempts} attempt${
                attempts === 1 ? "" : "s"
              })`
            )
          })
        })
      )
    })

  const embedBatch = (texts: ReadonlyArray<string>, width: number | undefined) =>
    Effect.gen(function*() {
      const response = yield* request(texts)
      const data = [...response.data].sort((a, b) => a.index - b.index)
      const columns = width ?? data[0]?.embedding.length ?? 0
      if (data.length !== texts.length || data.some((item, index) => item.index !== index || item.embedding.length !== columns)) {
        return yield* new Errors.EmbedderError({
          embedderId: id,
          reason: `${config.model} at ${config.baseUrl}: expected ${texts.length} embeddings of ${columns} values, got ${data.length}`
        })
      }
      const result = Matrix.make(texts.length, columns)
      data.forEach((item, index) => result.data.set(item.embedding, index * columns))
      return result
    })

  const dimensions = config.dimensions ?? knownDimensions[config.model] ??
    (yield* embedBatch(["dimensions"], undefined).pipe(
      Effect.map((probe) => probe.columns),
      Effect.mapError((error) => new Errors.PluginError({ pluginId: id, reason: error.message }))
    ))

  const embed = (texts: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const parts: Array<Matrix.Matrix> = []
      for (let start = 0; start < texts.length; start += config.batchSize) {
        parts.push(yield* embedBatch(texts.slice(start, start + config.batchSize), dimensions))
      }
      return Matrix.concatRows(parts, dimensions)
    })

  const shape: EmbedderShape = {
    id,
    // The key is not part of it: the same model gives the same vectors to every account.
    fingerprint: Hash.hashValue({ id, baseUrl: config.baseUrl, model: config.model, dimensions }),
    dimensions,
    batchSize: config.batchSize,
    embed
  }
  return shape
})

export const plugin = Plugin.embedder({
  id,
  version: "1.0.0",
  description: "OpenAI-compatible embeddings endpoint (text-embedding-3-small by default); batched, retried",
  config: Config,
  make
})
