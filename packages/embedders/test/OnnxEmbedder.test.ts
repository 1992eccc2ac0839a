import { assert, describe, it } from "@effect/vitest"
import { ArtifactStore, Embedder, Matrix, PluginRegistry, Progress } from "@routellm/core"
import { OnnxEmbedder, plugins } from "@routellm/embedders"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { minilmTokenizer } from "../../../test/support/SharedData.ts"
import { tokenEmbeddingModel, writeModel } from "./support/OnnxBuilder.ts"

const readTokenizer = Effect.promise(async () => ({
  json: JSON.parse(await Fs.readFile(Path.join(minilmTokenizer, "tokenizer.json"), "utf8")) as object,
  config: JSON.parse(await Fs.readFile(Path.join(minilmTokenizer, "tokenizer_config.json"), "utf8")) as object,
  // vocab.txt: the id of a token is its line number minus one.
  vocabulary: (await Fs.readFile(Path.join(minilmTokenizer, "vocab.txt"), "utf8")).split("\n")
}))

const vocabularySize = 30522

/** Token vector i = [i / 1000, 1, i mod 2]; [PAD] (id 0) is huge so any leak into the mean shows. */
const table = () => {
  const embeddings = new Float32Array(vocabularySize * 3)
  for (let i = 0; i < vocabularySize; i++) embeddings.set([i / 1000, 1, i % 2], i * 3)
  embeddings.set([1000, 1000, 1000], 0)
  return embeddings
}

const temporaryDirectory = Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-onnx-")))

describe("embedder/onnx tokenizer (tokenizers.js, real MiniLM tokenizer.json)", () => {
  it.effect("gives BERT WordPiece ids as vocab.txt numbers them", () =>
    Effect.gen(function*() {
      const { json, config, vocabulary } = yield* readTokenizer
      const tokenizer = OnnxEmbedder.makeTokenizer(json, config, 256)
      const idsOf = (tokens: ReadonlyArray<string>) => tokens.map((token) => vocabulary.indexOf(token))
      assert.deepStrictEqual(tokenizer.encode("Hello, world!"), [101, 7592, 1010, 2088, 999, 102])
      assert.deepStrictEqual(tokenizer.encode("Hello, world!"), idsOf(["[CLS]", "hello", ",", "world", "!", "[SEP]"]))
      // Lower case, accents stripped, greedy longest-match word pieces, punctuation split off.
      assert.deepStrictEqual(
        tokenizer.encode("The unaffable Schwarzenegger's résumé costs $3.50."),
        idsOf([
          "[CLS]",
          "the",
          "una",
          "##ffa",
          "##ble",
          "schwarz",
          "##ene",
          "##gger",
          "'",
          "s",
          "resume",
          "costs",
          "$",
          "3",
          ".",
          "50",
          ".",
          "[SEP]"
        ])
      )
      assert.deepStrictEqual(tokenizer.encode("ça va 😹"), idsOf(["[CLS]", "ca", "va", "[UNK]", "[SEP]"]))
      assert.deepStrictEqual(tokenizer.encode(""), [101, 102])
    }))

  it.effect("truncates the text and keeps [CLS] and [SEP]", () =>
    Effect.gen(function*() {
      const { json, config } = yield* readTokenizer
      const tokenizer = OnnxEmbedder.makeTokenizer(json, config, 5)
      assert.deepStrictEqual(tokenizer.encode("Hello, world! Hello again."), [101, 7592, 1010, 2088, 102])
    }))
})

describe("embedder/onnx pooling", () => {
  it("mean-pools over the attention mask and takes the first token for cls", () => {
    // Two rows of length 3, dimension 2; row 1 has one padded position.
    const hidden = Float32Array.from([1, 2, 3, 4, 5, 6, /* row 1 */ 10, 20, 30, 40, 999, 999])
    const mask = [1, 1, 1, 1, 1, 0]
    const mean = OnnxEmbedder.pool(hidden, mask, 2, 3, 2, "mean")
    assert.deepStrictEqual(Array.from(mean.data), [3, 4, 20, 30])
    const cls = OnnxEmbedder.pool(hidden, mask, 2, 3, 2, "cls")
    assert.deepStrictEqual(Array.from(cls.data), [1, 2, 10, 20])
  })
})

