/**
 * `router/causal`: the paper's causal LLM router. A causal LM is asked to
 * predict the score (1 to 5) an expert would give the weak model's answer to
 * the prompt; the probabilities of the five score tokens in its next-token
 * distribution give strong win rate = 1 − P(score ≥ 4), as RouteLLM computes
 * it. Backends: an OpenAI-compatible endpoint with logprobs (`endpoint`), or a
 * causal LM exported to ONNX run in-process (`onnx`). When the endpoint's
 * distribution holds no score token the prompt goes to the strong model
 * (win rate 1), as RouteLLM does, and is counted in `counters().fallbacks`.
 */
import { Errors, Plugin, type Router } from "@routellm/core"
import { Effect, Schema, type Scope } from "effect"
import * as Path from "node:path"
import * as OnnxBackend from "./OnnxBackend.ts"
import * as OpenAiBackend from "./OpenAiBackend.ts"
import * as Scores from "./Scores.ts"
import * as Template from "./Template.ts"

export const id = "router/causal"

const withDefault = <S extends Schema.Top>(value: S["Encoded"]) => Schema.withDecodingDefaultKey<S>(Effect.succeed(value))
const Positive = Schema.Int.check(Schema.isGreaterThan(0))

export const EndpointConfig = Schema.Struct({
  baseUrl: Schema.String.annotate({ description: "OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (vLLM)" }),
  model: Schema.String.annotate({ description: "Model name the server knows" }),
  apiKeyEnv: Schema.String.pipe(withDefault("OPENAI_API_KEY")),
  api: Schema.Literals(["chat", "completions"]).pipe(withDefault("chat")),
  maxTokens: Positive.pipe(withDefault(1)).annotate({ description: "Generated positions to search for a score token" }),
  topLogprobs: Positive.pipe(withDefault(20)),
  timeoutSeconds: Schema.Finite.check(Schema.isGreaterThan(0)).pipe(withDefault(60)),
  maxRetries: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).pipe(withDefault(2)),
  concurrency: Positive.pipe(withDefault(8)),
  onRequestError: Schema.Literals(["fail", "strong"]).pipe(withDefault("fail")).annotate({
    description: "On a failed request: fail the scoring, or route to the strong model and count it"
  })
})

export const OnnxConfig = Schema.Struct({
  model: Schema.String.annotate({ description: "Causal LM exported to ONNX (without past key values): .onnx file or directory" }),
  tokenizer: Schema.optionalKey(Schema.String),
  maxLength: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(8))),
  addSpecialTokens: Schema.Boolean.pipe(withDefault(true)),
  executionProviders: Schema.Array(Schema.String).pipe(withDefault(["cpu"])),
  threads: Schema.optionalKey(Positive),
  batchSize: Positive.pipe(withDefault(8))
})

export const Config = Schema.Struct({
  endpoint: Schema.optionalKey(EndpointConfig),
  onnx: Schema.optionalKey(OnnxConfig),
  template: Schema.optionalKey(Schema.String).annotate({
    description: "YAML/JSON file with system, user ({question}) and format ({system}, {user}); default: the package's templates/default.yaml"
  }),
  systemFile: Schema.optionalKey(Schema.String).annotate({ description: "Text file replacing the template's system message" }),
  userFile: Schema.optionalKey(Schema.String).annotate({ description: "Text file replacing the template's user message (with {question})" }),
  format: Schema.optionalKey(Schema.String).annotate({ description: "Replaces the template's format" }),
  scoreTokens: Schema.Array(Schema.String).check(Schema.isMinLength(2)).pipe(withDefault([...Scores.paperTokens])).annotate({
    description: "Tokens for scores 1..n, in order"
  }),
  scoreThreshold: Positive.pipe(withDefault(4)).annotate({ description: "Strong win rate = 1 - P(score >= scoreThreshold)" })
}).annotate({ description: "Causal LLM scorer router: an LLM predicts the weak model's quality 1-5 from score-token probabilities" })
export type Config = typeof Config.Type

export interface Counters {
  /** Prompts scored from the score tokens' probabilities. */
  readonly scored: number
  /** Prompts whose distribution held no score token (routed to the strong model). */
  readonly fallbacks: number
  /** Failed requests routed to the strong model (`onRequestError: strong`). */
  readonly requestErrors: number
}

export interface CausalRouter extends Router.RouterShape {
  readonly backend: "endpoint" | "onnx"
  readonly counters: () => Counters
}

