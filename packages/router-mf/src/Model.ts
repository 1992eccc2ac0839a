/**
 * The matrix factorization model of RouteLLM (`MFModel`) over typed arrays.
 *
 * Parameters: model embeddings P (models x dim, L2-normalised at use), a text
 * projection W (dim x textDim, PyTorch `Linear` weight layout, no bias) and a
 * classifier w (dim, no bias). The score of model m on a prompt embedding x is
 * `w · (normalize(P_m) ⊙ W x)` and P(m beats n | x) = sigmoid(score_m − score_n).
 *
 * Because the score is linear in x, each model's score is one dot product
 * with a precomputed vector `Wᵀ (w ⊙ normalize(P_m))`, and the strong/weak
 * win rate is sigmoid of one dot product: routing never multiplies by W.
 */
import { Matrix, Random } from "@routellm/core"

export interface Parameters {
  /** Model names, row order of P. */
  readonly modelIds: ReadonlyArray<string>
  /** Latent dimension (RouteLLM: 128). */
  readonly dimensions: number
  /** Prompt embedding dimension (1536 for text-embedding-3-small, 512 for USE-lite). */
  readonly textDimensions: number
  /** P, models x dimensions, row-major. */
  readonly modelEmbeddings: Float32Array
  /** W, dimensions x textDimensions, row-major (row k maps the prompt to latent k). */
  readonly projection: Float32Array
  /** w, dimensions. */
  readonly classifier: Float32Array
}

/**
 * Fresh parameters initialised as PyTorch initialises `MFModel`: embedding
 * rows from N(0, 1), linear weights uniform in ±1/sqrt(fan_in).
 */
export const initialize = (
  modelIds: ReadonlyArray<string>,
  dimensions: number,
  textDimensions: number,
  seed: number
): Parameters => {
  const generator = Random.make(seed)
  const modelEmbeddings = new Float32Array(modelIds.length * dimensions)
  for (let i = 0; i < modelEmbeddings.length; i++) modelEmbeddings[i] = generator.normal()
  const projection = new Float32Array(dimensions * textDimensions)
  const projectionBound = 1 / Math.sqrt(textDimensions)
  for (let i = 0; i < projection.length; i++) projection[i] = (generator.next() * 2 - 1) * projectionBound
  const classifier = new Float32Array(dimensions)
  const classifierBound = 1 / Math.sqrt(dimensions)
  for (let i = 0; i < classifier.length; i++) classifier[i] = (generator.next() * 2 - 1) * classifierBound
  return { modelIds: [...modelIds], dimensions, textDimensions, modelEmbeddings, projection, classifier }
}

export const clone = (parameters: Parameters): Parameters => ({
  ...parameters,
  modelIds: [...parameters.modelIds],
  modelEmbeddings: parameters.modelEmbeddings.slice(),
  projection: parameters.projection.slice(),
  classifier: parameters.classifier.slice()
})

export const sigmoid = (value: number): number => value >= 0 ? 1 / (1 + Math.exp(-value)) : Math.exp(value) / (1 + Math.exp(value))

/** log(1 + e^value) without overflow. */
export const softplus = (value: number): number => value > 0 ? value + Math.log1p(Math.exp(-value)) : Math.log1p(Math.exp(value))

/** The row of a model (by exact id), or -1. */
export const indexOf = (parameters: Parameters, model: string): number => parameters.modelIds.indexOf(model)

/** normalize(P) as a new models x dimensions array, plus each row's norm (for the backward pass). */
export const normalizedModelEmbeddings = (parameters: Parameters): { readonly rows: Float32Array; readonly norms: Float64Array } => {
  const { dimensions, modelEmbeddings } = parameters
  const count = parameters.modelIds.length
  const rows = new Float32Array(count * dimensions)
  const norms = new Float64Array(count)
  for (let m = 0; m < count; m++) {
    const offset = m * dimensions
    let sum = 0
    for (let k = 0; k < dimensions; k++) sum += modelEmbeddings[offset + k]! ** 2
    // torch.nn.functional.normalize divides by max(norm, 1e-12)
    const norm = Math.max(Math.sqrt(sum), 1e-12)
    norms[m] = norm
    for (let k = 0; k < dimensions; k++) rows[offset + k] = modelEmbeddings[offset + k]! / norm
  }
  return { rows, norms }
}

