import { assert, describe, it } from "@effect/vitest"
import { Gsm8k, Metrics, Mmlu, MtBench, Outcomes } from "@routellm/benchmarks"
import { ArtifactStore, type Benchmark, Files, Settings } from "@routellm/core"
import { Effect, Schema } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { evalDirectory, sharedData, trainDirectory } from "../../../test/support/SharedData.ts"

const context = { baseDirectory: process.cwd() }
const store = ArtifactStore.ArtifactStore.layerAt(Path.join(Os.tmpdir(), "routellm-benchmarks-test"))

const decode = <A>(schema: Schema.Decoder<A>, value: unknown) => Schema.decodeUnknownSync(schema as Schema.Codec<A, unknown>)(value)

const scoreOf = (benchmark: Benchmark.BenchmarkShape, model: string) => Metrics.modelScore(Float64Array.from(benchmark.rows, (row) => row.scores[model]!))

describe("RouteLLM evaluation sets (real files)", () => {
  it.effect("MMLU: 14,037 prompts after decontamination, GPT-4 80.587%, Mixtral 68.091%", () =>
    Effect.gen(function*() {
      const mmlu = yield* Mmlu.make(decode(Mmlu.Config, { dir: evalDirectory }), context)
      assert.strictEqual(mmlu.rows.length, 14037)
      assert.strictEqual(mmlu.dropped, 5)
      assert.strictEqual(mmlu.strongModel, "gpt-4-1106-preview")
      assert.strictEqual(mmlu.weakModel, "mixtral-8x7b-instruct-v0.1")
      assert.strictEqual((scoreOf(mmlu, mmlu.strongModel) * 100).toFixed(3), "80.587")
      assert.strictEqual((scoreOf(mmlu, mmlu.weakModel) * 100).toFixed(3), "68.091")
      const all = yield* Mmlu.make(decode(Mmlu.Config, { dir: evalDirectory, decontaminate: false }), context)
      assert.strictEqual(all.rows.length, 14042)
      assert.notStrictEqual(all.fingerprint, mmlu.fingerprint)
    }).pipe(Effect.provide(store)))

  it.effect("GSM8K: 1,307 prompts, GPT-4 85.769%, Mixtral 63.734%, with output lengths", () =>
    Effect.gen(function*() {
      const gsm8k = yield* Gsm8k.make(decode(Gsm8k.Config, { dir: evalDirectory }), context)
      assert.strictEqual(gsm8k.rows.length, 1307)
      assert.strictEqual(gsm8k.dropped, 12)
      assert.strictEqual((scoreOf(gsm8k, gsm8k.strongModel) * 100).toFixed(3), "85.769")
      assert.strictEqual((scoreOf(gsm8k, gsm8k.weakModel) * 100).toFixed(3), "63.734")
      const tokens = gsm8k.details?.outputTokens?.[gsm8k.strongModel]
      assert.strictEqual(tokens?.length, 1307)
      assert.isTrue(tokens!.every((count) => count > 0))
    }).pipe(Effect.provide(store)))

  it.effect("MT Bench: 72 questions routed on the first turn, mean grade 9.2118 / 8.2813", () =>
    Effect.gen(function*() {
      const mtBench = yield* MtBench.make(decode(MtBench.Config, { dir: evalDirectory }), context)
      assert.strictEqual(mtBench.rows.length, 72)
      assert.strictEqual(mtBench.dropped, 8)
      assert.strictEqual(scoreOf(mtBench, mtBench.strongModel).toFixed(4), "9.2118")
      assert.strictEqual(scoreOf(mtBench, mtBench.weakModel).toFixed(4), "8.2813")
      const questions = (yield* Effect.promise(() => Fs.readFile(Path.join(evalDirectory, "mt_bench/question.jsonl"), "utf8")))
        .trim().split("\n").map((line) => JSON.parse(line) as { turns: Array<string> })
      const firstTurns = new Set(questions.map((question) => question.turns[0]))
      assert.isTrue(mtBench.rows.every((row) => firstTurns.has(row.prompt)))
    }).pipe(Effect.provide(store)))

  it.effect("reads ROUTELLM_DATA_DIR when no dir is given, and accepts the data root or the benchmark folder", () =>
    Effect.gen(function*() {
      const viaSettings = yield* Gsm8k.make(decode(Gsm8k.Config, {}), context).pipe(
        Effect.provideService(Settings.Settings, { ...Settings.fromEnvironment(), dataDirectory: sharedData })
      )
      const viaFolder = yield* Gsm8k.make(decode(Gsm8k.Config, { dir: Path.join(evalDirectory, "gsm8k") }), context)
      assert.strictEqual(viaSettings.rows.length, 1307)
      assert.strictEqual(viaSettings.fingerprint, viaFolder.fingerprint)
    }).pipe(Effect.provide(store)))

  it.effect("a model missing from the data fails with the models it has", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Gsm8k.make(decode(Gsm8k.Config, { dir: evalDirectory, strong: "claude-2" }), context))
      assert.include(error.message, "claude-2")
      assert.include(error.message, "gpt-4-1106-preview")
    }).pipe(Effect.provide(store)))
})

