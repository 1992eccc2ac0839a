/**
 * Hugging Face `tokenizer.json` files (WordPiece, BPE, Unigram: whatever
 * `@huggingface/tokenizers` reads) loaded offline from a file or a model
 * directory, with batched encoding into the int64 tensors ONNX models take:
 * truncation to a maximum length that keeps the special tokens, padding to the
 * longest row of the batch.
 */
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers"
import { Errors, Files } from "@routellm/core"
import { Effect, type FileSystem } from "effect"
import * as Path from "node:path"

export interface Batch {
  readonly rows: number
  /** Tokens per row after padding (the longest row). */
  readonly columns: number
  /** rows x columns, row-major. */
  readonly inputIds: BigInt64Array
  /** 1 for real tokens, 0 for padding. */
  readonly attentionMask: BigInt64Array
  /** Real tokens per row. */
  readonly lengths: Int32Array
}

export interface TokenizerShape {
  /** The tokenizer.json this was loaded from. */
  readonly file: string
  /** The longest input the model takes (tokenizer_config.json `model_max_length`, else the tokenizer's truncation, else 512). */
  readonly modelMaxLength: number
  readonly padId: number
  /** Token ids the tokenizer adds before and after a single text ([CLS] / [SEP], <s> / </s>, ...). */
  readonly prefix: ReadonlyArray<number>
  readonly suffix: ReadonlyArray<number>
  /** Content token ids of a text, without special tokens. */
  readonly contentIds: (text: string) => ReadonlyArray<number>
  /** Token ids of a text with the tokenizer's special tokens, untruncated. */
  readonly encodeFull: (text: string) => ReadonlyArray<number>
  /** Token ids of a text with special tokens, truncated to `maxLength` (keeping the special tokens). */
  readonly encode: (text: string, maxLength?: number) => ReadonlyArray<number>
  readonly encodeBatch: (texts: ReadonlyArray<string>, maxLength?: number) => Batch
  readonly tokens: (text: string) => ReadonlyArray<string>
  readonly decode: (ids: ReadonlyArray<number>) => string
  readonly tokenToId: (token: string) => number | undefined
  readonly vocabularySize: number
}

/**
 * Pad rows of token ids into a batch: right padding for encoders, left
 * padding for causal LMs, so every row's last real token sits in the last
 * column, where a causal LM's next-token logits are read.
 */
export const pad = (rows: ReadonlyArray<ReadonlyArray<number>>, padId: number, side: "right" | "left" = "right"): Batch => {
  const columns = Math.max(1, ...rows.map((ids) => ids.length))
  const inputIds = new BigInt64Array(rows.length * columns).fill(BigInt(padId))
  const attentionMask = new BigInt64Array(rows.length * columns)
  const lengths = new Int32Array(rows.length)
  rows.forEach((ids, row) => {
    lengths[row] = ids.length
    const start = row * columns + (side === "left" ? columns - ids.length : 0)
    for (let column = 0; column < ids.length; column++) {
      inputIds[start + column] = BigInt(ids[column]!)
      attentionMask[start + column] = 1n
    }
  })
  return { rows: rows.length, columns, inputIds, attentionMask, lengths }
}

/** Resolve `tokenizer.json` from a file path or a directory that holds one. */
export const resolveFile = (path: string): Effect.Effect<string, never, FileSystem.FileSystem> =>
  Effect.map(Files.exists(Path.join(path, "tokenizer.json")), (inDirectory) => inDirectory ? Path.join(path, "tokenizer.json") : path)

/**
 * Where a model's tokenizer lives when the config does not say: beside the
 * .onnx file, one level up (optimum's `onnx/` folder) or in the configured model directory.
 */
