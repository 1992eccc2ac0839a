/**
 * Prompts stored as a list of turns: RouterBench writes the Python repr of a
 * list (`['Write a function ...']`). Routers decide on the first turn, so
 * every reader of such a table (battle datasets, outcome benchmarks) unwraps
 * it the same way and both sides see one prompt text.
 */

const escapes: Record<string, string> = { n: "\n", t: "\t", r: "\r", "\\": "\\", "'": "'", "\"": "\"", "0": "\0", a: "\x07", b: "\b", f: "\f", v: "\v" }

/** The strings of a Python list-of-strings literal, or undefined when the text is not one. */
export const parseStringList = (text: string): Array<string> | undefined => {
  let i = 0
  const n = text.length
  const skipSpace = () => {
    while (i < n && /\s/.test(text[i]!)) i++
  }
  skipSpace()
  if (text[i] !== "[") return undefined
  i++
  const items: Array<string> = []
  skipSpace()
  if (text[i] === "]") {
    i++
    skipSpace()
    return i === n ? items : undefined
  }
  for (;;) {
    skipSpace()
    const quote = text[i]
    if (quote !== "'" && quote !== "\"") return undefined
    i++
    let value = ""
    for (;;) {
      if (i >= n) return undefined
      const char = text[i]!
      if (char === quote) {
        i++
        break
      }
      if (char === "\\") {
        const next = text[i + 1]
        if (next === undefined) return undefined
        if (next === "x" || next === "u" || next === "U") {
          const width = next === "x" ? 2 : next === "u" ? 4 : 8
          const hex = text.slice(i + 2, i + 2 + width)
          if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== width) return undefined
          value += String.fromCodePoint(parseInt(hex, 16))
          i += 2 + width
          continue
        }
        const mapped = escapes[next]
        // Python keeps unknown escapes verbatim, backslash included.
        value += mapped ?? `\\${next}`
        i += 2
        continue
      }
      value += char
      i++
    }
    items.push(value)
    skipSpace()
    if (text[i] === ",") {
      i++
      skipSpace()
      if (text[i] === "]") {
        i++
        break
      }
      continue
    }
    if (text[i] === "]") {
      i++
      break
    }
    return undefined
  }
  skipSpace()
  return i === n ? items : undefined
}

/** The first turn of a prompt stored as a list of turns (a Python list repr or a JSON list); other prompts unchanged. */
export const firstTurn = (prompt: string): string => {
  if (!prompt.trimStart().startsWith("[")) return prompt
  const turns = parseStringList(prompt)
  return turns !== undefined && turns.length > 0 ? turns[0]! : prompt
}
