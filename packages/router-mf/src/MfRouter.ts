/**
 * `router/mf`: RouteLLM's matrix factorization router.
 *
 * As a pipeline step it trains: it reads the battles of the steps it needs,
 * embeds every distinct prompt with the configured embedder, trains the MF
 * model (Training.ts) and writes a checkpoint (Checkpoint.ts) into the step
 * directory. Built with that step as `trained`, or with `checkpoint:` (one of
 * our checkpoint directories, or RouteLLM's released safetensors file, or
 * `hf:routellm/mf_gpt4_augmented`), it scores prompts:
 * strong win rate = sigmoid(score_strong − score_weak), and `modelScores`
 * gives every known model's score for routing between more models
 * (MultiModel.ts).
 */
import { ArtifactStore, Battles, Embedder, Errors, Matrix, ModelAliases, Plugin, PluginRegistry, type Router } from "@routellm/core"
import { Effect, Schema } from "effect"
import * as Checkpoint from "./Checkpoint.ts"
import * as Model from "./Model.ts"
import * as MultiModel from "./MultiModel.ts"
import * as Training from "./Training.ts"

export const id = "router/mf"

const positiveInt = (fallback: number, description: string) =>
  Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(fallback))).annotate({ description })
const nonNegative = (fallback: number, description: string) =>
  Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(fallback))).annotate({ description })

export const Config = Schema.Struct({
  strongModel: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("gpt-4-1106-preview"))).annotate({
    description: "The strong model (any alias spelling)"
  }),
  weakModel: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("mixtral-8x7b-instruct-v0.1"))).annotate({
    description: "The weak model (any alias spelling)"
  }),
  embedder: Plugin.Reference.pipe(Schema.withDecodingDefaultKey(Effect.succeed("embedder/use-lite"))).annotate({
    description: "Embedder of prompts; must be the one the checkpoint was trained with"
  }),
  checkpoint: Schema.optionalKey(Schema.String).annotate({
    description:
      "Use a checkpoint instead of a training step: one of our checkpoint directories (mf.json + model.safetensors), RouteLLM's MF safetensors file, or hf:routellm/mf_gpt4_augmented (downloaded into the cache)"
  }),
  candidates: Schema.optionalKey(Schema.Array(MultiModel.Candidate)).annotate({
    description: "Models (with prices) that modelScores reports and multi-model routing chooses from; default every known model"
  }),
  dimensions: positiveInt(Training.defaults.dimensions, "Latent dimension (RouteLLM: 128)"),
  learningRate: nonNegative(Training.defaults.learningRate, "Adam learning rate (RouteLLM: 3e-4)"),
  weightDecay: nonNegative(Training.defaults.weightDecay, "L2 weight decay inside Adam (RouteLLM: 1e-5)"),
  batchSize: positiveInt(Training.defaults.batchSize, "Training batch size (RouteLLM: 64)"),
  noise: nonNegative(Training.defaults.noise, "Std of Gaussian noise on prompt embeddings in training (RouteLLM alpha: 0.1)"),
  epochs: positiveInt(Training.defaults.epochs, "Most training epochs (RouteLLM: 100)"),
  patience: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(Training.defaults.patience))).annotate({
    description: "Stop after this many epochs without a lower validation loss (0: never)"
  }),
  validationFraction: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 0.9 })).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(Training.defaults.validationFraction))
  ).annotate({ description: "Share of battles held out for validation (RouteLLM: 0.05)" }),
  seed: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(Training.defaults.seed))).annotate({
    description: "Seed of initialisation, split, shuffles and noise"
  }),
  ties: Training.TiePolicy.pipe(Schema.withDecodingDefaultKey(Effect.succeed(Training.defaults.ties))).annotate({
    description: "drop ties (RouteLLM) or use them as half a win for each side"
  }),
  scoreBatchSize: positiveInt(1024, "Prompts embedded and scored per batch when routing")
}).annotate({ description: "Matrix factorization router (RouteLLM mf): train on battles or load a checkpoint" })
export type Config = typeof Config.Type

