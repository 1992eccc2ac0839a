import { assert, describe, it } from "@effect/vitest"
import { ArtifactStore, Files, PluginRegistry, Progress, Random } from "@routellm/core"
import { Checkpoint, MfRouter, Model, Safetensors } from "@routellm/router-mf"
import { Effect, Exit, Layer } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as HashEmbedder from "./support/HashEmbedder.ts"

const temporaryDirectory = Effect.acquireRelease(
  Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "router-mf-"))),
  (directory) => Effect.promise(() => Fs.rm(directory, { recursive: true, force: true }))
)

const quietly = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.scoped(effect).pipe(Effect.provideService(Progress.Reporter, Progress.silent))

const services = (root: string) =>
  Layer.mergeAll(
    ArtifactStore.ArtifactStore.layerAt(root),
    PluginRegistry.PluginRegistry.layer([
      MfRouter.plugin,
      HashEmbedder.hashEmbedder,
      HashEmbedder.otherHashEmbedder,
      HashEmbedder.openAiStandIn
    ])
  )

const build = (config: unknown, root: string, trained?: { readonly directory: string }) =>
  PluginRegistry.makeRouter({ uses: "router/mf", with: config }, {
    baseDirectory: root,
    ...(trained === undefined
      ? {}
      : { trained: { stepId: "mf", uses: "router/mf", kind: "router", directory: trained.directory, value: null, fingerprint: "x" } })
  }).pipe(Effect.provide(services(root)), Effect.provideService(Progress.Reporter, Progress.silent))

/** Write a safetensors file in RouteLLM's MFModel layout with PyTorch-style names. */
const writeRouteLlmFile = (path: string, dimensions: number, textDimensions: number) => {
  const generator = Random.make(12)
  const random = (count: number) => Float32Array.from({ length: count }, () => generator.normal())
  const tensors = {
    P: random(64 * dimensions),
    W: random(dimensions * textDimensions),
    w: random(dimensions)
  }
  const bytes = Safetensors.encode([
    ["P.weight", { shape: [64, dimensions], data: tensors.P }],
    ["text_proj.0.weight", { shape: [dimensions, textDimensions], data: tensors.W }],
    ["classifier.0.weight", { shape: [1, dimensions], data: tensors.w }]
  ])
  return Effect.as(Effect.promise(() => Fs.writeFile(path, bytes)), tensors)
}

/** RouteLLM's pred_win_rate written out by hand: sigmoid of the two logits' difference. */
const handWinRate = (
  tensors: { readonly P: Float32Array; readonly W: Float32Array; readonly w: Float32Array },
  dimensions: number,
  textDimensions: number,
  a: number,
  b: number,
  x: ArrayLike<number>
) => {
  const logit = (model: number) => {
    const row = Array.from(tensors.P.subarray(model * dimensions, (model + 1) * dimensions))
    const norm = Math.sqrt(row.reduce((sum, value) => sum + value * value, 0))
    let total = 0
    for (let k = 0; k < dimensions; k++) {
      let projected = 0
      for (let j = 0; j < textDimensions; j++) projected += tensors.W[k * textDimensions + j]! * x[j]!
      total += tensors.w[k]! * (row[k]! / norm) * projected
    }
    return total
  }
  return 1 / (1 + Math.exp(-(logit(a) - logit(b))))
}

