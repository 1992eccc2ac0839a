import { assert, describe, it } from "@effect/vitest"
import { AlpacaEval, Evaluate } from "@routellm/benchmarks"
import { ArtifactStore, Files, PluginRegistry, Progress, Random, Settings } from "@routellm/core"
import { Effect, Layer, Schema } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { sharedData, trainDirectory } from "../../../test/support/SharedData.ts"

const decode = Schema.decodeUnknownSync(AlpacaEval.Config)
const context = { baseDirectory: process.cwd() }
const battlesFile = Path.join(trainDirectory, "alpaca_eval", "battles.jsonl")

const store = Layer.mergeAll(
  ArtifactStore.ArtifactStore.layerAt(Fs.mkdtempSync(Path.join(Os.tmpdir(), "routellm-alpaca-benchmark-"))),
  PluginRegistry.PluginRegistry.layer([]),
  Files.layer
)

/** Real judgements of three models against gpt4_1106_preview and one against text_davinci_003, to keep the other cases small. */
const subset = () => {
  const file = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "routellm-alpaca-subset-")), "battles.jsonl")
  const keep = /"model_2": "(Mixtral-8x7B-Instruct-v0\.1|vicuna-7b-v1\.5|gpt-3\.5-turbo-1106|gpt-3\.5-turbo-0301)"/
  Fs.writeFileSync(file, Fs.readFileSync(battlesFile, "utf8").split("\n").filter((line) => keep.test(line)).join("\n") + "\n")
  return file
}

const mean = (values: ReadonlyArray<number>) => values.reduce((sum, value) => sum + value, 0) / values.length

