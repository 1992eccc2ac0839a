import { assert, describe, it } from "@effect/vitest"
import { Split } from "@routellm/augment"
import { Outcomes } from "@routellm/benchmarks"
import { ArtifactStore, Files, PluginRegistry, Random, type Records } from "@routellm/core"
import { OutcomeBattles } from "@routellm/datasets"
import { Effect, Schema, Stream } from "effect"
import * as Os from "node:os"
import * as Path from "node:path"
import { trainDirectory } from "../../../test/support/SharedData.ts"
import { runAugmenter, stepContext, temporaryDirectory } from "./Support.ts"

const sources = ["routerdc/gsm8k-train.json", "routerdc/mbpp.json"]

/** Golden-label battles of two RouterDC tables, read by dataset/outcome-battles. */
const realBattles = Effect.scoped(Effect.gen(function*() {
  const config = Schema.decodeUnknownSync(OutcomeBattles.Config)({ files: sources.map((file) => Path.join(trainDirectory, file)) })
  const dataset = yield* OutcomeBattles.plugin.make(config, { baseDirectory: trainDirectory })
  return yield* Stream.runCollect(dataset.records)
}))

const benchmarkPrompts = (file: string, split: unknown) =>
  Effect.scoped(Effect.map(
    Outcomes.make(Schema.decodeUnknownSync(Outcomes.Config)({ file: Path.join(trainDirectory, file), split }), { baseDirectory: trainDirectory }),
    (benchmark) => new Set(benchmark.rows.map((row) => row.prompt))
  ))

