/**
 * The fast MF training step. Per batch of B battles (prompt embedding x,
 * noise ε, c = w ⊙ (normalize(P_first) − normalize(P_second))):
 *
 *   Z = (X + ε) Wᵀ,  s = rowsum(Z ⊙ C),  g = weight / B · (sigmoid(s) − target),
 *   dW = (g ⊙ C)ᵀ (X + ε)
 *
 * The two products (2·B·dimensions·textDimensions multiply-adds, nearly all
 * the work) and the few small ops between them run as one onnxruntime graph
 * (MLAS matrix products, one thread). The noise is the bulk of the rest: B
 * x textDimensions Gaussian samples per step (RouteLLM adds fresh noise to
 * every battle's embedding, so neither the projection nor its gradient can
 * be shared between battles of one prompt); they and the gather of prompt
 * rows, as well as the Adam update of every parameter, run as Simd's
 * WebAssembly kernels over one arena. The gradients of P and w (a few
 * B x dimensions products) are plain loops.
 *
 * Parameters, gradients and Adam moments are float32 (as torch keeps them).
 */
import { Adam, type Matrix, Simd } from "@routellm/core"
import * as OnnxModel from "@routellm/embedders/OnnxModel"
import * as Ort from "onnxruntime-node"
import type * as Model from "../Model.ts"

export interface Examples {
  readonly first: Int32Array
  readonly second: Int32Array
  readonly prompt: Int32Array
  readonly target: Float32Array
  readonly weight: Float32Array
}

export interface Settings {
  readonly learningRate: number
  readonly weightDecay: number
  readonly noise: number
  readonly batchSize: number
  /** Seed of the noise generator (Simd.seedState). */
  readonly noiseSeed: number
}

export interface Engine {
  /** The live parameters (views of the engine's memory; clone to keep a copy). */
  readonly parameters: Model.Parameters
  /** Whether the WebAssembly SIMD kernels run (otherwise their JavaScript twins). */
  readonly vectorised: boolean
  /**
   * One Adam step per batch: batch k holds `order[k·batchSize ..]` (at most
   * batchSize examples, fewer at the end). Returns the summed per-example loss.
   */
  readonly trainBatches: (examples: Examples, order: Int32Array, count: number, fromBatch: number, toBatch: number) => Promise<number>
  readonly release: () => Promise<void>
}

const pad = (length: number) => Math.ceil(length / 8) * 8

/** The step graph (see the module comment); b is the batch size. */
const stepGraph = (dimensions: number, textDimensions: number) =>
  OnnxModel.encode({
    name: "mf_step",
    opset: 17,
    nodes: [
      { op: "Gemm", inputs: ["inputs", "projection"], outputs: ["projected"], attributes: { transB: 1 } },
      { op: "Mul", inputs: ["projected", "contrast"], outputs: ["terms"] },
      { op: "ReduceSum", inputs: ["terms", "axes"], outputs: ["logits"], attributes: { keepdims: 1 } },
      { op: "Sigmoid", inputs: ["logits"], outputs: ["probabilities"] },
      { op: "Sub", inputs: ["probabilities", "target"], outputs: ["errors"] },
      { op: "Mul", inputs: ["errors", "scale"], outputs: ["slopes"] },
      { op: "Mul", inputs: ["slopes", "contrast"], outputs: ["projectedGradient"] },
      { op: "Gemm", inputs: ["projectedGradient", "inputs"], outputs: ["projectionGradient"], attributes: { transA: 1 } }
    ],
    initializers: [{ name: "axes", dims: [1], data: BigInt64Array.of(1n) }],
    inputs: [
      { name: "inputs", type: OnnxModel.DataType.float, shape: ["b", textDimensions] },
      { name: "projection", type: OnnxModel.DataType.float, shape: [dimensions, textDimensions] },
      { name: "contrast", type: OnnxModel.DataType.float, shape: ["b", dimensions] },
      { name: "target", type: OnnxModel.DataType.float, shape: ["b", 1] },
      { name: "scale", type: OnnxModel.DataType.float, shape: ["b", 1] }
    ],
    outputs: [
      { name: "projected", type: OnnxModel.DataType.float, shape: ["b", dimensions] },
      { name: "logits", type: OnnxModel.DataType.float, shape: ["b", 1] },
      { name: "slopes", type: OnnxModel.DataType.float, shape: ["b", 1] },
      { name: "projectionGradient", type: OnnxModel.DataType.float, shape: [dimensions, textDimensions] }
    ]
  })

const softplus = (value: number): number => value > 0 ? value + Math.log1p(Math.exp(-value)) : Math.log1p(Math.exp(value))

