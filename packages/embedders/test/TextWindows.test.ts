import { assert, describe, it } from "@effect/vitest"
import { ArtifactStore, Embedder, Files, Matrix, PluginRegistry, Progress } from "@routellm/core"
import { plugins, TextWindows } from "@routellm/embedders"
import { Effect, Layer } from "effect"
import * as Os from "node:os"
import * as Path from "node:path"
import { trainDirectory } from "../../../test/support/SharedData.ts"

/** A toy encoder: one token per word, the token id is the word's number. */
const words = (text: string): Array<number> => text.split(" ").filter((word) => word !== "").map(Number)
const text = (count: number) => Array.from({ length: count }, (_, index) => String(index + 1)).join(" ")
const options = (strategy: TextWindows.Strategy, maxWindows = 4): TextWindows.Options => ({
  strategy,
  windowTokens: 4,
  maxWindows,
  maxTokenCharacters: 3
})

describe("TextWindows", () => {
  it("picks full windows from the head, the tail or both ends", () => {
    const ten = text(10)
    assert.deepStrictEqual(TextWindows.plan(ten, words, options("head")), { windows: [[1, 2, 3, 4]], cut: true })
    assert.deepStrictEqual(TextWindows.plan(ten, words, options("tail")), { windows: [[7, 8, 9, 10]], cut: true })
    assert.deepStrictEqual(TextWindows.plan(ten, words, options("head-tail")), { windows: [[1, 2, 3, 4], [7, 8, 9, 10]], cut: true })
    // Six tokens: head and tail overlap and cover the text.
    assert.deepStrictEqual(TextWindows.plan(text(6), words, options("head-tail")), { windows: [[1, 2, 3, 4], [3, 4, 5, 6]], cut: false })
    // All windows when they fit, the last one aligned to the end.
    assert.deepStrictEqual(TextWindows.plan(ten, words, options("windows")), {
      windows: [[1, 2, 3, 4], [5, 6, 7, 8], [7, 8, 9, 10]],
      cut: false
    })
    // More than maxWindows: half from each end.
    assert.deepStrictEqual(TextWindows.plan(text(30), words, options("windows", 3)), {
      windows: [[1, 2, 3, 4], [5, 6, 7, 8], [27, 28, 29, 30]],
      cut: true
    })
    // A short text is one window, whatever the strategy.
    for (const strategy of ["head", "tail", "head-tail", "windows"] as const) {
      assert.deepStrictEqual(TextWindows.plan("1 2 3", words, options(strategy)), { windows: [[1, 2, 3]], cut: false })
    }
  })

  it("tokenizes only slices of a long text, cut at spaces, with the same windows as the whole text", () => {
    const long = text(200_000)
    const seen: Array<number> = []
    const counting = (slice: string) => {
      seen.push(slice.length)
      return words(slice)
    }
    const plan = TextWindows.plan(long, counting, options("head-tail"))
    assert.deepStrictEqual(plan.windows, [[1, 2, 3, 4], [199_997, 199_998, 199_999, 200_000]])
    assert.isTrue(plan.cut)
    assert.isTrue(seen.every((length) => length <= 4 * 3 + 16), `slices of ${seen.join(", ")} characters`)
  })

  it("doubles a slice that holds too few tokens", () => {
    // Long words: a slice of windowTokens * maxTokenCharacters characters holds fewer than 4 of them.
    const long = Array.from({ length: 50 }, (_, index) => String(1_000_000 + index)).join(" ")
    const plan = TextWindows.plan(long, words, options("head"))
    assert.deepStrictEqual(plan.windows, [[1_000_000, 1_000_001, 1_000_002, 1_000_003]])
  })

  it("pools windows by their unit-length mean and keeps single windows as they are", () => {
    const vectors = Float32Array.from([3, 4, 1, 0, 0, 1])
    const pooled = TextWindows.pool(vectors, 2, [1, 2])
    assert.deepStrictEqual(Array.from(pooled.subarray(0, 2)), [3, 4])
    assert.closeTo(pooled[2]!, Math.SQRT1_2, 1e-7)
    assert.closeTo(pooled[3]!, Math.SQRT1_2, 1e-7)
  })
})