describe("Safetensors", () => {
  it.effect("round-trips tensors and metadata, 8-byte aligned", () =>
    Effect.gen(function*() {
      const bytes = Safetensors.encode([
        ["a", { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6.5]) }],
        ["b", { shape: [1], data: Float32Array.from([-0.25]) }]
      ], { format: "pt" })
      const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true))
      assert.strictEqual((8 + headerLength) % 8, 0)
      const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)))
      assert.deepStrictEqual(header.a, { dtype: "F32", shape: [2, 3], data_offsets: [0, 24] })
      assert.deepStrictEqual(header.b.data_offsets, [24, 28])
      const file = yield* Safetensors.decode(bytes, "memory")
      assert.deepStrictEqual(Array.from(file.tensors.get("a")!.data), [1, 2, 3, 4, 5, 6.5])
      assert.deepStrictEqual(file.tensors.get("b")!.shape, [1])
      assert.deepStrictEqual(file.metadata, { format: "pt" })
    }).pipe(Effect.provide(Files.layer)))

  it.effect("reads F16 and BF16 tensors written by hand", () =>
    Effect.gen(function*() {
      // 1.0, -2.0, 0.5 as half floats; 1.0, -2.0 as bfloat16
      const header = JSON.stringify({
        h: { dtype: "F16", shape: [3], data_offsets: [0, 6] },
        b: { dtype: "BF16", shape: [2], data_offsets: [6, 10] }
      })
      const headerBytes = new TextEncoder().encode(header)
      const bytes = new Uint8Array(8 + headerBytes.length + 10)
      const view = new DataView(bytes.buffer)
      view.setBigUint64(0, BigInt(headerBytes.length), true)
      bytes.set(headerBytes, 8)
      const data = 8 + headerBytes.length
      ;[0x3c00, 0xc000, 0x3800, 0x3f80, 0xc000].forEach((bits, index) => view.setUint16(data + index * 2, bits, true))
      const file = yield* Safetensors.decode(bytes, "memory")
      assert.deepStrictEqual(Array.from(file.tensors.get("h")!.data), [1, -2, 0.5])
      assert.deepStrictEqual(Array.from(file.tensors.get("b")!.data), [1, -2])
    }).pipe(Effect.provide(Files.layer)))

  it.effect("rejects a file that is not safetensors, naming the file", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Safetensors.decode(new TextEncoder().encode("{\"not\": \"safetensors\"}"), "bad.safetensors"))
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(Safetensors.decode(new TextEncoder().encode("{\"not\": \"safetensors\"}"), "bad.safetensors"))
      assert.strictEqual(error._tag, "SafetensorsError")
      assert.match(error.message, /^bad\.safetensors: /)
    }).pipe(Effect.provide(Files.layer)))
})

