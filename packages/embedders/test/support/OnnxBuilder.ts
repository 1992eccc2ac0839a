/**
 * Tiny real ONNX models for tests, written with the package's own protobuf
 * writer (OnnxModel.encode): a token-embedding lookup whose output plays the
 * role of a transformer's `last_hidden_state`. Reusable by other packages'
 * tests (import from this file).
 */
import { OnnxModel } from "@routellm/embedders"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"

export interface TokenEmbeddingOptions {
  /** Rows of the table: one vector per token id. */
  readonly embeddings: Float32Array
  readonly vocabularySize: number
  readonly dimensions: number
  /** Integer type of the id inputs (exported BERT models use int64). */
  readonly idType?: "int64" | "int32"
  /** Declare a `token_type_ids` input (BERT exports have one). */
  readonly tokenTypeIds?: boolean
  readonly outputName?: string
}

/** input_ids [batch, length] -> Gather(embeddings) -> last_hidden_state [batch, length, dimensions]. */
export const tokenEmbeddingModel = (options: TokenEmbeddingOptions): Uint8Array => {
  const idType = options.idType === "int32" ? OnnxModel.DataType.int32 : OnnxModel.DataType.int64
  const output = options.outputName ?? "last_hidden_state"
  // The attention mask must be an input; pass it through an Identity so the graph consumes it.
  return OnnxModel.encode({
    name: "token_embedding",
    nodes: [
      { op: "Gather", inputs: ["embeddings", "input_ids"], outputs: [output], attributes: { axis: 0 } },
      { op: "Identity", inputs: ["attention_mask"], outputs: ["mask_out"] }
    ],
    initializers: [{ name: "embeddings", dims: [options.vocabularySize, options.dimensions], data: options.embeddings }],
    inputs: [
      { name: "input_ids", type: idType, shape: ["batch", "length"] },
      { name: "attention_mask", type: idType, shape: ["batch", "length"] },
      ...(options.tokenTypeIds === true ? [{ name: "token_type_ids", type: idType, shape: ["batch", "length"] }] : [])
    ],
    outputs: [
      { name: output, type: OnnxModel.DataType.float, shape: ["batch", "length", options.dimensions] },
      { name: "mask_out", type: idType, shape: ["batch", "length"] }
    ]
  })
}

export const writeModel = async (directory: string, name: string, bytes: Uint8Array): Promise<string> => {
  const path = Path.join(directory, name)
  await Fs.writeFile(path, bytes)
  return path
}
