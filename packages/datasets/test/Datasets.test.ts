import { assert, describe, it } from "@effect/vitest"
import { ArtifactStore, type Dataset, Plugin, PluginRegistry, type Records } from "@routellm/core"
import { Effect, Exit, Layer, Stream } from "effect"
import { parquetWriteBuffer } from "hyparquet-writer"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { sharedData } from "../../../test/support/SharedData.ts"
import { AlpacaEval, Arena, OutcomeBattles, PandaLm } from "../src/index.ts"

const temporaryDirectory = () => Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-datasets-")))

// Dataset plugins may ask for the registry (Plugin.Services); these need no other plugin.
const store = Layer.merge(
  ArtifactStore.ArtifactStore.layerAt(Path.join(Os.tmpdir(), "routellm-datasets-store")),
  PluginRegistry.PluginRegistry.layer([])
)

/** Decode a raw config with the plugin's Schema, build the dataset and read every battle. */
const load = (plugin: Plugin.DatasetPlugin, raw: unknown, baseDirectory = sharedData) =>
  Effect.gen(function*() {
    const config = yield* Plugin.decodeConfig(plugin)(raw)
    const dataset: Dataset.DatasetShape = yield* plugin.make(config, { baseDirectory })
    const battles = yield* Stream.runCollect(dataset.records)
    return { dataset, battles }
  }).pipe(Effect.scoped, Effect.provide(store))

const winners = (battles: ReadonlyArray<Records.Battle>) => {
  const counts = { model_a: 0, model_b: 0, tie: 0 }
  for (const battle of battles) counts[battle.winner]++
  return counts
}

const failureMessage = <A, E>(exit: Exit.Exit<A, E>): string => {
  assert.isTrue(Exit.isFailure(exit))
  if (!Exit.isFailure(exit)) return ""
  const reason = exit.cause.reasons.find((entry) => entry._tag === "Fail")
  return reason !== undefined && reason._tag === "Fail" ? String((reason.error as Error).message) : ""
}

describe("dataset/alpaca-eval", () => {
  it.live("reads the real battles, dropping invalid judgements, the placeholder model and self-battles", () =>
    Effect.gen(function*() {
      const { battles, dataset } = yield* load(AlpacaEval.plugin, { dir: "." })
      // Counted independently from the file: 108,601 rows - 197 invalid - 805 `example` - 1,610 self-battles.
      assert.strictEqual(battles.length, 105_989)
      assert.deepStrictEqual(winners(battles), { model_a: 63_553, model_b: 42_229, tie: 207 })
      assert.strictEqual(dataset.skipped.length, 0)
      // Aliases: model_1 gpt4_1106_preview and model_2 Mixtral-8x7B-Instruct-v0.1 become canonical names.
      const mixtral = battles.filter((battle) => battle.model_b === "mixtral-8x7b-instruct-v0.1")
      assert.strictEqual(mixtral.length, 1610)
      assert.isTrue(mixtral.every((battle) => battle.model_a === "gpt-4-1106-preview"))
      assert.deepStrictEqual(winners(mixtral), { model_a: 1265, model_b: 343, tie: 2 })
      assert.isFalse(battles.some((battle) => battle.model_a === battle.model_b || battle.model_b === "example"))
    }))

  it.live("splits weighted preferences into fractional wins", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const file = Path.join(directory, "battles.jsonl")
      const rows = [
        { prompt: "Name three primary colours.", model_1: "text_davinci_003", model_2: "claude_2", preference: 1.25 },
        { prompt: "Name three primary colours.", model_1: "text_davinci_003", model_2: "gpt4", preference: 2 },
        { prompt: "Name three primary colours.", model_1: "text_davinci_003", model_2: "gpt4", preference: 1.5 }
      ]
      yield* Effect.promise(() => Fs.writeFile(file, rows.map((row) => JSON.stringify(row)).join("\n")))
      const fractional = yield* load(AlpacaEval.plugin, { file, weighting: "fractional" })
      assert.deepStrictEqual(fractional.battles.map((battle) => [battle.model_b, battle.winner, battle.weight]), [
        ["claude-2.0", "model_a", 0.75],
        ["claude-2.0", "model_b", 0.25],
        // AlpacaEval's unversioned `gpt4` is not joined with any dated GPT-4
        ["gpt4", "model_b", 1],
        ["gpt4", "tie", undefined]
      ])
      const nearest = yield* load(AlpacaEval.plugin, { file })
      assert.deepStrictEqual(nearest.battles.map((battle) => battle.winner), ["model_a", "model_b", "tie"])
    }))

  it.live("reports malformed rows with file and line, failing or skipping", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const file = Path.join(directory, "battles.jsonl")
      const lines = [
        JSON.stringify({ prompt: "Explain photosynthesis briefly.", model_1: "a", model_2: "b", preference: 1 }),
        "{not json",
        JSON.stringify({ prompt: "Explain photosynthesis briefly.", model_1: "a", model_2: "b", preference: 3 }),
        JSON.stringify({ model_1: "a", model_2: "b", preference: 2 }),
        JSON.stringify({ prompt: "Explain photosynthesis briefly.", model_1: "a", model_2: "b", preference: 2 })
      ]
      yield* Effect.promise(() => Fs.writeFile(file, lines.join("\n")))
      const failed = yield* Effect.exit(load(AlpacaEval.plugin, { file }))
      assert.include(failureMessage(failed), `${file}:2`)
      const skipped = yield* load(AlpacaEval.plugin, { file, onInvalid: "skip" })
      assert.strictEqual(skipped.battles.length, 2)
      assert.deepStrictEqual(skipped.dataset.skipped.map((row) => row.line), [2, 3, 4])
      assert.include(skipped.dataset.skipped[1]!.reason, "preference")
      assert.include(skipped.dataset.skipped[2]!.reason, "prompt")
    }))

  it.live("names what to set when no data directory is known", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(load(AlpacaEval.plugin, {}))
      if (process.env.ROUTELLM_DATA_DIR === undefined) assert.include(failureMessage(exit), "ROUTELLM_DATA_DIR")
    }))
})

