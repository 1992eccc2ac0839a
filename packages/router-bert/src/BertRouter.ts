/**
 * `router/bert`: the paper's BERT classifier router. Two ways to get the
 * classifier:
 *
 * - `model`: any Hugging Face sequence-classification model exported to ONNX
 *   (for example `routellm/bert_gpt4_augmented`, exported with optimum) plus
 *   its tokenizer.json, run with onnxruntime-node.
 * - a head trained in TypeScript (this plugin's training step) on frozen
 *   features: an Embedder plugin (`embedder`) or the pooled output of an ONNX
 *   encoder (`encoder`).
 *
 * Both give logits over the labels; the strong win rate is 1 − the softmax
 * probability of the labels meaning "the weak model is as good or better".
 */
import { ArtifactStore, Battles, Embedder, type Embedder as CoreEmbedder, Errors, Files, Plugin, PluginRegistry, type Router } from "@routellm/core"
import { Effect, Schema, type Scope } from "effect"
import * as Path from "node:path"
import * as Encoder from "./Encoder.ts"
import * as Head from "./Head.ts"
import * as Labels from "./Labels.ts"
import * as OnnxSession from "./OnnxSession.ts"
import * as Tokenizer from "./Tokenizer.ts"
import * as WinRate from "./WinRate.ts"

export const id = "router/bert"

const withDefault = <S extends Schema.Top>(value: S["Encoded"]) => Schema.withDecodingDefaultKey<S>(Effect.succeed(value))

const Providers = Schema.Array(Schema.String).annotate({
  description: "ONNX Runtime execution providers in order of preference, e.g. [cuda, cpu]; unavailable ones are skipped"
})

export const EncoderConfig = Schema.Struct({
  model: Schema.String.annotate({ description: "ONNX encoder: an .onnx file or a directory with model.onnx and tokenizer.json" }),
  tokenizer: Schema.optionalKey(Schema.String),
  pooling: Encoder.Pooling.pipe(withDefault("mean")),
  output: Schema.optionalKey(Schema.String),
  maxLength: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(1)))
})

export const TrainingConfig = Schema.Struct({
  epochs: Schema.Int.check(Schema.isGreaterThan(0)).pipe(withDefault(40)),
  learningRate: Schema.Finite.check(Schema.isGreaterThan(0)).pipe(withDefault(0.001)),
  l2: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)).pipe(withDefault(0.01)),
  batchSize: Schema.Int.check(Schema.isGreaterThan(0)).pipe(withDefault(256)),
  validationShare: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 0.5 })).pipe(withDefault(0.1)),
  patience: Schema.Int.check(Schema.isGreaterThan(0)).pipe(withDefault(5)),
  classWeights: Schema.Literals(["none", "balanced"]).pipe(withDefault("none")),
  seed: Schema.Int.pipe(withDefault(0))
})

export const Config = Schema.Struct({
  model: Schema.optionalKey(Schema.String).annotate({
    description: "Fine-tuned sequence-classification model exported to ONNX (file or directory with model.onnx + tokenizer.json)"
  }),
  tokenizer: Schema.optionalKey(Schema.String).annotate({ description: "tokenizer.json or its directory (default: beside the model)" }),
  head: Schema.optionalKey(Schema.String).annotate({
    description: "Directory of a trained head (the training step's artifact), when not used inside a pipeline"
  }),
  embedder: Schema.optionalKey(Plugin.Reference).annotate({ description: "Embedder whose vectors feed the trained head" }),
  encoder: Schema.optionalKey(EncoderConfig).annotate({ description: "ONNX encoder whose pooled output feeds the trained head" }),
  maxLength: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(1))).annotate({
    description: "Truncate prompts to this many tokens (default: the tokenizer's model_max_length)"
  }),
  batchSize: Schema.Int.check(Schema.isGreaterThan(0)).pipe(withDefault(32)),
  executionProviders: Providers.pipe(withDefault(["cpu"])),
  threads: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0))),
  weakLabels: Schema.Array(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))).pipe(withDefault([1, 2])).annotate({
    description: "Labels meaning 'the weak model is as good or better' (paper: 1 = tie, 2 = weak wins)"
  }),
  strongModels: Schema.Array(Schema.String).pipe(withDefault(["gpt-4-1106-preview"])).annotate({
    description: "Training: models of the strong tier"
  }),
  weakModels: Schema.Array(Schema.String).pipe(withDefault(["mixtral-8x7b-instruct-v0.1"])).annotate({
    description: "Training: models of the weak tier; * = every model not in strongModels"
  }),
  pairs: Schema.Literals(["tiers", "ratings"]).pipe(withDefault("tiers")).annotate({
    description:
      "Training: which battles teach the head. tiers: strongModels against weakModels (RouteLLM); ratings: every battle, the side with the higher win rate in its source as the strong side (learns how much a stronger model gains on a prompt)"
  }),
  minimumRatingGap: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 })).pipe(withDefault(0.05)).annotate({
    description: "pairs: ratings, battles between models whose win rates differ by less than this are left out"
  }),
  training: TrainingConfig.pipe(withDefault({}))
}).annotate({ description: "BERT-style sequence classifier router (ONNX model, or a head trained on frozen features)" })
export type Config = typeof Config.Type

