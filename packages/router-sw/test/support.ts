/**
 * A small deterministic embedder for tests: hashed bag-of-words vectors, so
 * texts sharing words are similar and nothing needs model weights.
 */
import { Matrix, Plugin, Random, type Records } from "@routellm/core"
import { Effect, Schema } from "effect"

export const dimensions = 64

const hash = (word: string): number => {
  let value = 0x811c9dc5
  for (let i = 0; i < word.length; i++) value = Math.imul(value ^ word.charCodeAt(i), 0x01000193)
  return (value >>> 0) % dimensions
}

export const embedSync = (texts: ReadonlyArray<string>): Matrix.Matrix => {
  const matrix = Matrix.make(texts.length, dimensions)
  texts.forEach((text, row) => {
    for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) matrix.data[row * dimensions + hash(word)]! += 1
  })
  return matrix
}

export const embedder = Plugin.embedder({
  id: "embedder/test-hash",
  version: "1.0.0",
  description: "Hashed bag-of-words vectors (tests only)",
  config: Schema.Struct({}),
  make: () =>
    Effect.succeed({
      id: "embedder/test-hash",
      fingerprint: `test-hash-${dimensions}`,
      dimensions,
      batchSize: 32,
      embed: (texts: ReadonlyArray<string>) => Effect.sync(() => embedSync(texts))
    })
})

/**
 * Synthetic battles on two topics: on algebra prompts the strong models win,
 * on small-talk prompts the weak models hold their own.
 */
export const syntheticBattles = (seed = 1): Array<Records.Battle> => {
  const random = Random.make(seed)
  const models = ["gpt-4-1106-preview", "claude-2.0", "yi-34b-chat", "llama-2-13b-chat", "mixtral-8x7b-instruct-v0.1", "alpaca-7b"]
  const strength = [3, 2.2, 1.5, 0.6, 1.2, 0]
  const battles: Array<Records.Battle> = []
  for (let p = 0; p < 40; p++) {
    const math = p % 2 === 0
    const prompt = math
      ? `Solve the algebra equation ${p}: find x when ${p} x plus ${p + 3} equals zero`
      : `Chat with me about your favourite holiday memory number ${p} and the weather`
    for (let k = 0; k < 8; k++) {
      const i = random.int(models.length)
      let j = random.int(models.length - 1)
      if (j >= i) j++
      const gap = (strength[i]! - strength[j]!) * (math ? 1.5 : 0.2)
      const pA = 1 / (1 + Math.exp(-gap))
      const draw = random.next()
      const winner: Records.Winner = draw < 0.15 ? "tie" : random.next() < pA ? "model_a" : "model_b"
      battles.push({ prompt, model_a: models[i]!, model_b: models[j]!, winner })
    }
  }
  return battles
}