describe("dataset/pandalm", () => {
  it.live("reads the real votes with the majority label", () =>
    Effect.gen(function*() {
      const { battles } = yield* load(PandaLm.plugin, { dir: "." })
      assert.strictEqual(battles.length, 999)
      // Majorities counted independently from the file.
      assert.deepStrictEqual(winners(battles), { model_a: 422, model_b: 472, tie: 105 })
      assert.deepStrictEqual([...new Set(battles.flatMap((battle) => [battle.model_a, battle.model_b]))].sort(), [
        "bloom-7b",
        "cerebras-gpt-6.7B",
        "llama-7b",
        "opt-7b",
        "pythia-6.9b"
      ])
      assert.isTrue(battles[0]!.prompt.startsWith("The sentence you are given might be too wordy"))
      assert.isTrue(battles[0]!.prompt.endsWith("please let me know."))
    }))

  it.live("treats bare NaN votes as missing and reports malformed records", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const file = Path.join(directory, "testset.json")
      const record = (fields: string) => `  {\n    "instruction": "Summarise the text.",\n    "input": "Cats sleep a lot.",\n    ${fields}\n  }`
      const text = `[\n${
        [
          record(`"cmp_key": "llama-7b_opt-7b", "annotator1": 2, "annotator2": NaN, "annotator3": 2`),
          record(`"cmp_key": "llama-7b_opt-7b", "annotator1": 1, "annotator2": NaN, "annotator3": 2`),
          record(`"cmp_key": "llama-7b", "annotator1": 1, "annotator2": 1, "annotator3": 1`),
          record(`"cmp_key": "llama-7b_opt-7b", "annotator1": NaN, "annotator2": NaN, "annotator3": NaN`),
          record(`"cmp_key": "llama-7b_opt-7b", "annotator1": 5, "annotator2": 1, "annotator3": 1`)
        ].join(",\n")
      }\n]\n`
      yield* Effect.promise(() => Fs.writeFile(file, text))
      const { battles, dataset } = yield* load(PandaLm.plugin, { file, onInvalid: "skip" })
      assert.deepStrictEqual(battles.map((battle) => battle.winner), ["model_b", "tie"])
      assert.strictEqual(battles[0]!.prompt, "Summarise the text.\n\nCats sleep a lot.")
      // Each record takes five lines: they start on lines 2, 7, 12, 17 and 22.
      assert.deepStrictEqual(dataset.skipped.map((row) => row.line), [12, 17, 22])
      const dropped = yield* load(PandaLm.plugin, { file, onInvalid: "skip", noMajority: "drop" })
      assert.strictEqual(dropped.battles.length, 1)
      assert.include(failureMessage(yield* Effect.exit(load(PandaLm.plugin, { file }))), `${file}:12`)
    }))
})