/**
 * The scoring vectors: row m is `Wᵀ (w ⊙ normalize(P_m))` (models x textDimensions),
 * so score_m(x) = row_m · x.
 */
export const scoringVectors = (parameters: Parameters): Matrix.Matrix => {
  const { dimensions, textDimensions, projection, classifier } = parameters
  const count = parameters.modelIds.length
  const { rows } = normalizedModelEmbeddings(parameters)
  const out = Matrix.make(count, textDimensions)
  for (let m = 0; m < count; m++) {
    const target = out.data.subarray(m * textDimensions, (m + 1) * textDimensions)
    const accumulator = new Float64Array(textDimensions)
    for (let k = 0; k < dimensions; k++) {
      const coefficient = classifier[k]! * rows[m * dimensions + k]!
      if (coefficient === 0) continue
      const offset = k * textDimensions
      for (let j = 0; j < textDimensions; j++) accumulator[j]! += coefficient * projection[offset + j]!
    }
    target.set(accumulator)
  }
  return out
}

/** The vector v with sigmoid(v · x) = P(strong beats weak | x). */
export const pairVector = (vectors: Matrix.Matrix, strongIndex: number, weakIndex: number): Float64Array => {
  const out = new Float64Array(vectors.columns)
  const strong = Matrix.row(vectors, strongIndex)
  const weak = Matrix.row(vectors, weakIndex)
  for (let j = 0; j < out.length; j++) out[j] = strong[j]! - weak[j]!
  return out
}

/** sigmoid(v · x_i) for every row x_i of the prompt embeddings. */
export const pairWinRates = (vector: Float64Array, embeddings: Matrix.Matrix): Float64Array => {
  if (embeddings.columns !== vector.length) {
    throw new RangeError(`prompt embeddings have ${embeddings.columns} dimensions, the model expects ${vector.length}`)
  }
  const out = new Float64Array(embeddings.rows)
  const { data, columns } = embeddings
  for (let i = 0; i < embeddings.rows; i++) {
    const offset = i * columns
    let s0 = 0, s1 = 0
    let j = 0
    for (; j + 1 < columns; j += 2) {
      s0 += vector[j]! * data[offset + j]!
      s1 += vector[j + 1]! * data[offset + j + 1]!
    }
    if (j < columns) s0 += vector[j]! * data[offset + j]!
    out[i] = sigmoid(s0 + s1)
  }
  return out
}

/** Every model's score for every prompt: prompts x models. */
export const scores = (vectors: Matrix.Matrix, embeddings: Matrix.Matrix): Matrix.Matrix => Matrix.multiplyTransposed(embeddings, vectors)

/**
 * The model's forward pass exactly as RouteLLM writes it (project, multiply
 * by the normalised model embedding, classify), for one prompt and one model.
 * The slow reference that the fast paths are checked and benchmarked against.
 */
export const scoreDirect = (parameters: Parameters, modelIndex: number, embedding: ArrayLike<number>): number => {
  const { dimensions, textDimensions, projection, classifier, modelEmbeddings } = parameters
  let norm = 0
  for (let k = 0; k < dimensions; k++) norm += modelEmbeddings[modelIndex * dimensions + k]! ** 2
  norm = Math.max(Math.sqrt(norm), 1e-12)
  let score = 0
  for (let k = 0; k < dimensions; k++) {
    let projected = 0
    const offset = k * textDimensions
    for (let j = 0; j < textDimensions; j++) projected += projection[offset + j]! * embedding[j]!
    score += classifier[k]! * (modelEmbeddings[modelIndex * dimensions + k]! / norm) * projected
  }
  return score
}

