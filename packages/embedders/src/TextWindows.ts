/**
 * Which tokens of a long text an encoder with a fixed window sees.
 *
 * USE-lite reads at most 128 tokens. Cutting every text to its head gives all
 * prompts that share a long preamble (RouterBench's 5-shot ARC and
 * Winogrande prompts: 1,266 to 1,700 characters of identical examples) one
 * and the same vector. A strategy picks the windows that are embedded and
 * averaged instead:
 *
 * - `head`: the first window (what the graph itself keeps);
 * - `tail`: the last window;
 * - `head-tail`: the mean of the first and the last window;
 * - `windows`: the mean of consecutive windows, at most `maxWindows`, half
 *   from the start and half from the end of the text.
 *
 * Texts are cut before they are tokenized: only the characters that can
 * produce the chosen windows are read, so a multi-megabyte text costs what a
 * few windows cost.
 */
import { Schema } from "effect"

export const Strategy = Schema.Literals(["head", "tail", "head-tail", "windows"])
export type Strategy = typeof Strategy.Type

export interface Options {
  readonly strategy: Strategy
  /** Tokens per window. */
  readonly windowTokens: number
  /** Most windows per text (`windows` strategy). */
  readonly maxWindows: number
  /** Most characters a single token can cover (the longest vocabulary piece). */
  readonly maxTokenCharacters: number
}

export interface Plan {
  /** Token ids of each window, in text order. */
  readonly windows: ReadonlyArray<ReadonlyArray<number>>
  /** Whether tokens of the text are outside every window. */
  readonly cut: boolean
}

/** Windows read from the start and from the end of a long text. */
const windowCounts = (options: Options): { readonly head: number; readonly tail: number } => {
  switch (options.strategy) {
    case "head":
      return { head: 1, tail: 0 }
    case "tail":
      return { head: 0, tail: 1 }
    case "head-tail":
      return { head: 1, tail: 1 }
    case "windows": {
      const head = Math.ceil(options.maxWindows / 2)
      return { head, tail: options.maxWindows - head }
    }
  }
}

const isSpace = (code: number) => code === 32 || code === 10 || code === 9 || code === 13

/** The first `characters` of a text, ended before a space so no token is split (when there is one). */
export const headSlice = (text: string, characters: number): string => {
  if (text.length <= characters) return text
  for (let index = characters; index > characters / 2; index--) {
    if (isSpace(text.charCodeAt(index))) return text.slice(0, index)
  }
  return text.slice(0, characters)
}

/** The last `characters` of a text, starting at a space so no token is split (when there is one). */
export const tailSlice = (text: string, characters: number): string => {
  if (text.length <= characters) return text
  const start = text.length - characters
  for (let index = start; index < start + characters / 2; index++) {
    if (isSpace(text.charCodeAt(index))) return text.slice(index)
  }
  return text.slice(start)
}

/** `count` windows of `size` tokens from the start of `ids`. */
const fromStart = (ids: ReadonlyArray<number>, size: number, count: number): Array<ReadonlyArray<number>> =>
  Array.from({ length: count }, (_, index) => ids.slice(index * size, (index + 1) * size))

/** `count` windows of `size` tokens ending at the end of `ids`, in text order. */
const fromEnd = (ids: ReadonlyArray<number>, size: number, count: number): Array<ReadonlyArray<number>> =>
  Array.from({ length: count }, (_, index) => ids.slice(ids.length - (count - index) * size, ids.length - (count - index - 1) * size))

/**
 * The windows of one text. Every window is full (`windowTokens` tokens) unless
 * the whole text is shorter; windows from the end are aligned to the end, so
 * head and tail windows overlap when the text is only a little longer than
 * one window. Tokenizes at most a head and a tail slice of the text, each
 * just long enough for its windows; a slice that yields too few tokens (runs
 * of unknown symbols merge into one token) is doubled.
 */
export const plan = (text: string, encode: (text: string) => Array<number>, options: Options): Plan => {
  const size = options.windowTokens
  const counts = windowCounts(options)
  const sliceCharacters = (tokens: number) => tokens * options.maxTokenCharacters + 16
  if (text.length <= sliceCharacters((counts.head + counts.tail) * size)) {
    // Short enough to tokenize whole.
    const ids = encode(text)
    if (ids.length <= size) return { windows: [ids], cut: false }
    const needed = Math.ceil(ids.length / size)
    if (options.strategy === "windows" && needed <= options.maxWindows) {
      return { windows: [...fromStart(ids, size, needed - 1), ids.slice(ids.length - size)], cut: false }
    }
    const head = Math.min(counts.head, needed)
    const tail = Math.min(counts.tail, needed)
    return {
      windows: [...fromStart(ids, size, head), ...fromEnd(ids, size, tail)],
      cut: ids.length > (head + tail) * size
    }
  }
  const sliceIds = (tokens: number, slice: (text: string, characters: number) => string) => {
    let characters = sliceCharacters(tokens)
    let ids = encode(slice(text, characters))
    while (ids.length < tokens && characters < text.length) {
      characters *= 2
      ids = encode(slice(text, characters))
    }
    return ids
  }
  const windows: Array<ReadonlyArray<number>> = []
  if (counts.head > 0) windows.push(...fromStart(sliceIds(counts.head * size, headSlice), size, counts.head))
  if (counts.tail > 0) windows.push(...fromEnd(sliceIds(counts.tail * size, tailSlice), size, counts.tail))
  return { windows, cut: true }
}

/** Mean of each text's window vectors, scaled to unit length; a text with one window keeps its vector as it is. */
export const pool = (
  vectors: Float32Array,
  dimensions: number,
  windowsPerText: ReadonlyArray<number>
): Float32Array => {
  const result = new Float32Array(windowsPerText.length * dimensions)
  let row = 0
  windowsPerText.forEach((count, text) => {
    const target = result.subarray(text * dimensions, (text + 1) * dimensions)
    if (count === 1) {
      target.set(vectors.subarray(row * dimensions, (row + 1) * dimensions))
      row++
      return
    }
    for (let window = 0; window < count; window++, row++) {
      for (let column = 0; column < dimensions; column++) target[column]! += vectors[row * dimensions + column]!
    }
    let norm = 0
    for (let column = 0; column < dimensions; column++) norm += target[column]! * target[column]!
    norm = Math.sqrt(norm)
    if (norm > 0) { for (let column = 0; column < dimensions; column++) target[column]! /= norm }
  })
  return result
}
