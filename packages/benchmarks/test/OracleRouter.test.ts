import { assert, describe, it } from "@effect/vitest"
import { Metrics, OracleRouter } from "@routellm/benchmarks"
import { ArtifactStore, PluginRegistry } from "@routellm/core"
import { Effect, Layer } from "effect"
import * as Os from "node:os"
import * as Path from "node:path"

describe("router/oracle", () => {
  it.effect("scores 1 where only the strong model wins, 0 where only the weak one does, 0.5 on ties and unknown prompts", () =>
    Effect.gen(function*() {
      const benchmark = {
        id: "benchmark/test",
        name: "test",
        fingerprint: "x",
        strongModel: "s",
        weakModel: "w",
        models: ["s", "w"],
        scoreLabel: "accuracy",
        dropped: 0,
        rows: [
          { prompt: "a", scores: { s: 1, w: 0 } },
          { prompt: "b", scores: { s: 0, w: 1 } },
          { prompt: "c", scores: { s: 1, w: 1 } },
          { prompt: "d", scores: { s: 0, w: 0 } }
        ]
      }
      const router = OracleRouter.fromBenchmark(benchmark)
      const rates = yield* router.winRates!(["a", "b", "c", "d", "unseen"])
      assert.deepStrictEqual([...rates], [1, 0, 0.5, 0.5, 0.5])
      // Routed by these win rates, the exact curve reaches the optimum at 25% strong calls.
      const exact = Metrics.exactCurve(rates.subarray(0, 4), [1, 0, 1, 0], [0, 1, 1, 0])
      assert.strictEqual(exact.score[1], Metrics.optimalScore([1, 0, 1, 0], [0, 1, 1, 0], 0.25))
    }))

  it.effect("without a benchmark in its config it explains that eval supplies one", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(OracleRouter.plugin.make({}, { baseDirectory: "." }))
      assert.include(error.message, "needs benchmark")
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.mergeAll(
        ArtifactStore.ArtifactStore.layerAt(Path.join(Os.tmpdir(), "routellm-oracle-test")),
        PluginRegistry.PluginRegistry.layer([OracleRouter.plugin])
      ))
    ))
})
