/**
 * The trained SW state on disk, in the training step's directory, so a
 * router loads it without recomputation: `state.json` (ratings, tiers,
 * columns, embedder) plus two little-endian binary files, `embeddings.f32`
 * (unique prompts x dimensions float32) and `statistics.bin` (the per-prompt
 * sparse win counts: row offsets u32, entry columns u32, entry counts f64).
 */
import { Errors, Files, Matrix } from "@routellm/core"
import { Effect, Schema } from "effect"
import * as Path from "node:path"
import type * as SimilarityWeighted from "./SimilarityWeighted.ts"

export const stateFile = "state.json"
export const embeddingsFile = "embeddings.f32"
export const statisticsFile = "statistics.bin"
export const formatVersion = 1

export const Header = Schema.Struct({
  format: Schema.Literal(formatVersion),
  embedder: Schema.Struct({ id: Schema.String, fingerprint: Schema.String, dimensions: Schema.Int }),
  numTiers: Schema.Int,
  battles: Schema.Int,
  prompts: Schema.Int,
  entries: Schema.Int,
  models: Schema.Array(Schema.Struct({ name: Schema.String, rating: Schema.Finite, tier: Schema.Int, battles: Schema.Int })),
  tiers: Schema.Array(Schema.Int),
  tierCoefficients: Schema.Array(Schema.Finite),
  columnWinner: Schema.Array(Schema.Int),
  columnLoser: Schema.Array(Schema.Int)
})
export type Header = typeof Header.Type

const bytesOf = (array: ArrayBufferView) => new Uint8Array(array.buffer, array.byteOffset, array.byteLength)

export const write = (
  directory: string,
  state: SimilarityWeighted.State,
  embedder: Header["embedder"],
  numTiers: number
) =>
  Effect.gen(function*() {
    const header: Header = {
      format: formatVersion,
      embedder,
      numTiers,
      battles: state.battles,
      prompts: state.embeddings.rows,
      entries: state.entryColumns.length,
      models: state.models,
      tiers: [...state.tiers],
      tierCoefficients: [...state.tierCoefficients],
      columnWinner: [...state.columnWinner],
      columnLoser: [...state.columnLoser]
    }
    yield* Files.writeText(Path.join(directory, stateFile), JSON.stringify(header, null, 1))
    yield* Files.writeBytes(Path.join(directory, embeddingsFile), bytesOf(state.embeddings.data))
    const statistics = new Uint8Array(state.rowOffsets.byteLength + state.entryColumns.byteLength + state.entryCounts.byteLength)
    statistics.set(bytesOf(state.rowOffsets), 0)
    statistics.set(bytesOf(state.entryColumns), state.rowOffsets.byteLength)
    statistics.set(bytesOf(state.entryCounts), state.rowOffsets.byteLength + state.entryColumns.byteLength)
    yield* Files.writeBytes(Path.join(directory, statisticsFile), statistics)
  })

const decodeHeader = Schema.decodeUnknownEffect(Header)

/** Load a trained state written by `write`. */
export const read = (directory: string) =>
  Effect.gen(function*() {
    const file = Path.join(directory, stateFile)
    const fail = (reason: string) => new Errors.InputError({ file, reason })
    const header = yield* decodeHeader(yield* Files.readJson(file)).pipe(Effect.mapError((error) => fail(`not a router/sw state: ${error.message}`)))
    const embeddingBytes = yield* Files.readBytes(Path.join(directory, embeddingsFile))
    const statisticBytes = yield* Files.readBytes(Path.join(directory, statisticsFile))
    const dimensions = header.embedder.dimensions
    if (embeddingBytes.byteLength !== header.prompts * dimensions * 4) {
      return yield* fail(`${embeddingsFile} holds ${embeddingBytes.byteLength} bytes, expected ${header.prompts} x ${dimensions} float32`)
    }
    const offsetsLength = (header.prompts + 1) * 4
    if (statisticBytes.byteLength !== offsetsLength + header.entries * 12) {
      return yield* fail(`${statisticsFile} holds ${statisticBytes.byteLength} bytes, expected ${offsetsLength + header.entries * 12}`)
    }
    // Copy into fresh, aligned buffers (Node's file buffers may share a pool at odd offsets).
    const copy = (start: number, length: number) => statisticBytes.buffer.slice(statisticBytes.byteOffset + start, statisticBytes.byteOffset + start + length)
    const state: SimilarityWeighted.State = {
      models: header.models,
      tiers: Int32Array.from(header.tiers),
      tierCoefficients: Float64Array.from(header.tierCoefficients),
      columnWinner: Int32Array.from(header.columnWinner),
      columnLoser: Int32Array.from(header.columnLoser),
      rowOffsets: new Uint32Array(copy(0, offsetsLength)),
      entryColumns: new Uint32Array(copy(offsetsLength, header.entries * 4)),
      entryCounts: new Float64Array(copy(offsetsLength + header.entries * 4, header.entries * 8)),
      embeddings: Matrix.make(
        header.prompts,
        dimensions,
        new Float32Array(embeddingBytes.buffer.slice(embeddingBytes.byteOffset, embeddingBytes.byteOffset + embeddingBytes.byteLength))
      ),
      battles: header.battles
    }
    return { header, state }
  })
