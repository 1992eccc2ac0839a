/**
 * `embedder/with-length`: another embedder's vectors with the prompt's length
 * appended. Sentence encoders return unit vectors, so a router that reads
 * only them cannot see how long a prompt is, one of the few signals of
 * difficulty that holds across tasks; with this wrapper a router learns how
 * much length matters from its training data like any other feature.
 *
 * The extra column is `scale * (ln(1 + characters) - 5) / 2`: about -1 for a
 * 7-character prompt, 0 for 150 characters, +1 for 3,300 characters.
 */
import { Hash, Matrix, Plugin, PluginRegistry } from "@routellm/core"
import type { EmbedderShape } from "@routellm/core/Embedder"
import { Effect, Schema } from "effect"

export const id = "embedder/with-length"

export const Config = Schema.Struct({
  embedder: Plugin.Reference.pipe(Schema.withDecodingDefaultKey(Effect.succeed("embedder/use-lite"))).annotate({
    description: "The embedder whose vectors get the length column"
  }),
  scale: Schema.Finite.check(Schema.isGreaterThan(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(1))).annotate({
    description: "Weight of the length column against the unit-length embedding (1: comparable to one strong embedding direction)"
  })
}).annotate({ description: "Another embedder's vectors plus one column for the prompt's log length" })
export type Config = typeof Config.Type

/** The length column of one text. */
export const lengthFeature = (text: string, scale: number): number => scale * (Math.log1p(text.length) - 5) / 2

export const make = Effect.fn("WithLength.make")(function*(config: Config, context: Plugin.MakeContext) {
  const inner = yield* PluginRegistry.makeEmbedder(config.embedder, context, `${id} embedder`)
  const dimensions = inner.dimensions + 1
  const embed = (texts: ReadonlyArray<string>) =>
    Effect.map(inner.embed(texts), (vectors) => {
      const result = Matrix.make(texts.length, dimensions)
      for (let row = 0; row < texts.length; row++) {
        result.data.set(vectors.data.subarray(row * inner.dimensions, (row + 1) * inner.dimensions), row * dimensions)
        result.data[row * dimensions + inner.dimensions] = lengthFeature(texts[row]!, config.scale)
      }
      return result
    })
  const shape: EmbedderShape = {
    id,
    fingerprint: Hash.hashValue({ id, inner: inner.fingerprint, scale: config.scale, feature: "log1p-characters" }),
    dimensions,
    batchSize: inner.batchSize,
    embed,
    ...(inner.coverage === undefined ? {} : { coverage: inner.coverage })
  }
  return shape
})

export const plugin = Plugin.embedder({
  id,
  version: "1.0.0",
  description: "Another embedder's vectors with the prompt's log length appended, so routers can weigh length",
  config: Config,
  make
})