describe("benchmark/outcomes", () => {
  it.effect("RouterBench CSV: model columns by alias, recorded costs and output lengths", () =>
    Effect.gen(function*() {
      const file = Path.join(trainDirectory, "routerbench/mbpp_train.csv")
      const outcomes = yield* Outcomes.make(decode(Outcomes.Config, { file }), context)
      assert.strictEqual(outcomes.strongModel, "gpt-4-1106-preview")
      assert.strictEqual(outcomes.weakModel, "mixtral-8x7b-instruct-v0.1")
      assert.strictEqual(outcomes.models.length, 11)
      assert.strictEqual(outcomes.rows.length + outcomes.dropped, 299)
      assert.isTrue(outcomes.rows.every((row) => row.scores[outcomes.strongModel] === 0 || row.scores[outcomes.strongModel] === 1))
      assert.strictEqual(outcomes.details?.recordedCosts?.[outcomes.strongModel]?.length, outcomes.rows.length)
      assert.strictEqual(outcomes.scoreLabel, "accuracy")
    }).pipe(Effect.provide(store)))

  it.effect("LLMRouter JSON: all models kept, best/worst pair by default, seeded split by prompt", () =>
    Effect.gen(function*() {
      const file = Path.join(trainDirectory, "llmrouter/test.json")
      const all = yield* Outcomes.make(decode(Outcomes.Config, { file }), context)
      assert.strictEqual(all.models.length, 9)
      assert.strictEqual(all.rows.length + all.dropped, 500)
      const means = all.models.map((model) => scoreOf(all, model))
      assert.strictEqual(scoreOf(all, all.strongModel), Math.max(...means))
      assert.strictEqual(scoreOf(all, all.weakModel), Math.min(...means))
      const test = yield* Outcomes.make(decode(Outcomes.Config, { file, split: { seed: 1, testFraction: 0.3 } }), context)
      const train = yield* Outcomes.make(decode(Outcomes.Config, { file, split: { seed: 1, testFraction: 0.3, part: "train" } }), context)
      assert.strictEqual(test.rows.length + train.rows.length, all.rows.length)
      const trainPrompts = new Set(train.rows.map((row) => row.prompt))
      assert.isTrue(test.rows.every((row) => !trainPrompts.has(row.prompt)))
      assert.isTrue(test.rows.length > 100 && test.rows.length < 200, `test part ${test.rows.length}`)
      assert.notStrictEqual(test.fingerprint, train.fingerprint)
    }).pipe(Effect.provide(store)))

  it.effect("keeps every row the pair can use and counts contaminated and missing rows apart (real RouterBench rows)", () =>
    Effect.gen(function*() {
      const source = Path.join(trainDirectory, "routerbench/mbpp_train.csv")
      const table = yield* Files.readCsv(source)
      const directory = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-outcomes-")))
      // Rows 0-9 lose a bystander's score (Yi-34B), rows 10-14 the weak model's, row 20 is contaminated.
      const rows = table.rows.map((row, index) => {
        const value = { ...row.value }
        if (index < 10) value["zero-one-ai/Yi-34B-Chat"] = ""
        if (index >= 10 && index < 15) value["mistralai/mixtral-8x7b-chat"] = ""
        return table.header.map((column) => value[column]!)
      })
      const quote = (field: string) => `"${field.replaceAll("\"", "\"\"")}"`
      const file = Path.join(directory, "mbpp.csv")
      yield* Effect.promise(() => Fs.writeFile(file, [table.header, ...rows].map((fields) => fields.map(quote).join(",")).join("\n") + "\n"))
      const exclude = Path.join(directory, "contaminated.jsonl")
      yield* Effect.promise(() => Fs.writeFile(exclude, JSON.stringify({ eval_prompt: table.rows[20]!.value["prompt"] }) + "\n"))
      const outcomes = yield* Outcomes.make(decode(Outcomes.Config, { file, exclude: [exclude] }), context)
      assert.strictEqual(outcomes.rows.length, 299 - 5 - 1)
      assert.strictEqual(outcomes.dropped, 6)
      assert.deepStrictEqual(outcomes.details?.droppedReasons, { contaminated: 1, "without a score of the pair": 5 })
      // The bystander has holes, so it is no longer listed; the other ten models are.
      assert.strictEqual(outcomes.models.length, 10)
      assert.notInclude(outcomes.models, "yi-34b-chat")
      const first = table.rows[0]!.value
      assert.strictEqual(outcomes.rows[0]!.scores["gpt-4-1106-preview"], Number(first["gpt-4-1106-preview"]))
      assert.strictEqual(outcomes.rows[0]!.scores["mixtral-8x7b-instruct-v0.1"], Number(first["mistralai/mixtral-8x7b-chat"]))
    }).pipe(Effect.provide(store)))

  it.effect("gpt-3.5-turbo and gpt-3.5-turbo-1106 stay two models (real RouterBench rows)", () =>
    Effect.gen(function*() {
      const table = yield* Files.readCsv(Path.join(trainDirectory, "routerbench/mbpp_train.csv"))
      const directory = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-aliases-")))
      // A table with both: gpt-3.5-turbo's column is gpt-3.5-turbo-1106's, inverted, so a mix-up shows in every row.
      const header = ["prompt", "gpt-3.5-turbo", "gpt-3.5-turbo-1106", "gpt-4-1106-preview"]
      const lines = table.rows.map((row) => {
        const newer = row.value["gpt-3.5-turbo-1106"]!
        return [`"${row.value["prompt"]!.replaceAll("\"", "\"\"")}"`, String(1 - Number(newer)), newer, row.value["gpt-4-1106-preview"]!].join(",")
      })
      const file = Path.join(directory, "both.csv")
      yield* Effect.promise(() => Fs.writeFile(file, [header.join(","), ...lines].join("\n") + "\n"))
      const outcomes = yield* Outcomes.make(
        decode(Outcomes.Config, { file, strong: "gpt-4-1106-preview", weak: "gpt-3.5-turbo" }),
        context
      )
      assert.deepStrictEqual([...outcomes.models].sort(), ["gpt-3.5-turbo", "gpt-3.5-turbo-1106", "gpt-4-1106-preview"])
      assert.strictEqual(outcomes.weakModel, "gpt-3.5-turbo")
      outcomes.rows.forEach((row, index) => {
        const newer = Number(table.rows[index]!.value["gpt-3.5-turbo-1106"])
        assert.strictEqual(row.scores["gpt-3.5-turbo-1106"], newer)
        assert.strictEqual(row.scores["gpt-3.5-turbo"], 1 - newer)
      })
      // Asked for the moving alias where only the dated version exists: an error naming both.
      const error = yield* Effect.flip(Outcomes.make(
        decode(Outcomes.Config, { file: Path.join(trainDirectory, "routerbench/mbpp_train.csv"), weak: "gpt-3.5-turbo" }),
        context
      ))
      assert.include(error.message, "\"gpt-3.5-turbo\"")
      assert.include(error.message, "\"gpt-3.5-turbo-1106\" is a different model")
    }).pipe(Effect.provide(store)))
})

