import { assert, describe, it } from "@effect/vitest"
import { ArtifactStore, Embedder, Errors, Files, Hash, Matrix, ModelAliases, Progress, Random, Router } from "@routellm/core"
import { Effect, FileSystem, Option, Stream } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"

const temporaryDirectory = () => Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-core-")))

describe("ArtifactStore", () => {
  it.live("commits a directory only when its build succeeds", () =>
    Effect.gen(function*() {
      const root = yield* temporaryDirectory()
      const store = ArtifactStore.make(root, yield* FileSystem.FileSystem)
      const failed = yield* Effect.exit(
        store.commit("steps/abc", (directory) =>
          Effect.gen(function*() {
            yield* Effect.promise(() => Fs.writeFile(Path.join(directory, "half.json"), "{"))
            return yield* Effect.fail("crash")
          }))
      )
      assert.strictEqual(failed._tag, "Failure")
      assert.isTrue(Option.isNone(yield* store.lookup("steps/abc")))
      const leftovers = yield* Effect.promise(() => Fs.readdir(Path.join(root, "artifacts", "steps")))
      assert.deepStrictEqual(leftovers, [])
      const committed = yield* store.commit("steps/abc", (directory) =>
        Effect.promise(() => Fs.writeFile(Path.join(directory, "whole.json"), "{}")).pipe(Effect.as(42)))
      assert.strictEqual(committed.value, 42)
      const found = yield* store.lookup("steps/abc")
      assert.isTrue(Option.isSome(found))
      assert.deepStrictEqual(
        yield* Effect.promise(() =>
          Fs.readdir(committed.directory)
        ),
        ["whole.json"]
      )
      // Replacing an artifact swaps the whole directory.
      yield* store.commit("steps/abc", (directory) => Effect.promise(() => Fs.writeFile(Path.join(directory, "new.json"), "{}")))
      assert.deepStrictEqual(yield* Effect.promise(() => Fs.readdir(committed.directory)), ["new.json"])
      const invalid = yield* Effect.flip(store.lookup("../escape"))
      assert.strictEqual(invalid._tag, "ArtifactError")
    }).pipe(Effect.provide(Files.layer)))
})

describe("Files", () => {
  it.effect("parses RFC 4180 CSV with quoted commas, quotes and newlines, keeping each record's line", () =>
    Effect.gen(function*() {
      const text = "prompt,a,b\n\"Hello, \"\"world\"\"\nsecond line\",True,False\nplain,False,True\r\n\"x\",1,2"
      const { header, rows } = yield* Files.parseCsv(text, "t.csv")
      assert.deepStrictEqual(header, ["prompt", "a", "b"])
      assert.deepStrictEqual(rows.map((row) => row.line), [2, 4, 5])
      assert.deepStrictEqual(rows[0]!.value, ["Hello, \"world\"\nsecond line", "True", "False"])
      assert.deepStrictEqual(rows[1]!.value, ["plain", "False", "True"])
      const error = yield* Effect.flip(Files.parseCsv("a,b\n\"open,1\n", "bad.csv"))
      assert.strictEqual(error.message, "bad.csv:2: unterminated quoted field")
    }))

  it.live("reports a CSV row with the wrong number of fields with file and line", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const file = Path.join(directory, "rows.csv")
      yield* Effect.promise(() => Fs.writeFile(file, "a,b\n1,2\n3\n"))
      const error = yield* Effect.flip(Files.readCsv(file))
      assert.instanceOf(error, Errors.InputError)
      assert.include(error.message, `${file}:3`)
      const missing = yield* Effect.flip(Files.readCsv(Path.join(directory, "absent.csv"), "file"))
      assert.strictEqual(missing._tag, "MissingInputError")
    }).pipe(Effect.provide(Files.layer)))

  it.effect("parses JSON Lines, failing or skipping invalid lines", () =>
    Effect.gen(function*() {
      const text = "{\"a\":1}\n\nnot json\n{\"a\":2}\n"
      const error = yield* Effect.flip(Files.parseJsonl(text, "x.jsonl"))
      assert.include(error.message, "x.jsonl:3")
      const skipped = yield* Files.parseJsonl(text, "x.jsonl", "skip")
      assert.deepStrictEqual(skipped.rows.map((row) => [row.line, row.value]), [[1, { a: 1 }], [4, { a: 2 }]])
      assert.deepStrictEqual(skipped.invalid.map((row) => row.line), [3])
      const withNaN = yield* Files.parseJson("{\"x\": NaN, \"y\": [1, NaN]}", "n.json", { allowNaN: true })
      assert.deepStrictEqual(withNaN, { x: null, y: [1, null] })
    }))

  it.effect("turns bare NaN and Infinity into null but leaves strings that spell them alone", () =>
    Effect.gen(function*() {
      // Written as Python's json.dumps writes them; the strings hold the same characters.
      const text = String.raw`{"note": "values: [1, NaN]", "quoted \"NaN\", Infinity": [NaN,Infinity, -Infinity], "x":NaN}`
      const parsed = yield* Files.parseJson(text, "n.json", { allowNaN: true })
      assert.deepStrictEqual(parsed, { note: "values: [1, NaN]", "quoted \"NaN\", Infinity": [null, null, null], x: null })
      // Without allowNaN the same text is an error naming the file.
      const error = yield* Effect.flip(Files.parseJson(text, "n.json"))
      assert.include(error.message, "n.json")
    }))
})