/** The trained head's file in the training step's artifact. */
export const headFile = "head.json"
/** The labelled training set in the format Hugging Face trainers read. */
export const trainingSetFile = "hf-train.jsonl"
export const labelsFile = "hf-labels.json"

const resolve = (base: string, path: string) => Path.resolve(base, path)

const routerError = (error: { readonly message: string }) => new Errors.RouterError({ routerId: id, reason: error.message })

const checkLabels = (config: Config, columns: number, where: string) =>
  config.weakLabels.every((label) => label < columns)
    ? Effect.void
    : Effect.fail(
      new Errors.PluginError({ pluginId: id, reason: `${where} gives ${columns} labels; weakLabels [${config.weakLabels.join(", ")}] is out of range` })
    )

/** A router over a fine-tuned ONNX sequence classifier. */
export const fromClassifier = (
  config: Config,
  baseDirectory: string
): Effect.Effect<Router.RouterShape & { readonly provider: string }, Plugin.Failure, Plugin.Services | Scope.Scope> =>
  Effect.gen(function*() {
    const modelPath = resolve(baseDirectory, config.model!)
    const modelFile = yield* OnnxSession.resolveModel(modelPath)
    const tokenizer = yield* Tokenizer.load(
      yield* Tokenizer.locate(config.tokenizer === undefined ? undefined : resolve(baseDirectory, config.tokenizer), modelFile, modelPath, "tokenizer"),
      "tokenizer"
    )
    const session = yield* OnnxSession.make(id, modelFile, config)
    const output = session.outputNames.includes("logits") ? "logits" : session.outputNames[0]!
    const maxLength = Math.min(config.maxLength ?? tokenizer.modelMaxLength, tokenizer.modelMaxLength)
    const logitsOf = (prompts: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const batch = tokenizer.encodeBatch(prompts, maxLength)
        const result = yield* session.run(yield* OnnxSession.tokenFeeds(id, session, batch))
        const tensor = result[output]!
        if (tensor.dims.length !== 2 || Number(tensor.dims[0]) !== prompts.length) {
          return yield* new Errors.PluginError({
            pluginId: id,
            reason: `${modelFile}: output "${output}" has shape [${tensor.dims.join(", ")}], expected [batch, labels]`
          })
        }
        return { data: OnnxSession.floatData(tensor), columns: Number(tensor.dims[1]) }
      })
    const probe = yield* logitsOf(["a"])
    yield* checkLabels(config, probe.columns, modelFile)
    const winRates = (prompts: ReadonlyArray<string>) =>
      prompts.length === 0
        ? Effect.succeed(new Float64Array(0))
        : logitsOf(prompts).pipe(
          Effect.map(({ columns, data }) => WinRate.strongWinRates(data, prompts.length, columns, config.weakLabels)),
          Effect.mapError(routerError)
        )
    return {
      id,
      provider: session.provider,
      winRate: (prompt) => Effect.map(winRates([prompt]), (values) => values[0]!),
      winRates,
      batchSize: config.batchSize
    }
  })

