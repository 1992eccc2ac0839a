/**
 * `dataset/pandalm`: PandaLM's human-annotated test set
 * (`train/pandalm/testset-v1.json`): pairwise votes of three annotators
 * between five 7B models. Each annotator votes 0 (tie), 1 (response1) or 2
 * (response2); a bare `NaN` (invalid JSON the source may contain) is a missing
 * vote. The battle's winner is the label most annotators gave; without a
 * majority the battle is a tie.
 */
import { Plugin, type Records } from "@routellm/core"
import { Effect, Schema } from "effect"
import * as Source from "./internal/Source.ts"

export const id = "dataset/pandalm"
export const relativePath = "train/pandalm/testset-v1.json"

export const Config = Schema.Struct({
  file: Source.FileOption,
  dir: Source.DirectoryOption,
  onInvalid: Source.OnInvalid,
  noMajority: Schema.Literals(["tie", "drop"]).pipe(Schema.withDecodingDefaultKey(Effect.succeed("tie" as const))).annotate({
    description: "What a battle without a majority label becomes: a tie, or dropped"
  })
}).annotate({ description: "PandaLM human pairwise votes (3 annotators, majority label)" })
export type Config = typeof Config.Type

const Vote = Schema.NullOr(Schema.Literals([0, 1, 2]))

const Row = Schema.Struct({
  instruction: Schema.NonEmptyString,
  input: Schema.optionalKey(Schema.NullOr(Schema.String)),
  cmp_key: Schema.String.check(Schema.isPattern(/^[^_]+_[^_]+$/, { expected: "modelA_modelB" })),
  annotator1: Vote,
  annotator2: Vote,
  annotator3: Vote
})

const decodeRow = Source.decodeRow(Row)

/** The routed prompt: the instruction, then the input when there is one. */
export const promptOf = (instruction: string, input: string | null | undefined): string =>
  input === null || input === undefined || input.trim() === "" ? instruction : `${instruction}\n\n${input}`

/** The label more than half of the present votes agree on, or undefined. */
export const majority = (votes: ReadonlyArray<0 | 1 | 2 | null>): 0 | 1 | 2 | undefined => {
  const present = votes.filter((vote): vote is 0 | 1 | 2 => vote !== null)
  for (const label of [0, 1, 2] as const) {
    if (present.filter((vote) => vote === label).length * 2 > present.length) return label
  }
  return undefined
}

const winnerOf: Record<0 | 1 | 2, Records.Winner> = { 0: "tie", 1: "model_a", 2: "model_b" }

export const read = (file: string, config: Config, invalid: Source.InvalidRows) =>
  Effect.gen(function*() {
    const rows = yield* Source.readJsonArray(file, { allowNaN: true })
    const battles: Array<Records.Battle> = []
    for (const row of rows) {
      const decoded = decodeRow(row.value)
      if ("reason" in decoded) {
        yield* invalid.report(file, row.line, decoded.reason)
        continue
      }
      const vote = decoded.value
      const votes = [vote.annotator1, vote.annotator2, vote.annotator3]
      if (votes.every((value) => value === null)) {
        yield* invalid.report(file, row.line, "no annotator gave a valid vote")
        continue
      }
      const label = majority(votes)
      if (label === undefined && config.noMajority === "drop") continue
      const [first, second] = vote.cmp_key.split("_") as [string, string]
      battles.push({
        prompt: promptOf(vote.instruction, vote.input),
        model_a: Source.model(first),
        model_b: Source.model(second),
        winner: label === undefined ? "tie" : winnerOf[label],
        source: "pandalm"
      })
    }
    return battles
  })

export const plugin = Plugin.dataset({
  id,
  version: "1.0.0",
  description: "PandaLM human pairwise votes between five 7B models (train/pandalm/testset-v1.json), majority of three annotators",
  config: Config,
  fingerprint: (config, context) =>
    Effect.flatMap(
      Source.resolveFile(config, context, relativePath),
      (file) => Source.fingerprintFiles(id, [file], { noMajority: config.noMajority })
    ),
  make: (config, context) =>
    Effect.gen(function*() {
      const file = yield* Source.resolveFile(config, context, relativePath)
      const fingerprint = yield* Source.fingerprintFiles(id, [file], { noMajority: config.noMajority })
      return yield* Source.makeDataset(id, fingerprint, config.onInvalid, (invalid) => read(file, config, invalid))
    })
})