export const trainingOptions = (
  config: Pick<Config, "dimensions" | "learningRate" | "weightDecay" | "batchSize" | "noise" | "epochs" | "patience" | "validationFraction" | "seed" | "ties">
): Training.Options => ({
  dimensions: config.dimensions,
  learningRate: config.learningRate,
  weightDecay: config.weightDecay,
  batchSize: config.batchSize,
  noise: config.noise,
  epochs: config.epochs,
  patience: config.patience,
  validationFraction: config.validationFraction,
  seed: config.seed,
  ties: config.ties
})

const embedderInfo = (embedder: Embedder.EmbedderShape): Checkpoint.EmbedderInfo => ({
  id: embedder.id,
  fingerprint: embedder.fingerprint,
  dimensions: embedder.dimensions
})

const train = (config: Config, context: Plugin.StepContext) =>
  Effect.gen(function*() {
    const started = Date.now()
    const battles = yield* Battles.fromInputs(context.inputs)
    if (battles.length === 0) {
      return yield* new Errors.PluginError({ pluginId: id, reason: "no battles: list dataset or augmenter steps in needs" })
    }
    const prepared = Training.prepare(battles, config.ties)
    if (prepared.examples.count < 2) {
      return yield* new Errors.PluginError({ pluginId: id, reason: `only ${prepared.examples.count} usable battles after dropping ties and self-battles` })
    }
    const embedder = yield* PluginRegistry.makeEmbedder(config.embedder, context, `${id} embedder`)
    const embeddings = yield* Embedder.embedAll(embedder, prepared.prompts, {
      label: `${id}: embedding ${prepared.prompts.length} training prompts`
    })
    const embedded = Date.now()
    const cut = yield* Embedder.coverageWarning(embedder, prepared.prompts)
    const result = yield* Training.train(prepared.modelIds, prepared.examples, embeddings, trainingOptions(config))
    const best = result.history[result.bestEpoch - 1]!
    const summary = {
      battles: battles.length,
      examples: prepared.examples.count,
      droppedTies: prepared.dropped.ties,
      droppedSelfBattles: prepared.dropped.selfBattles,
      prompts: prepared.prompts.length,
      models: prepared.modelIds.length,
      trainBattles: result.trainCount,
      validationBattles: result.validationCount,
      epochs: result.history.length,
      bestEpoch: result.bestEpoch,
      stoppedEarly: result.stoppedEarly,
      validationLoss: best.validationLoss ?? null,
      validationAccuracy: best.validationAccuracy ?? null,
      embedder: embedder.id,
      embeddingSeconds: (embedded - started) / 1000,
      trainingSeconds: result.seconds,
      battlesPerSecondPerEpoch: Math.round(result.battlesPerSecond),
      strongModelKnown: ModelAliases.find(prepared.modelIds, config.strongModel) !== undefined,
      weakModelKnown: ModelAliases.find(prepared.modelIds, config.weakModel) !== undefined,
      ...(cut === undefined ? {} : { warnings: [cut] })
    }
    yield* Checkpoint.write(context.directory, result.parameters, embedderInfo(embedder), {
      ...summary,
      history: result.history
    })
    return { value: { router: id, modelIds: prepared.modelIds, ...summary }, summary }
  })

