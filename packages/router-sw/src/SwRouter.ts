/**
 * `router/sw`: RouteLLM's similarity-weighted ranking router.
 *
 * As a pipeline step it trains: it reads the battles of the steps it needs,
 * rates models by Bradley-Terry, groups them into tiers, embeds the unique
 * prompts with the configured embedder and writes the trained state into the
 * step directory. Built with that step as `trained`, it scores prompts: the
 * strong model's tier beats the weak model's tier with probability
 * `1 - 1 / (1 + 10^((R_strong - R_weak) / 400))` under the BT ratings refitted
 * with every battle weighted by `10 * 10^(sim / max_sim)`.
 */
import { ArtifactStore, Battles, Embedder, Errors, Matrix, ModelAliases, Plugin, PluginRegistry, type Records, type Router } from "@routellm/core"
import { Similarity } from "@routellm/embedders"
import { Effect, Schema } from "effect"
import * as SimilarityWeighted from "./SimilarityWeighted.ts"
import * as TrainedState from "./TrainedState.ts"

export const id = "router/sw"

const Weighting = Schema.Struct({
  scale: Schema.Finite.check(Schema.isGreaterThan(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(10))),
  base: Schema.Finite.check(Schema.isGreaterThan(1)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(10)))
}).annotate({ description: "Battle weight scale * base^(sim / max_sim); RouteLLM: 10 * 10^(sim / max_sim)" })

export const Config = Schema.Struct({
  strongModel: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("gpt-4-1106-preview"))).annotate({
    description: "The strong model (any alias spelling)"
  }),
  weakModel: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("mixtral-8x7b-instruct-v0.1"))).annotate({
    description: "The weak model (any alias spelling)"
  }),
  numTiers: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(10))).annotate({
    description: "Tiers the models are grouped into (RouteLLM: 10)"
  }),
  embedder: Plugin.Reference.pipe(Schema.withDecodingDefaultKey(Effect.succeed("embedder/use-lite"))).annotate({
    description: "Embedder of prompts (training prompts and queries)"
  }),
  weighting: Weighting.pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
  regularization: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))).annotate({
    description: "L2 penalty on BT coefficients (RouteLLM: 0, no penalty); > 0 keeps ratings finite on separable data"
  }),
  modelTiers: Schema.optionalKey(
    Schema.Record(Schema.String, Schema.Union([Schema.Int, Schema.String])).annotate({
      description: "Tiers of models not in the training battles: a tier number, or the name of a trained model whose tier it shares"
    })
  ),
  similarity: Schema.Literals(["onnx", "javascript"]).pipe(Schema.withDecodingDefaultKey(Effect.succeed("onnx" as const))).annotate({
    description: "Where the query x training-prompt similarity product runs: onnxruntime's MatMul (fast) or plain JavaScript"
  }),
  batchSize: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(1024))).annotate({
    description: "Prompts scored per batch (one similarity product each)"
  })
}).annotate({ description: "Similarity-weighted Bradley-Terry ranking router (RouteLLM sw_ranking)" })
export type Config = typeof Config.Type

const pluginError = (reason: string) => (cause: unknown) => new Errors.PluginError({ pluginId: id, reason: `${reason}: ${Errors.format(cause)}` })

/** The tier of a model: its own when trained on, else `modelTiers`. */
export const tierOfModel = (
  models: ReadonlyArray<SimilarityWeighted.ModelRating>,
  name: string,
  modelTiers: Config["modelTiers"]
): number | string => {
  const canonical = ModelAliases.canonical(name)
  const trained = models.find((model) => model.name === canonical)
  if (trained !== undefined) return trained.tier
  const mapped = modelTiers === undefined
    ? undefined
    : Object.entries(modelTiers).find(([key]) => ModelAliases.canonical(key) === canonical)?.[1]
  if (typeof mapped === "number") return mapped
  if (typeof mapped === "string") {
    const target = models.find((model) => model.name === ModelAliases.canonical(mapped))
    if (target !== undefined) return target.tier
    return `modelTiers maps ${name} to ${mapped}, which is not in the training battles either`
  }
  return `model ${name} is not in the training battles; map it to a tier with modelTiers: { "${name}": <tier or trained model> }`
}

/** Player indices of the strong and weak model's tiers, or the reason they cannot be found. */
export const players = (
  state: Pick<SimilarityWeighted.State, "models" | "tiers">,
  config: Config
): { readonly reason: string } | { readonly strongPlayer: number; readonly weakPlayer: number } => {
  const result: Array<number> = []
  for (const name of [config.strongModel, config.weakModel]) {
    const tier = tierOfModel(state.models, name, config.modelTiers)
    if (typeof tier === "string") return { reason: tier }
    const player = state.tiers.indexOf(tier)
    if (player < 0) return { reason: `tier ${tier} of ${name} has no battles (tiers with battles: ${[...state.tiers].join(", ")})` }
    result.push(player)
  }
  return { strongPlayer: result[0]!, weakPlayer: result[1]! }
}

const tierSummary = (state: SimilarityWeighted.State) =>
  [...state.tiers].map((tier) => ({
    tier,
    models: state.models.filter((model) => model.tier === tier).map((model) => `${model.name} (${model.rating.toFixed(0)})`)
  }))

