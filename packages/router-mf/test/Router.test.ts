import { assert, describe, it } from "@effect/vitest"
import { ArtifactStore, Battles, Files, Plugin, PluginRegistry, Progress, type Records, type Router } from "@routellm/core"
import { Checkpoint, MfRouter, MultiModel } from "@routellm/router-mf"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as HashEmbedder from "./support/HashEmbedder.ts"

const quietly = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.scoped(effect).pipe(Effect.provideService(Progress.Reporter, Progress.silent))

const temporaryDirectory = Effect.acquireRelease(
  Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "router-mf-"))),
  (directory) => Effect.promise(() => Fs.rm(directory, { recursive: true, force: true }))
)

const services = (root: string) =>
  Layer.mergeAll(ArtifactStore.ArtifactStore.layerAt(root), PluginRegistry.PluginRegistry.layer([MfRouter.plugin, HashEmbedder.hashEmbedder]))

/**
 * Coding prompts: the strong model wins; small talk: the weak model wins or
 * ties; a third model loses to both everywhere.
 */
const battles = (): Array<Records.Battle> => {
  const out: Array<Records.Battle> = []
  const topics = ["python", "rust", "sql", "regex", "compiler", "kernel", "recursion", "typescript"]
  const chat = ["weather", "cats", "music", "holidays", "football", "coffee", "movies", "gardening"]
  for (let i = 0; i < 40; i++) {
    const coding = `write a ${topics[i % topics.length]} function with tests number ${i}`
    const smallTalk = `tell me something nice about ${chat[i % chat.length]} today ${i}`
    out.push({ prompt: coding, model_a: "gpt4_1106_preview", model_b: "Mixtral-8x7B-Instruct-v0.1", winner: "model_a" })
    out.push({ prompt: coding, model_a: "Mixtral-8x7B-Instruct-v0.1", model_b: "gpt-4-1106-preview", winner: "model_b" })
    out.push({ prompt: smallTalk, model_a: "gpt-4-1106-preview", model_b: "mixtral-8x7b-instruct-v0.1", winner: i % 4 === 0 ? "tie" : "model_b" })
    out.push({ prompt: coding, model_a: "gpt-4-1106-preview", model_b: "llama-2-7b-chat", winner: "model_a" })
    out.push({ prompt: smallTalk, model_a: "llama-2-7b-chat", model_b: "mixtral-8x7b-instruct-v0.1", winner: "model_b" })
  }
  return out
}

const config = {
  embedder: { uses: "embedder/test-hash", with: { dimensions: 64 } },
  dimensions: 16,
  learningRate: 0.01,
  batchSize: 16,
  epochs: 40,
  patience: 0,
  validationFraction: 0.1,
  seed: 3
}

const trainStep = (root: string, overrides: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const dataset = Path.join(root, "dataset")
    const output = Path.join(root, `trained-${Object.keys(overrides).join("-")}`)
    yield* Effect.promise(() => Promise.all([Fs.mkdir(dataset, { recursive: true }), Fs.mkdir(output, { recursive: true })]))
    yield* Battles.write(dataset, battles())
    const decoded = yield* PluginRegistry.decodeConfig(MfRouter.plugin, { ...config, ...overrides }, "test")
    const result = yield* MfRouter.plugin.train!(
      decoded,
      Plugin.stepContext(MfRouter.plugin, {
        stepId: "mf",
        directory: output,
        inputs: [{ stepId: "battles", uses: "dataset/test", kind: "dataset", directory: dataset, value: null, fingerprint: "d" }],
        runDirectory: root,
        baseDirectory: root
      })
    )
    const router = yield* PluginRegistry.makeRouter({ uses: "router/mf", with: { ...config, ...overrides } }, {
      baseDirectory: root,
      trained: { stepId: "mf", uses: "router/mf", kind: "router", directory: output, value: result.value, fingerprint: "t" }
    })
    return { result, router, output }
  }).pipe(Effect.provide(services(root)))