/** The features a head is trained on and applied to: an Embedder plugin or an ONNX encoder. */
export const featureEmbedder = (
  config: Config,
  context: Plugin.MakeContext
): Effect.Effect<CoreEmbedder.EmbedderShape | undefined, Plugin.Failure, Plugin.Services | Scope.Scope> => {
  if (config.encoder !== undefined) {
    const encoder = config.encoder
    return Encoder.make(id, {
      ...encoder,
      model: resolve(context.baseDirectory, encoder.model),
      tokenizer: encoder.tokenizer === undefined ? undefined : resolve(context.baseDirectory, encoder.tokenizer),
      batchSize: config.batchSize,
      executionProviders: config.executionProviders,
      threads: config.threads
    })
  }
  if (config.embedder !== undefined) {
    return PluginRegistry.makeEmbedder(config.embedder, context, `${id}: embedder`)
  }
  return Effect.succeed(undefined)
}

export interface StoredHead {
  readonly format: "routellm-ts/bert-head@1"
  readonly features: { readonly embedderId: string; readonly fingerprint: string; readonly dimensions: number }
  readonly labelNames: ReadonlyArray<string>
  readonly weakLabels: ReadonlyArray<number>
  readonly head: ReturnType<typeof Head.toJson>
}

const readHead = (directory: string) =>
  Effect.gen(function*() {
    const file = Path.join(directory, headFile)
    const value = (yield* Files.readJson(file, { field: "head" })) as StoredHead
    const head = yield* Effect.try({
      try: () => Head.fromJson(value?.head),
      catch: (cause) => new Errors.InputError({ file, reason: cause instanceof Error ? cause.message : String(cause) })
    })
    return { stored: value, head }
  })

/** A router over a trained head on embedder features. */
export const fromHead = (
  config: Config,
  context: Plugin.MakeContext,
  directory: string
): Effect.Effect<Router.RouterShape, Plugin.Failure, Plugin.Services | Scope.Scope> =>
  Effect.gen(function*() {
    const { head, stored } = yield* readHead(directory)
    const embedder = yield* featureEmbedder(config, context)
    if (embedder === undefined) {
      return yield* new Errors.PluginError({
        pluginId: id,
        reason: `the head in ${directory} was trained on ${stored.features.embedderId}; set \`embedder\` or \`encoder\` to the same features`
      })
    }
    if (embedder.fingerprint !== stored.features.fingerprint || embedder.dimensions !== head.dimensions) {
      return yield* new Errors.PluginError({
        pluginId: id,
        reason: `the head in ${directory} was trained on features ${stored.features.embedderId} (${stored.features.fingerprint.slice(0, 12)}, ` +
          `${head.dimensions} dimensions) but the config gives ${embedder.id} (${embedder.fingerprint.slice(0, 12)}, ${embedder.dimensions})`
      })
    }
    yield* checkLabels(config, head.labels, `the head in ${directory}`)
    const store = yield* ArtifactStore.ArtifactStore
    // Large batches (evaluations) go through the shared embedding cache; single queries skip the disk.
    const features = (prompts: ReadonlyArray<string>) =>
      prompts.length >= 64
        ? Embedder.embedAll(embedder, prompts, { label: `${id}: embedding ${prompts.length} prompts` }).pipe(
          Effect.provideService(ArtifactStore.ArtifactStore, store)
        )
        : embedder.embed(prompts)
    const winRates = (prompts: ReadonlyArray<string>) =>
      prompts.length === 0
        ? Effect.succeed(new Float64Array(0))
        : features(prompts).pipe(
          Effect.map((features) => WinRate.strongWinRates(Head.logits(head, features), prompts.length, head.labels, config.weakLabels)),
          Effect.mapError(routerError)
        )
    return {
      id,
      winRate: (prompt) => Effect.map(winRates([prompt]), (values) => values[0]!),
      winRates,
      batchSize: embedder.batchSize
    }
  })

export const make = (
  config: Config,
  context: Plugin.MakeContext & { readonly trained?: Plugin.StepInput | undefined }
): Effect.Effect<Router.RouterShape, Plugin.Failure, Plugin.Services | Scope.Scope> =>
  Effect.gen(function*() {
    if (config.model !== undefined) return yield* fromClassifier(config, context.baseDirectory)
    const directory = context.trained?.directory ?? (config.head === undefined ? undefined : resolve(context.baseDirectory, config.head))
    if (directory !== undefined && (yield* Files.exists(Path.join(directory, headFile)))) {
      return yield* fromHead(config, context, directory)
    }
    return yield* new Errors.PluginError({
      pluginId: id,
      reason: directory === undefined
        ? "set `model` (a fine-tuned ONNX classifier) or train a head (a pipeline step using router/bert with battle datasets in `needs`, or `head`)"
        : `${directory} has no ${headFile}: the training step ran without \`embedder\` or \`encoder\`, so it only exported the training set`
    })
  })