describe("benchmark/alpaca-eval", () => {
  it.effect("GPT-4 Turbo vs Mixtral by default: 805 prompts, the mean preference for GPT-4 Turbo of both annotators", () =>
    Effect.gen(function*() {
      // ROUTELLM_DATA_DIR (the data root) locates the file, like dataset/alpaca-eval.
      const benchmark = yield* AlpacaEval.make(decode({}), context).pipe(
        Effect.provideService(Settings.Settings, { ...Settings.fromEnvironment(), dataDirectory: sharedData })
      )
      assert.strictEqual(benchmark.strongModel, "gpt-4-1106-preview")
      assert.strictEqual(benchmark.weakModel, "mixtral-8x7b-instruct-v0.1")
      assert.strictEqual(benchmark.rows.length, 805)
      assert.strictEqual(benchmark.dropped, 0)
      // 1,610 judgements (two annotators per prompt): 1,265 won by GPT-4 Turbo, 343 by Mixtral, 2 ties.
      const strong = benchmark.rows.map((row) => row.scores["gpt-4-1106-preview"]!)
      assert.closeTo(mean(strong), (1265 + 0.5 * 2) / 1610, 1e-12)
      for (const row of benchmark.rows) assert.closeTo(row.scores["gpt-4-1106-preview"]! + row.scores["mixtral-8x7b-instruct-v0.1"]!, 1, 1e-12)
      const byDir = yield* AlpacaEval.make(decode({ dir: sharedData }), context)
      assert.strictEqual(byDir.fingerprint, benchmark.fingerprint)

      // Both baselines are evaluated on it; the scores read as percentages.
      const report = yield* Evaluate.evaluate(benchmark, [], context, { seeds: 10 })
      assert.deepStrictEqual(report.routers.map((router) => router.name), ["random", "length"])
      assert.closeTo(report.strongScore, 100 * (1266 / 1610), 1e-9)
      assert.closeTo(report.weakScore, 100 - 100 * (1266 / 1610), 1e-9)
    }).pipe(Effect.provide(store), Effect.provideService(Progress.Reporter, Progress.silent)))

  it.effect("fractional preferences scale linearly, annotators filter, the split is benchmark/outcomes' split", () =>
    Effect.gen(function*() {
      const file = subset()
      // Vicuna 7B's judgements are fractional: the first prompt's two are both 1.0000748462 (GPT-4 Turbo all but sure).
      const vicuna = yield* AlpacaEval.make(decode({ file, weak: "vicuna-7b-v1.5" }), context)
      const prompt = "\"I am trying to win over a new client for my writing service"
      const row = vicuna.rows.find((entry) => entry.prompt.startsWith(prompt))!
      assert.closeTo(row.scores["gpt-4-1106-preview"]!, 2 - 1.0000748462, 1e-12)
      assert.closeTo(mean(vicuna.rows.map((entry) => entry.scores["gpt-4-1106-preview"]!)), 0.9520250606083224, 1e-9)

      const oneJudge = yield* AlpacaEval.make(decode({ file, annotators: ["alpaca_eval_gpt4_turbo_fn"] }), context)
      assert.strictEqual(oneJudge.rows.length, 805)
      // 805 judgements by this annotator: 621.5 won by GPT-4 Turbo, counting ties half.
      assert.closeTo(mean(oneJudge.rows.map((entry) => entry.scores["gpt-4-1106-preview"]!)), 621.5 / 805, 1e-12)

      const all = yield* AlpacaEval.make(decode({ file }), context)
      const test = yield* AlpacaEval.make(decode({ file, split: { seed: 4, testFraction: 0.25, part: "test" } }), context)
      const train = yield* AlpacaEval.make(decode({ file, split: { seed: 4, testFraction: 0.25, part: "train" } }), context)
      assert.deepStrictEqual(
        test.rows.map((entry) => entry.prompt).sort(),
        all.rows.map((entry) => entry.prompt).filter((text) => Random.hashUniform(4, text) < 0.25).sort()
      )
      assert.strictEqual(test.rows.length + train.rows.length, 805)
      assert.notStrictEqual(test.fingerprint, train.fingerprint)

      // text_davinci_003 is the other baseline: GPT-3.5 Turbo 0301 is judged against it.
      const davinci = yield* AlpacaEval.make(decode({ file, strong: "text-davinci-003", weak: "gpt-3.5-turbo-0301" }), context)
      assert.strictEqual(davinci.strongModel, "text-davinci-003")
      assert.strictEqual(davinci.rows.length, 804)
    }).pipe(Effect.provide(store)))

  it.effect("a strong model that is no baseline, or a weak model not judged against it, fails naming the models", () =>
    Effect.gen(function*() {
      const file = subset()
      const notBaseline = yield* Effect.flip(AlpacaEval.make(decode({ file, strong: "Mixtral-8x7B-Instruct-v0.1", weak: "vicuna-7b-v1.5" }), context))
      assert.include(notBaseline.message, "field \"strong\"")
      assert.include(notBaseline.message, "gpt4_1106_preview")
      assert.include(notBaseline.message, "text_davinci_003")
      const nearMiss = yield* Effect.flip(AlpacaEval.make(decode({ file, weak: "gpt-3.5-turbo" }), context))
      assert.include(nearMiss.message, "field \"weak\"")
      assert.include(nearMiss.message, "\"gpt-3.5-turbo-1106\"")
      assert.include(nearMiss.message, "different model")
      const same = yield* Effect.flip(AlpacaEval.make(decode({ file, weak: "gpt-4-1106-preview" }), context))
      assert.include(same.message, "same model")
      const noJudge = yield* Effect.flip(AlpacaEval.make(decode({ file, annotators: ["nobody"] }), context))
      assert.include(noJudge.message, "no valid judgement")
      const missing = yield* Effect.flip(
        AlpacaEval.make(decode({}), context).pipe(
          Effect.provideService(Settings.Settings, { ...Settings.fromEnvironment(), dataDirectory: undefined })
        )
      )
      assert.include(missing.message, "ROUTELLM_DATA_DIR")
    }).pipe(Effect.provide(store)))
})