describe("dataset/outcome-battles", () => {
  it.live("turns RouterBench correctness into golden-label battles", () =>
    Effect.gen(function*() {
      const { battles } = yield* load(OutcomeBattles.plugin, { dir: ".", sources: ["train/routerbench/mbpp_train.csv"] })
      // 299 prompts x 55 pairs of 11 models, counted independently from the file.
      assert.strictEqual(battles.length, 16_445)
      assert.deepStrictEqual(winners(battles), { model_a: 3002, model_b: 1972, tie: 11_471 })
      // The Python list repr of the prompt is unwrapped to its first turn.
      assert.strictEqual(battles[0]!.prompt, "Write a function to remove all elements from a given list present in another list.")
      assert.strictEqual(battles[0]!.source, "routerbench/mbpp_train.csv")
      const models = new Set(battles.flatMap((battle) => [battle.model_a, battle.model_b]))
      assert.isTrue(models.has("gpt-4-1106-preview") && models.has("mixtral-8x7b-instruct-v0.1"))
      const strongWeak = yield* load(OutcomeBattles.plugin, {
        dir: ".",
        sources: ["train/routerbench/mbpp_train.csv"],
        models: ["gpt-4-1106-preview", "mistralai/mixtral-8x7b-chat"],
        ties: "drop"
      })
      assert.isTrue(strongWeak.battles.every((battle) => battle.winner !== "tie" && battle.model_a !== battle.model_b))
      assert.isTrue(strongWeak.battles.length > 0 && strongWeak.battles.length < 299)
    }))

  it.live("reads LLMRouter JSON scores", () =>
    Effect.gen(function*() {
      const { battles } = yield* load(OutcomeBattles.plugin, { dir: ".", sources: ["train/llmrouter/train.json"] })
      assert.strictEqual(battles.length, 201_888)
      assert.deepStrictEqual(winners(battles), { model_a: 32_063, model_b: 39_126, tie: 130_699 })
    }))

  it.live("handles margins, missing scores and malformed rows", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const csv = Path.join(directory, "outcomes.csv")
      yield* Effect.promise(() =>
        Fs.writeFile(
          csv,
          [
            "prompt,m1,m2,m3,m1|total_cost,m2|total_cost,m3|total_cost",
            "\"What is 2+2,\nexactly?\",1,0,,0,0,0",
            "Name a prime,0.5,0.45,0.9,0,0,0",
            "Bad score,abc,1,0,0,0,0",
            "Too short,1,0"
          ].join("\n")
        )
      )
      const { battles, dataset } = yield* load(OutcomeBattles.plugin, { files: [csv], onInvalid: "skip", margin: 0.1 })
      assert.deepStrictEqual(battles.map((battle) => [battle.model_a, battle.model_b, battle.winner]), [
        ["m1", "m2", "model_a"],
        ["m1", "m2", "tie"],
        ["m1", "m3", "model_b"],
        ["m2", "m3", "model_b"]
      ])
      // The first record spans lines 2-3 (a quoted newline), so the bad rows are on lines 5 and 6.
      assert.deepStrictEqual(dataset.skipped.map((row) => row.line), [5, 6])
      assert.include(dataset.skipped[0]!.reason, "m1")
      assert.include(failureMessage(yield* Effect.exit(load(OutcomeBattles.plugin, { files: [csv] }))), `${csv}:5`)
      const json = Path.join(directory, "outcomes.json")
      yield* Effect.promise(() => Fs.writeFile(json, `[\n  {"question": "Q1 text", "scores": {"x": 1, "y": NaN}},\n  {"scores": {"x": 1}}\n]`))
      const fromJson = yield* load(OutcomeBattles.plugin, { files: [json], onInvalid: "skip" })
      assert.strictEqual(fromJson.battles.length, 0)
      assert.deepStrictEqual(fromJson.dataset.skipped.map((row) => row.line), [3])
    }))
})