describe("embedder/onnx with a tiny real ONNX model", () => {
  it.live("runs onnxruntime, pools and normalises as computed by hand", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory
      yield* Effect.promise(() => writeModel(directory, "model.onnx", tokenEmbeddingModel({ embeddings: table(), vocabularySize, dimensions: 3 })))
      yield* Effect.promise(() => Fs.copyFile(Path.join(minilmTokenizer, "tokenizer.json"), Path.join(directory, "tokenizer.json")))
      yield* Effect.promise(() => Fs.copyFile(Path.join(minilmTokenizer, "tokenizer_config.json"), Path.join(directory, "tokenizer_config.json")))
      yield* Effect.gen(function*() {
        const raw = yield* PluginRegistry.makeEmbedder(
          { uses: "embedder/onnx", with: { model: "model.onnx", normalize: false } },
          { baseDirectory: directory }
        )
        assert.strictEqual(raw.dimensions, 3)
        // "Hello, world!" = [101, 7592, 1010, 2088, 999, 102]: sum 11892, two odd ids of six.
        // "ok" = [101, 7929, 102] padded to six with [PAD]: sum 8132, two odd ids of three.
        const vectors = yield* raw.embed(["Hello, world!", "ok"])
        const expected = [11.892 / 6, 1, 2 / 6, 8.132 / 3, 1, 2 / 3]
        Array.from(vectors.data).forEach((value, index) => assert.closeTo(value, expected[index]!, 1e-5))

        const normalized = yield* PluginRegistry.makeEmbedder(
          { uses: "embedder/onnx", with: { model: "model.onnx" } },
          { baseDirectory: directory }
        )
        const unit = yield* Embedder.embedAll(normalized, ["Hello, world!", "ok"])
        const norm = Math.hypot(11.892 / 6, 1, 2 / 6)
        assert.closeTo(Matrix.row(unit, 0)[0]!, 11.892 / 6 / norm, 1e-5)
        assert.closeTo(Matrix.row(unit, 0)[2]!, 2 / 6 / norm, 1e-5)
        assert.notStrictEqual(normalized.fingerprint, raw.fingerprint)

        const cls = yield* PluginRegistry.makeEmbedder(
          { uses: "embedder/onnx", with: { model: "model.onnx", pooling: "cls", normalize: false } },
          { baseDirectory: directory }
        )
        assert.deepStrictEqual(Array.from((yield* cls.embed(["ok"])).data).map((v) => Math.round(v * 1000)), [101, 1000, 1000])
      }).pipe(
        Effect.scoped,
        Effect.provide(Layer.mergeAll(PluginRegistry.PluginRegistry.layer(plugins), ArtifactStore.ArtifactStore.layerAt(directory))),
        Effect.provideService(Progress.Reporter, Progress.silent)
      )
    }))

  it.live("feeds int32 ids and token_type_ids when the model declares them, and names missing inputs", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory
      yield* Effect.promise(() =>
        writeModel(
          directory,
          "bert.onnx",
          tokenEmbeddingModel({ embeddings: table(), vocabularySize, dimensions: 3, idType: "int32", tokenTypeIds: true })
        )
      )
      yield* Effect.gen(function*() {
        const tokenizer = Path.join(minilmTokenizer, "tokenizer.json")
        const embedder = yield* PluginRegistry.makeEmbedder(
          { uses: "embedder/onnx", with: { model: "bert.onnx", tokenizer, normalize: false, maxLength: 4 } },
          { baseDirectory: directory }
        )
        // maxLength 4: [CLS] hello , [SEP] = 101, 7592, 1010, 102: sum 8805, one odd id of four.
        const vectors = yield* embedder.embed(["Hello, world!"])
        const expected = [8.805 / 4, 1, 1 / 4]
        Array.from(vectors.data).forEach((value, index) => assert.closeTo(value, expected[index]!, 1e-5))
        const wrong = yield* Effect.flip(
          PluginRegistry.makeEmbedder(
            { uses: "embedder/onnx", with: { model: "bert.onnx", tokenizer, attentionMask: "mask" } },
            { baseDirectory: directory }
          )
        )
        assert.include(wrong.message, `no input "mask"`)
      }).pipe(
        Effect.scoped,
        Effect.provide(Layer.mergeAll(PluginRegistry.PluginRegistry.layer(plugins), ArtifactStore.ArtifactStore.layerAt(directory)))
      )
    }))
})