const counting = () => {
  const state = { scored: 0, fallbacks: 0, requestErrors: 0 }
  return { state, snapshot: (): Counters => ({ ...state }) }
}

const fromEndpoint = (config: Config, endpoint: typeof EndpointConfig.Type, template: Template.Template): CausalRouter => {
  const backend = OpenAiBackend.make(template, endpoint)
  const { snapshot, state } = counting()
  const winRate = (prompt: string): Effect.Effect<number, Errors.RouterError> =>
    backend.positions(prompt).pipe(
      Effect.map((positions) => OpenAiBackend.outcomeOf(positions, config.scoreTokens, config.scoreThreshold)),
      Effect.flatMap((outcome) => {
        if (outcome._tag === "Scored") {
          state.scored++
          return Effect.succeed(outcome.winRate)
        }
        state.fallbacks++
        return Effect.as(
          state.fallbacks === 1
            ? Effect.logWarning(`${id}: no score token (${config.scoreTokens.join(" ")}) in the returned top_logprobs; routing to the strong model`)
            : Effect.void,
          1
        )
      }),
      Effect.catch((cause: Error) => {
        if (endpoint.onRequestError === "strong") {
          state.requestErrors++
          return Effect.as(Effect.logWarning(`${id}: request failed (${cause.message}); routing to the strong model`), 1)
        }
        return Effect.fail(new Errors.RouterError({ routerId: id, reason: `${endpoint.baseUrl}: ${cause.message}`, cause }))
      })
    )
  return {
    id,
    backend: "endpoint",
    counters: snapshot,
    winRate,
    winRates: (prompts) => Effect.map(Effect.forEach(prompts, winRate, { concurrency: endpoint.concurrency }), (values) => Float64Array.from(values)),
    batchSize: endpoint.concurrency * 4
  }
}

const fromOnnx = (
  config: Config,
  onnx: typeof OnnxConfig.Type,
  template: Template.Template,
  baseDirectory: string
): Effect.Effect<CausalRouter & { readonly onnxBackend: OnnxBackend.Backend }, Plugin.Failure, Plugin.Services | Scope.Scope> =>
  Effect.gen(function*() {
    const backend = yield* OnnxBackend.make(id, template, config.scoreTokens, config.scoreThreshold, {
      ...onnx,
      model: Path.resolve(baseDirectory, onnx.model),
      tokenizer: onnx.tokenizer === undefined ? undefined : Path.resolve(baseDirectory, onnx.tokenizer)
    })
    const { snapshot, state } = counting()
    const winRates = (prompts: ReadonlyArray<string>) =>
      backend.score(prompts).pipe(
        Effect.map((values) =>
          values.map((value) => {
            // Non-finite logits (a broken export) route to the strong model like a missing score.
            if (Number.isFinite(value)) {
              state.scored++
              return value
            }
            state.fallbacks++
            return 1
          })
        ),
        Effect.mapError((error) => new Errors.RouterError({ routerId: id, reason: error.message }))
      )
    return {
      id,
      backend: "onnx" as const,
      onnxBackend: backend,
      counters: snapshot,
      winRate: (prompt: string) => Effect.map(winRates([prompt]), (values) => values[0]!),
      winRates,
      batchSize: onnx.batchSize
    }
  })

export const make = (
  config: Config,
  context: Plugin.MakeContext
): Effect.Effect<CausalRouter, Plugin.Failure, Plugin.Services | Scope.Scope> =>
  Effect.gen(function*() {
    if ((config.endpoint === undefined) === (config.onnx === undefined)) {
      return yield* new Errors.PluginError({
        pluginId: id,
        reason: "set exactly one backend: `endpoint` (an OpenAI-compatible server with logprobs) or `onnx` (a causal LM exported to ONNX)"
      })
    }
    if (config.scoreThreshold > config.scoreTokens.length) {
      return yield* new Errors.PluginError({
        pluginId: id,
        reason: `scoreThreshold ${config.scoreThreshold} is above the highest score ${config.scoreTokens.length}`
      })
    }
    const template = yield* Template.load(config, context.baseDirectory)
    if (config.endpoint !== undefined) return fromEndpoint(config, config.endpoint, template)
    return yield* fromOnnx(config, config.onnx!, template, context.baseDirectory)
  })

export const plugin = Plugin.router({
  id,
  version: "1.0.0",
  description: "Causal LLM router: P(score tokens) from an OpenAI-compatible logprobs endpoint or an ONNX causal LM",
  config: Config,
  make
})
