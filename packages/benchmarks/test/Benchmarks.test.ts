import { assert, describe, it } from "@effect/vitest"
import { Gsm8k, Metrics, Mmlu, MtBench, Outcomes } from "@routellm/benchmarks"
import { ArtifactStore, type Benchmark, Settings } from "@routellm/core"
import { Effect, Schema } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { evalDirectory, sharedData, trainDirectory } from "../../../test/support/SharedData.ts"

const context = { baseDirectory: process.cwd() }
const store = ArtifactStore.ArtifactStore.layerAt(Path.join(Os.tmpdir(), "routellm-benchmarks-test"))

const decode = <A>(schema: Schema.Decoder<A>, value: unknown) => Schema.decodeUnknownSync(schema as Schema.Codec<A, unknown>)(value)

const scoreOf = (benchmark: Benchmark.BenchmarkShape, model: string) => Metrics.modelScore(Float64Array.from(benchmark.rows, (row) => row.scores[model]!))

describe("RouteLLM evaluation sets (real files)", () => {
  it.effect("MMLU: 14,037 prompts after decontamination, GPT-4 80.587%, Mixtral 68.091%", () =>
    Effect.gen(function*() {
      const mmlu = yield* Mmlu.make(decode(Mmlu.Config, { dir: evalDirectory }), context)
      assert.strictEqual(mmlu.rows.length, 14037)
      assert.strictEqual(mmlu.dropped, 5)
      assert.strictEqual(mmlu.strongModel, "gpt-4-1106-preview")
      assert.strictEqual(mmlu.weakModel, "mixtral-8x7b-instruct-v0.1")
      assert.strictEqual((scoreOf(mmlu, mmlu.strongModel) * 100).toFixed(3), "80.587")
      assert.strictEqual((scoreOf(mmlu, mmlu.weakModel) * 100).toFixed(3), "68.091")
      const all = yield* Mmlu.make(decode(Mmlu.Config, { dir: evalDirectory, decontaminate: false }), context)
      assert.strictEqual(all.rows.length, 14042)
      assert.notStrictEqual(all.fingerprint, mmlu.fingerprint)
    }).pipe(Effect.provide(store)))

  it.effect("GSM8K: 1,307 prompts, GPT-4 85.769%, Mixtral 63.734%, with output lengths", () =>
    Effect.gen(function*() {
      const gsm8k = yield* Gsm8k.make(decode(Gsm8k.Config, { dir: evalDirectory }), context)
      assert.strictEqual(gsm8k.rows.length, 1307)
      assert.strictEqual(gsm8k.dropped, 12)
      assert.strictEqual((scoreOf(gsm8k, gsm8k.strongModel) * 100).toFixed(3), "85.769")
      assert.strictEqual((scoreOf(gsm8k, gsm8k.weakModel) * 100).toFixed(3), "63.734")
      const tokens = gsm8k.details?.outputTokens?.[gsm8k.strongModel]
      assert.strictEqual(tokens?.length, 1307)
      assert.isTrue(tokens!.every((count) => count > 0))
    }).pipe(Effect.provide(store)))

  it.effect("MT Bench: 72 questions routed on the first turn, mean grade 9.2118 / 8.2813", () =>
    Effect.gen(function*() {
      const mtBench = yield* MtBench.make(decode(MtBench.Config, { dir: evalDirectory }), context)
      assert.strictEqual(mtBench.rows.length, 72)
      assert.strictEqual(mtBench.dropped, 8)
      assert.strictEqual(scoreOf(mtBench, mtBench.strongModel).toFixed(4), "9.2118")
      assert.strictEqual(scoreOf(mtBench, mtBench.weakModel).toFixed(4), "8.2813")
      const questions = (yield* Effect.promise(() => Fs.readFile(Path.join(evalDirectory, "mt_bench/question.jsonl"), "utf8")))
        .trim().split("\n").map((line) => JSON.parse(line) as { turns: Array<string> })
      const firstTurns = new Set(questions.map((question) => question.turns[0]))
      assert.isTrue(mtBench.rows.every((row) => firstTurns.has(row.prompt)))
    }).pipe(Effect.provide(store)))

  it.effect("reads ROUTELLM_DATA_DIR when no dir is given, and accepts the data root or the benchmark folder", () =>
    Effect.gen(function*() {
      const viaSettings = yield* Gsm8k.make(decode(Gsm8k.Config, {}), context).pipe(
        Effect.provideService(Settings.Settings, { ...Settings.fromEnvironment(), dataDirectory: sharedData })
      )
      const viaFolder = yield* Gsm8k.make(decode(Gsm8k.Config, { dir: Path.join(evalDirectory, "gsm8k") }), context)
      assert.strictEqual(viaSettings.rows.length, 1307)
      assert.strictEqual(viaSettings.fingerprint, viaFolder.fingerprint)
    }).pipe(Effect.provide(store)))

  it.effect("a model missing from the data fails with the models it has", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Gsm8k.make(decode(Gsm8k.Config, { dir: evalDirectory, strong: "claude-2" }), context))
      assert.include(error.message, "claude-2")
      assert.include(error.message, "gpt-4-1106-preview")
    }).pipe(Effect.provide(store)))
})

describe("benchmark/outcomes", () => {
  it.effect("RouterBench CSV: model columns by alias, recorded costs and output lengths", () =>
    Effect.gen(function*() {
      const file = Path.join(trainDirectory, "routerbench/mbpp_train.csv")
      const outcomes = yield* Outcomes.make(decode(Outcomes.Config, { file }), context)
      assert.strictEqual(outcomes.strongModel, "gpt-4-1106-preview")
      assert.strictEqual(outcomes.weakModel, "mixtral-8x7b-instruct-v0.1")
      assert.strictEqual(outcomes.models.length, 11)
      assert.strictEqual(outcomes.rows.length + outcomes.dropped, 299)
      assert.isTrue(outcomes.rows.every((row) => row.scores[outcomes.strongModel] === 0 || row.scores[outcomes.strongModel] === 1))
      assert.strictEqual(outcomes.details?.recordedCosts?.[outcomes.strongModel]?.length, outcomes.rows.length)
      assert.strictEqual(outcomes.scoreLabel, "accuracy")
    }).pipe(Effect.provide(store)))

  it.effect("LLMRouter JSON: all models kept, best/worst pair by default, seeded split by prompt", () =>
    Effect.gen(function*() {
      const file = Path.join(trainDirectory, "llmrouter/test.json")
      const all = yield* Outcomes.make(decode(Outcomes.Config, { file }), context)
      assert.strictEqual(all.models.length, 9)
      assert.strictEqual(all.rows.length + all.dropped, 500)
      const means = all.models.map((model) => scoreOf(all, model))
      assert.strictEqual(scoreOf(all, all.strongModel), Math.max(...means))
      assert.strictEqual(scoreOf(all, all.weakModel), Math.min(...means))
      const test = yield* Outcomes.make(decode(Outcomes.Config, { file, split: { seed: 1, testFraction: 0.3 } }), context)
      const train = yield* Outcomes.make(decode(Outcomes.Config, { file, split: { seed: 1, testFraction: 0.3, part: "train" } }), context)
      assert.strictEqual(test.rows.length + train.rows.length, all.rows.length)
      const trainPrompts = new Set(train.rows.map((row) => row.prompt))
      assert.isTrue(test.rows.every((row) => !trainPrompts.has(row.prompt)))
      assert.isTrue(test.rows.length > 100 && test.rows.length < 200, `test part ${test.rows.length}`)
      assert.notStrictEqual(test.fingerprint, train.fingerprint)
    }).pipe(Effect.provide(store)))
})
