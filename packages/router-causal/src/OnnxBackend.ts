/**
 * The in-process backend: a causal LM exported to ONNX (logits over the
 * vocabulary at every position) plus its tokenizer.json. The scoring prompt
 * is rendered to one text, tokenised, left-padded into a batch, and the
 * next-token logits after the last prompt token are read at the five score
 * tokens' ids. Exports with a `logits_to_keep` input return only that
 * position, which saves a [tokens x vocabulary] copy per prompt on large vocabularies.
 */
import { Errors } from "@routellm/core"
import { OnnxSession, Tokenizer } from "@routellm/router-bert"
import { Effect, type FileSystem, type Scope } from "effect"
import * as Path from "node:path"
import * as Scores from "./Scores.ts"
import * as Template from "./Template.ts"

export interface Options {
  readonly model: string
  readonly tokenizer?: string | undefined
  readonly maxLength?: number | undefined
  /** Add the tokenizer's own special tokens (BOS) around the text, as `tokenizer.encode` does. */
  readonly addSpecialTokens: boolean
  readonly executionProviders: ReadonlyArray<string>
  readonly threads?: number | undefined
}

export interface Scored {
  /** Strong win rate per prompt; NaN where the score logits were not finite (counted as a fallback by the router). */
  readonly winRates: Float64Array
}

export interface Backend {
  readonly provider: string
  readonly scoreTokenIds: ReadonlyArray<number>
  /** The token ids the model sees for a prompt (after template and truncation). */
  readonly inputIds: (prompt: string) => ReadonlyArray<number>
  readonly score: (prompts: ReadonlyArray<string>) => Effect.Effect<Float64Array, Errors.PluginError>
}

export const make = (
  pluginId: string,
  template: Template.Template,
  scoreTokens: ReadonlyArray<string>,
  threshold: number,
  options: Options
): Effect.Effect<Backend, Errors.PluginError | Errors.MissingInputError | Errors.InputError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const modelFile = yield* OnnxSession.resolveModel(options.model)
    const tokenizer = yield* Tokenizer.load(
      yield* Tokenizer.locate(options.tokenizer, modelFile, options.model, "tokenizer"),
      "tokenizer"
    )
    const scoreTokenIds: Array<number> = []
    for (const token of scoreTokens) {
      const direct = tokenizer.tokenToId(token)
      const pieces = tokenizer.contentIds(token)
      const id = direct ?? (pieces.length === 1 ? pieces[0] : undefined)
      if (id === undefined) {
        return yield* new Errors.PluginError({
          pluginId,
          reason: `score token "${token}" is not one token of ${Path.basename(tokenizer.file)} (it encodes to ${pieces.length} tokens); ` +
            "set scoreTokens to tokens of this vocabulary"
        })
      }
      scoreTokenIds.push(id)
    }
    const session = yield* OnnxSession.make(pluginId, modelFile, options)
    const output = session.outputNames.includes("logits") ? "logits" : session.outputNames[0]!
    const maxLength = options.maxLength ?? tokenizer.modelMaxLength
    const encode = (text: string) => options.addSpecialTokens ? tokenizer.encodeFull(text) : tokenizer.contentIds(text)

    /** Trim the question (never the instructions) until the prompt fits, then cut from the left as a last resort. */
    const inputIds = (prompt: string): ReadonlyArray<number> => {
      let ids = encode(Template.render(template, prompt))
      if (ids.length > maxLength) {
        const question = tokenizer.contentIds(prompt.trim())
        const keep = Math.max(0, question.length - (ids.length - maxLength) - 1)
        ids = encode(Template.render(template, tokenizer.decode(question.slice(0, keep))))
      }
      return ids.length > maxLength ? ids.slice(ids.length - maxLength) : ids
    }

    const score = (prompts: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        // Left padding: every row's next-token logits are in the last column.
        const batch = Tokenizer.pad(prompts.map(inputIds), tokenizer.padId, "left")
        const result = yield* session.run(yield* OnnxSession.tokenFeeds(pluginId, session, batch))
        const tensor = result[output]!
        const data = OnnxSession.floatData(tensor)
        const dims = tensor.dims.map(Number)
        // [batch, tokens, vocabulary], or [batch, vocabulary] for exports that keep only the last position.
        const vocabulary = dims[dims.length - 1]!
        if (dims[0] !== prompts.length || (dims.length !== 3 && dims.length !== 2) || scoreTokenIds.some((id) => id >= vocabulary)) {
          return yield* new Errors.PluginError({
            pluginId,
            reason: `${modelFile}: output "${output}" has shape [${dims.join(", ")}]; expected [batch, tokens, vocabulary] covering the score token ids`
          })
        }
        const winRates = new Float64Array(prompts.length)
        const logits = new Float64Array(scoreTokenIds.length)
        for (let row = 0; row < prompts.length; row++) {
          const offset = dims.length === 3 ? (row * dims[1]! + dims[1]! - 1) * vocabulary : row * vocabulary
          scoreTokenIds.forEach((id, index) => {
            logits[index] = data[offset + id]!
          })
          winRates[row] = Scores.fromLogits(logits, threshold)
        }
        return winRates
      })

    return { provider: session.provider, scoreTokenIds, inputIds, score }
  })
