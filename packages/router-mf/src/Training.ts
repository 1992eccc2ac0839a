/**
 * Training the MF model from battles, as RouteLLM's
 * `train_matrix_factorization.py` does: each battle becomes (winner, loser,
 * prompt) with label 1, the loss is BCE on score_winner − score_loser, Adam
 * with L2 weight decay, Gaussian noise on the prompt embeddings. Beyond
 * RouteLLM: ties may count as half a win each way, the validation split is
 * seeded, and training stops early when validation loss stops improving.
 *
 * Two engines run the same model, loss and optimiser:
 * - "onnx" (default): internal/OnnxEngine.ts, the two matrix products of a
 *   step on onnxruntime, noise, gathering and Adam as WebAssembly SIMD
 *   kernels, float32 state (as torch keeps it);
 * - "javascript": the previous typed-array engine of Model.ts (float64
 *   accumulation and Adam moments), kept as the baseline bench/mf.ts
 *   measures against and for runtimes without onnxruntime.
 * Both are deterministic for a seed; they draw different noise, so their
 * models differ by the noise of training, not in quality.
 */
import { Adam, Matrix, ModelAliases, Progress, Random, type Records } from "@routellm/core"
import { Effect, Schema } from "effect"
import * as OnnxEngine from "./internal/OnnxEngine.ts"
import * as Model from "./Model.ts"

export const TiePolicy = Schema.Literals(["drop", "half"])
export type TiePolicy = typeof TiePolicy.Type

export const Engine = Schema.Literals(["onnx", "javascript"])
export type Engine = typeof Engine.Type

export interface Options {
  readonly dimensions: number
  readonly learningRate: number
  readonly weightDecay: number
  readonly batchSize: number
  /** Standard deviation of the Gaussian noise added to prompt embeddings in training (RouteLLM's alpha). */
  readonly noise: number
  readonly epochs: number
  /** Stop after this many epochs without a lower validation loss (0: never stop early). */
  readonly patience: number
  /** Share of battles held out for validation. */
  readonly validationFraction: number
  readonly seed: number
  readonly ties: TiePolicy
  /** The training engine (default "onnx"; see the module comment). */
  readonly engine?: Engine | undefined
}

export const defaults: Options = {
  dimensions: 128,
  learningRate: 3e-4,
  weightDecay: 1e-5,
  batchSize: 64,
  noise: 0.1,
  epochs: 100,
  patience: 5,
  validationFraction: 0.05,
  seed: 42,
  ties: "drop",
  engine: "onnx"
}

/** Battles as index arrays: `first` should beat `second` with probability `target`. */
export interface Examples {
  readonly count: number
  readonly first: Int32Array
  readonly second: Int32Array
  /** Row of the prompt in the prompt embedding matrix. */
  readonly prompt: Int32Array
  readonly target: Float32Array
  readonly weight: Float32Array
}

export interface Prepared {
  readonly modelIds: ReadonlyArray<string>
  readonly prompts: ReadonlyArray<string>
  readonly examples: Examples
  readonly dropped: { readonly ties: number; readonly selfBattles: number }
}

/**
 * Turn battles into examples: model names through core's alias table, every
 * distinct prompt once, ties dropped or kept as half-wins, battles of a model
 * against itself dropped (as RouteLLM does).
 */
export const prepare = (battles: ReadonlyArray<Records.Battle>, ties: TiePolicy): Prepared => {
  const modelSet = new Set<string>()
  for (const battle of battles) {
    modelSet.add(ModelAliases.canonical(battle.model_a))
    modelSet.add(ModelAliases.canonical(battle.model_b))
  }
  const modelIds = [...modelSet].sort()
  const modelIndex = new Map(modelIds.map((id, index) => [id, index]))
  const promptIndex = new Map<string, number>()
  const first: Array<number> = []
  const second: Array<number> = []
  const prompt: Array<number> = []
  const target: Array<number> = []
  const weight: Array<number> = []
  let droppedTies = 0
  let selfBattles = 0
  for (const battle of battles) {
    const a = modelIndex.get(ModelAliases.canonical(battle.model_a))!
    const b = modelIndex.get(ModelAliases.canonical(battle.model_b))!
    if (a === b) {
      selfBattles++
      continue
    }
    if (battle.winner === "tie" && ties === "drop") {
      droppedTies++
      continue
    }
    let p = promptIndex.get(battle.prompt)
    if (p === undefined) {
      p = promptIndex.size
      promptIndex.set(battle.prompt, p)
    }
    const aWins = battle.winner !== "model_b"
    first.push(aWins ? a : b)
    second.push(aWins ? b : a)
    prompt.push(p)
    target.push(battle.winner === "tie" ? 0.5 : 1)
    weight.push(battle.weight ?? 1)
  }
  // Models that only appeared in dropped battles keep their row: they stay routable by name.
  return {
    modelIds,
    prompts: [...promptIndex.keys()],
    examples: {
      count: first.length,
      first: Int32Array.from(first),
      second: Int32Array.from(second),
      prompt: Int32Array.from(prompt),
      target: Float32Array.from(target),
      weight: Float32Array.from(weight)
    },
    dropped: { ties: droppedTies, selfBattles }
  }
}

