/**
 * Chat completions against any OpenAI-compatible endpoint through the
 * `openai` client, with everything a labelling run needs: a concurrency
 * limit, a requests-per-minute limit, retries under the shared policy (core
 * Retry: capped exponential backoff, or the server's Retry-After up to a
 * limit), a response cache in the artifact store that makes runs resumable,
 * token and dollar accounting, and a spending cap.
 */
import { ArtifactStore, type Errors, Hash, type Records, Retry } from "@routellm/core"
import { Deferred, Effect, FileSystem, Schema, Scope, Semaphore } from "effect"
import * as Path from "node:path"
import OpenAI from "openai"
import * as ResponseCache from "./internal/ResponseCache.ts"
import * as RateLimiter from "./RateLimiter.ts"

/** One model behind an OpenAI-compatible endpoint, with its prices. */
export const Endpoint = Schema.Struct({
  model: Schema.String.annotate({ description: "Model name the endpoint expects" }),
  baseUrl: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("https://api.openai.com/v1"))).annotate({
    description: "OpenAI-compatible base URL (vLLM, Together, Fireworks, a local server, ...)"
  }),
  apiKeyEnv: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("OPENAI_API_KEY"))).annotate({
    description: "Environment variable holding the API key (keys never go in pipeline files)"
  }),
  maxTokens: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(1024))),
  temperature: Schema.Finite.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))),
  inputDollarsPerMillion: Schema.Finite.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))).annotate({
    description: "Price of a million prompt tokens, for the cost report and the spending cap"
  }),
  outputDollarsPerMillion: Schema.Finite.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0)))
})
export type Endpoint = typeof Endpoint.Type

/** How hard to hit the endpoints. */
export const Limits = Schema.Struct({
  concurrency: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(4))),
  requestsPerMinute: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThan(0))),
  retries: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(4))),
  backoffMs: Schema.Finite.pipe(Schema.withDecodingDefaultKey(Effect.succeed(1000))).annotate({
    description: "First retry delay; doubles on each retry"
  }),
  maxBackoffMs: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))).annotate({
    description: "Cap on the doubling retry delay (default 60 s)"
  }),
  retryAfterLimitMs: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))).annotate({
    description: "Longest Retry-After waited for; a longer one fails the request (default 120 s)"
  }),
  timeoutMs: Schema.Finite.pipe(Schema.withDecodingDefaultKey(Effect.succeed(120_000))),
  maxDollars: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))).annotate({
    description: "Spending cap for new requests in this run; cached responses are free"
  })
})
export type Limits = typeof Limits.Type