const cosine = (matrix: Matrix.Matrix, a: number, b: number) => {
  let dot = 0, normA = 0, normB = 0
  for (let column = 0; column < matrix.columns; column++) {
    const x = matrix.data[a * matrix.columns + column]!
    const y = matrix.data[b * matrix.columns + column]!
    dot += x * y
    normA += x * x
    normB += y * y
  }
  return dot / Math.sqrt(normA * normB)
}

/** RouterBench prompts are Python lists of turns; the first turn is the 5-shot prompt. */
const firstTurn = (cell: string) => {
  const body = cell.trim().replace(/^\[\s*'/, "").replace(/'\s*\]$/, "")
  return body.replaceAll("\\n", "\n").replaceAll("\\'", "'")
}

describe("embedder/use-lite on long real prompts", () => {
  it.live("gives RouterBench's 5-shot ARC and Winogrande prompts distinct embeddings (the head alone does not)", () =>
    Effect.gen(function*() {
      const prompts: Array<string> = []
      for (const name of ["arc_challenge_train.csv", "winograde_train.csv"]) {
        const table = yield* Files.readCsv(Path.join(trainDirectory, "routerbench", name))
        prompts.push(...table.rows.slice(0, 12).map((row) => firstTurn(row.value["prompt"]!)))
      }
      const embed = (longText: string) =>
        Effect.gen(function*() {
          const embedder = yield* PluginRegistry.makeEmbedder({ uses: "embedder/use-lite", with: { longText } }, { baseDirectory: "." })
          return { embedder, vectors: yield* Embedder.embedAll(embedder, prompts, { cache: false }) }
        })
      const head = yield* embed("head")
      const defaults = yield* embed("head-tail")
      let identicalHeads = 0
      let maximum = -1
      for (let a = 0; a < prompts.length; a++) {
        for (let b = a + 1; b < prompts.length; b++) {
          if (cosine(head.vectors, a, b) > 0.99999) identicalHeads++
          maximum = Math.max(maximum, cosine(defaults.vectors, a, b))
        }
      }
      // Within each source every head is the shared preamble: 2 x (12 choose 2) identical pairs.
      assert.strictEqual(identicalHeads, 2 * 66)
      assert.isBelow(maximum, 0.99, "distinct prompts must get distinct vectors")
      assert.notStrictEqual(head.embedder.fingerprint, defaults.embedder.fingerprint)
      const coverage = yield* defaults.embedder.coverage!(prompts)
      assert.strictEqual(coverage.texts, 24)
      assert.isAbove(coverage.cut, 0)
      const warning = yield* Embedder.coverageWarning(defaults.embedder, prompts)
      assert.include(warning, `of 24 texts only in part`)
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.mergeAll(
        PluginRegistry.PluginRegistry.layer(plugins),
        ArtifactStore.ArtifactStore.layerAt(Path.join(Os.tmpdir(), "routellm-windows-test"))
      )),
      Effect.provideService(Progress.Reporter, Progress.silent)
    ), 120_000)
})

describe("embedder/with-length", () => {
  it.live("appends the log length to the inner embedder's vectors and changes the fingerprint", () =>
    Effect.gen(function*() {
      const texts = ["Hi", "What is the capital of France?", "x".repeat(3000)]
      const inner = yield* PluginRegistry.makeEmbedder({ uses: "embedder/use-lite" }, { baseDirectory: "." })
      const withLength = yield* PluginRegistry.makeEmbedder({ uses: "embedder/with-length", with: { scale: 2 } }, { baseDirectory: "." })
      assert.strictEqual(withLength.dimensions, inner.dimensions + 1)
      assert.notStrictEqual(withLength.fingerprint, inner.fingerprint)
      const plain = yield* inner.embed(texts)
      const extended = yield* withLength.embed(texts)
      texts.forEach((text, row) => {
        for (let column = 0; column < inner.dimensions; column++) {
          assert.strictEqual(extended.data[row * 513 + column], plain.data[row * 512 + column])
        }
        // 2 * (ln(1 + length) - 5) / 2, computed by hand for each length
        assert.closeTo(extended.data[row * 513 + 512]!, Math.log(1 + text.length) - 5, 1e-6)
      })
      assert.closeTo(extended.data[2 * 513 + 512]!, 3.0067, 1e-4)
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.mergeAll(
        PluginRegistry.PluginRegistry.layer(plugins),
        ArtifactStore.ArtifactStore.layerAt(Path.join(Os.tmpdir(), "routellm-windows-test"))
      ))
    ), 120_000)
})