const subset = (examples: Examples, indices: ArrayLike<number>): Examples => {
  const take = <A extends Int32Array | Float32Array>(source: A, make: (n: number) => A): A => {
    const out = make(indices.length)
    for (let i = 0; i < indices.length; i++) out[i] = source[indices[i]!]!
    return out
  }
  return {
    count: indices.length,
    first: take(examples.first, (n) => new Int32Array(n)),
    second: take(examples.second, (n) => new Int32Array(n)),
    prompt: take(examples.prompt, (n) => new Int32Array(n)),
    target: take(examples.target, (n) => new Float32Array(n)),
    weight: take(examples.weight, (n) => new Float32Array(n))
  }
}

/** A seeded split of examples into training and validation. */
export const split = (examples: Examples, validationFraction: number, seed: number) => {
  const order = Random.shuffle(Array.from({ length: examples.count }, (_, index) => index), Random.make(seed))
  const validationCount = Math.min(examples.count - 1, Math.floor(examples.count * validationFraction))
  const cut = examples.count - Math.max(0, validationCount)
  return { train: subset(examples, order.slice(0, cut)), validation: subset(examples, order.slice(cut)) }
}

export interface EpochRecord {
  readonly epoch: number
  readonly trainLoss: number
  readonly validationLoss: number | undefined
  readonly validationAccuracy: number | undefined
  readonly seconds: number
}

export interface Result {
  /** The parameters of the epoch with the lowest validation loss (the last epoch without validation). */
  readonly parameters: Model.Parameters
  readonly history: ReadonlyArray<EpochRecord>
  readonly bestEpoch: number
  readonly stoppedEarly: boolean
  readonly trainCount: number
  readonly validationCount: number
  readonly seconds: number
  /** Training battles processed per second per epoch, averaged over epochs. */
  readonly battlesPerSecond: number
}

/**
 * Validation loss (mean BCE, no noise) and accuracy (share of decisive
 * battles whose winner scores higher). The logit of a battle is
 * (v_first − v_second) · x with the scoring vectors v_m = Wᵀ(w ⊙ normalize(P_m)),
 * computed once: the same value as the forward pass, without projecting
 * every battle's prompt.
 */
export const evaluate = (parameters: Model.Parameters, examples: Examples, embeddings: Matrix.Matrix) => {
  const t = parameters.textDimensions
  if (embeddings.columns !== t) {
    throw new RangeError(`prompt embeddings have ${embeddings.columns} dimensions, the model expects ${t}`)
  }
  const vectors = Model.scoringVectors(parameters).data
  const data = embeddings.data
  let lossSum = 0
  let weightSum = 0
  let correct = 0
  let decisive = 0
  for (let i = 0; i < examples.count; i++) {
    const f = examples.first[i]! * t
    const s = examples.second[i]! * t
    const x = examples.prompt[i]! * t
    let logit = 0
    for (let j = 0; j < t; j++) logit += (vectors[f + j]! - vectors[s + j]!) * data[x + j]!
    const target = examples.target[i]!
    const weight = examples.weight[i]!
    lossSum += weight * (Model.softplus(logit) - target * logit)
    weightSum += weight
    if (target === 1) {
      decisive++
      if (logit > 0) correct++
    }
  }
  return {
    loss: weightSum > 0 ? lossSum / weightSum : Number.NaN,
    accuracy: decisive > 0 ? correct / decisive : Number.NaN
  }
}

