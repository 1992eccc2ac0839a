/**
 * The classification head trained on frozen features: multinomial logistic
 * (softmax) regression over standardised feature vectors, trained with
 * mini-batch Adam, L2 regularisation and early stopping on a held-out share,
 * all in typed arrays (a 3-label linear layer on a few hundred features is
 * a few million multiply-adds per epoch, far below what a tensor runtime's
 * setup costs here).
 */
import { Adam, Matrix, Random } from "@routellm/core"

export interface Head {
  readonly dimensions: number
  readonly labels: number
  /** Per-feature mean and inverse standard deviation applied before the linear layer. */
  readonly mean: Float32Array
  readonly inverseStd: Float32Array
  /** labels x dimensions, row-major. */
  readonly weights: Float32Array
  readonly bias: Float32Array
}

export interface TrainOptions {
  readonly labels: number
  readonly epochs: number
  readonly learningRate: number
  readonly l2: number
  readonly batchSize: number
  readonly validationShare: number
  readonly seed: number
  /** "balanced" weights each label by total / (labels x count), as scikit-learn does. */
  readonly classWeights: "none" | "balanced"
  /** Stop after this many epochs without a better validation loss. */
  readonly patience: number
}

export interface EpochRecord {
  readonly epoch: number
  readonly trainLoss: number
  readonly validationLoss: number
  readonly validationAccuracy: number
}

export interface TrainResult {
  readonly head: Head
  readonly history: ReadonlyArray<EpochRecord>
  readonly bestEpoch: number
  readonly trainRows: number
  readonly validationRows: number
  /** Rows held out for validation. */
  readonly validation: Int32Array
}

/** Logits (rows x labels) of features under a head. */
export const logits = (head: Head, features: Matrix.Matrix): Float32Array => {
  if (features.columns !== head.dimensions) {
    throw new RangeError(`features have ${features.columns} dimensions, the head expects ${head.dimensions}`)
  }
  const { dimensions: d, labels } = head
  const out = new Float32Array(features.rows * labels)
  const x = new Float64Array(d)
  for (let row = 0; row < features.rows; row++) {
    const offset = row * d
    for (let k = 0; k < d; k++) x[k] = (features.data[offset + k]! - head.mean[k]!) * head.inverseStd[k]!
    for (let label = 0; label < labels; label++) {
      let sum = head.bias[label]!
      const w = label * d
      for (let k = 0; k < d; k++) sum += head.weights[w + k]! * x[k]!
      out[row * labels + label] = sum
    }
  }
  return out
}

const standardise = (features: Matrix.Matrix, rows: ArrayLike<number>) => {
  const d = features.columns
  const mean = new Float64Array(d)
  const square = new Float64Array(d)
  for (let i = 0; i < rows.length; i++) {
    const offset = rows[i]! * d
    for (let k = 0; k < d; k++) {
      const value = features.data[offset + k]!
      mean[k]! += value
      square[k]! += value * value
    }
  }
  const inverseStd = new Float32Array(d)
  for (let k = 0; k < d; k++) {
    mean[k]! /= Math.max(1, rows.length)
    const variance = square[k]! / Math.max(1, rows.length) - mean[k]! * mean[k]!
    // Constant features keep scale 1 so they contribute nothing after centring.
    inverseStd[k] = variance > 1e-12 ? 1 / Math.sqrt(variance) : 1
  }
  return { mean: Float32Array.from(mean), inverseStd }
}

/**
 * Weighted mean cross-entropy and accuracy over `rows`; when `gradient` is
 * given, adds the gradient of the loss (without L2) into it.
 */
const pass = (
  head: { readonly weights: Float64Array; readonly bias: Float64Array },
  x: Float32Array,
  d: number,
  labels: number,
  targets: Uint8Array,
  sampleWeights: Float32Array,
  rows: ArrayLike<number>,
  gradient?: { readonly weights: Float64Array; readonly bias: Float64Array }
) => {
  let loss = 0
  let weightSum = 0
  let correct = 0
  const z = new Float64Array(labels)
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!
    const offset = row * d
    let max = Number.NEGATIVE_INFINITY
    let best = 0
    for (let label = 0; label < labels; label++) {
      let sum = head.bias[label]!
      const w = label * d
      for (let k = 0; k < d; k++) sum += head.weights[w + k]! * x[offset + k]!
      z[label] = sum
      if (sum > max) {
        max = sum
        best = label
      }
    }
    let total = 0
    for (let label = 0; label < labels; label++) {
      z[label] = Math.exp(z[label]! - max)
      total += z[label]!
    }
    const target = targets[row]!
    const weight = sampleWeights[row]!
    loss -= weight * Math.log(Math.max(z[target]! / total, 1e-300))
    weightSum += weight
    if (best === target) correct++
    if (gradient !== undefined) {
      for (let label = 0; label < labels; label++) {
        const error = weight * (z[label]! / total - (label === target ? 1 : 0))
        gradient.bias[label]! += error
        const w = label * d
        for (let k = 0; k < d; k++) gradient.weights[w + k]! += error * x[offset + k]!
      }
    }
  }
  return { loss: weightSum > 0 ? loss / weightSum : 0, weightSum, accuracy: rows.length > 0 ? correct / rows.length : 0 }
}

/**
 * Fit a head. `groups` (one id per row, e.g. the prompt) keeps every row of a
 * group on the same side of the validation split, so a prompt labelled by
 * many battles cannot leak from training into validation.
 */
