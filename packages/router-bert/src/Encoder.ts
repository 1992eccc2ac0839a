/**
 * Frozen features from an ONNX encoder (any Hugging Face encoder exported to
 * ONNX with its tokenizer.json): the pooled output, as an Embedder so that
 * training caches features through core's `Embedder.embedAll`.
 */
import { type Embedder, Errors, Files, Hash, Matrix } from "@routellm/core"
import { Effect, type FileSystem, Schema, type Scope } from "effect"
import * as OnnxSession from "./OnnxSession.ts"
import * as Tokenizer from "./Tokenizer.ts"

export const Pooling = Schema.Literals(["mean", "cls"])
export type Pooling = typeof Pooling.Type

export interface Options {
  /** An .onnx file or a directory with model.onnx (and tokenizer.json). */
  readonly model: string
  readonly tokenizer?: string | undefined
  /** How to pool a [batch, tokens, hidden] output; 2-D outputs are used as they are. */
  readonly pooling: Pooling
  /** Output to read; default `sentence_embedding`, `pooler_output` or `last_hidden_state`, whichever exists, else the first. */
  readonly output?: string | undefined
  readonly maxLength?: number | undefined
  readonly batchSize: number
  readonly executionProviders?: ReadonlyArray<string>
  readonly threads?: number | undefined
}

/** Mean over real tokens (attention mask) or the first token, of a [rows, tokens, hidden] tensor. */
export const pool = (
  data: Float32Array,
  rows: number,
  tokens: number,
  hidden: number,
  lengths: Int32Array,
  pooling: Pooling
): Matrix.Matrix => {
  const out = Matrix.make(rows, hidden)
  for (let row = 0; row < rows; row++) {
    const target = row * hidden
    if (pooling === "cls") {
      out.data.set(data.subarray(row * tokens * hidden, row * tokens * hidden + hidden), target)
      continue
    }
    const count = Math.max(1, lengths[row]!)
    for (let token = 0; token < lengths[row]!; token++) {
      const source = (row * tokens + token) * hidden
      for (let k = 0; k < hidden; k++) out.data[target + k]! += data[source + k]!
    }
    for (let k = 0; k < hidden; k++) out.data[target + k]! /= count
  }
  return out
}

const fileHash = (path: string) => Effect.map(Files.readBytes(path, "encoder.model"), Hash.sha256)

/** An Embedder over an ONNX encoder; `id` names the plugin using it in errors. */
export const make = (
  id: string,
  options: Options
): Effect.Effect<
  Embedder.EmbedderShape,
  Errors.PluginError | Errors.MissingInputError | Errors.InputError,
  FileSystem.FileSystem | Scope.Scope
> =>
  Effect.gen(function*() {
    const modelFile = yield* OnnxSession.resolveModel(options.model, "encoder.model")
    const tokenizer = yield* Tokenizer.load(
      yield* Tokenizer.locate(options.tokenizer, modelFile, options.model, "encoder.tokenizer"),
      "encoder.tokenizer"
    )
    const session = yield* OnnxSession.make(id, modelFile, options)
    const output = options.output ??
      ["sentence_embedding", "pooler_output", "last_hidden_state"].find((name) => session.outputNames.includes(name)) ??
      session.outputNames[0]!
    if (!session.outputNames.includes(output)) {
      return yield* new Errors.PluginError({ pluginId: id, reason: `${modelFile} has no output "${output}" (outputs: ${session.outputNames.join(", ")})` })
    }
    const maxLength = Math.min(options.maxLength ?? tokenizer.modelMaxLength, tokenizer.modelMaxLength)
    const run = (texts: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const batch = tokenizer.encodeBatch(texts, maxLength)
        const feeds = yield* OnnxSession.tokenFeeds(id, session, batch)
        const result = yield* session.run(feeds)
        const tensor = result[output]!
        const data = OnnxSession.floatData(tensor)
        if (tensor.dims.length === 3) return pool(data, batch.rows, Number(tensor.dims[1]), Number(tensor.dims[2]), batch.lengths, options.pooling)
        if (tensor.dims.length === 2) return Matrix.make(batch.rows, Number(tensor.dims[1]), data.slice())
        return yield* new Errors.PluginError({ pluginId: id, reason: `output "${output}" has shape [${tensor.dims.join(", ")}], expected 2 or 3 dimensions` })
      })
    const probe = yield* run(["a"])
    const fingerprint = Hash.hashValue({
      id,
      model: yield* fileHash(modelFile),
      tokenizer: yield* fileHash(tokenizer.file),
      pooling: options.pooling,
      output,
      maxLength
    })
    return {
      id: `${id}#encoder`,
      fingerprint,
      dimensions: probe.columns,
      batchSize: options.batchSize,
      embed: (texts) =>
        run(texts).pipe(
          Effect.mapError((error) => new Errors.EmbedderError({ embedderId: `${id}#encoder`, reason: error.message }))
        )
    } satisfies Embedder.EmbedderShape
  })