describe("Checkpoint", () => {
  it.effect("round-trips our checkpoint", () =>
    quietly(Effect.gen(function*() {
      const directory = yield* temporaryDirectory
      const parameters = Model.initialize(["a", "b", "c"], 4, 6, 1)
      const embedder = { id: "embedder/test-hash", fingerprint: "f".repeat(64), dimensions: 6 }
      yield* Checkpoint.write(directory, parameters, embedder, { epochs: 3 })
      const { parameters: loaded, metadata } = yield* Checkpoint.read(directory)
      assert.deepStrictEqual(loaded.modelIds, ["a", "b", "c"])
      assert.deepStrictEqual(Array.from(loaded.modelEmbeddings), Array.from(parameters.modelEmbeddings))
      assert.deepStrictEqual(Array.from(loaded.projection), Array.from(parameters.projection))
      assert.deepStrictEqual(Array.from(loaded.classifier), Array.from(parameters.classifier))
      assert.deepStrictEqual(metadata.embedder, embedder)
      assert.deepStrictEqual(metadata.training, { epochs: 3 })
      // the tensors carry RouteLLM's state-dict names, so PyTorch's MFModel can load them too
      const file = yield* Safetensors.read(Path.join(directory, Checkpoint.modelFile))
      assert.deepStrictEqual([...file.tensors.keys()], ["P.weight", "text_proj.0.weight", "classifier.0.weight"])
    })).pipe(Effect.provide(Files.layer)))

  it("reproduces RouteLLM's MODEL_IDS order", () => {
    assert.strictEqual(Checkpoint.routeLlmModelIds.length, 64)
    assert.strictEqual(new Set(Checkpoint.routeLlmModelIds).size, 64)
    // RouteLLM's MatrixFactorizationRouter hard-codes these two rows
    assert.strictEqual(Checkpoint.routeLlmModelIds.indexOf("gpt-4-1106-preview"), 24)
    assert.strictEqual(Checkpoint.routeLlmModelIds.indexOf("mixtral-8x7b-instruct-v0.1"), 36)
    assert.deepStrictEqual([...Checkpoint.routeLlmModelIds].sort(), Checkpoint.routeLlmModelIds)
  })

  it.effect("imports RouteLLM's layout and gives the win rate of a hand computation", () =>
    quietly(Effect.gen(function*() {
      const directory = yield* temporaryDirectory
      const file = Path.join(directory, "model.safetensors")
      const dimensions = 8
      const textDimensions = 24
      const tensors = yield* writeRouteLlmFile(file, dimensions, textDimensions)
      const router = yield* build({ checkpoint: file, embedder: { uses: "embedder/openai", with: { dimensions: textDimensions } } }, directory)
      const prompts = ["Write a proof that there are infinitely many primes", "hi there", "Translate this sentence into French please"]
      const rates = yield* router.winRates!(prompts)
      const single = yield* router.winRate(prompts[0]!)
      const embeddings = HashEmbedder.embed(prompts, textDimensions)
      prompts.forEach((_, index) => {
        const x = embeddings.data.subarray(index * textDimensions, (index + 1) * textDimensions)
        assert.closeTo(rates[index]!, handWinRate(tensors, dimensions, textDimensions, 24, 36, x), 1e-6)
      })
      assert.closeTo(single, rates[0]!, 1e-12)
      // per-model scores: P(a beats b) = sigmoid(score_a - score_b) for any two of the 64 models
      const scores = yield* router.modelScores!(prompts[1]!)
      assert.strictEqual(scores.size, 64)
      const x = embeddings.data.subarray(textDimensions, 2 * textDimensions)
      const expected = handWinRate(tensors, dimensions, textDimensions, 5, 61, x)
      assert.closeTo(1 / (1 + Math.exp(-(scores.get("claude-1")! - scores.get("yi-34b-chat")!))), expected, 1e-6)
    })).pipe(Effect.provide(Files.layer)))

  it.effect("routes between other RouteLLM models by any alias spelling", () =>
    quietly(Effect.gen(function*() {
      const directory = yield* temporaryDirectory
      const file = Path.join(directory, "model.safetensors")
      const tensors = yield* writeRouteLlmFile(file, 8, 16)
      const router = yield* build({
        checkpoint: file,
        strongModel: "gpt4_0613",
        weakModel: "Llama-2-70b-chat-hf",
        embedder: { uses: "embedder/openai", with: { dimensions: 16 } }
      }, directory)
      const rate = yield* router.winRate("Explain quicksort")
      const x = HashEmbedder.embed(["Explain quicksort"], 16).data
      assert.closeTo(rate, handWinRate(tensors, 8, 16, 23, 30, x), 1e-6)
    })).pipe(Effect.provide(Files.layer)))

  it.effect("refuses mismatched embedders and dimensions with typed errors", () =>
    quietly(Effect.gen(function*() {
      const directory = yield* temporaryDirectory
      const parameters = Model.initialize(["gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"], 4, 16, 1)
      const embedder = yield* Effect.scoped(
        PluginRegistry.makeEmbedder({ uses: "embedder/test-hash", with: { dimensions: 16 } }, { baseDirectory: directory })
      ).pipe(Effect.provide(services(directory)))
      const native = Path.join(directory, "native")
      yield* Checkpoint.write(native, parameters, { id: embedder.id, fingerprint: embedder.fingerprint, dimensions: 16 })

      // the library check
      const otherId = yield* Effect.flip(Checkpoint.checkEmbedder(native, { id: embedder.id, fingerprint: embedder.fingerprint, dimensions: 16 }, {
        id: "embedder/test-other",
        fingerprint: "0".repeat(64),
        dimensions: 16
      }))
      assert.strictEqual(otherId._tag, "CheckpointMismatchError")
      assert.strictEqual(otherId.field, "embedder")
      const otherDimensions = yield* Effect.flip(Checkpoint.checkEmbedder(native, { id: embedder.id, fingerprint: embedder.fingerprint, dimensions: 16 }, {
        id: embedder.id,
        fingerprint: embedder.fingerprint,
        dimensions: 512
      }))
      assert.strictEqual(otherDimensions.field, "dimensions")
      assert.match(otherDimensions.message, /expects 16-dimensional prompt embeddings, but the configured embedder produces 512/)

      // through the plugin: the same embedder loads, others are refused with the reason
      const ok = yield* build({ checkpoint: native, embedder: { uses: "embedder/test-hash", with: { dimensions: 16 } } }, directory)
      assert.isAtLeast(yield* ok.winRate("hello"), 0)
      const wrongEmbedder = yield* Effect.flip(build({ checkpoint: native, embedder: { uses: "embedder/test-other", with: { dimensions: 16 } } }, directory))
      // The checkpoint's own reason reaches the caller (no hand mapping to PluginError).
      assert.strictEqual(wrongEmbedder._tag, "CheckpointMismatchError")
      assert.match(wrongEmbedder.message, /trained with embedder embedder\/test-hash .* configured with embedder\/test-other/)
      const wrongSettings = yield* Effect.flip(
        build({ checkpoint: native, embedder: { uses: "embedder/test-hash", with: { dimensions: 16, model: "other" } } }, directory)
      )
      assert.match(wrongSettings.message, /trained with embedder/)
      const wrongDimensions = yield* Effect.flip(build({ checkpoint: native, embedder: { uses: "embedder/test-hash", with: { dimensions: 24 } } }, directory))
      assert.match(wrongDimensions.message, /expects 16-dimensional prompt embeddings, but the configured embedder produces 24/)
      assert.strictEqual(wrongDimensions._tag, "CheckpointMismatchError")

      // RouteLLM's checkpoint wants the OpenAI embedder with text-embedding-3-small at the tensor's dimension
      const file = Path.join(directory, "routellm.safetensors")
      yield* writeRouteLlmFile(file, 8, 16)
      const useLiteSized = yield* Effect.flip(build({ checkpoint: file, embedder: { uses: "embedder/openai", with: { dimensions: 24 } } }, directory))
      assert.match(useLiteSized.message, /expects 16-dimensional/)
      const notOpenAi = yield* Effect.flip(build({ checkpoint: file, embedder: { uses: "embedder/test-hash", with: { dimensions: 16 } } }, directory))
      assert.match(notOpenAi.message, /embedder\/openai with model text-embedding-3-small/)
      const otherModel = yield* Effect.flip(build({
        checkpoint: file,
        embedder: { uses: "embedder/openai", with: { dimensions: 16, model: "text-embedding-3-large" } }
      }, directory))
      assert.match(otherModel.message, /configured with embedder\/openai with model text-embedding-3-large/)

      // a checkpoint whose rows do not match the model list, and a missing checkpoint
      const truncated = Path.join(directory, "truncated.safetensors")
      yield* Effect.promise(() => Fs.writeFile(truncated, Safetensors.encode([["P.weight", { shape: [3, 2], data: new Float32Array(6) }]])))
      const bad = yield* Effect.flip(Checkpoint.readRouteLlm(truncated))
      assert.strictEqual(bad._tag, "CheckpointError")
      assert.match(bad.message, /no tensor text_proj\.0\.weight/)
      const missing = yield* Effect.flip(build({ embedder: { uses: "embedder/test-hash" } }, directory))
      assert.match(missing.message, /needs a checkpoint or its training step/)
    })).pipe(Effect.provide(Files.layer)))
})
