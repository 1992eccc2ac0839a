/**
 * USE-lite's transformer (the TF.js graph "KonaTransformer") rewritten as a
 * dense ONNX graph over padded batches, with the weights read from the TF.js
 * shards. The TF.js graph gathers the valid tokens, runs the layers on them
 * and scatters back; here every position is computed and padding is masked
 * out of attention (bias -1e9, as the original) and pooling, which gives the
 * same values for real tokens.
 *
 * Inputs: `ids` int64 [batch, length] (padding any id), `mask` float [batch,
 * length] (1 for a token, 0 for padding). Output: `embedding` [batch, 512],
 * L2-normalised.
 */
import type * as OnnxModel from "../OnnxModel.ts"
import { DataType } from "../OnnxModel.ts"
import type { ModelFiles, Weight } from "./UseLiteFiles.ts"

const maxPositions = 128

const findWeight = (files: ModelFiles, suffix: string): Weight => {
  const matches = [...files.weights.values()].filter((weight) => weight.name.endsWith(suffix))
  if (matches.length !== 1) {
    throw new Error(`${files.directory}/model.json: expected one weight named *${suffix}, found ${matches.length}`)
  }
  return matches[0]!
}

/** sin/cos timing signal of positions 0..127: [128, 2 x timescales], as TF computes it in float32. */
export const timingSignal = (inverseTimescales: Float32Array): Float32Array => {
  const channels = inverseTimescales.length
  const table = new Float32Array(maxPositions * channels * 2)
  for (let position = 0; position < maxPositions; position++) {
    for (let c = 0; c < channels; c++) {
      const scaled = Math.fround(position * inverseTimescales[c]!)
      table[position * channels * 2 + c] = Math.sin(scaled)
      table[position * channels * 2 + channels + c] = Math.cos(scaled)
    }
  }
  return table
}

/** Intermediate values that `build(files, { intermediates: true })` also outputs, for checks against TF.js. */
export const intermediateNames = ["x0", "layer0_attention", "layer0", "layer1", "pooled"] as const

/**
 * `float32` keeps TF.js numerics; `int8` quantizes the feed-forward, attention-output and residual
 * matrices (weights per output column, activations per tensor at run time: onnxruntime
 * DynamicQuantizeMatMul, VNNI kernels on x86) and keeps the query/key/value projections in float32.
 */
export type Precision = "float32" | "int8"

export interface BuildOptions {
  readonly precision?: Precision
  readonly intermediates?: boolean
}

/** Symmetric per-column int8 quantization of a [rows, columns] matrix. */
export const quantizeColumns = (matrix: Float32Array, rows: number, columns: number) => {
  const scales = new Float32Array(columns)
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) scales[c] = Math.max(scales[c]!, Math.abs(matrix[r * columns + c]!))
  }
  for (let c = 0; c < columns; c++) scales[c] = scales[c]! > 0 ? scales[c]! / 127 : 1
  const values = new Int8Array(rows * columns)
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) values[r * columns + c] = Math.round(matrix[r * columns + c]! / scales[c]!)
  }
  return { values, scales }
}

