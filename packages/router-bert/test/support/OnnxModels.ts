/**
 * Tiny ONNX models with known weights, written as protobuf bytes by the tests
 * themselves (no exporter, no downloaded weights):
 *
 * - `sequenceClassifier`: token embedding + masked mean pooling + linear layer,
 *   inputs `input_ids`/`attention_mask` [batch, tokens] (int64), output `logits` [batch, labels].
 * - `encoder`: token embedding only, output `last_hidden_state` [batch, tokens, dimensions].
 * - `causalLanguageModel`: causal running mean of token embeddings + linear
 *   layer to the vocabulary, output `logits` [batch, tokens, vocabulary].
 */
import * as Protobuf from "./Protobuf.ts"

const FLOAT = 1
const INT64 = 7
const ATTRIBUTE_INT = 2

const tensor = (name: string, dims: ReadonlyArray<number>, data: Float32Array | BigInt64Array): Protobuf.Field[] => [
  ...dims.map((dim) => Protobuf.int(1, dim)),
  Protobuf.int(2, data instanceof Float32Array ? FLOAT : INT64),
  Protobuf.string(8, name),
  Protobuf.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
]

const node = (
  opType: string,
  inputs: ReadonlyArray<string>,
  outputs: ReadonlyArray<string>,
  attributes: ReadonlyArray<{ readonly name: string; readonly int: number }> = []
): Protobuf.Field =>
  Protobuf.message(1, [
    ...inputs.map((input) => Protobuf.string(1, input)),
    ...outputs.map((output) => Protobuf.string(2, output)),
    Protobuf.string(3, `${opType}_${outputs[0]}`),
    Protobuf.string(4, opType),
    ...attributes.map((attribute) => Protobuf.message(5, [Protobuf.string(1, attribute.name), Protobuf.int(3, attribute.int), Protobuf.int(20, ATTRIBUTE_INT)]))
  ])

/** A tensor value description; string dims are symbolic (`batch`, `tokens`). */
const valueInfo = (field: number, name: string, elementType: number, dims: ReadonlyArray<number | string>): Protobuf.Field =>
  Protobuf.message(field, [
    Protobuf.string(1, name),
    Protobuf.message(2, [
      Protobuf.message(1, [
        Protobuf.int(1, elementType),
        Protobuf.message(2, dims.map((dim) => Protobuf.message(1, [typeof dim === "number" ? Protobuf.int(1, dim) : Protobuf.string(2, dim)])))
      ])
    ])
  ])

const model = (
  nodes: ReadonlyArray<Protobuf.Field>,
  initializers: ReadonlyArray<Protobuf.Field[]>,
  inputs: ReadonlyArray<Protobuf.Field>,
  outputs: ReadonlyArray<Protobuf.Field>
): Uint8Array =>
  Protobuf.encode([
    Protobuf.int(1, 8), // ir_version
    Protobuf.string(2, "routellm-ts-tests"),
    Protobuf.message(7, [
      ...nodes,
      Protobuf.string(2, "tiny"),
      ...initializers.map((fields) => Protobuf.message(5, fields)),
      ...inputs,
      ...outputs
    ]),
    Protobuf.message(8, [Protobuf.string(1, ""), Protobuf.int(2, 13)]) // opset 13
  ])

const tokenInputs = [
  valueInfo(11, "input_ids", INT64, ["batch", "tokens"]),
  valueInfo(11, "attention_mask", INT64, ["batch", "tokens"])
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
    [valueInfo(12, "logits", FLOAT, ["batch", labels])]
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
    [valueInfo(12, "last_hidden_state", FLOAT, ["batch", "tokens", dimensions])]
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
    [valueInfo(12, "logits", FLOAT, ["batch", "tokens", vocabulary])]
  )
}

/** Deterministic pseudo-random weights in [-scale, scale) (a sine hash of the index), so tests can recompute them. */
export const knownWeights = (length: number, seed: number, scale = 1): Float32Array =>
  Float32Array.from({ length }, (_, index) => {
    const value = Math.sin(index * 12.9898 + seed * 78.233) * 43758.5453
    return scale * (2 * (value - Math.floor(value)) - 1)
  })
