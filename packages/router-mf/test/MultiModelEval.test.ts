import { assert, describe, it } from "@effect/vitest"
import { ArtifactStore, Matrix, Plugin, PluginRegistry, Progress, type Records } from "@routellm/core"
import { MultiModelEval } from "@routellm/router-mf"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as HashEmbedder from "./support/HashEmbedder.ts"

const quietly = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.scoped(effect).pipe(Effect.provideService(Progress.Reporter, Progress.silent))

describe("eval/mf-multi-model", () => {
  it("derives golden-label battles: better score wins, scores within the margin tie", () => {
    const battles = MultiModelEval.battlesFromOutcomes(
      [{ prompt: "p", scores: { a: 1, b: 0.5, c: 0.48 } }],
      ["a", "b", "c"],
      0.05
    )
    assert.deepStrictEqual(battles.map((battle) => [battle.model_a, battle.model_b, battle.winner]), [
      ["a", "b", "model_a"],
      ["a", "c", "model_a"],
      ["b", "c", "tie"]
    ])
  })

  it("simulates a policy: mean price, mean recorded quality and shares", () => {
    // two prompts, three models; scores make model 0 best on prompt 0 and model 2 best on prompt 1
    const scores = Matrix.fromRows([[3, 0, -3], [-3, 0, 3]])
    const quality = Matrix.fromRows([[1, 0.5, 0], [0, 0.5, 1]])
    const result = MultiModelEval.simulate(scores, quality, [1, 1, 1], ["x", "y", "z"], { kind: "quality-minus-price", lambda: 0 })
    assert.strictEqual(result.price, 1)
    assert.strictEqual(result.quality, 1)
    assert.deepStrictEqual(result.shares, { x: 0.5, y: 0, z: 0.5 })
    const cheap = MultiModelEval.simulate(scores, quality, [3, 2, 1], ["x", "y", "z"], { kind: "quality-minus-price", lambda: 10 })
    assert.strictEqual(cheap.price, 1)
    assert.strictEqual(cheap.quality, 0.5)
  })

  it.effect("splits by prompt, trains on the training prompts and beats random on a learnable table", () =>
    quietly(Effect.gen(function*() {
      const root = yield* Effect.acquireRelease(
        Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "router-mf-"))),
        (directory) => Effect.promise(() => Fs.rm(directory, { recursive: true, force: true }))
      )
      // "code" prompts: the expensive coder is right; "chat" prompts: the cheap chatter is right;
      // the middle model is half right everywhere. Some prompts appear twice (two rows).
      const rows: Array<Records.OutcomeRow> = []
      for (let i = 0; i < 120; i++) {
        const code = i % 2 === 0
        const prompt = code ? `implement a parser in rust step ${i}` : `say hello to my friend number ${i}`
        const scores = { coder: code ? 1 : 0, chatter: code ? 0 : 1, middle: 0.5 }
        rows.push({ prompt, scores })
        if (i % 10 === 0) rows.push({ prompt, scores })
      }
      const benchmark = Path.join(root, "table")
      const output = Path.join(root, "out")
      yield* Effect.promise(async () => {
        await Fs.mkdir(benchmark, { recursive: true })
        await Fs.mkdir(output, { recursive: true })
        await Fs.writeFile(Path.join(benchmark, "outcomes.jsonl"), rows.map((row) => JSON.stringify(row)).join("\n"))
      })
      const config = yield* PluginRegistry.decodeConfig(MultiModelEval.plugin, {
        prices: { coder: 10, chatter: 1, middle: 4 },
        embedder: { uses: "embedder/test-hash", with: { dimensions: 64 } },
        testFraction: 0.25,
        dimensions: 8,
        learningRate: 0.02,
        batchSize: 16,
        epochs: 25,
        patience: 0,
        sweep: 11
      }, "test")
      const result = yield* MultiModelEval.run(
        config,
        Plugin.stepContext(MultiModelEval.plugin, {
          stepId: "multi",
          directory: output,
          inputs: [{ stepId: "table", uses: "benchmark/outcomes", kind: "benchmark", directory: benchmark, value: null, fingerprint: "b" }],
          runDirectory: root,
          baseDirectory: root
        })
      ).pipe(
        Effect.provide(Layer.mergeAll(
          ArtifactStore.ArtifactStore.layerAt(root),
          PluginRegistry.PluginRegistry.layer([MultiModelEval.plugin, HashEmbedder.hashEmbedder])
        ))
      )
      const report = JSON.parse(yield* Effect.promise(() => Fs.readFile(Path.join(output, "report.json"), "utf8"))) as MultiModelEval.Report
      assert.strictEqual(report.overlap, 0)
      assert.strictEqual(report.trainRows + report.testRows, rows.length)
      assert.strictEqual(report.trainPrompts + report.testPrompts, 120)
      assert.isAbove(report.testPrompts, 10)
      // learned routing reaches the oracle's quality at a fraction of always-best's price
      assert.strictEqual(report.alwaysCheapest.model, "chatter")
      assert.isAtLeast(report.summary.bestQuality, 0.95)
      assert.isAbove(report.summary.qualityAtHalfPrice, report.summary.randomMixQualityAtHalfPrice + 0.2)
      assert.isAbove(report.summary.bestQuality, report.random.quality + 0.3)
      // lambda = 0 maximises expected quality; the largest lambda always picks the cheapest model
      assert.strictEqual(report.lambdaCurve.at(-1)!.shares.chatter, 1)
      const svg = yield* Effect.promise(() => Fs.readFile(Path.join(output, "curve.svg"), "utf8"))
      assert.match(svg, /^<svg /)
      assert.match(svg, /MF: quality − λ·price/)
      assert.strictEqual((result.summary as Record<string, unknown>).overlap, 0)
    })))
})