const labelNames = ["strong_wins", "tie", "weak_wins"]

/**
 * Train the head: label the input battles by tier, embed their prompts
 * (cached in the artifact store), fit softmax regression and write
 * `head.json`; always write the labelled set for Hugging Face trainers.
 */
export const train = Effect.fn("BertRouter.train")(function*(config: Config, context: Plugin.StepContext) {
  const battles = yield* Battles.fromInputs(context.inputs)
  const labelled = Labels.labelBattles(
    battles,
    config.pairs === "tiers" ? { kind: "tiers", tiers: config } : { kind: "ratings", minimumGap: config.minimumRatingGap }
  )
  if (labelled.prompts.length === 0) {
    const models = [...new Set(battles.flatMap((battle) => [battle.model_a, battle.model_b]))].slice(0, 12)
    return yield* new Errors.PluginError({
      pluginId: id,
      reason: `none of ${battles.length} input battles is between strongModels [${config.strongModels.join(", ")}] and weakModels ` +
        `[${config.weakModels.join(", ")}]; models seen include: ${models.join(", ")}`
    })
  }
  const rows = Labels.perPrompt(labelled)
  yield* Files.writeJsonl(
    Path.join(context.directory, trainingSetFile),
    labelled.prompts.map((text, index) => ({ text, label: labelled.labels[index] }))
  )
  yield* Files.writeJson(Path.join(context.directory, labelsFile), {
    num_labels: 3,
    id2label: Object.fromEntries(labelNames.map((name, index) => [String(index), name])),
    label2id: Object.fromEntries(labelNames.map((name, index) => [name, index]))
  })
  const summary = {
    battles: battles.length,
    labelled: labelled.prompts.length,
    trainingRows: rows.prompts.length,
    skipped: labelled.skipped,
    strongWins: labelled.counts[0],
    ties: labelled.counts[1],
    weakWins: labelled.counts[2]
  }
  const embedder = yield* featureEmbedder(config, context)
  if (embedder === undefined) {
    return { value: { head: null, trainingSet: trainingSetFile, ...summary }, summary }
  }
  const features = yield* Embedder.embedAll(embedder, rows.prompts, { label: `${id}: features (${embedder.id})` })
  const cut = yield* Embedder.coverageWarning(embedder, rows.prompts)
  // Validation holds out whole prompts: one prompt is often labelled by many battles.
  const promptIds = new Map<string, number>()
  const groups = Int32Array.from(rows.prompts, (prompt) => {
    let group = promptIds.get(prompt)
    if (group === undefined) promptIds.set(prompt, group = promptIds.size)
    return group
  })
  const result = Head.train(features, rows.labels, rows.weights, { labels: 3, ...config.training }, groups)
  const best = result.history[result.bestEpoch - 1]
  const stored: StoredHead = {
    format: "routellm-ts/bert-head@1",
    features: { embedderId: embedder.id, fingerprint: embedder.fingerprint, dimensions: embedder.dimensions },
    labelNames,
    weakLabels: config.weakLabels,
    head: Head.toJson(result.head)
  }
  yield* Files.writeText(Path.join(context.directory, headFile), JSON.stringify(stored))
  const trained = {
    ...summary,
    trainRows: result.trainRows,
    validationRows: result.validationRows,
    bestEpoch: result.bestEpoch,
    validationLoss: best?.validationLoss ?? null,
    validationAccuracy: best?.validationAccuracy ?? null,
    ...(cut === undefined ? {} : { warnings: [cut] })
  }
  return { value: { head: headFile, trainingSet: trainingSetFile, history: result.history, ...trained }, summary: trained }
})

export const plugin = Plugin.router({
  id,
  version: "1.2.0",
  description: "BERT-style classifier router: an ONNX sequence classifier, or a head trained on frozen features from battles",
  config: Config,
  make,
  train
})
