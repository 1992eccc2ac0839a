/**
 * The Embedder contract: texts in, float32 vectors out, batched. Embeddings
 * are cached in the artifact store by (embedder fingerprint, text hash), so a
 * text is embedded once across pipelines.
 */
import { Context, Effect } from "effect"
import * as Path from "node:path"
import { ArtifactStore } from "./ArtifactStore.ts"
import { type ArtifactError, EmbedderError } from "./Errors.ts"
import * as Hash from "./Hash.ts"
import * as Matrix from "./Matrix.ts"
import * as Progress from "./Progress.ts"

export interface EmbedderShape {
  /** Plugin id, e.g. `embedder/use-lite`. */
  readonly id: string
  /** Hash of id and every setting that changes the vectors (model, dimensions, pooling). */
  readonly fingerprint: string
  readonly dimensions: number
  /** Embed one batch; row i is the vector of texts[i]. */
  readonly embed: (texts: ReadonlyArray<string>) => Effect.Effect<Matrix.Matrix, EmbedderError>
  /** Largest batch the implementation wants at once. */
  readonly batchSize: number
  /** How many of these texts the embedder cannot read whole (it sees only part of them), and what it reads instead. */
  readonly coverage?: (texts: ReadonlyArray<string>) => Effect.Effect<Coverage>
}

export interface Coverage {
  readonly texts: number
  /** Texts of which some part was not embedded. */
  readonly cut: number
  readonly note: string
}

/** A manifest line when an embedder saw only part of some texts; undefined when it read them all. */
export const coverageWarning = (embedder: EmbedderShape, texts: ReadonlyArray<string>) =>
  embedder.coverage === undefined
    ? Effect.succeed(undefined)
    : Effect.map(embedder.coverage(texts), (coverage) =>
      coverage.cut === 0
        ? undefined
        : `${embedder.id} read ${coverage.cut} of ${coverage.texts} texts only in part (${coverage.note})`)

export class Embedder extends Context.Service<Embedder, EmbedderShape>()("@routellm/core/Embedder") {}

export interface EmbedOptions {
  readonly label?: string
  /** Skip the artifact store (for one-off queries where a disk round trip costs more than embedding). */
  readonly cache?: boolean
}

const cacheDirectory = (root: string, fingerprint: string) => Path.join(root, "embeddings", fingerprint)

/** Read every cached chunk of one embedder: text hash -> vector. */
const readCache = (store: ArtifactStore["Service"], directory: string, dimensions: number) =>
  Effect.gen(function*() {
    const cache = new Map<string, Float32Array>()
    for (const name of yield* store.list(directory)) {
      if (!name.endsWith(".bin")) continue
      const found = yield* store.readFile(Path.join(directory, name))
      if (found._tag === "None") continue
      const bytes = found.value
      // chunk layout: u32 count, u32 dimensions, count x 32-byte sha256, count x dimensions float32
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      const count = view.getUint32(0, true)
      const width = view.getUint32(4, true)
      if (width !== dimensions || bytes.byteLength !== 8 + count * 32 + count * width * 4) continue
      const vectors = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 8 + count * 32, bytes.byteOffset + bytes.byteLength))
      for (let i = 0; i < count; i++) {
        const key = Buffer.from(bytes.buffer, bytes.byteOffset + 8 + i * 32, 32).toString("hex")
        cache.set(key, vectors.subarray(i * width, (i + 1) * width))
      }
    }
    return cache
  })

const encodeChunk = (keys: ReadonlyArray<string>, vectors: Matrix.Matrix): Uint8Array => {
  const bytes = new Uint8Array(8 + keys.length * 32 + vectors.data.byteLength)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, keys.length, true)
  view.setUint32(4, vectors.columns, true)
  keys.forEach((key, index) => bytes.set(Buffer.from(key, "hex"), 8 + index * 32))
  bytes.set(new Uint8Array(vectors.data.buffer, vectors.data.byteOffset, vectors.data.byteLength), 8 + keys.length * 32)
  return bytes
}

/**
 * Embed many texts: look each up in the artifact store, embed the missing ones
 * in batches (with progress), store them, and return one matrix in input order.
 */
export const embedAll = Effect.fn("Embedder.embedAll")(function*(
  embedder: EmbedderShape,
  texts: ReadonlyArray<string>,
  options: EmbedOptions = {}
): Effect.fn.Return<Matrix.Matrix, EmbedderError | ArtifactError, ArtifactStore> {
  const useCache = options.cache !== false
  const store = yield* ArtifactStore
  const directory = cacheDirectory(store.root, embedder.fingerprint)
  const keys = texts.map((text) => Hash.sha256(text))
  const cache = useCache ? yield* readCache(store, directory, embedder.dimensions) : new Map<string, Float32Array>()
  const missing: Array<number> = []
  const firstIndexOfKey = new Map<string, number>()
  keys.forEach((key, index) => {
    if (!cache.has(key) && !firstIndexOfKey.has(key)) {
      firstIndexOfKey.set(key, index)
      missing.push(index)
    }
  })
  if (missing.length > 0) {
    const progress = yield* Progress.start(options.label ?? `embedding (${embedder.id})`, missing.length)
    const batchSize = Math.max(1, embedder.batchSize)
    // Store in chunks of a few thousand so an interrupted run keeps what it embedded.
    const chunkSize = Math.max(batchSize, 2048)
    for (let start = 0; start < missing.length; start += chunkSize) {
      const chunkIndices = missing.slice(start, start + chunkSize)
      const parts: Array<Matrix.Matrix> = []
      for (let offset = 0; offset < chunkIndices.length; offset += batchSize) {
        const batch = chunkIndices.slice(offset, offset + batchSize)
        const vectors = yield* embedder.embed(batch.map((index) => texts[index]!))
        if (vectors.rows !== batch.length || vectors.columns !== embedder.dimensions) {
          return yield* new EmbedderError({
            embedderId: embedder.id,
            reason: `returned ${vectors.rows}x${vectors.columns} for ${batch.length} texts of dimension ${embedder.dimensions}`
          })
        }
        parts.push(vectors)
        yield* progress.advance(batch.length)
      }
      const chunk = Matrix.concatRows(parts, embedder.dimensions)
      const chunkKeys = chunkIndices.map((index) => keys[index]!)
      chunkKeys.forEach((key, index) => cache.set(key, Matrix.row(chunk, index)))
      if (useCache) {
        const bytes = encodeChunk(chunkKeys, chunk)
        yield* store.writeFileAtomic(Path.join(directory, `${Hash.sha256(bytes).slice(0, 24)}.bin`), bytes)
      }
    }
    yield* progress.done
  }
  const result = Matrix.make(texts.length, embedder.dimensions)
  keys.forEach((key, index) => result.data.set(cache.get(key)!, index * embedder.dimensions))
  return result
})