describe("dataset/outcome-battles labels", () => {
  it.live("reference: every score is a battle against reference:<source>; both adds the pairwise battles", () =>
    Effect.gen(function*() {
      const source = "train/routerbench/mbpp_train.csv"
      const reference = "reference:routerbench/mbpp_train.csv"
      const { battles } = yield* load(OutcomeBattles.plugin, { dir: ".", sources: [source], labels: "reference" })
      // 299 prompts x 11 models, every score 0 or 1: 1,671 right answers, 1,618 wrong (counted from the file).
      assert.strictEqual(battles.length, 3289)
      assert.deepStrictEqual(winners(battles), { model_a: 1671, model_b: 1618, tie: 0 })
      assert.isTrue(battles.every((battle) => battle.model_b === reference && battle.weight === undefined))
      assert.strictEqual(battles[0]!.prompt, "Write a function to remove all elements from a given list present in another list.")
      assert.strictEqual(new Set(battles.map((battle) => battle.model_a)).size, 11)
      const both = yield* load(OutcomeBattles.plugin, { dir: ".", sources: [source], labels: "both" })
      assert.strictEqual(both.battles.length, 16_445 + 3289)
      const gpt4 = yield* load(OutcomeBattles.plugin, { dir: ".", sources: [source], labels: "reference", models: ["gpt4_1106_preview"] })
      assert.strictEqual(gpt4.battles.length, 299)
      assert.isTrue(gpt4.battles.every((battle) => battle.model_a === "gpt-4-1106-preview"))
      const onlyReference = yield* load(OutcomeBattles.plugin, { dir: ".", sources: [source], labels: "both", involving: [reference] })
      assert.strictEqual(onlyReference.battles.length, 3289)
      // The default stays pairwise, with the fingerprint it had.
      const pairwise = yield* load(OutcomeBattles.plugin, { dir: ".", sources: [source] })
      const explicit = yield* load(OutcomeBattles.plugin, { dir: ".", sources: [source], labels: "pairwise" })
      assert.strictEqual(pairwise.dataset.fingerprint, explicit.dataset.fingerprint)
      assert.notStrictEqual(pairwise.dataset.fingerprint, both.dataset.fingerprint)
    }))

  it.live("reference: a fractional score s is two battles of weights s and 1 - s; scores outside [0, 1] are invalid rows", () =>
    Effect.gen(function*() {
      const { battles } = yield* load(OutcomeBattles.plugin, { dir: ".", sources: ["train/routerdc/mbpp.json"], labels: "reference" })
      // 3,500 scores: 2,639 of 0 or 1 (one battle each), 861 fractional (two each); they sum to 1,358.2.
      assert.strictEqual(battles.length, 2639 + 2 * 861)
      const weightOf = (battle: Records.Battle) => battle.weight ?? 1
      assert.closeTo(battles.reduce((sum, battle) => sum + weightOf(battle), 0), 3500, 1e-6)
      assert.closeTo(battles.filter((battle) => battle.winner === "model_a").reduce((sum, battle) => sum + weightOf(battle), 0), 1358.2, 1e-6)
      const prompt = "\"\"\"\nWrite a python function to remove first and la"
      const metaMath = battles.filter((battle) => battle.prompt.startsWith(prompt) && battle.model_a === "meta-math/MetaMath-Mistral-7B")
      assert.deepStrictEqual(metaMath.map((battle) => [battle.winner, battle.weight]), [["model_a", 0.4], ["model_b", 0.6]])
      assert.strictEqual(metaMath[0]!.model_b, "reference:routerdc/mbpp.json")

      const directory = yield* temporaryDirectory()
      const json = Path.join(directory, "grades.json")
      yield* Effect.promise(() =>
        Fs.writeFile(json, `[\n  {"question": "Q1", "scores": {"x": 1, "y": 0.25}},\n  {"question": "Q2", "scores": {"x": 7, "y": 1}}\n]`)
      )
      const message = failureMessage(yield* Effect.exit(load(OutcomeBattles.plugin, { files: [json], labels: "reference" })))
      assert.include(message, `${json}:3`)
      assert.include(message, "[0, 1]")
      const skipped = yield* load(OutcomeBattles.plugin, { files: [json], labels: "reference", onInvalid: "skip" })
      assert.deepStrictEqual(skipped.battles.map((battle) => [battle.prompt, battle.model_a, battle.winner, battle.weight]), [
        ["Q1", "x", "model_a", undefined],
        ["Q1", "y", "model_a", 0.25],
        ["Q1", "y", "model_b", 0.75]
      ])
      assert.deepStrictEqual(skipped.dataset.skipped.map((row) => row.line), [3])
      // Pairwise labels take any score.
      const pairwise = yield* load(OutcomeBattles.plugin, { files: [json] })
      assert.strictEqual(pairwise.battles.length, 2)
    }))
})