describe("Embedder.embedAll", () => {
  it.live("embeds each distinct text once and serves repeats from the artifact store", () =>
    Effect.gen(function*() {
      const root = yield* temporaryDirectory()
      const calls: Array<ReadonlyArray<string>> = []
      const embedder: Embedder.EmbedderShape = {
        id: "embedder/test",
        fingerprint: "test-v1",
        dimensions: 2,
        batchSize: 2,
        embed: (texts) =>
          Effect.sync(() => {
            calls.push(texts)
            return Matrix.fromRows(texts.map((text) => [text.length, text.charCodeAt(0)]))
          })
      }
      const run = (texts: ReadonlyArray<string>) =>
        Embedder.embedAll(embedder, texts).pipe(
          Effect.provide(ArtifactStore.ArtifactStore.layerAt(root)),
          Effect.provideService(Progress.Reporter, Progress.silent)
        )
      const first = yield* run(["aa", "b", "aa", "ccc"])
      assert.deepStrictEqual([...first.data], [2, 97, 1, 98, 2, 97, 3, 99])
      assert.deepStrictEqual(calls, [["aa", "b"], ["ccc"]])
      const second = yield* run(["ccc", "dddd", "b"])
      assert.deepStrictEqual([...second.data], [3, 99, 4, 100, 1, 98])
      assert.deepStrictEqual(calls.slice(2), [["dddd"]])
    }))
})

describe("Matrix", () => {
  it.effect("multiplies by a transposed matrix like the naive triple loop", () =>
    Effect.sync(() => {
      const generator = Random.make(7)
      const left = Matrix.make(13, 37, Float32Array.from({ length: 13 * 37 }, () => generator.normal()))
      const right = Matrix.make(70, 37, Float32Array.from({ length: 70 * 37 }, () => generator.normal()))
      const product = Matrix.multiplyTransposed(left, right)
      for (let i = 0; i < 13; i++) {
        for (let j = 0; j < 70; j++) {
          let sum = 0
          for (let k = 0; k < 37; k++) sum += left.data[i * 37 + k]! * right.data[j * 37 + k]!
          assert.closeTo(product.data[i * 70 + j]!, sum, 1e-4)
        }
      }
      const normalized = Matrix.normalizeRows(Matrix.fromRows([[3, 4], [0, 0]]))
      assert.deepStrictEqual([...normalized.data].map((value) => Number(value.toFixed(6))), [0.6, 0.8, 0, 0])
    }))
})