/** A router over loaded parameters; `embed` turns prompts into embeddings of the parameters' text dimension. */
export const makeRouter = (
  parameters: Model.Parameters,
  config: Pick<Config, "strongModel" | "weakModel" | "candidates" | "scoreBatchSize">,
  embed: (prompts: ReadonlyArray<string>) => Effect.Effect<Matrix.Matrix, Errors.RouterError>
): Effect.Effect<Router.RouterShape, Errors.PluginError> =>
  Effect.gen(function*() {
    const locate = (name: string, role: string) => {
      const found = ModelAliases.find(parameters.modelIds, name)
      return found === undefined
        ? Effect.fail(
          new Errors.PluginError({
            pluginId: id,
            reason: `${role}: ${ModelAliases.missing(parameters.modelIds, name).replace("is not in the data", "is not one of the checkpoint's models")}`
          })
        )
        : Effect.succeed(parameters.modelIds.indexOf(found))
    }
    const strongIndex = yield* locate(config.strongModel, "strongModel")
    const weakIndex = yield* locate(config.weakModel, "weakModel")
    const candidateIndices: Array<number> = []
    for (const candidate of config.candidates ?? parameters.modelIds.map((model) => ({ model, price: 0 }))) {
      candidateIndices.push(yield* locate(candidate.model, "candidate"))
    }
    const candidateNames = config.candidates?.map((candidate) => candidate.model) ?? parameters.modelIds
    // Scores are linear in the prompt embedding: precompute one vector per model, one for the pair.
    const vectors = Model.scoringVectors(parameters)
    const candidateVectors = Matrix.take(vectors, candidateIndices)
    const pair = Model.pairVector(vectors, strongIndex, weakIndex)
    const winRates = (prompts: ReadonlyArray<string>) => Effect.flatMap(embed(prompts), (embeddings) => Effect.sync(() => Model.pairWinRates(pair, embeddings)))
    return {
      id,
      winRate: (prompt) => Effect.map(winRates([prompt]), (rates) => rates[0]!),
      winRates,
      batchSize: config.scoreBatchSize,
      modelScores: (prompt) =>
        Effect.flatMap(embed([prompt]), (embeddings) =>
          Effect.sync(() => {
            const scores = Model.scores(candidateVectors, embeddings)
            return new Map(candidateNames.map((name, index) => [name, scores.data[index]!]))
          }))
    } satisfies Router.RouterShape
  })

const loadParameters = (config: Config, context: Plugin.MakeContext & { readonly trained?: Plugin.StepInput | undefined }, embedder: Embedder.EmbedderShape) =>
  Effect.gen(function*() {
    if (context.trained !== undefined) {
      const { parameters, metadata } = yield* Checkpoint.read(context.trained.directory)
      yield* Checkpoint.checkEmbedder(context.trained.directory, metadata.embedder, embedderInfo(embedder))
      return parameters
    }
    if (config.checkpoint === undefined) {
      return yield* new Errors.PluginError({
        pluginId: id,
        reason:
          "router/mf needs a checkpoint or its training step: set checkpoint: (a directory, RouteLLM's model.safetensors, or hf:routellm/mf_gpt4_augmented), or add a step `uses: router/mf` whose needs are battle datasets and evaluate that step"
      })
    }
    const location = yield* Checkpoint.resolveLocation(config.checkpoint, context.baseDirectory)
    if (yield* Checkpoint.isNative(location)) {
      const { parameters, metadata } = yield* Checkpoint.read(location)
      yield* Checkpoint.checkEmbedder(location, metadata.embedder, embedderInfo(embedder))
      return parameters
    }
    const parameters = yield* Checkpoint.readRouteLlm(location)
    const configured = Plugin.normalizeReference(config.embedder).with as { readonly model?: unknown } | undefined
    yield* Checkpoint.checkRouteLlmEmbedder(
      location,
      parameters.textDimensions,
      embedderInfo(embedder),
      typeof configured?.model === "string" ? configured.model : undefined
    )
    return parameters
  })

const make = (config: Config, context: Plugin.RouterContext) =>
  Effect.gen(function*() {
    const embedder = yield* PluginRegistry.makeEmbedder(config.embedder, context, `${id} embedder`)
    const parameters = yield* loadParameters(config, context, embedder)
    const store = yield* ArtifactStore.ArtifactStore
    // Batches are worth caching (evaluation sets); a few prompts (serving) cost more to look up than to embed.
    const embed = (prompts: ReadonlyArray<string>) =>
      (prompts.length < 64
        ? embedder.embed(prompts)
        : Embedder.embedAll(embedder, prompts, { label: `${id}: embedding ${prompts.length} prompts` }).pipe(
          Effect.provideService(ArtifactStore.ArtifactStore, store)
        )).pipe(Effect.mapError((error) => new Errors.RouterError({ routerId: id, reason: error.message, cause: error })))
    // An evaluation's pair wins over the configured one: the checkpoint scores every model it knows.
    const routed = context.pair === undefined ? config : { ...config, strongModel: context.pair.strong, weakModel: context.pair.weak }
    return yield* makeRouter(parameters, routed, embed)
  })

export const plugin = Plugin.router({
  id,
  version: "1.1.0",
  description: "Matrix factorization router (RouteLLM mf): trains on battle datasets, routes 2 or N models, loads RouteLLM's checkpoint",
  config: Config,
  make,
  train
})
