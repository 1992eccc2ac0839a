import { assert, describe, it } from "@effect/vitest"
import { Reweight } from "@routellm/augment"
import { ArtifactStore, Files, PluginRegistry, type Records } from "@routellm/core"
import { AlpacaEval, OutcomeBattles } from "@routellm/datasets"
import { Effect, Schema, Stream } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { trainDirectory } from "../../../test/support/SharedData.ts"
import { runAugmenter, stepContext, temporaryDirectory } from "./Support.ts"

const collect = <C>(plugin: { readonly config: Schema.Codec<C, any>; readonly make: (config: C, context: { baseDirectory: string }) => any }, raw: unknown) =>
  Effect.scoped(Effect.gen(function*() {
    const dataset = yield* (plugin.make(Schema.decodeUnknownSync(plugin.config)(raw), { baseDirectory: trainDirectory }) as Effect.Effect<
      { readonly records: Stream.Stream<Records.Battle, unknown> }
    >)
    return yield* Stream.runCollect(dataset.records)
  }))

/**
 * AlpacaEval's judgements of Mixtral and Vicuna 7B (whose judge preferences
 * are fractional) read as fractional battles, two RouterDC tables and
 * RouterBench's MBPP.
 */
const realBattles = (root: string) =>
  Effect.gen(function*() {
    const file = Path.join(root, "alpaca-subset.jsonl")
    const lines = Fs.readFileSync(Path.join(trainDirectory, "alpaca_eval", "battles.jsonl"), "utf8").split("\n")
    Fs.writeFileSync(file, lines.filter((line) => /"model_2": "(Mixtral-8x7B-Instruct-v0\.1|vicuna-7b-v1\.5)"/.test(line)).join("\n") + "\n")
    const alpaca = yield* collect(AlpacaEval.plugin, { file, weighting: "fractional" })
    const outcomes = yield* collect(OutcomeBattles.plugin, {
      files: ["routerdc/mbpp.json", "routerdc/gsm8k-train.json", "routerbench/mbpp_train.csv"].map((file) => Path.join(trainDirectory, file))
    })
    return [...alpaca, ...outcomes]
  })

const totalsBySource = (battles: ReadonlyArray<Records.Battle>) => {
  const totals: Record<string, number> = {}
  for (const battle of battles) totals[battle.source!] = (totals[battle.source!] ?? 0) + (battle.weight ?? 1)
  return totals
}

const services = <A, E>(effect: Effect.Effect<A, E, any>) =>
  effect.pipe(
    Effect.provide([ArtifactStore.ArtifactStore.layerAt(Path.join(Os.tmpdir(), "routellm-reweight-test-store")), PluginRegistry.PluginRegistry.layer([])]),
    Effect.provide(Files.layer)
  ) as Effect.Effect<A, E>

const sources = ["alpaca-eval", "routerbench/mbpp_train.csv", "routerdc/gsm8k-train.json", "routerdc/mbpp.json"]

