/**
 * `router/length`: the prompt-length baseline. A longer prompt goes to the
 * strong model: the win rate is `L^slope / (L^slope + midpoint^slope)` for a
 * prompt of length `L`, so it is 0 for an empty prompt, 0.5 at the midpoint,
 * rises monotonically with length and stays below 1. Ranking prompts by
 * length alone beats many learned routers on the paper's benchmarks (issue
 * #15), so every evaluation shows it beside `router/random`: a learned router
 * that does not beat it has learned nothing the length did not already say.
 */
import { Effect, Schema } from "effect"
import * as Plugin from "./Plugin.ts"
import type { RouterShape } from "./Router.ts"

export const Unit = Schema.Literals(["characters", "words"])
export type Unit = typeof Unit.Type

/**
 * The default midpoint per unit: 500 characters, and the same length in
 * words at the 5.8 to 6.1 characters per word of AlpacaEval's and MT Bench's
 * prompts.
 */
export const defaultMidpoint: Readonly<Record<Unit, number>> = { characters: 500, words: 85 }

const positive = Schema.Finite.check(Schema.isGreaterThan(0))

export const Config = Schema.Struct({
  unit: Unit.pipe(Schema.withDecodingDefaultKey(Effect.succeed("characters" as const))).annotate({
    description: "How length is counted: characters (Unicode code points) or words (runs of non-whitespace)"
  }),
  midpoint: Schema.optionalKey(positive).annotate({
    description: "Length at which the win rate is 0.5 (default 500 characters, or 85 words)"
  }),
  slope: positive.pipe(Schema.withDecodingDefaultKey(Effect.succeed(1))).annotate({
    description: "Steepness around the midpoint: the win rate is L^slope / (L^slope + midpoint^slope)"
  })
}).annotate({ description: "Prompt-length baseline: the longer the prompt, the likelier the strong model" })
export type Config = typeof Config.Type

/** Unicode code points of a text (a surrogate pair is one character). */
export const characters = (text: string): number => {
  let count = text.length
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    // A high surrogate followed by a low one is counted once.
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        count--
        i++
      }
    }
  }
  return count
}

const isSpace = (code: number) =>
  code === 32 || (code >= 9 && code <= 13) || code === 0xa0 || code === 0x1680 || (code >= 0x2000 && code <= 0x200a) ||
  code === 0x2028 || code === 0x2029 || code === 0x202f || code === 0x205f || code === 0x3000 || code === 0xfeff

/** Words of a text: maximal runs of non-whitespace characters. */
export const words = (text: string): number => {
  let count = 0
  let inWord = false
  for (let i = 0; i < text.length; i++) {
    const space = isSpace(text.charCodeAt(i))
    if (!space && !inWord) count++
    inWord = !space
  }
  return count
}

/** The length of a prompt in the configured unit. */
export const lengthOf = (unit: Unit): (prompt: string) => number => unit === "words" ? words : characters

/**
 * The win rate of a length, written as `1 / (1 + (midpoint / L)^slope)` so
 * that long prompts and steep slopes do not overflow (`L^slope` would).
 */
export const winRateOfLength = (length: number, midpoint: number, slope: number): number => length <= 0 ? 0 : 1 / (1 + Math.pow(midpoint / length, slope))

export const make = (config: Config): RouterShape => {
  const length = lengthOf(config.unit)
  const midpoint = config.midpoint ?? defaultMidpoint[config.unit]
  const winRateSync = (prompt: string) => winRateOfLength(length(prompt), midpoint, config.slope)
  return {
    id: "router/length",
    winRate: (prompt) => Effect.sync(() => winRateSync(prompt)),
    winRates: (prompts) => Effect.sync(() => Float64Array.from(prompts, winRateSync)),
    batchSize: 4096
  }
}

export const plugin = Plugin.router({
  id: "router/length",
  version: "1.0.0",
  description: "Prompt-length baseline: win rate L^slope / (L^slope + midpoint^slope), longer prompts go to the strong model",
  config: Config,
  make: (config) => Effect.succeed(make(config))
})