describe("augment/split", () => {
  it.live("keeps exactly the side of benchmark/outcomes' split, per prompt, and counts per source", () =>
    Effect.scoped(Effect.gen(function*() {
      const root = yield* temporaryDirectory("split")
      const battles = yield* realBattles
      assert.isAbove(battles.length, 20_000)
      const split = { seed: 7, testFraction: 0.3 }
      const test = yield* runAugmenter(Split.plugin, { ...split, part: "test" }, stepContext(root), root, battles)
      const train = yield* runAugmenter(Split.plugin, { ...split, part: "train" }, stepContext(root), root, battles)
      assert.strictEqual(test.records.length + train.records.length, battles.length)
      const testPrompts = new Set(test.records.map((battle) => battle.prompt))
      const trainPrompts = new Set(train.records.map((battle) => battle.prompt))
      for (const prompt of testPrompts) assert.isFalse(trainPrompts.has(prompt))

      // The benchmark's held-out rows are exactly the prompts whose battles the test part keeps.
      for (const file of sources) {
        const heldOut = yield* benchmarkPrompts(file, { ...split, part: "test" })
        const kept = yield* benchmarkPrompts(file, { ...split, part: "train" })
        const source = file
        const testOfSource = new Set(test.records.filter((battle) => battle.source === source).map((battle) => battle.prompt))
        const trainOfSource = new Set(train.records.filter((battle) => battle.source === source).map((battle) => battle.prompt))
        assert.isAbove(heldOut.size, 100)
        assert.deepStrictEqual([...heldOut].filter((prompt) => !testOfSource.has(prompt)), [])
        assert.deepStrictEqual([...kept].filter((prompt) => !trainOfSource.has(prompt)), [])
        assert.deepStrictEqual([...heldOut].filter((prompt) => trainOfSource.has(prompt)), [])
      }

      // Counts by the definition: hashUniform(seed, prompt) < testFraction is the test part.
      const expected: Record<string, { kept: number; dropped: number }> = {}
      for (const battle of battles) {
        const entry = expected[battle.source!] ?? (expected[battle.source!] = { kept: 0, dropped: 0 })
        if (Random.hashUniform(7, battle.prompt) < 0.3) entry.kept++
        else entry.dropped++
      }
      const report = test.report as unknown as Split.Report
      assert.deepStrictEqual(report.bySource, expected)
      assert.deepStrictEqual(Object.keys(report.bySource).sort(), [...sources].sort())
      assert.deepStrictEqual(report.battles, { kept: test.records.length, dropped: train.records.length })
      const distinct = new Set(battles.map((battle) => battle.prompt)).size
      assert.deepStrictEqual(report.prompts, { kept: testPrompts.size, dropped: distinct - testPrompts.size })
      assert.closeTo(testPrompts.size / distinct, 0.3, 0.04)
      assert.deepStrictEqual((train.report as unknown as Split.Report).bySource[sources[0]!], {
        kept: expected[sources[0]!]!.dropped,
        dropped: expected[sources[0]!]!.kept
      })
    })).pipe(
      Effect.provide([ArtifactStore.ArtifactStore.layerAt(Path.join(Os.tmpdir(), "routellm-split-test-store")), PluginRegistry.PluginRegistry.layer([])]),
      Effect.provide(Files.layer)
    ))

  it.live("RouterBench: the benchmark splits and routes the first turn, the text the battles carry, so no held-out prompt is trained on", () =>
    Effect.scoped(Effect.gen(function*() {
      const root = yield* temporaryDirectory("split-routerbench")
      const file = "routerbench/arc_challenge_train.csv"
      const config = Schema.decodeUnknownSync(OutcomeBattles.Config)({ files: [Path.join(trainDirectory, file)] })
      const dataset = yield* OutcomeBattles.plugin.make(config, { baseDirectory: trainDirectory })
      const battles = yield* Stream.runCollect(dataset.records)
      const split = { seed: 0, testFraction: 0.2 }
      const train = yield* runAugmenter(Split.plugin, { ...split, part: "train" }, stepContext(root), root, battles)
      const trained = new Set(train.records.map((battle) => battle.prompt))
      const heldOut = yield* benchmarkPrompts(file, { ...split, part: "test" })
      assert.isAbove(heldOut.size, 150)
      // RouterBench stores ['...'] lists; both sides read the first turn.
      for (const prompt of heldOut) assert.isFalse(prompt.startsWith("['"))
      assert.deepStrictEqual([...heldOut].filter((prompt) => trained.has(prompt)), [])
      const allPrompts = new Set(battles.map((battle) => battle.prompt))
      assert.deepStrictEqual([...heldOut].filter((prompt) => !allPrompts.has(prompt)), [])
      // Read verbatim, the benchmark's text is not the battles' text at all.
      const verbatim = yield* Effect.scoped(Effect.map(
        Outcomes.make(
          Schema.decodeUnknownSync(Outcomes.Config)({ file: Path.join(trainDirectory, file), split: { ...split, part: "test" }, promptTurns: "verbatim" }),
          { baseDirectory: trainDirectory }
        ),
        (benchmark) => benchmark.rows.map((row) => row.prompt)
      ))
      assert.isTrue(verbatim.every((prompt) => prompt.startsWith("[") && !allPrompts.has(prompt)))
    })).pipe(
      Effect.provide([ArtifactStore.ArtifactStore.layerAt(Path.join(Os.tmpdir(), "routellm-split-test-store")), PluginRegistry.PluginRegistry.layer([])]),
      Effect.provide(Files.layer)
    ))

  it.effect("has Outcomes' Split defaults and names a bad field", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(Schema.decodeUnknownSync(Split.Config)({}), Schema.decodeUnknownSync(Outcomes.Split)({}))
      assert.deepStrictEqual(Schema.decodeUnknownSync(Split.Config)({}), { seed: 0, testFraction: 0.2, part: "test" })
      const battle: Records.Battle = { prompt: "p", model_a: "a", model_b: "b", winner: "tie" }
      // Unnamed sources are counted under one key.
      const result = Split.split([battle, battle], { seed: 0, testFraction: 1, part: "test" })
      assert.deepStrictEqual(result.report.bySource, { "(unnamed)": { kept: 2, dropped: 0 } })
      assert.deepStrictEqual(result.report.prompts, { kept: 1, dropped: 0 })
      for (const bad of [{ testFraction: 1.5 }, { part: "validation" }, { seed: 0.5 }]) {
        const error = yield* Effect.flip(PluginRegistry.decodeConfig(Split.plugin, bad, "step split"))
        assert.include(error.message, Object.keys(bad)[0]!)
      }
    }))
})
