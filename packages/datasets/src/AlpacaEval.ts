/**
 * `dataset/alpaca-eval`: AlpacaEval's GPT-4 / GPT-4-Turbo judge annotations
 * as battles (`train/alpaca_eval/battles.jsonl`).
 *
 * `preference` is 1 when model_1 wins, 2 when model_2 wins, values in between
 * are the judge's probability-weighted preference (1.5 is a tie) and 0 marks
 * an invalid judgement. The source keeps two quirks that are not battles:
 * `model_2 = example` (a placeholder entry) and a baseline against itself;
 * both are dropped along with invalid judgements.
 */
import { Files, Plugin, type Records } from "@routellm/core"
import { Effect, Schema } from "effect"
import * as Source from "./internal/Source.ts"

export const id = "dataset/alpaca-eval"
export const relativePath = "train/alpaca_eval/battles.jsonl"

export const Config = Schema.Struct({
  file: Source.FileOption,
  dir: Source.DirectoryOption,
  onInvalid: Source.OnInvalid,
  weighting: Schema.Literals(["nearest", "fractional"]).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed("nearest" as const))
  ).annotate({
    description:
      "nearest: one battle per judgement, won by the side the preference leans to (exactly 1.5 is a tie); fractional: a preference p becomes a win of model_2 with weight p-1 and a win of model_1 with weight 2-p"
  }),
  annotators: Schema.optionalKey(
    Schema.Array(Schema.String).annotate({ description: "Keep only judgements by these annotators (e.g. alpaca_eval_gpt4_turbo_fn)" })
  )
}).annotate({ description: "AlpacaEval judge battles (GPT-4 / GPT-4-Turbo annotators, 805 prompts, 100+ models)" })
export type Config = typeof Config.Type

const Row = Schema.Struct({
  prompt: Schema.NonEmptyString,
  model_1: Schema.NonEmptyString,
  model_2: Schema.NonEmptyString,
  preference: Schema.Finite.check(
    Schema.makeFilter((value: number) => value === 0 || (value >= 1 && value <= 2), {
      expected: "0 (invalid judgement) or a preference in [1, 2]"
    })
  ),
  annotator: Schema.optionalKey(Schema.String)
})

const decodeRow = Source.decodeRow(Row)

/** The model name AlpacaEval uses for its placeholder entry. */
export const placeholderModel = "example"

const tieTolerance = 1e-9

export interface Counts {
  invalidJudgements: number
  placeholders: number
  selfBattles: number
  otherAnnotators: number
}

/** Battles of one judgement; empty when the row is not a battle. */
export const battlesOf = (
  row: { readonly prompt: string; readonly model_1: string; readonly model_2: string; readonly preference: number },
  weighting: Config["weighting"]
): Array<Records.Battle> => {
  const modelA = Source.model(row.model_1)
  const modelB = Source.model(row.model_2)
  const base = { prompt: row.prompt, model_a: modelA, model_b: modelB, source: "alpaca-eval" }
  const leaning = row.preference - 1.5
  if (weighting === "nearest" || Math.abs(leaning) < tieTolerance) {
    const winner = Math.abs(leaning) < tieTolerance ? "tie" : leaning < 0 ? "model_a" : "model_b"
    return [{ ...base, winner }]
  }
  const battles: Array<Records.Battle> = []
  if (row.preference < 2) battles.push({ ...base, winner: "model_a", weight: 2 - row.preference })
  if (row.preference > 1) battles.push({ ...base, winner: "model_b", weight: row.preference - 1 })
  return battles
}

export const read = (file: string, config: Config, invalid: Source.InvalidRows, counts?: Counts) =>
  Effect.gen(function*() {
    const { rows, invalid: unparsable } = yield* Files.readJsonl(file, { field: "file", onInvalid: "skip" })
    for (const row of unparsable) yield* invalid.report(file, row.line, row.reason)
    const annotators = config.annotators === undefined ? undefined : new Set(config.annotators)
    const battles: Array<Records.Battle> = []
    for (const row of rows) {
      const decoded = decodeRow(row.value)
      if ("reason" in decoded) {
        yield* invalid.report(file, row.line, decoded.reason)
        continue
      }
      const judgement = decoded.value
      if (annotators !== undefined && !annotators.has(judgement.annotator ?? "")) {
        if (counts) counts.otherAnnotators++
        continue
      }
      if (judgement.preference === 0) {
        if (counts) counts.invalidJudgements++
        continue
      }
      if (judgement.model_2 === placeholderModel || judgement.model_1 === placeholderModel) {
        if (counts) counts.placeholders++
        continue
      }
      if (Source.model(judgement.model_1) === Source.model(judgement.model_2)) {
        if (counts) counts.selfBattles++
        continue
      }
      battles.push(...battlesOf(judgement, config.weighting))
    }
    return battles
  })

const options = (config: Config) => ({ weighting: config.weighting, annotators: config.annotators })

export const plugin = Plugin.dataset({
  id,
  version: "1.0.0",
  description: "AlpacaEval judge battles (train/alpaca_eval/battles.jsonl); drops invalid judgements, the 'example' placeholder and self-battles",
  config: Config,
  fingerprint: (config, context) =>
    Effect.flatMap(Source.resolveFile(config, context, relativePath), (file) => Source.fingerprintFiles(id, [file], options(config))),
  make: (config, context) =>
    Effect.gen(function*() {
      const file = yield* Source.resolveFile(config, context, relativePath)
      const fingerprint = yield* Source.fingerprintFiles(id, [file], options(config))
      return yield* Source.makeDataset(id, fingerprint, config.onInvalid, (invalid) => read(file, config, invalid))
    })
})