const pairOverride = (root: string, result: { readonly value: unknown }, output: string) =>
  Effect.gen(function*() {
    const trained = { stepId: "mf", uses: "router/mf", kind: "router" as const, directory: output, value: result.value, fingerprint: "t" }
    const prompts = ["write a sql function with tests", "tell me something nice about coffee"]
    const viaPair = yield* PluginRegistry.makeRouter({ uses: "router/mf", with: config }, {
      baseDirectory: root,
      trained,
      pair: { strong: "llama-2-7b-chat", weak: "Mixtral-8x7B-Instruct-v0.1" }
    })
    const viaConfig = yield* PluginRegistry.makeRouter(
      { uses: "router/mf", with: { ...config, strongModel: "llama-2-7b-chat", weakModel: "mixtral-8x7b-instruct-v0.1" } },
      { baseDirectory: root, trained }
    )
    const configured = yield* PluginRegistry.makeRouter({ uses: "router/mf", with: config }, { baseDirectory: root, trained })
    assert.deepStrictEqual(yield* viaPair.winRates!(prompts), yield* viaConfig.winRates!(prompts))
    assert.notDeepEqual(yield* viaPair.winRates!(prompts), yield* configured.winRates!(prompts))
    const unknown = yield* Effect.flip(PluginRegistry.makeRouter({ uses: "router/mf", with: config }, {
      baseDirectory: root,
      trained,
      pair: { strong: "gpt-4-1106-preview", weak: "gpt-3.5-turbo" }
    }))
    assert.include(unknown.message, "gpt-3.5-turbo")
  }).pipe(Effect.provide(services(root)))

describe("router/mf", () => {
  it.effect("trains from battle step inputs and routes coding prompts to the strong model", () =>
    quietly(Effect.gen(function*() {
      const root = yield* temporaryDirectory
      const { result, router, output } = yield* trainStep(root)
      const summary = result.summary as Record<string, unknown>
      assert.strictEqual(summary.battles, 200)
      assert.strictEqual(summary.droppedTies, 10)
      assert.strictEqual(summary.examples, 190)
      assert.strictEqual(summary.models, 3)
      assert.strictEqual(summary.prompts, 80)
      assert.isTrue(summary.strongModelKnown)
      const { metadata } = yield* Checkpoint.read(output).pipe(Effect.provide(Files.layer))
      assert.deepStrictEqual(metadata.modelIds, ["gpt-4-1106-preview", "llama-2-7b-chat", "mixtral-8x7b-instruct-v0.1"])
      assert.strictEqual(metadata.embedder.id, "embedder/test-hash")
      // unseen prompts with the training vocabulary
      const rates = yield* router.winRates!(["write a sql function with tests", "tell me something nice about coffee"])
      assert.isAbove(rates[0]!, 0.5)
      assert.isBelow(rates[1]!, 0.5)
      assert.closeTo(yield* router.winRate("write a sql function with tests"), rates[0]!, 1e-12)
      const scores = yield* router.modelScores!("write a rust function with tests")
      assert.deepStrictEqual([...scores.keys()], metadata.modelIds)
      assert.isAbove(scores.get("gpt-4-1106-preview")!, scores.get("llama-2-7b-chat")!)
    })))

  it.effect("scores an evaluation's pair (any two models it knows) instead of its configured pair", () =>
    quietly(Effect.gen(function*() {
      const root = yield* temporaryDirectory
      const { result, output } = yield* trainStep(root)
      yield* pairOverride(root, result, output)
    })))

  it.effect("uses ties as half-wins when asked, and is deterministic for a seed", () =>
    quietly(Effect.gen(function*() {
      const root = yield* temporaryDirectory
      const half = yield* trainStep(root, { ties: "half", epochs: 5 })
      assert.strictEqual((half.result.summary as Record<string, unknown>).examples, 200)
      const again = yield* trainStep(root, { ties: "half", epochs: 5, seed: 3 })
      const one = yield* Effect.promise(() => Fs.readFile(Path.join(half.output, Checkpoint.modelFile)))
      const two = yield* Effect.promise(() => Fs.readFile(Path.join(again.output, Checkpoint.modelFile)))
      assert.isTrue(one.equals(two))
    })))

  it.effect("routes among priced candidates with both multi-model policies", () =>
    quietly(Effect.gen(function*() {
      const root = yield* temporaryDirectory
      const candidates = [
        { model: "gpt4_1106_preview", price: 10 },
        { model: "Mixtral-8x7B-Instruct-v0.1", price: 0.6 },
        { model: "llama-2-7b-chat", price: 0.2 }
      ]
      const { router } = yield* trainStep(root, { candidates })
      const scores = yield* router.modelScores!("write a python function with tests")
      assert.deepStrictEqual([...scores.keys()], candidates.map((candidate) => candidate.model))
      const free = yield* MultiModel.route(router, "write a python function with tests", candidates, { kind: "quality-minus-price", lambda: 0 })
      assert.strictEqual(free.model, "gpt4_1106_preview")
      const stingy = yield* MultiModel.route(router, "write a python function with tests", candidates, { kind: "quality-minus-price", lambda: 100 })
      assert.strictEqual(stingy.model, "llama-2-7b-chat")
      const strict = yield* MultiModel.route(router, "write a python function with tests", candidates, { kind: "cheapest-above-threshold", threshold: 0.5 })
      assert.strictEqual(strict.model, "gpt4_1106_preview")
      const lenient = yield* MultiModel.route(router, "write a python function with tests", candidates, { kind: "cheapest-above-threshold", threshold: 0 })
      assert.strictEqual(lenient.model, "llama-2-7b-chat")
      const unknown = yield* Effect.flip(MultiModel.route(router, "x", [{ model: "claude-2", price: 1 }], { kind: "quality-minus-price", lambda: 0 }))
      assert.match(unknown.message, /claude-2 is not a model the router knows/)
      const noScores: Router.RouterShape = { id: "router/x", winRate: () => Effect.succeed(0.5) }
      const refused = yield* Effect.flip(MultiModel.route(noScores, "x", candidates, { kind: "quality-minus-price", lambda: 0 }))
      assert.match(refused.message, /no per-model scores/)
    })))

  it.effect("fails with a clear error when the strong model is not in the checkpoint", () =>
    quietly(Effect.gen(function*() {
      const root = yield* temporaryDirectory
      const error = yield* Effect.flip(trainStep(root, { strongModel: "claude-2", epochs: 1 }))
      assert.include(
        error.message,
        `strongModel: model "claude-2" is not one of the checkpoint's models; models: gpt-4-1106-preview, llama-2-7b-chat, mixtral-8x7b-instruct-v0.1`
      )
    })))
})