/** A training engine: Adam steps over batches of an epoch's order, on live parameters. */
interface Runner {
  readonly parameters: Model.Parameters
  readonly trainBatches: (order: Int32Array, fromBatch: number, toBatch: number) => Effect.Effect<number>
  readonly release: Effect.Effect<void>
}

/** The previous engine: Model.batchLossAndGradients per batch, noise and shuffles from one generator. */
const javascriptRunner = (
  parameters: Model.Parameters,
  trainSet: Examples,
  embeddings: Matrix.Matrix,
  options: Options,
  generator: Random.Generator
): Runner => {
  const batchSize = Math.max(1, options.batchSize)
  const t = embeddings.columns
  const workspace = Model.makeWorkspace(parameters, batchSize)
  const gradients = Model.zeroGradients(parameters)
  const adam = Adam.make([
    { values: parameters.modelEmbeddings, gradients: gradients.modelEmbeddings, weightDecay: options.weightDecay },
    { values: parameters.projection, gradients: gradients.projection, weightDecay: options.weightDecay },
    { values: parameters.classifier, gradients: gradients.classifier, weightDecay: options.weightDecay }
  ], { learningRate: options.learningRate })
  const inputs = new Float32Array(batchSize * t)
  const first = new Int32Array(batchSize)
  const second = new Int32Array(batchSize)
  const target = new Float32Array(batchSize)
  const weight = new Float32Array(batchSize)
  return {
    parameters,
    release: Effect.void,
    trainBatches: (order, fromBatch, toBatch) =>
      Effect.sync(() => {
        let lossSum = 0
        for (let batchIndex = fromBatch; batchIndex < toBatch; batchIndex++) {
          const start = batchIndex * batchSize
          const size = Math.min(batchSize, trainSet.count - start)
          for (let b = 0; b < size; b++) {
            const example = order[start + b]!
            first[b] = trainSet.first[example]!
            second[b] = trainSet.second[example]!
            target[b] = trainSet.target[example]!
            weight[b] = trainSet.weight[example]!
            const source = embeddings.data
            const sourceOffset = trainSet.prompt[example]! * t
            const targetOffset = b * t
            if (options.noise > 0) {
              for (let j = 0; j < t; j++) inputs[targetOffset + j] = source[sourceOffset + j]! + options.noise * generator.normal()
            } else {
              inputs.set(source.subarray(sourceOffset, sourceOffset + t), targetOffset)
            }
          }
          const batch: Model.Batch = { size, first, second, target, weight, inputs }
          lossSum += Model.batchLossAndGradients(parameters, batch, workspace, gradients) * size
          adam.step()
        }
        return lossSum
      })
  }
}

/** The ONNX engine; where onnxruntime cannot start (an unsupported platform), a warning and the JavaScript engine. */
const onnxRunner = (parameters: Model.Parameters, trainSet: Examples, embeddings: Matrix.Matrix, options: Options, generator: Random.Generator) =>
  Effect.tryPromise(() =>
    OnnxEngine.make(parameters, embeddings, {
      learningRate: options.learningRate,
      weightDecay: options.weightDecay,
      noise: options.noise,
      batchSize: options.batchSize,
      noiseSeed: options.seed + 3
    })
  ).pipe(
    Effect.map((engine): Runner => ({
      parameters: engine.parameters,
      release: Effect.promise(() => engine.release()),
      trainBatches: (order, fromBatch, toBatch) => Effect.promise(() => engine.trainBatches(trainSet, order, trainSet.count, fromBatch, toBatch))
    })),
    Effect.catch((error) =>
      Effect.as(
        Effect.logWarning(`MF training: the onnx engine could not start (${error.message}); training on the javascript engine`),
        javascriptRunner(parameters, trainSet, embeddings, options, generator)
      )
    )
  )

/**
 * Train on examples whose prompt rows index `embeddings`. Deterministic for a
 * fixed seed: initialisation, split, shuffles and noise all come from it.
 */