/** A request failed for good (not retryable, or retries exhausted). */
export class LlmError extends Schema.TaggedError<LlmError>()("LlmError", {
  model: Schema.String,
  baseUrl: Schema.String,
  status: Schema.optionalKey(Schema.Number),
  attempts: Schema.Number,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.model} at ${this.baseUrl}: ${this.status === undefined ? "" : `HTTP ${this.status}: `}${this.reason} (after ${this.attempts} attempt${
      this.attempts === 1 ? "" : "s"
    })`
  }
}

/** The spending cap was reached; no new request is sent. */
export class BudgetExhaustedError extends Schema.TaggedError<BudgetExhaustedError>()("BudgetExhaustedError", {
  spentDollars: Schema.Number,
  maxDollars: Schema.Number
}) {
  override get message(): string {
    return `spending cap reached: spent $${this.spentDollars.toFixed(4)} of $${this.maxDollars.toFixed(4)}`
  }
}

export interface Completion {
  readonly content: string
  readonly promptTokens: number
  readonly completionTokens: number
  /** What this response cost (also when it came from the cache). */
  readonly dollars: number
  readonly cached: boolean
}

export interface ModelUsage {
  calls: number
  cachedCalls: number
  retries: number
  failures: number
  promptTokens: number
  completionTokens: number
  /** Spent in this run (new requests only). */
  dollars: number
  /** What the cached responses cost when they were first requested. */
  cachedDollars: number
}

export interface ChatClientShape {
  readonly complete: (
    endpoint: Endpoint,
    messages: ReadonlyArray<Records.ChatMessage>
  ) => Effect.Effect<Completion, LlmError | BudgetExhaustedError | Errors.FileError>
  /** Usage per model so far. */
  readonly usage: () => Readonly<Record<string, ModelUsage>>
  readonly spentDollars: () => number
  readonly budgetExhausted: () => boolean
}

export const cost = (endpoint: Endpoint, promptTokens: number, completionTokens: number): number =>
  (promptTokens * endpoint.inputDollarsPerMillion + completionTokens * endpoint.outputDollarsPerMillion) / 1e6

/** The cache key of a request: everything that changes a temperature-0 answer. */
export const requestKey = (endpoint: Endpoint, messages: ReadonlyArray<Records.ChatMessage>): string =>
  Hash.hashValue({
    baseUrl: endpoint.baseUrl,
    model: endpoint.model,
    temperature: endpoint.temperature,
    maxTokens: endpoint.maxTokens,
    messages: messages.map((message) => ({ role: message.role, content: message.content }))
  })

interface Attempt extends Retry.Verdict {
  readonly status?: number
  readonly reason: string
}

const classify = (cause: unknown): Attempt => {
  if (cause instanceof OpenAI.APIConnectionError) return { retryable: true, reason: cause.message || "connection failed" }
  if (cause instanceof OpenAI.APIError && cause.status !== undefined) {
    return {
      retryable: Retry.isRetryableStatus(cause.status),
      status: cause.status,
      retryAfterMs: Retry.retryAfterMs(cause.headers),
      reason: cause.status === 401 ? `${cause.message} (is the API key environment variable set?)` : cause.message
    }
  }
  return { retryable: false, reason: cause instanceof Error ? cause.message : String(cause) }
}

/**
 * A client for one run. Responses are cached under the artifact store root
 * (`llm-responses/`), so every run with the same requests resumes where the
 * last one stopped; identical requests in flight at once are sent once.
 */
export const make = Effect.fn("ChatClient.make")(function*(limits: Limits) {
  const store = yield* ArtifactStore.ArtifactStore
  const fs = yield* FileSystem.FileSystem
  const limiter = yield* RateLimiter.make(limits.requestsPerMinute)
  const slots = yield* Semaphore.make(limits.concurrency)
  const clients = new Map<string, OpenAI>()
  const caches = new Map<string, ResponseCache.ResponseCacheShape>()
  const inFlight = new Map<string, Deferred.Deferred<Completion, LlmError | BudgetExhaustedError | Errors.FileError>>()
  const usage: Record<string, ModelUsage> = {}
  let spent = 0
  let exhausted = false
  const cacheLock = yield* Semaphore.make(1)
  const scope = yield* Effect.scope

  const usageOf = (model: string): ModelUsage =>
    usage[model] ??= {
      calls: 0,
      cachedCalls: 0,
      retries: 0,
      failures: 0,
      promptTokens: 0,
      completionTokens: 0,
      dollars: 0,
      cachedDollars: 0
    }

  const clientFor = (endpoint: Endpoint): OpenAI => {
    const id = `${endpoint.baseUrl}\n${endpoint.apiKeyEnv}`
    let client = clients.get(id)
    if (client === undefined) {
      client = new OpenAI({
        baseURL: endpoint.baseUrl,
        apiKey: process.env[endpoint.apiKeyEnv] ?? "unset",
        maxRetries: 0,
        timeout: limits.timeoutMs
      })
      clients.set(id, client)
    }
    return client
  }

  const cacheFor = (endpoint: Endpoint) =>
    cacheLock.withPermits(1)(Effect.suspend(() => {
      const file = Path.join(
        store.root,
        "llm-responses",
        `${endpoint.model.replace(/[^A-Za-z0-9._-]+/g, "_")}-${Hash.short(Hash.sha256(endpoint.baseUrl))}.jsonl`
      )
      const existing = caches.get(file)
      if (existing !== undefined) return Effect.succeed(existing)
      return ResponseCache.open(file).pipe(
        Scope.provide(scope),
        Effect.provideService(FileSystem.FileSystem, fs),
        Effect.tap((cache) => Effect.sync(() => caches.set(file, cache)))
      )
    }))

  const send = (endpoint: Endpoint, messages: ReadonlyArray<Records.ChatMessage>) =>
    Effect.tryPromise({
      try: (signal) =>
        clientFor(endpoint).chat.completions.create(
          {
            model: endpoint.model,
            messages: messages.map((message) => ({ role: message.role, content: message.content })) as Array<
              OpenAI.Chat.ChatCompletionMessageParam
            >,
            temperature: endpoint.temperature,
            max_tokens: endpoint.maxTokens
          },
          { signal }
        ),
      catch: classify
    }).pipe(
      Effect.flatMap((response) => {
        const content = response.choices?.[0]?.message?.content
        return typeof content === "string"
          ? Effect.succeed({
            content,
            promptTokens: response.usage?.prompt_tokens ?? 0,
            completionTokens: response.usage?.completion_tokens ?? 0
          })
          : Effect.fail<Attempt>({ retryable: true, reason: "response has no choices[0].message.content" })
      })
    )

  const policy: Retry.Policy = {
    retries: limits.retries,
    initialDelayMs: limits.backoffMs,
    maxDelayMs: limits.maxBackoffMs ?? 60_000,
    retryAfterLimitMs: limits.retryAfterLimitMs ?? 120_000
  }

  /** Send under the shared retry policy (core Retry); each attempt waits for the rate limiter. */
  const sendWithRetries = (endpoint: Endpoint, messages: ReadonlyArray<Records.ChatMessage>) =>
    Effect.suspend(() => {
      let attempts = 1
      return limiter.acquire.pipe(
        Effect.andThen(send(endpoint, messages)),
        Retry.retry(policy, (failure: Attempt) => failure, () =>
          Effect.sync(() => {
            attempts++
            usageOf(endpoint.model).retries++
          })),
        Effect.mapError((failure) => {
          usageOf(endpoint.model).failures++
          return new LlmError({
            model: endpoint.model,
            baseUrl: endpoint.baseUrl,
            ...(failure.status === undefined ? {} : { status: failure.status }),
            attempts,
            reason: failure.reason
          })
        })
      )
    })

  const fetchNew = (endpoint: Endpoint, messages: ReadonlyArray<Records.ChatMessage>, key: string, cache: ResponseCache.ResponseCacheShape) =>
    slots.withPermits(1)(Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        if (limits.maxDollars !== undefined && spent >= limits.maxDollars) {
          exhausted = true
          return yield* new BudgetExhaustedError({ spentDollars: spent, maxDollars: limits.maxDollars })
        }
        const reply = yield* restore(sendWithRetries(endpoint, messages))
        // Once a response is in, it is recorded and cached even if the run is being interrupted.
        const dollars = cost(endpoint, reply.promptTokens, reply.completionTokens)
        spent += dollars
        const entry = usageOf(endpoint.model)
        entry.calls++
        entry.promptTokens += reply.promptTokens
        entry.completionTokens += reply.completionTokens
        entry.dollars += dollars
        yield* cache.put({ key, ...reply })
        return { ...reply, dollars, cached: false } satisfies Completion
      })
    ))

  const complete = (endpoint: Endpoint, messages: ReadonlyArray<Records.ChatMessage>) =>
    Effect.gen(function*() {
      const key = requestKey(endpoint, messages)
      const cache = yield* cacheFor(endpoint)
      const hit = cache.get(key)
      if (hit !== undefined) {
        const dollars = cost(endpoint, hit.promptTokens, hit.completionTokens)
        const entry = usageOf(endpoint.model)
        entry.cachedCalls++
        entry.cachedDollars += dollars
        return { content: hit.content, promptTokens: hit.promptTokens, completionTokens: hit.completionTokens, dollars, cached: true }
      }
      const pending = inFlight.get(key)
      if (pending !== undefined) return yield* Deferred.await(pending)
      const deferred = yield* Deferred.make<Completion, LlmError | BudgetExhaustedError | Errors.FileError>()
      inFlight.set(key, deferred)
      return yield* fetchNew(endpoint, messages, key, cache).pipe(
        Effect.onExit((exit) => {
          inFlight.delete(key)
          return Deferred.done(deferred, exit)
        })
      )
    })

  return {
    complete,
    usage: () => usage,
    spentDollars: () => spent,
    budgetExhausted: () => exhausted
  } satisfies ChatClientShape
})

/** Totals over models, for reports. */
export const totals = (usage: Readonly<Record<string, ModelUsage>>) => {
  const sum = { calls: 0, cachedCalls: 0, retries: 0, failures: 0, promptTokens: 0, completionTokens: 0, dollars: 0, cachedDollars: 0 }
  for (const entry of Object.values(usage)) {
    sum.calls += entry.calls
    sum.cachedCalls += entry.cachedCalls
    sum.retries += entry.retries
    sum.failures += entry.failures
    sum.promptTokens += entry.promptTokens
    sum.completionTokens += entry.completionTokens
    sum.dollars += entry.dollars
    sum.cachedDollars += entry.cachedDollars
  }
  return sum
}
