/**
 * Tiny ONNX models with known weights, written by the tests themselves with
 * the embedders package's ONNX writer (no exporter, no downloaded weights):
 *
 * - `sequenceClassifier`: token embedding + masked mean pooling + linear layer,
 *   inputs `input_ids`/`attention_mask` [batch, tokens] (int64), output `logits` [batch, labels].
 * - `encoder`: token embedding only, output `last_hidden_state` [batch, tokens, dimensions].
 * - `causalLanguageModel`: causal running mean of token embeddings + linear
 *   layer to the vocabulary, output `logits` [batch, tokens, vocabulary].
 */
import { OnnxModel } from "@routellm/embedders"

// One ONNX writer for the project: the embedders package's OnnxModel.encode.
const { float: FLOAT, int64: INT64 } = OnnxModel.DataType

const tensor = (name: string, dims: ReadonlyArray<number>, data: Float32Array | BigInt64Array): OnnxModel.Initializer => ({ name, dims, data })

const node = (
  op: string,
  inputs: ReadonlyArray<string>,
  outputs: ReadonlyArray<string>,
  attributes: ReadonlyArray<{ readonly name: string; readonly int: number }> = []
): OnnxModel.Node => ({
  op,
  inputs,
  outputs,
  ...(attributes.length === 0 ? {} : { attributes: Object.fromEntries(attributes.map((attribute) => [attribute.name, attribute.int])) })
})

/** A tensor value description; string dims are symbolic (`batch`, `tokens`). */
const valueInfo = (name: string, type: OnnxModel.DataType, shape: ReadonlyArray<number | string>): OnnxModel.ValueInfo => ({ name, type, shape })

const model = (
  nodes: ReadonlyArray<OnnxModel.Node>,
  initializers: ReadonlyArray<OnnxModel.Initializer>,
  inputs: ReadonlyArray<OnnxModel.ValueInfo>,
  outputs: ReadonlyArray<OnnxModel.ValueInfo>
): Uint8Array => OnnxModel.encode({ name: "tiny", nodes, initializers, inputs, outputs, opset: 13 })

const tokenInputs = [
  valueInfo("input_ids", INT64, ["batch", "tokens"]),
  valueInfo("attention_mask", INT64, ["batch", "tokens"])
]

/** Nodes computing `masked` [b,t,d] (embeddings times mask) and `mask3` [b,t,1] (float mask). */
const embedNodes = [
  node("Gather", ["embeddings", "input_ids"], ["embedded"]),
  node("Cast", ["attention_mask"], ["mask"], [{ name: "to", int: FLOAT }]),
  node("Unsqueeze", ["mask", "axis_last"], ["mask3"]),
  node("Mul", ["embedded", "mask3"], ["masked"])
]

export interface ClassifierWeights {
  /** vocabulary x dimensions, row-major. */
  readonly embeddings: Float32Array
  readonly dimensions: number
  /** dimensions x labels, row-major. */
  readonly weights: Float32Array
  readonly bias: Float32Array
}

export const sequenceClassifier = (w: ClassifierWeights): Uint8Array => {
  const labels = w.bias.length
  const vocabulary = w.embeddings.length / w.dimensions
  return model(
    [
      ...embedNodes,
      node("ReduceSum", ["masked", "axis_tokens"], ["summed"], [{ name: "keepdims", int: 0 }]),
      node("ReduceSum", ["mask3", "axis_tokens"], ["count"], [{ name: "keepdims", int: 0 }]),
      node("Div", ["summed", "count"], ["pooled"]),
      node("MatMul", ["pooled", "weights"], ["projected"]),
      node("Add", ["projected", "bias"], ["logits"])
    ],
    [
      tensor("embeddings", [vocabulary, w.dimensions], w.embeddings),
      tensor("weights", [w.dimensions, labels], w.weights),
      tensor("bias", [labels], w.bias),
      tensor("axis_last", [1], BigInt64Array.of(2n)),
      tensor("axis_tokens", [1], BigInt64Array.of(1n))
    ],
    tokenInputs,
    [valueInfo("logits", FLOAT, ["batch", labels])]
  )
}

/** Token embeddings as `last_hidden_state` (padding rows zeroed), for pooled-feature tests. */
export const encoder = (embeddings: Float32Array, dimensions: number): Uint8Array =>
  model(
    [...embedNodes, node("Identity", ["masked"], ["last_hidden_state"])],
    [
      tensor("embeddings", [embeddings.length / dimensions, dimensions], embeddings),
      tensor("axis_last", [1], BigInt64Array.of(2n))
    ],
    tokenInputs,
    [valueInfo("last_hidden_state", FLOAT, ["batch", "tokens", dimensions])]
  )

export interface CausalWeights {
  /** vocabulary x dimensions. */
  readonly embeddings: Float32Array
  readonly dimensions: number
  /** dimensions x vocabulary. */
  readonly weights: Float32Array
  /** vocabulary. */
  readonly bias: Float32Array
}

/**
 * Position i predicts the next token from the mean of the embeddings of tokens
 * 0..i (a causal running mean), so logits at the last real position depend on
 * the whole prompt and padding after it changes nothing.
 */
export const causalLanguageModel = (w: CausalWeights): Uint8Array => {
  const vocabulary = w.bias.length
  return model(
    [
      ...embedNodes,
      node("CumSum", ["masked", "axis_tokens_scalar"], ["running"]),
      node("CumSum", ["mask3", "axis_tokens_scalar"], ["seen"]),
      node("Max", ["seen", "one"], ["seenAtLeastOne"]),
      node("Div", ["running", "seenAtLeastOne"], ["hidden"]),
      node("MatMul", ["hidden", "weights"], ["projected"]),
      node("Add", ["projected", "bias"], ["logits"])
    ],
    [
      tensor("embeddings", [vocabulary, w.dimensions], w.embeddings),
      tensor("weights", [w.dimensions, vocabulary], w.weights),
      tensor("bias", [vocabulary], w.bias),
      tensor("axis_last", [1], BigInt64Array.of(2n)),
      tensor("axis_tokens_scalar", [], BigInt64Array.of(1n)),
      tensor("one", [1], Float32Array.of(1))
    ],
    tokenInputs,
    [valueInfo("logits", FLOAT, ["batch", "tokens", vocabulary])]
  )
}

/** Deterministic pseudo-random weights in [-scale, scale) (a sine hash of the index), so tests can recompute them. */
export const knownWeights = (length: number, seed: number, scale = 1): Float32Array =>
  Float32Array.from({ length }, (_, index) => {
    const value = Math.sin(index * 12.9898 + seed * 78.233) * 43758.5453
    return scale * (2 * (value - Math.floor(value)) - 1)
  })