export const train = Effect.fn("Training.train")(function*(
  modelIds: ReadonlyArray<string>,
  examples: Examples,
  embeddings: Matrix.Matrix,
  options: Options
) {
  const started = performance.now()
  const initial = Model.initialize(modelIds, options.dimensions, embeddings.columns, options.seed)
  const { train: trainSet, validation } = split(examples, options.validationFraction, options.seed + 1)
  const generator = Random.make(options.seed + 2)
  const engine = options.engine ?? "onnx"
  const acquire = engine === "onnx"
    ? onnxRunner(initial, trainSet, embeddings, options, generator)
    : Effect.sync(() => javascriptRunner(initial, trainSet, embeddings, options, generator))
  return yield* Effect.acquireUseRelease(
    acquire,
    (runner) => epochs(runner, trainSet, validation, embeddings, options, generator, started),
    (runner) => runner.release
  )
})

const epochs = Effect.fnUntraced(function*(
  runner: Runner,
  trainSet: Examples,
  validation: Examples,
  embeddings: Matrix.Matrix,
  options: Options,
  generator: Random.Generator,
  started: number
) {
  const parameters = runner.parameters
  const batchSize = Math.max(1, options.batchSize)
  const order = Int32Array.from({ length: trainSet.count }, (_, index) => index)
  const history: Array<EpochRecord> = []
  let best: Model.Parameters = Model.clone(parameters)
  let bestLoss = Number.POSITIVE_INFINITY
  let bestEpoch = 0
  let sinceBest = 0
  let stoppedEarly = false
  let trainingSeconds = 0
  const batchesPerEpoch = Math.ceil(trainSet.count / batchSize)
  // Work in slices of batches so progress renders and the fiber can be interrupted.
  const batchesPerSlice = Math.max(1, Math.floor(16384 / batchSize))

  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    const epochStarted = performance.now()
    const previous = history.at(-1)
    const progress = yield* Progress.start(
      `MF epoch ${epoch}/${options.epochs}${
        previous?.validationLoss === undefined
          ? ""
          : ` (last: validation loss ${previous.validationLoss.toFixed(4)}, accuracy ${(previous.validationAccuracy! * 100).toFixed(1)}%)`
      }`,
      trainSet.count
    )
    for (let i = order.length - 1; i > 0; i--) {
      const j = generator.int(i + 1)
      const swap = order[i]!
      order[i] = order[j]!
      order[j] = swap
    }
    let lossSum = 0
    for (let sliceStart = 0; sliceStart < batchesPerEpoch; sliceStart += batchesPerSlice) {
      const sliceEnd = Math.min(batchesPerEpoch, sliceStart + batchesPerSlice)
      lossSum += yield* runner.trainBatches(order, sliceStart, sliceEnd)
      yield* progress.advance(Math.min(trainSet.count, sliceEnd * batchSize) - sliceStart * batchSize)
      // let other fibers (concurrent pipeline steps, servers) run between slices
      yield* Effect.yieldNow
    }
    yield* progress.done
    trainingSeconds += (performance.now() - epochStarted) / 1000
    const trainLoss = lossSum / Math.max(1, trainSet.count)
    const measured = validation.count > 0 ? evaluate(parameters, validation, embeddings) : undefined
    history.push({
      epoch,
      trainLoss,
      validationLoss: measured?.loss,
      validationAccuracy: measured?.accuracy,
      seconds: (performance.now() - epochStarted) / 1000
    })
    yield* Effect.logDebug(
      `MF epoch ${epoch}: train loss ${trainLoss.toFixed(4)}${
        measured === undefined ? "" : `, validation loss ${measured.loss.toFixed(4)}, accuracy ${(measured.accuracy * 100).toFixed(2)}%`
      }`
    )
    const current = measured?.loss ?? trainLoss
    if (measured === undefined || current < bestLoss) {
      bestLoss = current
      bestEpoch = epoch
      best = Model.clone(parameters)
      sinceBest = 0
    } else {
      sinceBest++
      if (options.patience > 0 && sinceBest >= options.patience) {
        stoppedEarly = true
        break
      }
    }
  }
  return {
    parameters: best,
    history,
    bestEpoch,
    stoppedEarly,
    trainCount: trainSet.count,
    validationCount: validation.count,
    seconds: (performance.now() - started) / 1000,
    battlesPerSecond: trainingSeconds > 0 ? (trainSet.count * history.length) / trainingSeconds : 0
  } satisfies Result
})