describe("dataset/arena", () => {
  const header = "id,model_a,model_b,prompt,response_a,response_b,winner_model_a,winner_model_b,winner_tie"
  const csvRow = (fields: ReadonlyArray<string>) => fields.map((field) => `"${field.replaceAll("\"", "\"\"")}"`).join(",")

  it.live("reads the 55k CSV format: first turn, winner, short prompts dropped, malformed rows reported", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const file = Path.join(directory, "train.csv")
      const rows = [
        header,
        csvRow([
          "1",
          "gpt-4-1106-preview",
          "mixtral-8x7b-instruct-v0.1",
          JSON.stringify(["How do rainbows form, in detail?", "And why?"]),
          "[]",
          "[]",
          "1",
          "0",
          "0"
        ]),
        csvRow(["2", "claude-2.0", "llama-2-70b-chat", JSON.stringify(["hi there"]), "[]", "[]", "0", "0", "1"]),
        csvRow(["3", "claude-2.0", "gpt-4-0613", JSON.stringify(["Write a haiku about autumn leaves."]), "[]", "[]", "0", "1", "0"]),
        csvRow(["4", "claude-2.0", "gpt-4-0613", "not json", "[]", "[]", "0", "1", "0"]),
        csvRow(["5", "claude-2.0", "gpt-4-0613", JSON.stringify(["Explain quicksort to a child."]), "[]", "[]", "1", "1", "0"])
      ]
      yield* Effect.promise(() => Fs.writeFile(file, rows.join("\n") + "\n"))
      const { battles, dataset } = yield* load(Arena.plugin, { file, onInvalid: "skip" })
      assert.deepStrictEqual(battles, [
        {
          prompt: "How do rainbows form, in detail?",
          model_a: "gpt-4-1106-preview",
          model_b: "mixtral-8x7b-instruct-v0.1",
          winner: "model_a",
          source: "arena"
        },
        { prompt: "Write a haiku about autumn leaves.", model_a: "claude-2.0", model_b: "gpt-4-0613", winner: "model_b", source: "arena" }
      ])
      assert.deepStrictEqual(dataset.skipped.map((row) => row.line), [5, 6])
      assert.include(failureMessage(yield* Effect.exit(load(Arena.plugin, { file }))), `${file}:5`)
    }))

  it.live("reads the 55k parquet format (int64 winner columns) like the CSV", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const file = Path.join(directory, "train.parquet")
      const turns = [
        JSON.stringify(["How do rainbows form, in detail?", "And why?"]),
        JSON.stringify(["hi there"]),
        JSON.stringify(["Write a haiku about autumn leaves."]),
        "not json"
      ]
      const buffer = parquetWriteBuffer({
        columnData: [
          { name: "id", data: [1n, 2n, 3n, 4n], type: "INT64" },
          { name: "model_a", data: ["gpt-4-1106-preview", "claude-2.0", "claude-2.0", "claude-2.0"], type: "STRING" },
          { name: "model_b", data: ["mixtral-8x7b-instruct-v0.1", "llama-2-70b-chat", "gpt-4-0613", "gpt-4-0613"], type: "STRING" },
          { name: "prompt", data: turns, type: "STRING" },
          { name: "winner_model_a", data: [1n, 0n, 0n, 0n], type: "INT64" },
          { name: "winner_model_b", data: [0n, 0n, 1n, 1n], type: "INT64" },
          { name: "winner_tie", data: [0n, 1n, 0n, 0n], type: "INT64" }
        ]
      })
      yield* Effect.promise(() => Fs.writeFile(file, new Uint8Array(buffer)))
      const { battles, dataset } = yield* load(Arena.plugin, { file, onInvalid: "skip" })
      assert.deepStrictEqual(battles, [
        {
          prompt: "How do rainbows form, in detail?",
          model_a: "gpt-4-1106-preview",
          model_b: "mixtral-8x7b-instruct-v0.1",
          winner: "model_a",
          source: "arena"
        },
        { prompt: "Write a haiku about autumn leaves.", model_a: "claude-2.0", model_b: "gpt-4-0613", winner: "model_b", source: "arena" }
      ])
      // Parquet rows have no lines: the fourth row is reported by its position.
      assert.deepStrictEqual(dataset.skipped.map((row) => row.line), [4])
      const garbage = Path.join(directory, "broken.parquet")
      yield* Effect.promise(() => Fs.writeFile(garbage, "not parquet at all"))
      assert.include(failureMessage(yield* Effect.exit(load(Arena.plugin, { file: garbage }))), "not a readable parquet file")
    }))

  it.live("does not touch the network unless download is enabled", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const exit = yield* Effect.exit(load(Arena.plugin, { dir: directory }))
      assert.include(failureMessage(exit), "download: true")
      assert.strictEqual(
        Arena.downloadUrl(yield* Plugin.decodeConfig(Arena.plugin)({})),
        "https://huggingface.co/datasets/lmsys/lmsys-arena-human-preference-55k/resolve/main/train.csv"
      )
    }))
})
