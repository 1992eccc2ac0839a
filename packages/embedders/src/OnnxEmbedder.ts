/**
 * `embedder/onnx`: any sentence-transformers model exported to ONNX (for
 * example all-MiniLM-L6-v2's `onnx/model.onnx`) with its `tokenizer.json`,
 * run by onnxruntime-node: tokenize (Hugging Face tokenizers.js), truncate to
 * `maxLength` keeping the special tokens, pad, run, pool over the attention
 * mask (mean, or the first token) and optionally L2-normalise.
 */
import { Tokenizer } from "@huggingface/tokenizers"
import { Errors, Files, Hash, Matrix, Plugin } from "@routellm/core"
import type { EmbedderShape } from "@routellm/core/Embedder"
import { Effect, Schema } from "effect"
import * as Path from "node:path"
import type * as OrtTypes from "onnxruntime-node"
import * as Ort from "./internal/Ort.ts"

export const id = "embedder/onnx"

export const Config = Schema.Struct({
  model: Schema.String.annotate({ description: "path to the ONNX model (relative to the pipeline file)" }),
  tokenizer: Schema.optionalKey(Schema.String).annotate({
    description: "path to tokenizer.json (default: tokenizer.json beside the model, then in its parent directory)"
  }),
  maxLength: Schema.Int.check(Schema.isGreaterThanOrEqualTo(2)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(256)))
    .annotate({ description: "tokens per text, special tokens included" }),
  pooling: Schema.Literals(["mean", "cls"]).pipe(Schema.withDecodingDefaultKey(Effect.succeed("mean" as const))),
  normalize: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))),
  inputIds: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("input_ids"))),
  attentionMask: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("attention_mask"))),
  tokenTypeIds: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("token_type_ids"))).annotate({
    description: "fed with zeros when the model has this input"
  }),
  output: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("last_hidden_state"))).annotate({
    description: "token embeddings [batch, length, dimensions]"
  }),
  batchSize: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(32))),
  threads: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(0)))
    .annotate({ description: "onnxruntime intra-op threads; 0 = its default (all cores)" })
}).annotate({ description: "sentence-transformers model exported to ONNX, run by onnxruntime-node" })
export type Config = typeof Config.Type

/** Pool token vectors [rows, length, dimensions] over a 0/1 mask [rows, length]. */
export const pool = (
  hidden: Float32Array,
  mask: ArrayLike<number>,
  rows: number,
  length: number,
  dimensions: number,
  pooling: "mean" | "cls"
): Matrix.Matrix => {
  const result = Matrix.make(rows, dimensions)
  const out = result.data
  for (let row = 0; row < rows; row++) {
    const target = row * dimensions
    if (pooling === "cls") {
      out.set(hidden.subarray(row * length * dimensions, row * length * dimensions + dimensions), target)
      continue
    }
    let count = 0
    for (let position = 0; position < length; position++) {
      if (mask[row * length + position] === 0) continue
      count++
      const source = (row * length + position) * dimensions
      for (let d = 0; d < dimensions; d++) out[target + d]! += hidden[source + d]!
    }
    // sentence-transformers clamps the token count at 1e-9.
    const scale = 1 / Math.max(count, 1e-9)
    for (let d = 0; d < dimensions; d++) out[target + d]! *= scale
  }
  return result
}

export interface TextTokenizer {
  /** Token ids with the model's special tokens, truncated to `maxLength` (special tokens kept). */
  readonly encode: (text: string) => Array<number>
}

/**
 * A tokenizers.js tokenizer that truncates like sentence-transformers: the
 * text's own tokens are cut so that prefix + text + suffix special tokens fit.
 */
export const makeTokenizer = (tokenizerJson: object, tokenizerConfig: object, maxLength: number): TextTokenizer => {
  const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig)
  // Find the special tokens around a single text: encode a probe with and without them.
  const bare: ReadonlyArray<number> = tokenizer.encode("a", { add_special_tokens: false }).ids
  const full: ReadonlyArray<number> = tokenizer.encode("a", { add_special_tokens: true }).ids
  let prefixLength = 0
  while (prefixLength + bare.length <= full.length && bare.some((token, k) => full[prefixLength + k] !== token)) prefixLength++
  const prefix = full.slice(0, prefixLength)
  const suffix = full.slice(prefixLength + bare.length)
  const room = Math.max(0, maxLength - prefix.length - suffix.length)
  return {
    encode: (text) => [...prefix, ...tokenizer.encode(text, { add_special_tokens: false }).ids.slice(0, room), ...suffix]
  }
}

const firstExisting = Effect.fnUntraced(function*(paths: ReadonlyArray<string>) {
  for (const path of paths) {
    if (yield* Files.exists(path)) return path
  }
  return undefined
})