describe("MultiModel", () => {
  const sigmoid = (x: number) => 1 / (1 + Math.exp(-x))

  it("computes expected quality as the mean win probability against the other candidates", () => {
    const quality = MultiModel.expectedQuality([1, 0, -1])
    assert.closeTo(quality[0]!, (sigmoid(1) + sigmoid(2)) / 2, 1e-12)
    assert.closeTo(quality[1]!, (sigmoid(-1) + sigmoid(1)) / 2, 1e-12)
    assert.closeTo(quality[2]!, (sigmoid(-2) + sigmoid(-1)) / 2, 1e-12)
    // two candidates: the pair win rate
    assert.closeTo(MultiModel.expectedQuality([0.3, -0.2])[0]!, sigmoid(0.5), 1e-12)
  })

  it("chooses by quality minus lambda times price", () => {
    const scores = [2, 0, -2]
    const prices = [10, 1, 0]
    const quality = MultiModel.expectedQuality(scores)
    // the best choice flips where quality differences equal lambda times price differences
    const lambdaFirst = (quality[0]! - quality[1]!) / (prices[0]! - prices[1]!)
    assert.strictEqual(MultiModel.choose(scores, prices, { kind: "quality-minus-price", lambda: 0 }), 0)
    assert.strictEqual(MultiModel.choose(scores, prices, { kind: "quality-minus-price", lambda: lambdaFirst * 0.99 }), 0)
    assert.strictEqual(MultiModel.choose(scores, prices, { kind: "quality-minus-price", lambda: lambdaFirst * 1.01 }), 1)
    assert.strictEqual(MultiModel.choose(scores, prices, { kind: "quality-minus-price", lambda: 10 }), 2)
  })

  it("chooses the cheapest candidate close enough to the best", () => {
    const scores = [0, 1, 0.9, -3]
    const prices = [5, 8, 2, 0.1]
    assert.strictEqual(MultiModel.choose(scores, prices, { kind: "cheapest-above-threshold", threshold: 0.6 }), 1)
    // sigmoid(-0.1) = 0.475: candidate 2 qualifies at 0.47 and is cheaper than the best
    assert.strictEqual(MultiModel.choose(scores, prices, { kind: "cheapest-above-threshold", threshold: 0.47 }), 2)
    // sigmoid(-1) = 0.269: candidate 0 qualifies but costs more than candidate 2
    assert.strictEqual(MultiModel.choose(scores, prices, { kind: "cheapest-above-threshold", threshold: 0.2 }), 2)
    assert.strictEqual(MultiModel.choose(scores, prices, { kind: "cheapest-above-threshold", threshold: 0 }), 3)
  })
})