describe("benchmark/mt-bench with FastChat files", () => {
  it.effect("loads a question file with string ids and { content } turns; a grade of -1 is missing", () =>
    Effect.gen(function*() {
      const questions = (yield* Files.readJsonl(Path.join(evalDirectory, "mt_bench/question.jsonl"))).rows
        .map((row) => row.value as { question_id: number; category: string; turns: Array<string> })
      const judgements = (yield* Files.readJsonl(Path.join(evalDirectory, "mt_bench/judgements.jsonl"))).rows
        .map((row) => row.value as { question_id: number; model: string; score: number; turn: number })
      // Arena-style ids: hex strings; turns as objects.
      const idOf = (id: number) => `q${id.toString(16).padStart(6, "0")}`
      const directory = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-fastchat-")))
      const questionFile = Path.join(directory, "question.jsonl")
      const judgementFile = Path.join(directory, "gpt-4_single.jsonl")
      yield* Effect.promise(() =>
        Fs.writeFile(
          questionFile,
          questions.map((question) =>
            JSON.stringify({ ...question, question_id: idOf(question.question_id), turns: question.turns.map((content) => ({ content })) })
          ).join("\n")
        )
      )
      // Question 81's weak grade of turn 2 could not be parsed.
      const edited = judgements.map((judgement) =>
        judgement.question_id === 81 && judgement.turn === 2 && judgement.model.toLowerCase().includes("mixtral")
          ? { ...judgement, question_id: idOf(judgement.question_id), score: -1 }
          : { ...judgement, question_id: idOf(judgement.question_id) }
      )
      yield* Effect.promise(() => Fs.writeFile(judgementFile, edited.map((row) => JSON.stringify(row)).join("\n")))
      const fastChat = yield* MtBench.make(
        decode(MtBench.Config, { questions: questionFile, judgements: judgementFile, name: "arena-style" }),
        context
      )
      const reference = yield* MtBench.make(decode(MtBench.Config, { dir: evalDirectory, decontaminate: false }), context)
      assert.strictEqual(fastChat.name, "arena-style")
      assert.strictEqual(fastChat.rows.length, 79)
      assert.deepStrictEqual(
        (fastChat as { details?: { droppedReasons?: unknown } }).details?.droppedReasons,
        { contaminated: 0, "without grades of the pair": 1 }
      )
      // Every other question scores as the RouteLLM layout scores it.
      const byPrompt = new Map(reference.rows.map((row) => [row.prompt, row]))
      assert.notInclude(fastChat.rows.map((row) => row.prompt), questions.find((question) => question.question_id === 81)!.turns[0])
      for (const row of fastChat.rows) {
        const expected = byPrompt.get(row.prompt)!
        assert.strictEqual(row.scores[fastChat.strongModel], expected.scores[reference.strongModel])
        assert.strictEqual(row.scores[fastChat.weakModel], expected.scores[reference.weakModel])
      }
    }).pipe(Effect.provide(store)))

  it.effect("names the missing option or file", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(MtBench.make(decode(MtBench.Config, { questions: "question.jsonl" }), context))
      assert.include(error.message, "judgements")
    }).pipe(Effect.provide(store)))
})