export const locate = Effect.fn("Tokenizer.locate")(function*(explicit: string | undefined, modelFile: string, modelPath: string, field: string) {
  if (explicit !== undefined) return explicit
  const candidates = [Path.dirname(modelFile), Path.dirname(Path.dirname(modelFile)), modelPath]
  for (const candidate of candidates) {
    if (yield* Files.exists(Path.join(candidate, "tokenizer.json"))) return candidate
  }
  return yield* new Errors.MissingInputError({
    path: Path.join(Path.dirname(modelFile), "tokenizer.json"),
    field,
    hint: "put tokenizer.json beside the model or set the tokenizer path"
  })
})

/** Build a tokenizer from the parsed tokenizer.json and tokenizer_config.json values. */
export const fromJson = (file: string, tokenizerJson: any, tokenizerConfig: any = {}): TokenizerShape => {
  const tokenizer = new HfTokenizer(tokenizerJson, tokenizerConfig)
  // Find which ids the post-processor wraps a text in by encoding a probe with and without them.
  const probe = "a"
  const plain: Array<number> = tokenizer.encode(probe, { add_special_tokens: false }).ids
  const full: Array<number> = tokenizer.encode(probe).ids
  let start = -1
  for (let index = 0; index + plain.length <= full.length && start < 0; index++) {
    if (plain.every((id, offset) => full[index + offset] === id)) start = index
  }
  const prefix = start < 0 ? [] : full.slice(0, start)
  const suffix = start < 0 ? [] : full.slice(start + plain.length)
  const configured = Number(tokenizerConfig?.model_max_length)
  const modelMaxLength = Number.isFinite(configured) && configured > 0 && configured < 1e6
    ? configured
    : Number(tokenizerJson?.truncation?.max_length) > 0
    ? Number(tokenizerJson.truncation.max_length)
    : 512
  const padToken = tokenizerJson?.padding?.pad_token ?? tokenizerConfig?.pad_token
  const padId = Number.isInteger(tokenizerJson?.padding?.pad_id)
    ? Number(tokenizerJson.padding.pad_id)
    : typeof padToken === "string"
    ? tokenizer.token_to_id(padToken) ?? 0
    : 0

  const contentIds = (text: string) => tokenizer.encode(text, { add_special_tokens: false }).ids
  const encode = (text: string, maxLength = modelMaxLength) => {
    const budget = Math.max(0, maxLength - prefix.length - suffix.length)
    const content = contentIds(text)
    return [...prefix, ...(content.length > budget ? content.slice(0, budget) : content), ...suffix]
  }
  const encodeBatch = (texts: ReadonlyArray<string>, maxLength = modelMaxLength): Batch => pad(texts.map((text) => encode(text, maxLength)), padId)
  return {
    file,
    modelMaxLength,
    padId,
    prefix,
    suffix,
    contentIds,
    encode,
    encodeBatch,
    encodeFull: (text) => tokenizer.encode(text).ids,
    tokens: (text) => tokenizer.tokenize(text, { add_special_tokens: true }),
    decode: (ids) => ids.length === 0 ? "" : tokenizer.decode([...ids], { skip_special_tokens: false }),
    tokenToId: (token) => tokenizer.token_to_id(token),
    vocabularySize: tokenizer.get_vocab(true).size
  }
}

/**
 * Load a tokenizer from `tokenizer.json` (or the directory holding it, with
 * its `tokenizer_config.json` when present).
 */
export const load = Effect.fn("Tokenizer.load")(function*(path: string, field = "tokenizer") {
  const file = yield* resolveFile(path)
  const tokenizerJson = yield* Files.readJson(file, { field })
  const configFile = Path.join(Path.dirname(file), "tokenizer_config.json")
  const tokenizerConfig = (yield* Files.exists(configFile)) ? yield* Files.readJson(configFile, { field }) : {}
  return yield* Effect.try({
    try: () => fromJson(file, tokenizerJson, tokenizerConfig),
    catch: (cause) =>
      new Errors.InputError({
        file,
        field,
        reason: `not a tokenizer.json that @huggingface/tokenizers can read: ${cause instanceof Error ? cause.message : String(cause)}`
      })
  })
})