export const build = (files: ModelFiles, options: BuildOptions = {}): OnnxModel.Graph => {
  const precision = options.precision ?? "float32"
  const nodes: Array<OnnxModel.Node> = []
  const initializers: Array<OnnxModel.Initializer> = []
  let counter = 0
  const fresh = (hint: string) => `${hint}_${counter++}`
  const constantNames = new Set<string>()
  const constant = (name: string, dims: ReadonlyArray<number>, data: OnnxModel.Initializer["data"]) => {
    // Shared constants (axes, indices) are declared once.
    if (!constantNames.has(name)) initializers.push({ name, dims, data })
    constantNames.add(name)
    return name
  }
  const weight = (suffix: string, dims?: ReadonlyArray<number>) => {
    const found = findWeight(files, suffix)
    return constant(suffix.replace(/[^A-Za-z0-9_]/g, "_"), dims ?? found.shape, Float32Array.from(found.data))
  }
  const ints = (name: string, values: ReadonlyArray<number>) => constant(name, [values.length], BigInt64Array.from(values, (v) => BigInt(v)))
  const op = (type: string, inputs: ReadonlyArray<string>, attributes?: OnnxModel.Node["attributes"], hint = type) => {
    const output = fresh(hint)
    nodes.push({ op: type, inputs, outputs: [output], ...(attributes === undefined ? {} : { attributes }) })
    return output
  }

  const layerPrefix = (layer: number) => `Encode/Layer_${layer}/TransformerLayer/`
  const layerNorm = (x: string, prefix: string) =>
    op("LayerNormalization", [
      x,
      weight(`${prefix}layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat`),
      weight(`${prefix}layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat`)
    ], { axis: -1, epsilon: 1e-6 })
  const floatDense = (x: string, kernel: string, bias: string) => op("Add", [op("MatMul", [x, kernel]), bias])
  const dense = (x: string, kernel: string, bias: string) => {
    if (precision === "float32") return floatDense(x, kernel, bias)
    const weights = initializers.find((initializer) => initializer.name === kernel)!
    const [rows, columns] = weights.dims as [number, number]
    const { values, scales } = quantizeColumns(weights.data as Float32Array, rows, columns)
    const quantized = constant(`${kernel}_int8`, [rows, columns], values)
    const scale = constant(`${kernel}_scale`, [columns], scales)
    const zero = constant(`${kernel}_zero`, [columns], new Int8Array(columns))
    const output = fresh("DynamicQuantizeMatMul")
    nodes.push({ op: "DynamicQuantizeMatMul", domain: "com.microsoft", inputs: [x, quantized, scale, zero, bias], outputs: [output] })
    return output
  }

  // Shapes: B = batch, L = length.
  const shape = op("Shape", ["ids"])
  const batch = op("Gather", [shape, ints("index0", [0])], { axis: 0 })
  const length = op("Gather", [shape, ints("index1", [1])], { axis: 0 })
  const keyBias = op("Unsqueeze", [
    op("Mul", [op("Sub", [constant("one", [], Float32Array.of(1)), "mask"]), constant("minus_1e9", [], Float32Array.of(-1e9))]),
    ints("axes12", [1, 2])
  ]) // [B, 1, 1, L]

  const attention = (x: string, layer: number, width: number, heads: number, scale: number) => {
    const prefix = `${layerPrefix(layer)}MultiheadAttention/`
    const qkvKernel = weight(`${prefix}qkv_transform_single/kernel/part_0`, [width, 3 * width])
    // Attention inputs stay float32 under int8: quantizing them costs the most accuracy for their share of work.
    const qkv = floatDense(x, qkvKernel, weight(`${prefix}qkv_transform_single/bias/ConcatPartitions/concat`))
    const headShape = op("Concat", [batch, length, ints(`heads${layer}`, [heads, width / heads])], { axis: 0 })
    const split = (part: number) => {
      const slice = op("Slice", [qkv, ints(`start${layer}_${part}`, [part * width]), ints(`end${layer}_${part}`, [(part + 1) * width]), ints("axis2", [2])])
      return op("Transpose", [op("Reshape", [slice, headShape])], { perm: [0, 2, 1, 3] }) // [B, H, L, D]
    }
    const q = op("Mul", [split(0), constant(`scale${layer}`, [], Float32Array.of(scale))])
    const k = split(1)
    const v = split(2)
    const scores = op("Add", [op("MatMul", [q, op("Transpose", [k], { perm: [0, 1, 3, 2] })]), keyBias])
    const context = op("MatMul", [op("Softmax", [scores], { axis: -1 }), v])
    const merged = op("Reshape", [
      op("Transpose", [context], { perm: [0, 2, 1, 3] }),
      op("Concat", [batch, length, ints(`width${layer}`, [width])], { axis: 0 })
    ])
    const outputKernel = weight(`${prefix}output_transform_single/kernel/part_0`, [width, 512])
    return dense(merged, outputKernel, weight(`${prefix}output_transform_single/bias/ConcatPartitions/concat`))
  }

  const feedForward = (x: string, layer: number) => {
    const prefix = `${layerPrefix(layer)}FFN/`
    const hidden = op("Relu", [
      dense(
        x,
        weight(`TransformerStack/Layer_${layer}/TransformerLayer/FFN/conv1/Tensordot/Reshape_1`),
        weight(`${prefix}conv1/bias/ConcatPartitions/concat`)
      )
    ])
    return dense(
      hidden,
      weight(`TransformerStack/Layer_${layer}/TransformerLayer/FFN/conv2/Tensordot/Reshape_1`),
      weight(`${prefix}conv2/bias/ConcatPartitions/concat`)
    )
  }

  // Embedding plus timing signal (positions 0..L-1). The TF graph adds the embedding twice: its
  // AddTimingSignal output (embedding + signal) is added to the embedding again (Layer_0/add).
  const timing = constant("timing", [maxPositions, 256], timingSignal(findWeight(files, "AddTimingSignal/TimingSignal/ExpandDims_1").data as Float32Array))
  const embedded = op("Gather", [weight("module/Embeddings_en"), "ids"], { axis: 0 })
  const withTiming = op("Add", [embedded, op("Slice", [timing, ints("zero", [0]), length, ints("axis0", [0])])])
  const x0 = op("Add", [embedded, withTiming])

  // Layer 0: 256 wide in, 512 out; the residual goes through a dense projection.
  const attention0 = attention(layerNorm(x0, layerPrefix(0)), 0, 256, 4, 0.125)
  const residual0 = dense(
    x0,
    weight("Encode/Layer_0/TransformerLayer/dense/kernel/ConcatPartitions/concat"),
    weight("Encode/Layer_0/TransformerLayer/dense/bias/ConcatPartitions/concat")
  )
  const x1 = op("Add", [attention0, residual0])
  const x2 = op("Add", [x1, feedForward(layerNorm(x1, `${layerPrefix(0)}FFN/`), 0)])
  // Layer 1: 512 wide.
  const scale1 = findWeight(files, "TransformerStack/Layer_1/TransformerLayer/MultiheadAttention/mul/y").data[0]!
  const x3 = op("Add", [x2, attention(layerNorm(x2, layerPrefix(1)), 1, 512, 4, scale1)])
  const x4 = op("Add", [x3, feedForward(layerNorm(x3, `${layerPrefix(1)}FFN/`), 1)])

  // Mean over real tokens (an empty text pools to zeros), then tanh layer and L2 normalisation.
  const summed = op("ReduceSum", [op("Mul", [x4, op("Unsqueeze", ["mask", ints("axes2", [2])])]), ints("axes1", [1])], {
    keepdims: 0
  })
  const counts = op("Max", [op("ReduceSum", ["mask", ints("axes1b", [1])], { keepdims: 1 }), "one"])
  const pooled = op("Div", [summed, counts])
  const hidden = op("Tanh", [floatDense(pooled, weight("hidden_layers/tanh_layer_0/weights"), weight("hidden_layers/tanh_layer_0/bias"))])
  const squares = op("ReduceSum", [op("Mul", [hidden, hidden]), ints("axes1c", [1])], { keepdims: 1 })
  const inverseNorm = op("Reciprocal", [op("Sqrt", [op("Max", [squares, constant("epsilon", [], Float32Array.of(1e-12))])])])
  nodes.push({ op: "Mul", inputs: [hidden, inverseNorm], outputs: ["embedding"] })
  const intermediates = options.intermediates === true ? [x0, x1, x2, x4, pooled] : []
  intermediates.forEach((value, index) => nodes.push({ op: "Identity", inputs: [value], outputs: [intermediateNames[index]!] }))

  // Quantized kernels replace their float originals.
  const used = new Set(nodes.flatMap((node) => node.inputs))
  return {
    name: "use_lite",
    nodes,
    initializers: initializers.filter((initializer) => used.has(initializer.name)),
    inputs: [
      { name: "ids", type: DataType.int64, shape: ["batch", "length"] },
      { name: "mask", type: DataType.float, shape: ["batch", "length"] }
    ],
    outputs: [
      { name: "embedding", type: DataType.float, shape: ["batch", 512] },
      ...intermediates.map((_, index) => ({ name: intermediateNames[index]!, type: DataType.float, shape: [] }))
    ],
    opset: 17
  }
}
