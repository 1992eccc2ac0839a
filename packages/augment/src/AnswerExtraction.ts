/**
 * Automatic grading: pull the final answer out of a model's free-text
 * response (an option letter for multiple choice, a final number for math
 * word problems, a normalised string for exact match) and compare it with the
 * ground truth. An answer that cannot be found is `undefined` and grades as
 * incorrect; it is never guessed.
 */
import { Schema } from "effect"

export const AnswerType = Schema.Literals(["choice", "number", "exact"])
export type AnswerType = typeof AnswerType.Type

export interface Grade {
  /** The answer found in the response, normalised; undefined when none was found. */
  readonly extracted: string | undefined
  readonly correct: boolean
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/**
 * The option letter a multiple-choice response commits to. Explicit
 * statements ("the answer is (B)", "Answer: B") win over a bare letter at the
 * start; the last explicit statement wins because models often restate
 * the question's options before concluding.
 */
export const extractChoice = (response: string, letters = "ABCD"): string | undefined => {
  const set = `[${escapeRegExp(letters)}]`
  const text = response.replace(/\*\*|__/g, "").trim()
  if (text === "") return undefined
  const explicit = [
    new RegExp(
      `(?:answer|(?:correct|best|right)\\s+(?:option|choice))\\s*(?:is|would be|should be)?\\s*:?\\s*(?:option\\s+)?[\\(\\[]?(${set})(?![A-Za-z0-9])`,
      "gi"
    ),
    new RegExp(`\\\\boxed\\{\\s*\\(?(${set})\\)?\\s*\\}`, "g")
  ]
  let best: { readonly index: number; readonly letter: string } | undefined
  for (const pattern of explicit) {
    for (const match of text.matchAll(pattern)) {
      const letter = match[1]!.toUpperCase()
      // "answer is a ..." in lower case is an article, not an option.
      if (match[1] !== letter && /[a-z]/.test(match[1]!)) continue
      if (best === undefined || match.index! > best.index) best = { index: match.index!, letter }
    }
  }
  if (best !== undefined) return best.letter
  // A response that opens with the option: "B", "B.", "(B)", "B) 4".
  const leading = new RegExp(`^[\\(\\[]?(${set})(?:[\\)\\]\\.:,]|\\s*(?:\\n|$))`).exec(text)
  if (leading !== null) return leading[1]!
  // A short response that names exactly one option letter on its own.
  const standalone = new Set([...text.matchAll(new RegExp(`(?<![A-Za-z0-9])[\\(\\[]?(${set})(?=[\\)\\]\\.:,]|\\s*$)`, "gm"))].map((match) => match[1]!))
  if (text.length <= 40 && standalone.size === 1) return [...standalone][0]
  return undefined
}

const numberPattern = /-?\$?\s*\d[\d,]*(?:\.\d+)?|-?\$?\s*\.\d+/g

/** A number as written ("$1,200.50", "-3", ".5") to its canonical decimal string; undefined if it is not one. */
export const normalizeNumber = (text: string): string | undefined => {
  const cleaned = text.replace(/[\s$,]/g, "").replace(/\.$/, "")
  if (!/^-?(?:\d+(?:\.\d*)?|\.\d+)$/.test(cleaned)) return undefined
  const value = Number(cleaned)
  return Number.isFinite(value) ? String(value) : undefined
}

const lastNumberIn = (text: string): string | undefined => {
  const matches = text.match(numberPattern)
  return matches === null ? undefined : normalizeNumber(matches[matches.length - 1]!)
}

/**
 * The final number of a math response: the GSM8K `#### N` marker, then
 * `\boxed{N}`, then "the answer is N", then the last number in the text.
 */
export const extractNumber = (response: string): string | undefined => {
  const marked = [...response.matchAll(/####\s*([^\n]*)/g)]
  if (marked.length > 0) {
    const found = lastNumberIn(marked[marked.length - 1]![1]!)
    if (found !== undefined) return found
  }
  const boxed = [...response.matchAll(/\\boxed\{([^{}]*)\}/g)]
  if (boxed.length > 0) {
    const found = lastNumberIn(boxed[boxed.length - 1]![1]!)
    if (found !== undefined) return found
  }
  const stated = [...response.matchAll(/answer\s+is\s*:?\s*([^\n]*)/gi)]
  if (stated.length > 0) {
    const sentence = stated[stated.length - 1]![1]!.split(/(?<=\d)\.(?:\s|$)|[;!?]/)[0]!
    const found = sentence.match(numberPattern)
    if (found !== null) return normalizeNumber(found[0])
  }
  // Drop GSM8K calculator annotations (<<3*60=180>>) so they do not count twice.
  return lastNumberIn(response.replace(/<<[^>]*>>/g, ""))
}

/** Case, surrounding whitespace, quotes and a trailing full stop do not matter for exact match. */
export const normalizeExact = (text: string): string => text.trim().replace(/^["'`]+|["'`]+$/g, "").replace(/[.!]+$/, "").replace(/\s+/g, " ").toLowerCase()

/** The ground truth itself, normalised: a GSM8K solution's `#### N`, an option letter, or a string. */
export const normalizeTruth = (truth: string, type: AnswerType, letters = "ABCD"): string | undefined => {
  switch (type) {
    case "choice": {
      const trimmed = truth.trim().toUpperCase()
      if (trimmed.length === 1 && letters.includes(trimmed)) return trimmed
      return extractChoice(truth, letters)
    }
    case "number":
      return normalizeNumber(truth) ?? extractNumber(truth)
    case "exact":
      return normalizeExact(truth)
  }
}

export const extract = (response: string, type: AnswerType, letters = "ABCD"): string | undefined => {
  switch (type) {
    case "choice":
      return extractChoice(response, letters)
    case "number":
      return extractNumber(response)
    case "exact":
      return normalizeExact(response)
  }
}

/** Grade a response against the (already normalised) ground truth. */
export const grade = (response: string, truth: string, type: AnswerType, letters = "ABCD"): Grade => {
  const extracted = extract(response, type, letters)
  if (extracted === undefined) return { extracted, correct: false }
  if (type === "number") {
    const difference = Math.abs(Number(extracted) - Number(truth))
    return { extracted, correct: difference <= 1e-6 * Math.max(1, Math.abs(Number(truth))) }
  }
  return { extracted, correct: extracted === truth }
}
