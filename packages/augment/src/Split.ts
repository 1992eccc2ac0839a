/**
 * `augment/split`: keep one part of a seeded split by prompt text, the same
 * split `benchmark/outcomes` takes with its `split` option. A prompt is in the
 * test part when `Random.hashUniform(seed, prompt) < testFraction`, so a
 * pipeline trains on `part: train` of its sources and evaluates on the
 * benchmark's `split: { part: test }` with the same seed and fraction: no
 * prompt is on both sides, and every battle of one prompt lands on the same
 * side. The report counts kept and dropped battles and prompts per source.
 */
import { Outcomes as OutcomeTable } from "@routellm/benchmarks"
import { type Dataset, Plugin, type Records } from "@routellm/core"
import { Effect, Stream } from "effect"

export const id = "augment/split"

export const Config = OutcomeTable.Split.annotate({
  description:
    "Keep the train or the test part of a seeded split by prompt text (the split of benchmark/outcomes: hashUniform(seed, prompt) < testFraction is test); set part: train to train on what a split benchmark holds out"
})
export type Config = typeof Config.Type

export interface Counts {
  kept: number
  dropped: number
}

export interface Report {
  readonly part: "train" | "test"
  readonly seed: number
  readonly testFraction: number
  readonly battles: Counts
  readonly prompts: Counts
  /** Battles kept and dropped per battle `source` (`(unnamed)` for battles without one). */
  readonly bySource: Readonly<Record<string, Counts>>
}

/** The battles of `part`, with counts; each distinct prompt is hashed once. */
export const split = (battles: ReadonlyArray<Records.Battle>, config: Config): { readonly kept: Array<Records.Battle>; readonly report: Report } => {
  const sideOf = new Map<string, boolean>()
  const wantTest = config.part === "test"
  const kept: Array<Records.Battle> = []
  const bySource: Record<string, Counts> = {}
  const prompts: Counts = { kept: 0, dropped: 0 }
  for (const battle of battles) {
    let keep = sideOf.get(battle.prompt)
    if (keep === undefined) {
      keep = OutcomeTable.inTestPart(battle.prompt, config) === wantTest
      sideOf.set(battle.prompt, keep)
      if (keep) prompts.kept++
      else prompts.dropped++
    }
    const source = battle.source ?? "(unnamed)"
    const counts = bySource[source] ?? (bySource[source] = { kept: 0, dropped: 0 })
    if (keep) {
      kept.push(battle)
      counts.kept++
    } else counts.dropped++
  }
  return {
    kept,
    report: {
      part: config.part,
      seed: config.seed,
      testFraction: config.testFraction,
      battles: { kept: kept.length, dropped: battles.length - kept.length },
      prompts,
      bySource
    }
  }
}

export const plugin = Plugin.augmenter({
  id,
  version: "1.0.0",
  description: "Keep the train or test part of a seeded split by prompt (the split of benchmark/outcomes); counts kept/dropped per source",
  config: Config,
  make: (config) =>
    Effect.succeed({
      id,
      augment: (records: Stream.Stream<Records.Battle, Dataset.DatasetError>) =>
        Effect.map(Stream.runCollect(records), (battles) => {
          const result = split(battles, config)
          return { records: result.kept, report: { ...result.report } }
        })
    })
})
