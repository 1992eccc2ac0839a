import { assert, describe, it } from "@effect/vitest"
import { ArtifactStore, Battles, Matrix, Plugin, PluginRegistry, Progress, Router } from "@routellm/core"
import { SimilarityWeighted, SwRouter, TrainedState } from "@routellm/router-sw"
import { Effect, Exit, Layer } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { embedder, embedSync, syntheticBattles } from "./support.ts"

const temporary = () => Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-sw-")))

const services = (root: string) => Layer.mergeAll(ArtifactStore.ArtifactStore.layerAt(root), PluginRegistry.PluginRegistry.layer([embedder, SwRouter.plugin]))

describe("router/sw plugin", () => {
  it.live("trains from battle steps, writes its state, and routes from the loaded state", () =>
    Effect.gen(function*() {
      const root = yield* temporary()
      const datasetDirectory = Path.join(root, "dataset")
      const trainDirectory = Path.join(root, "train")
      yield* Effect.promise(() => Promise.all([Fs.mkdir(datasetDirectory), Fs.mkdir(trainDirectory)]))
      const battles = syntheticBattles()
      yield* Battles.write(datasetDirectory, battles)
      const config = yield* Plugin.decodeConfig(SwRouter.plugin)({ embedder: "embedder/test-hash", numTiers: 4 })
      const input: Plugin.StepInput = { stepId: "battles", uses: "dataset/x", kind: "dataset", directory: datasetDirectory, value: null, fingerprint: "f" }
      const output = yield* SwRouter.plugin.train!(
        config,
        Plugin.stepContext(SwRouter.plugin, {
          stepId: "train",
          directory: trainDirectory,
          inputs: [input],
          runDirectory: root,
          baseDirectory: root
        })
      )
      const summary = output.summary as { battles: number; prompts: number; strongTier: number; weakTier: number }
      assert.strictEqual(summary.battles, battles.length)
      assert.strictEqual(summary.prompts, 40)
      const { state } = yield* TrainedState.read(trainDirectory)
      // The loaded state is the one training computed from the same battles and embeddings.
      const { prompts } = SimilarityWeighted.uniquePrompts(battles)
      const expected = SimilarityWeighted.build(battles, embedSync(prompts), { numTiers: 4 })
      assert.deepStrictEqual(state.models, expected.models)
      assert.deepStrictEqual([...state.entryCounts], [...expected.entryCounts])
      assert.deepStrictEqual([...state.embeddings.data], [...expected.embeddings.data])

      const trained: Plugin.StepInput = { ...input, stepId: "train", uses: "router/sw", kind: "router", directory: trainDirectory }
      const router = yield* PluginRegistry.makeRouter(
        { uses: "router/sw", with: { embedder: "embedder/test-hash", numTiers: 4 } },
        { baseDirectory: root, trained }
      )
      const queries = ["Solve the algebra equation: find x when 7 x plus 2 equals zero", "Chat about a holiday and the weather"]
      const scores = yield* Router.scoreAll(router, queries)
      const found = SwRouter.players(expected, config)
      assert.isTrue("strongPlayer" in found)
      const direct = SimilarityWeighted.winRates(expected, Matrix.normalizeRows(embedSync(queries)), {
        ...(found as { strongPlayer: number; weakPlayer: number }),
        weighting: SimilarityWeighted.defaultWeighting
      })
      // onnxruntime's MatMul sums in another order than JavaScript: equal to float32 rounding.
      scores.forEach((score, index) => assert.closeTo(score, direct[index]!, 1e-6))
      assert.closeTo(yield* router.winRate(queries[1]!), direct[1]!, 1e-6)
      const javascript = yield* PluginRegistry.makeRouter(
        { uses: "router/sw", with: { embedder: "embedder/test-hash", numTiers: 4, similarity: "javascript" } },
        { baseDirectory: root, trained }
      )
      assert.deepStrictEqual([...(yield* Router.scoreAll(javascript, queries))], [...direct])

      // Without the training step, or with another embedder, the router explains what is wrong.
      const untrained = yield* Effect.exit(PluginRegistry.makeRouter({ uses: "router/sw", with: { embedder: "embedder/test-hash" } }, { baseDirectory: root }))
      assert.isTrue(Exit.isFailure(untrained) && String(untrained.cause).includes("training step"))
    }).pipe(Effect.scoped, Effect.provide(services(Path.join(Os.tmpdir(), "routellm-sw-store"))), Effect.provideService(Progress.Reporter, Progress.silent)))
})
