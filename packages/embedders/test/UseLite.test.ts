import { assert, describe, it } from "@effect/vitest"
import { ArtifactStore, Embedder, Files, Matrix, PluginRegistry, Progress } from "@routellm/core"
import { plugins, SentencePiece, UseLite } from "@routellm/embedders"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { evalDirectory } from "../../../test/support/SharedData.ts"
import * as TfjsUseLite from "../src/internal/TfjsUseLite.ts"
import * as UseLiteFiles from "../src/internal/UseLiteFiles.ts"
import * as UseLiteOnnx from "../src/internal/UseLiteOnnx.ts"

const files = () => {
  const { directory, version } = UseLiteFiles.installedDirectory()
  return Effect.promise(() => UseLiteFiles.read(directory, version))
}

const cosine = (a: Float32Array, b: Float32Array) => {
  let dot = 0, normA = 0, normB = 0
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!
    normA += a[i]! * a[i]!
    normB += b[i]! * b[i]!
  }
  return dot / Math.sqrt(normA * normB)
}

/** Real prompts: MT Bench first turns and GSM8K questions. */
const realPrompts = Effect.gen(function*() {
  const questions = yield* Files.readJsonl(Path.join(evalDirectory, "mt_bench", "question.jsonl"))
  const mtBench = questions.rows.map((row) => (row.value as { turns: Array<string> }).turns[0]!)
  const gsm8k = yield* Files.readCsv(Path.join(evalDirectory, "gsm8k", "gsm8k_responses.csv"))
  return { mtBench, gsm8k: gsm8k.rows.map((row) => row.value["prompt"]!) }
})

describe("SentencePiece (USE-lite vocabulary)", () => {
  it.effect("segments words into the expected vocabulary pieces", () =>
    Effect.gen(function*() {
      const { vocabulary } = yield* files()
      const tokenizer = SentencePiece.make(vocabulary)
      const idOf = (piece: string) => vocabulary.findIndex(([candidate]) => candidate === piece)
      // Hand-checked: every word is a whole piece with a leading U+2581.
      assert.deepStrictEqual(tokenizer.encode("I like it."), ["▁I", "▁like", "▁it", "."].map(idOf))
      // Without spaces only the first piece carries the separator.
      assert.deepStrictEqual(tokenizer.encode("Ilikeit."), ["▁I", "like", "it", "."].map(idOf))
      // Two spaces: a lone separator piece, then the word.
      assert.deepStrictEqual(tokenizer.encode("a  b").map((id) => vocabulary[id]![0]), ["▁a", "▁", "▁b"])
      assert.deepStrictEqual(tokenizer.encode(""), [])
    }).pipe(Effect.provide(Files.layer)))

  it.effect("normalises to NFKC and merges runs of unknown symbols", () =>
    Effect.gen(function*() {
      const { vocabulary } = yield* files()
      const tokenizer = SentencePiece.make(vocabulary)
      assert.deepStrictEqual(tokenizer.encode("ça"), tokenizer.encode("c\u0327a"))
      assert.deepStrictEqual(tokenizer.encode("ﬁne"), tokenizer.encode("fine"))
      const a = vocabulary.findIndex(([piece]) => piece === "▁a")
      assert.deepStrictEqual(tokenizer.encode("a😹😹"), [a, SentencePiece.unknownId])
      // A tab is not in the vocabulary: one unknown between two known pieces.
      const ids = tokenizer.encode("tab\tand")
      assert.strictEqual(ids.filter((id) => id === SentencePiece.unknownId).length, 1)
    }).pipe(Effect.provide(Files.layer)))

  it("prefers the segmentation with the highest total log probability", () => {
    // A toy vocabulary: "▁ab" alone scores -5, "▁a" + "b" scores -1 + -1.
    const vocabulary: SentencePiece.Vocabulary = [
      ["<unk>", 0],
      ["<s>", 0],
      ["</s>", 0],
      ["x", 0],
      ["y", 0],
      ["z", 0],
      ["▁ab", -5],
      ["▁a", -1],
      ["b", -1],
      ["▁", -3],
      ["a", -3]
    ]
    const tokenizer = SentencePiece.make(vocabulary)
    assert.deepStrictEqual(tokenizer.encode("ab"), [7, 8])
    // "▁" + "a" + "b" = -7 loses to "▁a" + "b" = -2.
    assert.deepStrictEqual(tokenizer.encode("ab b"), [7, 8, 9, 8])
  })
})