describe("ModelAliases and Hash", () => {
  it.effect("maps every source's spelling to one canonical name", () =>
    Effect.sync(() => {
      const mixtral = ["Mixtral-8x7B-Instruct-v0.1", "mistralai/Mixtral-8x7B-Instruct-v0.1", "mistralai/mixtral-8x7b-chat"]
      for (const name of mixtral) assert.strictEqual(ModelAliases.canonical(name), "mixtral-8x7b-instruct-v0.1")
      assert.isTrue(ModelAliases.same("gpt4_1106_preview", "gpt-4-1106-preview"))
      assert.strictEqual(ModelAliases.canonical("  some-new-model "), "some-new-model")
      assert.strictEqual(ModelAliases.find(["x", "gpt4_1106_preview"], "gpt-4-1106-preview"), "gpt4_1106_preview")
      // A row joins spellings of one version only: a moving alias and other versions stay apart.
      assert.isFalse(ModelAliases.same("gpt-3.5-turbo", "gpt-3.5-turbo-1106"))
      assert.isFalse(ModelAliases.same("gpt35_turbo_instruct", "gpt-3.5-turbo-0613"))
      assert.isFalse(ModelAliases.same("gpt4", "gpt-4-0613"))
      assert.isFalse(ModelAliases.same("Mistral-7B-Instruct-v0.2", "mistral-7b-instruct-v0.3"))
      assert.strictEqual(ModelAliases.find(["gpt-3.5-turbo-1106", "gpt-3.5-turbo"], "gpt-3.5-turbo"), "gpt-3.5-turbo")
      assert.strictEqual(ModelAliases.find(["gpt-3.5-turbo-1106"], "gpt-3.5-turbo"), undefined)
      // Every spelling belongs to one row.
      const rowOf = new Map<string, string>()
      for (const [row, names] of Object.entries(ModelAliases.table)) {
        for (const name of [row, ...names]) {
          const key = name.toLowerCase()
          assert.strictEqual(rowOf.get(key) ?? row, row, `${name} is in two rows`)
          rowOf.set(key, row)
        }
      }
      assert.strictEqual(Hash.hashValue({ a: 1, b: [1, 2] }), Hash.hashValue({ b: [1, 2], a: 1 }))
      assert.notStrictEqual(Hash.hashValue({ a: 1 }), Hash.hashValue({ a: 2 }))
    }))
})

describe("ModelAliases near misses", () => {
  it("names both models when a requested name is another version of one that is there", () => {
    assert.deepStrictEqual(ModelAliases.nearMisses(["gpt-3.5-turbo-1106", "gpt-4-1106-preview"], "gpt-3.5-turbo"), ["gpt-3.5-turbo-1106"])
    assert.deepStrictEqual(ModelAliases.nearMisses(["gpt-3.5-turbo"], "gpt-3.5-turbo-1106"), ["gpt-3.5-turbo"])
    assert.deepStrictEqual(ModelAliases.nearMisses(["gpt4_0613", "claude-2.0"], "gpt4"), ["gpt4_0613"])
    // The same model under another spelling is not a near miss, unrelated names are not either.
    assert.deepStrictEqual(ModelAliases.nearMisses(["gpt4_1106_preview", "llama-2-70b-chat"], "gpt-4-1106-preview"), [])
    const reason = ModelAliases.missing(["gpt-3.5-turbo-1106", "claude-2.0"], "gpt-3.5-turbo")
    assert.include(reason, "\"gpt-3.5-turbo\"")
    assert.include(reason, "\"gpt-3.5-turbo-1106\" is a different model")
    assert.include(ModelAliases.missing(["a-model", "b-model"], "c-model"), "models: a-model, b-model")
  })
})

describe("Router", () => {
  it.effect("scores prompts in order through winRate with bounded concurrency when there is no batch path", () =>
    Effect.gen(function*() {
      let running = 0
      let peak = 0
      const router: Router.RouterShape = {
        id: "router/test",
        winRate: (prompt) =>
          Effect.gen(function*() {
            running++
            peak = Math.max(peak, running)
            yield* Effect.yieldNow
            running--
            return prompt.length / 10
          })
      }
      const scores = yield* Router.scoreAll(router, ["a", "bb", "ccc", "dddd", "eeeee"], { concurrency: 2 })
      assert.deepStrictEqual([...scores].map((value) => Number(value.toFixed(3))), [0.1, 0.2, 0.3, 0.4, 0.5])
      assert.isTrue(peak <= 2)
      const streamed = yield* Stream.runCollect(
        Router.scoreStream(router, Stream.fromIterable(["a", "bb", "ccc", "dddd", "eeeee"]), { batchSize: 2, concurrency: 2 })
      )
      assert.deepStrictEqual(
        streamed.map((entry) => [entry.prompt, Number(entry.winRate.toFixed(3))]),
        [["a", 0.1], ["bb", 0.2], ["ccc", 0.3], ["dddd", 0.4], ["eeeee", 0.5]]
      )
      assert.deepStrictEqual(Router.decide(0.5, 0.5, { strong: "s", weak: "w" }).model, "s")
      assert.deepStrictEqual(Router.decide(0.49, 0.5, { strong: "s", weak: "w" }).model, "w")
    }))
})