export const train = (
  features: Matrix.Matrix,
  targets: Uint8Array,
  sampleWeights: Float32Array,
  options: TrainOptions,
  groups?: Int32Array
): TrainResult => {
  const n = features.rows
  const d = features.columns
  const labels = options.labels
  if (targets.length !== n || sampleWeights.length !== n) throw new RangeError("features, labels and weights differ in length")
  if (n === 0) throw new RangeError("no training rows")
  if (groups !== undefined && groups.length !== n) throw new RangeError("groups differ in length from the features")
  const generator = Random.make(options.seed)
  const groupOf = groups ?? Int32Array.from({ length: n }, (_, index) => index)
  const groupIds = Random.shuffle([...new Set(groupOf)], generator)
  const heldGroups = groupIds.length >= 10
    ? new Set(groupIds.slice(0, Math.min(groupIds.length - 1, Math.round(groupIds.length * options.validationShare))))
    : new Set<number>()
  const validation = Int32Array.from({ length: n }, (_, index) => index).filter((row) => heldGroups.has(groupOf[row]!))
  let training = Array.from({ length: n }, (_, index) => index).filter((row) => !heldGroups.has(groupOf[row]!))

  const { mean, inverseStd } = standardise(features, training)
  const x = new Float32Array(n * d)
  for (let row = 0; row < n; row++) {
    for (let k = 0; k < d; k++) x[row * d + k] = (features.data[row * d + k]! - mean[k]!) * inverseStd[k]!
  }

  // Label weights multiply the sample weights.
  const weights = Float32Array.from(sampleWeights)
  if (options.classWeights === "balanced") {
    const counts = new Float64Array(labels)
    for (const row of training) counts[targets[row]!]! += 1
    for (let row = 0; row < n; row++) {
      const count = counts[targets[row]!]!
      weights[row]! *= count > 0 ? training.length / (labels * count) : 0
    }
  }

  const parameters = { weights: new Float64Array(labels * d), bias: new Float64Array(labels) }
  // The bias starts at the log label frequencies, so epoch 0 already predicts the prior.
  const prior = new Float64Array(labels).fill(1e-3)
  for (const row of training) prior[targets[row]!]! += weights[row]!
  const priorTotal = prior.reduce((sum, value) => sum + value, 0)
  for (let label = 0; label < labels; label++) parameters.bias[label] = Math.log(prior[label]! / priorTotal)

  const gradient = { weights: new Float64Array(labels * d), bias: new Float64Array(labels) }
  // L2 on the weights only, not the bias
  const adam = Adam.make([
    { values: parameters.weights, gradients: gradient.weights, weightDecay: options.l2 },
    { values: parameters.bias, gradients: gradient.bias, weightDecay: 0 }
  ], { learningRate: options.learningRate })

  const snapshot = () => ({ weights: Float32Array.from(parameters.weights), bias: Float32Array.from(parameters.bias) })
  const evaluate = (rows: ArrayLike<number>) => pass(parameters, x, d, labels, targets, weights, rows)
  let best = { loss: Number.POSITIVE_INFINITY, epoch: 0, ...snapshot() }
  const history: Array<EpochRecord> = []
  const batchSize = Math.max(1, options.batchSize)
  let sinceBest = 0
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    training = Random.shuffle(training, generator)
    let trainLoss = 0
    let trainWeight = 0
    for (let start = 0; start < training.length; start += batchSize) {
      const batch = training.slice(start, start + batchSize)
      gradient.weights.fill(0)
      gradient.bias.fill(0)
      const result = pass(parameters, x, d, labels, targets, weights, batch, gradient)
      trainLoss += result.loss * result.weightSum
      trainWeight += result.weightSum
      if (result.weightSum === 0) continue
      adam.step(1 / result.weightSum)
    }
    const held = validation.length > 0 ? evaluate(validation) : evaluate(training)
    history.push({
      epoch,
      trainLoss: trainWeight > 0 ? trainLoss / trainWeight : 0,
      validationLoss: held.loss,
      validationAccuracy: held.accuracy
    })
    if (held.loss < best.loss - 1e-9) {
      best = { loss: held.loss, epoch, ...snapshot() }
      sinceBest = 0
    } else if (++sinceBest >= options.patience) {
      break
    }
  }
  return {
    head: { dimensions: d, labels, mean, inverseStd, weights: best.weights, bias: best.bias },
    history,
    bestEpoch: best.epoch,
    trainRows: training.length,
    validationRows: validation.length,
    validation
  }
}

/** JSON form of a head (numbers as arrays, so the file is readable and diffable). */
export const toJson = (head: Head) => ({
  dimensions: head.dimensions,
  labels: head.labels,
  mean: Array.from(head.mean),
  inverseStd: Array.from(head.inverseStd),
  weights: Array.from(head.weights),
  bias: Array.from(head.bias)
})

export const fromJson = (value: any): Head => {
  const dimensions = Number(value?.dimensions)
  const labels = Number(value?.labels)
  const head: Head = {
    dimensions,
    labels,
    mean: Float32Array.from(value?.mean ?? []),
    inverseStd: Float32Array.from(value?.inverseStd ?? []),
    weights: Float32Array.from(value?.weights ?? []),
    bias: Float32Array.from(value?.bias ?? [])
  }
  if (
    !(dimensions > 0 && labels > 1) || head.mean.length !== dimensions || head.inverseStd.length !== dimensions ||
    head.weights.length !== dimensions * labels || head.bias.length !== labels
  ) {
    throw new RangeError(`malformed head (dimensions ${value?.dimensions}, labels ${value?.labels})`)
  }
  return head
}