/** Gradients with the shapes of the parameters. */
export interface Gradients {
  readonly modelEmbeddings: Float32Array
  readonly projection: Float32Array
  readonly classifier: Float32Array
}

export const zeroGradients = (parameters: Parameters): Gradients => ({
  modelEmbeddings: new Float32Array(parameters.modelEmbeddings.length),
  projection: new Float32Array(parameters.projection.length),
  classifier: new Float32Array(parameters.classifier.length)
})

/**
 * One batch of training examples: `first` should beat `second` with
 * probability `target` (1 for a win, 0.5 for a tie used as half a win each).
 * `inputs` holds each example's prompt embedding (noise already added),
 * batch x textDimensions.
 */
export interface Batch {
  readonly size: number
  readonly first: Int32Array
  readonly second: Int32Array
  readonly target: Float32Array
  readonly weight: Float32Array
  readonly inputs: Float32Array
}

/** Scratch buffers reused across batches so training allocates nothing per step. */
export interface Workspace {
  readonly projected: Float64Array
  readonly projectedGradient: Float64Array
  readonly normalizedGradient: Float64Array
  /** Two rows of the projection gradient. */
  readonly row: Float64Array
  readonly secondRow: Float64Array
}

export const makeWorkspace = (parameters: Parameters, batchSize: number): Workspace => ({
  projected: new Float64Array(batchSize * parameters.dimensions),
  projectedGradient: new Float64Array(batchSize * parameters.dimensions),
  normalizedGradient: new Float64Array(parameters.modelIds.length * parameters.dimensions),
  row: new Float64Array(parameters.textDimensions),
  secondRow: new Float64Array(parameters.textDimensions)
})

/** z = W x for every example of the batch (batch x dimensions), in 2x2 blocks (two examples, two rows of W). */
const project = (parameters: Parameters, batch: Batch, projected: Float64Array) => {
  const { dimensions: d, textDimensions: t, projection } = parameters
  const inputs = batch.inputs
  const size = batch.size
  for (let b = 0; b < size; b += 2) {
    const pair = b + 1 < size
    const x0 = b * t
    const x1 = pair ? x0 + t : x0
    for (let k = 0; k < d; k += 2) {
      const w0 = k * t
      const w1 = k + 1 < d ? w0 + t : w0
      let s00 = 0, s01 = 0, s10 = 0, s11 = 0
      for (let j = 0; j < t; j++) {
        const a0 = inputs[x0 + j]!
        const a1 = inputs[x1 + j]!
        const r0 = projection[w0 + j]!
        const r1 = projection[w1 + j]!
        s00 += r0 * a0
        s01 += r1 * a0
        s10 += r0 * a1
        s11 += r1 * a1
      }
      projected[b * d + k] = s00
      if (k + 1 < d) projected[b * d + k + 1] = s01
      if (pair) {
        projected[(b + 1) * d + k] = s10
        if (k + 1 < d) projected[(b + 1) * d + k + 1] = s11
      }
    }
  }
}

/**
 * Forward only: the logits score_first − score_second of a batch, written to
 * `logits`. Used for validation.
 */
export const batchLogits = (
  parameters: Parameters,
  normalized: Float32Array,
  batch: Batch,
  workspace: Workspace,
  logits: Float64Array
) => {
  const { dimensions, classifier } = parameters
  project(parameters, batch, workspace.projected)
  for (let b = 0; b < batch.size; b++) {
    const first = batch.first[b]! * dimensions
    const second = batch.second[b]! * dimensions
    const zOffset = b * dimensions
    let logit = 0
    for (let k = 0; k < dimensions; k++) {
      logit += classifier[k]! * (normalized[first + k]! - normalized[second + k]!) * workspace.projected[zOffset + k]!
    }
    logits[b] = logit
  }
}

/**
 * Loss and gradients of one batch: the mean over the batch of
 * weight · BCE(sigmoid(score_first − score_second), target), as PyTorch's
 * BCEWithLogitsLoss with mean reduction. Gradients are written (not added)
 * into `gradients`. Returns the mean loss.
 */