describe("augment/reweight", () => {
  it.live("balance: family makes each family's total weight equal, keeps the sum and AlpacaEval's fractional weights as a factor", () =>
    services(Effect.scoped(Effect.gen(function*() {
      const root = yield* temporaryDirectory("reweight")
      const battles = yield* realBattles(root)
      const before = totalsBySource(battles)
      assert.deepStrictEqual(Object.keys(before).sort(), sources)
      // AlpacaEval's fractional preferences carry weights below 1.
      assert.isTrue(battles.some((battle) => battle.source === "alpaca-eval" && battle.weight !== undefined && battle.weight < 1))
      const sum = Object.values(before).reduce((total, value) => total + value, 0)

      const result = yield* runAugmenter(Reweight.plugin, { balance: "family" }, stepContext(root), root, battles)
      assert.strictEqual(result.records.length, battles.length)
      const after = totalsBySource(result.records)
      const families = {
        "alpaca-eval": after["alpaca-eval"]!,
        routerbench: after["routerbench/mbpp_train.csv"]!,
        routerdc: after["routerdc/gsm8k-train.json"]! + after["routerdc/mbpp.json"]!
      }
      for (const total of Object.values(families)) assert.closeTo(total, sum / 3, 1e-6 * sum)
      // Inside a family the sources keep their proportions; every battle of a source is scaled alike.
      assert.closeTo(
        after["routerdc/mbpp.json"]! / after["routerdc/gsm8k-train.json"]!,
        before["routerdc/mbpp.json"]! / before["routerdc/gsm8k-train.json"]!,
        1e-9
      )
      const alpacaFactor = (sum / 3) / before["alpaca-eval"]!
      result.records.forEach((battle, index) => {
        if (battle.source === "alpaca-eval") assert.closeTo(battle.weight!, (battles[index]!.weight ?? 1) * alpacaFactor, 1e-9)
      })
      const report = result.report as unknown as Reweight.Report
      assert.closeTo(report.before, sum, 1e-6)
      assert.closeTo(report.after, sum, 1e-6 * sum)
      for (const source of sources) {
        assert.closeTo(report.sources[source]!.before, before[source]!, 1e-6)
        assert.closeTo(report.sources[source]!.after, after[source]!, 1e-6)
      }
      assert.strictEqual(report.sources["routerdc/mbpp.json"]!.family, "routerdc")

      const bySource = yield* runAugmenter(Reweight.plugin, { balance: "source" }, stepContext(root), root, battles)
      for (const total of Object.values(totalsBySource(bySource.records))) assert.closeTo(total, sum / 4, 1e-6 * sum)
    }))))

  it.live("listed weights multiply after balancing: exact names beat globs, 0 drops the source, unlisted sources keep 1", () =>
    services(Effect.scoped(Effect.gen(function*() {
      const root = yield* temporaryDirectory("reweight-weights")
      const battles = yield* realBattles(root)
      const before = totalsBySource(battles)
      const result = yield* runAugmenter(
        Reweight.plugin,
        { weights: { "routerdc/*": 2, "routerdc/mbpp.json": 0, "alpaca-eval": 0.5 } },
        stepContext(root),
        root,
        battles
      )
      const after = totalsBySource(result.records)
      assert.deepStrictEqual(Object.keys(after).sort(), ["alpaca-eval", "routerbench/mbpp_train.csv", "routerdc/gsm8k-train.json"])
      assert.closeTo(after["routerdc/gsm8k-train.json"]!, 2 * before["routerdc/gsm8k-train.json"]!, 1e-9)
      assert.closeTo(after["alpaca-eval"]!, 0.5 * before["alpaca-eval"]!, 1e-9)
      // Unlisted: the same battles, written without a weight.
      const routerbench = result.records.filter((battle) => battle.source === "routerbench/mbpp_train.csv")
      assert.deepStrictEqual(routerbench, battles.filter((battle) => battle.source === "routerbench/mbpp_train.csv"))
      assert.isTrue(routerbench.every((battle) => battle.weight === undefined))
      const report = result.report as unknown as Reweight.Report
      assert.strictEqual(report.droppedBattles, battles.filter((battle) => battle.source === "routerdc/mbpp.json").length)
      assert.deepStrictEqual(
        {
          weight: report.sources["routerdc/mbpp.json"]!.weight,
          key: report.sources["routerdc/mbpp.json"]!.key,
          after: report.sources["routerdc/mbpp.json"]!.after
        },
        { weight: 0, key: "routerdc/mbpp.json", after: 0 }
      )
      assert.strictEqual(report.sources["routerdc/gsm8k-train.json"]!.key, "routerdc/*")

      // Balance over the sources that stay: dropping one family leaves the other two equal, the sum kept.
      const balanced = yield* runAugmenter(Reweight.plugin, { balance: "family", weights: { "alpaca-eval": 0 } }, stepContext(root), root, battles)
      const totals = totalsBySource(balanced.records)
      const kept = before["routerbench/mbpp_train.csv"]! + before["routerdc/gsm8k-train.json"]! + before["routerdc/mbpp.json"]!
      assert.closeTo(totals["routerbench/mbpp_train.csv"]!, kept / 2, 1e-6)
      assert.closeTo(totals["routerdc/gsm8k-train.json"]! + totals["routerdc/mbpp.json"]!, kept / 2, 1e-6)
    }))))

  it.effect("globs: * stays inside a path segment, ** does not; unmatched and ambiguous keys are errors", () =>
    Effect.gen(function*() {
      const battle = (source: string): Records.Battle => ({ prompt: "p", model_a: "a", model_b: "b", winner: "model_a", source })
      const battles = [battle("routerdc/mbpp.json"), battle("a/b"), battle("llmrouter/train.json")]
      const config = (raw: unknown) => Schema.decodeUnknownSync(Reweight.Config)(raw)
      const typo = yield* Effect.flip(Reweight.reweight(battles, config({ weights: { "routerdc*": 2 } })))
      assert.include(typo.message, "\"routerdc*\" matches no source")
      assert.include(typo.message, "routerdc/mbpp.json")
      const deep = yield* Reweight.reweight(battles, config({ weights: { "**.json": 3 } }))
      assert.deepStrictEqual(deep.kept.map((entry) => entry.weight), [3, undefined, 3])
      const question = yield* Reweight.reweight(battles, config({ weights: { "?/?": 4 } }))
      assert.deepStrictEqual(question.kept.map((entry) => entry.weight), [undefined, 4, undefined])
      const ambiguous = yield* Effect.flip(Reweight.reweight(battles, config({ weights: { "a/*": 2, "*/b": 3 } })))
      assert.include(ambiguous.message, "\"a/*\" and \"*/b\"")
      const agreeing = yield* Reweight.reweight(battles, config({ weights: { "a/*": 2, "*/b": 2 } }))
      assert.strictEqual(agreeing.kept[1]!.weight, 2)
      const unnamed = yield* Reweight.reweight([{ prompt: "p", model_a: "a", model_b: "b", winner: "tie" }], config({ weights: { "(unnamed)": 5 } }))
      assert.strictEqual(unnamed.kept[0]!.weight, 5)
      for (const bad of [{ weights: { x: -1 } }, { balance: "model" }]) {
        const error = yield* Effect.flip(PluginRegistry.decodeConfig(Reweight.plugin, bad, "step reweight"))
        assert.include(error.message, Object.keys(bad)[0]!)
      }
    }))
})