export const make = Effect.fn("OnnxEmbedder.make")(function*(config: Config, context: Plugin.MakeContext) {
  const modelPath = Path.resolve(context.baseDirectory, config.model)
  const fail = (reason: string) => (cause: unknown) => new Errors.PluginError({ pluginId: id, reason, cause })
  const modelBytes = yield* Files.readBytes(modelPath, "model")
  const modelDirectory = Path.dirname(modelPath)
  const tokenizerPath = config.tokenizer === undefined
    ? yield* firstExisting([Path.join(modelDirectory, "tokenizer.json"), Path.join(modelDirectory, "..", "tokenizer.json")])
    : Path.resolve(context.baseDirectory, config.tokenizer)
  if (tokenizerPath === undefined) {
    return yield* new Errors.PluginError({ pluginId: id, reason: `no tokenizer.json beside ${modelPath}; set "tokenizer"` })
  }
  const tokenizerText = yield* Files.readText(tokenizerPath, "tokenizer")
  const configPath = Path.join(Path.dirname(tokenizerPath), "tokenizer_config.json")
  // tokenizer_config.json is optional: without it the tokenizer's own defaults hold.
  const tokenizerConfig = (yield* Files.readJson(configPath).pipe(Effect.orElseSucceed(() => ({})))) as object
  const tokenizer = yield* Effect.try({
    try: () => makeTokenizer(JSON.parse(tokenizerText) as object, tokenizerConfig, config.maxLength),
    catch: fail(`cannot build the tokenizer from ${tokenizerPath}`)
  })
  const ort = yield* Effect.promise(Ort.load)
  const session = yield* Effect.acquireRelease(
    Effect.tryPromise({
      try: () =>
        ort.InferenceSession.create(modelBytes, {
          graphOptimizationLevel: "all",
          logSeverityLevel: 3,
          ...(config.threads > 0 ? { intraOpNumThreads: config.threads } : {})
        }),
      catch: fail(`onnxruntime cannot load ${modelPath}`)
    }),
    (session) => Effect.promise(() => session.release())
  )
  for (const name of [config.inputIds, config.attentionMask]) {
    if (!session.inputNames.includes(name)) {
      return yield* new Errors.PluginError({
        pluginId: id,
        reason: `${modelPath} has no input "${name}" (inputs: ${session.inputNames.join(", ")}); set inputIds / attentionMask`
      })
    }
  }
  if (!session.outputNames.includes(config.output)) {
    return yield* new Errors.PluginError({
      pluginId: id,
      reason: `${modelPath} has no output "${config.output}" (outputs: ${session.outputNames.join(", ")}); set "output"`
    })
  }
  const integerType = (name: string): "int64" | "int32" => {
    const metadata = session.inputMetadata.find((input) => input.name === name)
    return metadata !== undefined && metadata.isTensor && metadata.type === "int32" ? "int32" : "int64"
  }
  const feedsTokenTypes = session.inputNames.includes(config.tokenTypeIds)
  const tensor = (name: string, values: ArrayLike<number>, rows: number, length: number) =>
    integerType(name) === "int32"
      ? new ort.Tensor("int32", Int32Array.from(values), [rows, length])
      : new ort.Tensor("int64", BigInt64Array.from(Array.from(values), (value) => BigInt(value)), [rows, length])

  const run = async (texts: ReadonlyArray<string>): Promise<Matrix.Matrix> => {
    const sequences = texts.map((text) => tokenizer.encode(text))
    const rows = sequences.length
    const length = Math.max(1, ...sequences.map((sequence) => sequence.length))
    const ids = new Int32Array(rows * length)
    const mask = new Int32Array(rows * length)
    sequences.forEach((sequence, row) => {
      ids.set(sequence, row * length)
      mask.fill(1, row * length, row * length + sequence.length)
    })
    const feeds: Record<string, OrtTypes.Tensor> = {
      [config.inputIds]: tensor(config.inputIds, ids, rows, length),
      [config.attentionMask]: tensor(config.attentionMask, mask, rows, length)
    }
    if (feedsTokenTypes) feeds[config.tokenTypeIds] = tensor(config.tokenTypeIds, new Int32Array(rows * length), rows, length)
    const output = (await session.run(feeds))[config.output]!
    const [outRows, outLength, dimensions] = output.dims as [number, number, number]
    if (output.dims.length !== 3 || outRows !== rows || outLength !== length) {
      throw new Error(`output "${config.output}" has shape [${output.dims.join(", ")}], expected [${rows}, ${length}, dimensions]`)
    }
    const pooled = pool(output.data as Float32Array, mask, rows, length, dimensions, config.pooling)
    return config.normalize ? Matrix.normalizeRows(pooled) : pooled
  }

  // The width of the output: one probe run.
  const probe = yield* Effect.tryPromise({ try: () => run(["dimensions"]), catch: fail(`cannot run ${modelPath}`) })
  const dimensions = probe.columns
  const fingerprint = Hash.hashValue({
    id,
    model: Hash.sha256(modelBytes),
    tokenizer: Hash.sha256(tokenizerText),
    tokenizerConfig,
    maxLength: config.maxLength,
    pooling: config.pooling,
    normalize: config.normalize,
    output: config.output,
    inputs: [config.inputIds, config.attentionMask, feedsTokenTypes ? config.tokenTypeIds : null]
  })

  const embed = (texts: ReadonlyArray<string>) =>
    Effect.tryPromise({
      try: () => run(texts),
      catch: (cause) => new Errors.EmbedderError({ embedderId: id, reason: Errors.format(cause), cause })
    })

  const shape: EmbedderShape = { id, fingerprint, dimensions, batchSize: config.batchSize, embed }
  return shape
})

export const plugin = Plugin.embedder({
  id,
  version: "1.0.0",
  description: "sentence-transformers model exported to ONNX (+ tokenizer.json), onnxruntime-node, mean pooling",
  config: Config,
  make
})