export const batchLossAndGradients = (
  parameters: Parameters,
  batch: Batch,
  workspace: Workspace,
  gradients: Gradients
): number => {
  const { dimensions, textDimensions: t, classifier } = parameters
  const models = parameters.modelIds.length
  const { rows: normalized, norms } = normalizedModelEmbeddings(parameters)
  const { projected, projectedGradient, normalizedGradient } = workspace
  project(parameters, batch, projected)
  gradients.classifier.fill(0)
  normalizedGradient.fill(0, 0, models * dimensions)
  let lossSum = 0
  const scale = 1 / batch.size
  for (let b = 0; b < batch.size; b++) {
    const first = batch.first[b]! * dimensions
    const second = batch.second[b]! * dimensions
    const zOffset = b * dimensions
    let logit = 0
    for (let k = 0; k < dimensions; k++) {
      logit += classifier[k]! * (normalized[first + k]! - normalized[second + k]!) * projected[zOffset + k]!
    }
    const target = batch.target[b]!
    const weight = batch.weight[b]!
    // BCE with logits: softplus(s) − y·s; its derivative is sigmoid(s) − y
    lossSum += weight * (softplus(logit) - target * logit)
    const g = weight * (sigmoid(logit) - target) * scale
    for (let k = 0; k < dimensions; k++) {
      const difference = normalized[first + k]! - normalized[second + k]!
      const z = projected[zOffset + k]!
      gradients.classifier[k]! += g * difference * z
      projectedGradient[zOffset + k] = g * classifier[k]! * difference
      const modelGradient = g * classifier[k]! * z
      normalizedGradient[first + k]! += modelGradient
      normalizedGradient[second + k]! -= modelGradient
    }
  }
  // Back through the normalisation: d(v/|v|) = (I − p pᵀ) dv / |v|
  const modelGradients = gradients.modelEmbeddings
  for (let m = 0; m < models; m++) {
    const offset = m * dimensions
    let dot = 0
    for (let k = 0; k < dimensions; k++) dot += normalized[offset + k]! * normalizedGradient[offset + k]!
    const inverseNorm = 1 / norms[m]!
    for (let k = 0; k < dimensions; k++) {
      modelGradients[offset + k] = (normalizedGradient[offset + k]! - normalized[offset + k]! * dot) * inverseNorm
    }
  }
  // dW = dZᵀ X: row k of dW is Σ_b dZ[b, k] · x_b, accumulated in float64
  // in 2x2 blocks (two rows of dW, two examples) so each pass reads x once per two rows.
  const projectionGradient = gradients.projection
  const inputs = batch.inputs
  const row0 = workspace.row
  const row1 = workspace.secondRow
  const size = batch.size
  for (let k = 0; k < dimensions; k += 2) {
    const two = k + 1 < dimensions
    row0.fill(0)
    row1.fill(0)
    let b = 0
    for (; b + 1 < size; b += 2) {
      const c00 = projectedGradient[b * dimensions + k]!
      const c10 = projectedGradient[(b + 1) * dimensions + k]!
      const c01 = two ? projectedGradient[b * dimensions + k + 1]! : 0
      const c11 = two ? projectedGradient[(b + 1) * dimensions + k + 1]! : 0
      const o0 = b * t
      const o1 = o0 + t
      for (let j = 0; j < t; j++) {
        const x0 = inputs[o0 + j]!
        const x1 = inputs[o1 + j]!
        row0[j]! += c00 * x0 + c10 * x1
        row1[j]! += c01 * x0 + c11 * x1
      }
    }
    if (b < size) {
      const c0 = projectedGradient[b * dimensions + k]!
      const c1 = two ? projectedGradient[b * dimensions + k + 1]! : 0
      const o = b * t
      for (let j = 0; j < t; j++) {
        row0[j]! += c0 * inputs[o + j]!
        row1[j]! += c1 * inputs[o + j]!
      }
    }
    projectionGradient.set(row0, k * t)
    if (two) projectionGradient.set(row1, (k + 1) * t)
  }
  return lossSum * scale
}
