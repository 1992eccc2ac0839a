import { assert, describe, it } from "@effect/vitest"
import { LengthRouter, PluginRegistry, Router } from "@routellm/core"
import { Effect, Schema } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { evalDirectory, trainDirectory } from "../../../test/support/SharedData.ts"

const decode = Schema.decodeUnknownSync(LengthRouter.Config)

/** First turns of MT Bench's questions and AlpacaEval's distinct instructions: real prompts of many lengths. */
const realPrompts = (): Array<string> => {
  const questions = Fs.readFileSync(Path.join(evalDirectory, "mt_bench", "question.jsonl"), "utf8")
    .split("\n").filter((line) => line.trim() !== "").map((line) => (JSON.parse(line) as { turns: Array<string> }).turns[0]!)
  // The first model's 805 judgements hold every AlpacaEval instruction once.
  const alpaca = new Set<string>()
  const lines = Fs.readFileSync(Path.join(trainDirectory, "alpaca_eval", "battles.jsonl"), "utf8").split("\n", 2000)
  for (const line of lines) if (line.trim() !== "") alpaca.add((JSON.parse(line) as { prompt: string }).prompt)
  return [...questions, ...alpaca]
}

describe("router/length", () => {
  it("counts characters as code points and words as runs of non-whitespace", () => {
    assert.strictEqual(LengthRouter.characters("abc"), 3)
    assert.strictEqual(LengthRouter.characters("\u{1F600}ab"), 3)
    assert.strictEqual(LengthRouter.characters("é"), 1)
    assert.strictEqual(LengthRouter.words("  one two\t\tthree\nfour  "), 4)
    assert.strictEqual(LengthRouter.words("   "), 0)
    assert.strictEqual(LengthRouter.words("a\u00a0b"), 2)
  })

  it.effect("win rate L^slope / (L^slope + midpoint^slope), by hand", () =>
    Effect.gen(function*() {
      const defaults = LengthRouter.make(decode({}))
      assert.strictEqual(yield* defaults.winRate(""), 0)
      assert.strictEqual(yield* defaults.winRate("x".repeat(500)), 0.5)
      assert.closeTo(yield* defaults.winRate("x".repeat(1500)), 1500 / 2000, 1e-12)
      assert.closeTo(yield* defaults.winRate("x".repeat(100)), 100 / 600, 1e-12)
      const steep = LengthRouter.make(decode({ midpoint: 500, slope: 2 }))
      assert.closeTo(yield* steep.winRate("x".repeat(1000)), 1e6 / (1e6 + 250_000), 1e-12)
      const byWords = LengthRouter.make(decode({ unit: "words", midpoint: 4 }))
      assert.strictEqual(yield* byWords.winRate("how are you today"), 0.5)
      assert.closeTo(yield* byWords.winRate("one two three four five six seven eight nine ten eleven twelve"), 12 / 16, 1e-12)
      // Words default to about the same length as 500 characters.
      assert.closeTo(yield* LengthRouter.make(decode({ unit: "words" })).winRate("word ".repeat(85)), 0.5, 1e-12)
      // No overflow on long texts with a steep slope: L^slope would be Infinity.
      const huge = yield* LengthRouter.make(decode({ slope: 200 })).winRate("x".repeat(100_000))
      assert.isTrue(Number.isFinite(huge) && huge > 0.99 && huge <= 1)
    }))

  it.effect("real prompts: monotone in length, in [0, 1), batched equals one by one, deterministic", () =>
    Effect.gen(function*() {
      const prompts = realPrompts()
      assert.isAbove(prompts.length, 800)
      for (const config of [decode({}), decode({ unit: "words", slope: 1.5 })]) {
        const router = LengthRouter.make(config)
        const scores = yield* Router.scoreAll(router, prompts, { batchSize: 97 })
        const single = yield* Effect.forEach(prompts, (prompt) => router.winRate(prompt))
        assert.deepStrictEqual([...scores], single)
        assert.deepStrictEqual([...(yield* Router.scoreAll(router, prompts))], [...scores])
        const length = LengthRouter.lengthOf(config.unit)
        const order = prompts.map((prompt, index) => ({ length: length(prompt), score: scores[index]! }))
          .sort((left, right) => left.length - right.length)
        for (let i = 0; i < order.length; i++) {
          assert.isTrue(order[i]!.score >= 0 && order[i]!.score < 1)
          if (i === 0) continue
          const previous = order[i - 1]!
          if (order[i]!.length > previous.length) assert.isTrue(order[i]!.score > previous.score)
          else assert.strictEqual(order[i]!.score, previous.score)
        }
      }
      // Routing at 0.5 sends exactly the prompts longer than the midpoint to the strong model.
      const router = LengthRouter.make(decode({}))
      const decisions = yield* Effect.forEach(prompts, (prompt) => Router.route(router, prompt, 0.5, { strong: "s", weak: "w" }))
      decisions.forEach((decision, index) => assert.strictEqual(decision.strong, LengthRouter.characters(prompts[index]!) >= 500))
    }))

  it.effect("config errors name the field", () =>
    Effect.gen(function*() {
      const registry = PluginRegistry.make([LengthRouter.plugin])
      const plugin = yield* registry.getKind("length", "router")
      assert.strictEqual(plugin.id, "router/length")
      for (const bad of [{ slope: 0 }, { midpoint: -3 }, { unit: "tokens" }]) {
        const error = yield* Effect.flip(PluginRegistry.decodeConfig(plugin, bad, "router length"))
        assert.include(error.message, Object.keys(bad)[0]!)
      }
    }))
})