describe("embedder/use-lite", () => {
  it("buckets rows by length under the padded-token budget", () => {
    const sequences = [[1, 2, 3], [1], [1, 2, 3, 4, 5, 6], [1, 2], []]
    const buckets = UseLite.lengthBuckets(sequences, 6, 10)
    assert.deepStrictEqual(buckets.flat().sort(), [0, 1, 2, 3, 4])
    for (const bucket of buckets) {
      const longest = Math.max(1, ...bucket.map((index) => sequences[index]!.length))
      assert.isTrue(bucket.length === 1 || bucket.length * longest <= 6)
      const lengths = bucket.map((index) => sequences[index]!.length)
      assert.deepStrictEqual(lengths, [...lengths].sort((x, y) => x - y))
    }
  })

  it.live("onnx graph matches the TF.js pure-JS reference on real prompts (cosine >= 0.999)", () =>
    Effect.gen(function*() {
      const modelFiles = yield* files()
      const tokenizer = SentencePiece.make(modelFiles.vocabulary)
      const { mtBench, gsm8k } = yield* realPrompts
      // Short and long (clipped at 128 tokens) prompts, and an empty one.
      const prompts = [mtBench[0]!, gsm8k[0]!, "Hi", "", mtBench.find((text) => tokenizer.encode(text).length > 128)!]
      const sequences = UseLite.tokenize(tokenizer, prompts)
      assert.strictEqual(sequences[4]!.length, UseLite.maxTokens)
      const reference = yield* Effect.promise(() => TfjsUseLite.load(modelFiles, "cpu"))
      // The reference embeds each prompt alone, unclipped (its graph clips at 128 itself); onnx embeds them padded together.
      const expected = yield* Effect.promise(() => Promise.all(prompts.map((prompt) => reference.run([tokenizer.encode(prompt)]))))
      for (const precision of ["float32", "int8"] as const) {
        const onnx = yield* Effect.promise(() => UseLiteOnnx.make(modelFiles, { concurrency: 2, precision }))
        const actual = yield* Effect.promise(() => onnx.run(sequences))
        sequences.forEach((_, row) => {
          const similarity = cosine(expected[row]!, actual.subarray(row * 512, (row + 1) * 512))
          assert.isAtLeast(similarity, precision === "float32" ? 0.99999 : 0.999, `${precision} prompt ${row}: cosine ${similarity}`)
        })
        yield* Effect.promise(() => onnx.close())
      }
      yield* Effect.promise(() => reference.close())
    }).pipe(Effect.provide(Files.layer)), 120_000)

  it.live("is registered, embeds through Embedder.embedAll and caches by fingerprint", () =>
    Effect.gen(function*() {
      const root = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-use-lite-")))
      yield* cachedEmbedding(root).pipe(
        Effect.scoped,
        Effect.provide(Layer.mergeAll(PluginRegistry.PluginRegistry.layer(plugins), ArtifactStore.ArtifactStore.layerAt(root))),
        Effect.provideService(Progress.Reporter, Progress.silent)
      )
    }).pipe(Effect.provide(Files.layer)), 120_000)
})

const cachedEmbedding = (root: string) =>
  Effect.gen(function*() {
    const embedder = yield* PluginRegistry.makeEmbedder({ uses: "embedder/use-lite" }, { baseDirectory: root })
    assert.strictEqual(embedder.dimensions, 512)
    const texts = ["What is the capital of France?", "Paris is the capital of France.", "How do I bake bread?", "What is the capital of France?"]
    const first = yield* Embedder.embedAll(embedder, texts)
    assert.strictEqual(first.rows, 4)
    // Unit vectors; duplicates equal; related sentences closer than unrelated ones.
    for (let row = 0; row < 4; row++) assert.closeTo(cosine(Matrix.row(first, row), Matrix.row(first, row)), 1, 1e-6)
    assert.deepStrictEqual(Array.from(Matrix.row(first, 0)), Array.from(Matrix.row(first, 3)))
    assert.isAbove(cosine(Matrix.row(first, 0), Matrix.row(first, 1)), cosine(Matrix.row(first, 0), Matrix.row(first, 2)))
    const cached = yield* Effect.promise(() => Fs.readdir(Path.join(root, "embeddings", embedder.fingerprint)))
    assert.strictEqual(cached.length, 1)
    const again = yield* Embedder.embedAll(embedder, texts.slice(0, 2))
    assert.deepStrictEqual(Array.from(again.data), Array.from(first.data.subarray(0, 1024)))
    // Settings that change vectors change the fingerprint; those that do not, keep it.
    const reference = yield* PluginRegistry.makeEmbedder({ uses: "embedder/use-lite", with: { precision: "float32" } }, { baseDirectory: root })
    const moreThreads = yield* PluginRegistry.makeEmbedder({ uses: "embedder/use-lite", with: { threads: 1, batchSize: 8 } }, { baseDirectory: root })
    assert.notStrictEqual(reference.fingerprint, embedder.fingerprint)
    assert.strictEqual(moreThreads.fingerprint, embedder.fingerprint)
  })
