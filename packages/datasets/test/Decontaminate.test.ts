import { assert, describe, it } from "@effect/vitest"
import { ArtifactStore, Matrix, Plugin, PluginRegistry, Progress, type Records } from "@routellm/core"
import { Effect, Layer, Schema, Stream } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { evalDirectory, sharedData } from "../../../test/support/SharedData.ts"
import { Decontaminate, OutcomeBattles } from "../src/index.ts"

/** Hashed bag-of-words vectors: word order does not matter, shared words make texts similar. */
const testEmbedder = Plugin.embedder({
  id: "embedder/test-words",
  version: "1.0.0",
  description: "test only",
  config: Schema.Struct({}),
  make: () =>
    Effect.succeed({
      id: "embedder/test-words",
      fingerprint: "test-words-32",
      dimensions: 32,
      batchSize: 16,
      embed: (texts: ReadonlyArray<string>) =>
        Effect.sync(() => {
          const matrix = Matrix.make(texts.length, 32)
          texts.forEach((text, row) => {
            for (const word of text.toLowerCase().match(/[a-z]+/g) ?? []) {
              let hash = 7
              for (const char of word) hash = (hash * 31 + char.charCodeAt(0)) % 32
              matrix.data[row * 32 + hash]! += 1
            }
          })
          return matrix
        })
    })
})

const layer = Layer.mergeAll(
  PluginRegistry.PluginRegistry.layer([testEmbedder, Decontaminate.plugin, OutcomeBattles.plugin]),
  ArtifactStore.ArtifactStore.layerAt(Path.join(Os.tmpdir(), "routellm-decontaminate-store"))
)

const run = (raw: unknown, battles: ReadonlyArray<Records.Battle>, baseDirectory: string) =>
  Effect.gen(function*() {
    const config = yield* Plugin.decodeConfig(Decontaminate.plugin)(raw)
    const augmenter = yield* Decontaminate.plugin.make(
      config,
      Plugin.stepContext(Decontaminate.plugin, {
        stepId: "decontaminate",
        directory: baseDirectory,
        inputs: [],
        runDirectory: baseDirectory,
        baseDirectory
      })
    )
    return yield* augmenter.augment(Stream.fromIterable(battles))
  }).pipe(Effect.scoped, Effect.provide(layer), Effect.provideService(Progress.Reporter, Progress.silent))

const battle = (prompt: string, source: string): Records.Battle => ({ prompt, model_a: "x", model_b: "y", winner: "tie", source })

describe("augment/decontaminate", () => {
  it.live("drops exact, contained and similar prompts and counts them per source", () =>
    Effect.gen(function*() {
      const directory = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-decontaminate-")))
      const question = "Natalia sold clips to 48 of her friends in April, and then half as many in May. How many clips did she sell?"
      yield* Effect.promise(() =>
        Promise.all([
          Fs.writeFile(
            Path.join(directory, "math.jsonl"),
            [JSON.stringify({ question }), JSON.stringify({ prompt: "Name the capital of France." })].join("\n")
          ),
          Fs.writeFile(Path.join(directory, "chat.txt"), "Write a limerick about a cat who sails the seven seas at night\nhi\n")
        ])
      )
      const battles = [
        battle("name the   CAPITAL of france.", "a"), // exact after normalisation
        battle("name the   CAPITAL of france.", "a"),
        battle(`${question}\nThink step by step and put the answer in a box.`, "b"), // wraps an evaluation prompt
        battle("Write a limerick about a cat who sails", "b"), // contained, but shorter than 48 characters
        battle("At night, write a limerick about a cat who sails the seven seas!", "c"), // the same words, reordered
        battle("Explain how vaccines train the immune system.", "c")
      ]
      const files = ["math.jsonl", "chat.txt"]
      const textOnly = yield* run({ files }, battles, directory)
      assert.deepStrictEqual(textOnly.records.map((record) => record.prompt), battles.slice(3).map((record) => record.prompt))
      assert.deepStrictEqual(textOnly.report.droppedBattlesByMethod, { exact: 2, containment: 1 })
      assert.deepStrictEqual(textOnly.report.droppedBattlesByEvaluationSource, { "math.jsonl": 3 })
      assert.deepStrictEqual(textOnly.report.droppedBattlesByTrainingSource, { a: 2, b: 1 })
      assert.strictEqual(textOnly.report.droppedPrompts, 2)

      const withEmbeddings = yield* run({ files, embedder: "embedder/test-words", threshold: 0.99 }, battles, directory)
      assert.deepStrictEqual(withEmbeddings.report.droppedBattlesByMethod, { exact: 2, containment: 1, similarity: 1 })
      assert.deepStrictEqual(withEmbeddings.report.droppedBattlesByEvaluationSource, { "math.jsonl": 3, "chat.txt": 1 })
      assert.deepStrictEqual(withEmbeddings.records.map((record) => record.source), ["b", "c"])

      const none = yield* run({ files, exact: false, containment: false }, battles, directory)
      assert.strictEqual(none.records.length, battles.length)
    }))

  it.live("finds the GSM8K test questions inside LLMRouter's training prompts", () =>
    Effect.gen(function*() {
      const outcomes = yield* Plugin.decodeConfig(OutcomeBattles.plugin)({ dir: ".", sources: ["train/llmrouter/train.json"] })
      const dataset = yield* OutcomeBattles.plugin.make(outcomes, { baseDirectory: sharedData })
      const battles = yield* Stream.runCollect(dataset.records)
      const result = yield* run({ files: [Path.join(evalDirectory, "gsm8k", "gsm8k_responses.csv")] }, battles, sharedData)
      // Counted independently: 200 of the 5,608 prompts wrap a GSM8K test question; 36 model pairs each.
      assert.strictEqual(result.report.droppedPrompts, 200)
      assert.strictEqual(result.report.droppedBattles, 7200)
      assert.deepStrictEqual(result.report.droppedBattlesByEvaluationSource, { "gsm8k_responses.csv": 7200 })
      assert.strictEqual(result.records.length, battles.length - 7200)
    }).pipe(Effect.scoped, Effect.provide(layer)))
})