export const make = async (initial: Model.Parameters, embeddings: Matrix.Matrix, settings: Settings): Promise<Engine> => {
  const { dimensions: d, textDimensions: t } = initial
  const models = initial.modelIds.length
  const batchSize = Math.max(1, settings.batchSize)
  if (embeddings.columns !== t) throw new RangeError(`embeddings have ${embeddings.columns} columns, the model ${t}`)
  const layout = { models: pad(models * d), projection: pad(d * t), classifier: pad(d) }
  const blockLength = layout.models + layout.projection + layout.classifier
  // The prompt embeddings are copied into the arena for the gather kernel unless they are large
  // (the arena is one WebAssembly memory, at most 4 GiB); then the kernel's twin gathers in place.
  const copyEmbeddings = embeddings.rows * t * 4 <= 512 * 1024 * 1024
  const embeddingLength = copyEmbeddings ? pad(embeddings.rows * t) : 0
  const bytes = 4 * (4 * blockLength + embeddingLength + pad(batchSize * t) + batchSize + 16) + 32 * 16
  const arena = Simd.arena(bytes)
  const kernels = Simd.kernels(arena)
  const block = {
    values: arena.float32(blockLength),
    gradients: arena.float32(blockLength),
    first: arena.float32(blockLength),
    second: arena.float32(blockLength)
  }
  const views = (array: Float32Array) => ({
    models: array.subarray(0, models * d),
    projection: array.subarray(layout.models, layout.models + d * t),
    classifier: array.subarray(layout.models + layout.projection, layout.models + layout.projection + d)
  })
  const values = views(block.values)
  const gradients = views(block.gradients)
  values.models.set(initial.modelEmbeddings)
  values.projection.set(initial.projection)
  values.classifier.set(initial.classifier)
  const parameters: Model.Parameters = {
    modelIds: [...initial.modelIds],
    dimensions: d,
    textDimensions: t,
    modelEmbeddings: values.models,
    projection: values.projection,
    classifier: values.classifier
  }
  const base = copyEmbeddings ? arena.float32(embeddings.rows * t) : embeddings.data
  if (copyEmbeddings) base.set(embeddings.data.subarray(0, embeddings.rows * t))
  const gather = copyEmbeddings ? kernels.addRows : Simd.twins.addRows
  const inputs = arena.float32(batchSize * t)
  const promptRows = arena.int32(batchSize)
  const state = arena.int32(16)
  state.set(Simd.seedState(settings.noiseSeed))
  const adam = Adam.float32(block, settings.weightDecay, { learningRate: settings.learningRate }, kernels)

  const session = await Ort.InferenceSession.create(stepGraph(d, t), {
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    logSeverityLevel: 3
  })
  const contrast = new Float32Array(batchSize * d)
  const target = new Float32Array(batchSize)
  const scale = new Float32Array(batchSize)
  const projected = new Float32Array(batchSize * d)
  const logits = new Float32Array(batchSize)
  const slopes = new Float32Array(batchSize)
  const projectionTensor = new Ort.Tensor("float32", values.projection, [d, t])
  const projectionGradientTensor = new Ort.Tensor("float32", gradients.projection, [d, t])
  // Tensors per batch size (the last batch of an epoch may be smaller).
  const tensors = new Map<number, { readonly feeds: Record<string, Ort.Tensor>; readonly fetches: Record<string, Ort.Tensor> }>()
  const tensorsFor = (size: number) => {
    let found = tensors.get(size)
    if (found === undefined) {
      found = {
        feeds: {
          inputs: new Ort.Tensor("float32", inputs.subarray(0, size * t), [size, t]),
          projection: projectionTensor,
          contrast: new Ort.Tensor("float32", contrast.subarray(0, size * d), [size, d]),
          target: new Ort.Tensor("float32", target.subarray(0, size), [size, 1]),
          scale: new Ort.Tensor("float32", scale.subarray(0, size), [size, 1])
        },
        fetches: {
          projected: new Ort.Tensor("float32", projected.subarray(0, size * d), [size, d]),
          logits: new Ort.Tensor("float32", logits.subarray(0, size), [size, 1]),
          slopes: new Ort.Tensor("float32", slopes.subarray(0, size), [size, 1]),
          projectionGradient: projectionGradientTensor
        }
      }
      tensors.set(size, found)
    }
    return found
  }

  // Per-step scratch for the models in the batch: normalised rows p_m, w ⊙ p_m, and
  // a_m = Σ_b ±slope_b z_b over the battles m is in (+ as first, − as second).
  // Then ∂L/∂w = Σ_m p_m ⊙ a_m and ∂L/∂p_m = w ⊙ a_m: two updates per battle and latent.
  const normalized = new Float64Array(models * d)
  const weighted = new Float64Array(models * d)
  const norms = new Float64Array(models)
  const accumulated = new Float64Array(models * d)
  const stamp = new Int32Array(models)
  const touched = new Int32Array(models)
  const classifierCopy = new Float64Array(d)
  const first = new Int32Array(batchSize)
  const second = new Int32Array(batchSize)
  const weight = new Float32Array(batchSize)
  let stepCount = 0

  const touch = (model: number, touchedCount: number): number => {
    if (stamp[model] === stepCount) return touchedCount
    stamp[model] = stepCount
    const offset = model * d
    const rows = values.models
    let sum = 0
    for (let k = 0; k < d; k++) sum += rows[offset + k]! * rows[offset + k]!
    // torch.nn.functional.normalize divides by max(norm, 1e-12)
    const norm = Math.max(Math.sqrt(sum), 1e-12)
    norms[model] = norm
    for (let k = 0; k < d; k++) {
      const unit = rows[offset + k]! / norm
      normalized[offset + k] = unit
      weighted[offset + k] = classifierCopy[k]! * unit
      accumulated[offset + k] = 0
    }
    touched[touchedCount] = model
    return touchedCount + 1
  }

  /** Batch indices, normalised model rows, noisy inputs and the contrasts c_b = w ⊙ p_first − w ⊙ p_second. */
  const prepare = (examples: Examples, order: Int32Array, start: number, size: number) => {
    stepCount++
    const classifier = values.classifier
    for (let k = 0; k < d; k++) classifierCopy[k] = classifier[k]!
    let touchedCount = 0
    for (let b = 0; b < size; b++) {
      const example = order[start + b]!
      const f = examples.first[example]!
      const s = examples.second[example]!
      first[b] = f
      second[b] = s
      target[b] = examples.target[example]!
      weight[b] = examples.weight[example]!
      scale[b] = examples.weight[example]! / size
      promptRows[b] = examples.prompt[example]!
      touchedCount = touch(f, touchedCount)
      touchedCount = touch(s, touchedCount)
    }
    const noisy = inputs.subarray(0, pad(size * t))
    if (settings.noise > 0) kernels.normals(noisy, state, settings.noise)
    else noisy.fill(0)
    gather(inputs, base, promptRows, size, t)
    for (let b = 0; b < size; b++) {
      const f = first[b]! * d
      const s = second[b]! * d
      const offset = b * d
      for (let k = 0; k < d; k++) contrast[offset + k] = weighted[f + k]! - weighted[s + k]!
    }
    return touchedCount
  }

  /** Loss, and the gradients of w and P from the graph's projections and slopes; then the Adam step. */
  const finish = (size: number, touchedCount: number) => {
    let lossSum = 0
    for (let b = 0; b < size; b++) {
      const logit = logits[b]!
      lossSum += weight[b]! * (softplus(logit) - target[b]! * logit)
      const slope = slopes[b]!
      const f = first[b]! * d
      const s = second[b]! * d
      const offset = b * d
      for (let k = 0; k < d; k++) {
        const scaled = slope * projected[offset + k]!
        accumulated[f + k]! += scaled
        accumulated[s + k]! -= scaled
      }
    }
    const classifierGradient = gradients.classifier
    const modelGradients = gradients.models
    classifierGradient.fill(0)
    modelGradients.fill(0)
    for (let index = 0; index < touchedCount; index++) {
      const model = touched[index]!
      const offset = model * d
      // ∂L/∂w += p_m ⊙ a_m; ∂L/∂p_m = w ⊙ a_m, then back through the normalisation,
      // d(v/|v|) = (I − p pᵀ) dv / |v| (rows not in the batch have no gradient)
      let dot = 0
      for (let k = 0; k < d; k++) {
        const sum = accumulated[offset + k]!
        classifierGradient[k] = classifierGradient[k]! + normalized[offset + k]! * sum
        dot += weighted[offset + k]! * sum
      }
      const inverseNorm = 1 / norms[model]!
      for (let k = 0; k < d; k++) {
        modelGradients[offset + k] = (classifierCopy[k]! * accumulated[offset + k]! - normalized[offset + k]! * dot) * inverseNorm
      }
    }
    adam.step()
    return lossSum
  }

  const step = async (examples: Examples, order: Int32Array, start: number, size: number): Promise<number> => {
    const touchedCount = prepare(examples, order, start, size)
    const { feeds, fetches } = tensorsFor(size)
    await session.run(feeds, fetches)
    return finish(size, touchedCount)
  }

  return {
    parameters,
    vectorised: kernels.vectorised,
    trainBatches: async (examples, order, count, fromBatch, toBatch) => {
      let lossSum = 0
      for (let batch = fromBatch; batch < toBatch; batch++) {
        const start = batch * batchSize
        const size = Math.min(batchSize, count - start)
        if (size <= 0) break
        lossSum += await step(examples, order, start, size)
      }
      return lossSum
    },
    release: () => session.release()
  }
}