const train = (config: Config, context: Plugin.StepContext) =>
  Effect.gen(function*() {
    const started = Date.now()
    const battles: Array<Records.Battle> = (yield* Battles.fromInputs(context.inputs)).map((battle) => ({
      ...battle,
      model_a: ModelAliases.canonical(battle.model_a),
      model_b: ModelAliases.canonical(battle.model_b)
    }))
    if (battles.length === 0) {
      return yield* new Errors.PluginError({ pluginId: id, reason: "no battles: list dataset or augmenter steps in needs" })
    }
    const embedder = yield* PluginRegistry.makeEmbedder(config.embedder, context, `${id} embedder`)
    const { prompts } = SimilarityWeighted.uniquePrompts(battles)
    const embeddings = yield* Embedder.embedAll(embedder, prompts, { label: `${id}: embedding ${prompts.length} training prompts` })
    const embedded = Date.now()
    const state = SimilarityWeighted.build(battles, embeddings, { numTiers: config.numTiers, regularization: config.regularization })
    // The configured pair need not be in the battles: an evaluation may route another pair the state rates.
    const found = players(state, config)
    const cut = yield* Embedder.coverageWarning(embedder, prompts)
    const warnings = [...("reason" in found ? [`configured pair: ${found.reason}`] : []), ...(cut === undefined ? [] : [cut])]
    yield* TrainedState.write(
      context.directory,
      state,
      { id: embedder.id, fingerprint: embedder.fingerprint, dimensions: embedder.dimensions },
      config.numTiers
    )
    const strong = state.models.find((model) => model.name === ModelAliases.canonical(config.strongModel))
    const weak = state.models.find((model) => model.name === ModelAliases.canonical(config.weakModel))
    const summary = {
      battles: battles.length,
      prompts: prompts.length,
      models: state.models.length,
      tiers: tierSummary(state),
      strongTier: "reason" in found ? null : state.tiers[found.strongPlayer]!,
      weakTier: "reason" in found ? null : state.tiers[found.weakPlayer]!,
      ...(strong === undefined ? {} : { strongRating: strong.rating }),
      ...(weak === undefined ? {} : { weakRating: weak.rating }),
      embedder: embedder.id,
      embeddingSeconds: (embedded - started) / 1000,
      fitSeconds: (Date.now() - embedded) / 1000,
      ...(warnings.length === 0 ? {} : { warnings })
    }
    return {
      value: { router: id, ...summary, tiers: undefined, ratings: state.models },
      summary
    }
  })

/** The similarity engine of a state, released with the scope. */
export const similarityEngine = (state: SimilarityWeighted.State, kind: Config["similarity"]) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => (kind === "onnx" ? Similarity.onnx(state.embeddings) : Promise.resolve(Similarity.javascript(state.embeddings))),
      catch: pluginError("cannot build the similarity product")
    }),
    (engine) => Effect.promise(() => engine.release())
  )

/** A router over a loaded state; `embed` turns prompts into (not yet normalised) embeddings. */
export const makeRouter = (
  state: SimilarityWeighted.State,
  config: Config,
  embed: (prompts: ReadonlyArray<string>) => Effect.Effect<Matrix.Matrix, Errors.RouterError>
) =>
  Effect.gen(function*() {
    const found = players(state, config)
    if ("reason" in found) return yield* new Errors.PluginError({ pluginId: id, reason: found.reason })
    const engine = yield* similarityEngine(state, config.similarity)
    const options: SimilarityWeighted.QueryOptions = {
      strongPlayer: found.strongPlayer,
      weakPlayer: found.weakPlayer,
      weighting: config.weighting,
      regularization: config.regularization
    }
    const winRates = (prompts: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const embeddings = Matrix.normalizeRows(yield* embed(prompts))
        const similarities = yield* Effect.tryPromise({
          try: () => engine.similarities(embeddings),
          catch: (cause) => new Errors.RouterError({ routerId: id, reason: `similarity product failed: ${Errors.format(cause)}` })
        })
        return SimilarityWeighted.winRatesFromSimilarities(state, similarities, options)
      })
    return {
      id,
      winRate: (prompt: string) => Effect.map(winRates([prompt]), (scores) => scores[0]!),
      winRates,
      batchSize: config.batchSize
    } satisfies Router.RouterShape
  })

const make = (config: Config, context: Plugin.RouterContext) =>
  Effect.gen(function*() {
    if (context.trained === undefined) {
      return yield* new Errors.PluginError({
        pluginId: id,
        reason: "router/sw needs its training step: add a step `uses: router/sw` whose needs are the battle datasets, and evaluate that step"
      })
    }
    const { header, state } = yield* TrainedState.read(context.trained.directory)
    const embedder = yield* PluginRegistry.makeEmbedder(config.embedder, context, `${id} embedder`)
    if (embedder.fingerprint !== header.embedder.fingerprint || embedder.dimensions !== header.embedder.dimensions) {
      return yield* new Errors.PluginError({
        pluginId: id,
        reason: `the trained state was embedded with ${header.embedder.id} (${
          header.embedder.fingerprint.slice(0, 12)
        }), but the router is configured with ${embedder.id} (${embedder.fingerprint.slice(0, 12)})`
      })
    }
    const store = yield* ArtifactStore.ArtifactStore
    // Batches are worth caching (evaluation sets); single prompts cost more to look up than to embed.
    const embed = (prompts: ReadonlyArray<string>) =>
      Embedder.embedAll(embedder, prompts, { cache: prompts.length >= 64, label: `${id}: embedding ${prompts.length} prompts` }).pipe(
        Effect.provideService(ArtifactStore.ArtifactStore, store),
        Effect.mapError((error) => new Errors.RouterError({ routerId: id, reason: error.message, cause: error }))
      )
    // An evaluation's pair wins over the configured one: the trained state rates every model it saw.
    const routed = context.pair === undefined ? config : { ...config, strongModel: context.pair.strong, weakModel: context.pair.weak }
    return yield* makeRouter(state, routed, embed)
  })

export const plugin = Plugin.router({
  id,
  version: "1.1.0",
  description: "Similarity-weighted Bradley-Terry ranking router (RouteLLM sw_ranking), trained on battle datasets",
  config: Config,
  make,
  train
})
