import { assert, describe, it } from "@effect/vitest"
import { ArtifactStore, Battles, Plugin, PluginRegistry, Progress, type Records } from "@routellm/core"
import { BertRouter, Head, Labels, OnnxSession, Tokenizer } from "@routellm/router-bert"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { minilmTokenizer } from "../../../test/support/SharedData.ts"
import * as OnnxModels from "./support/OnnxModels.ts"

const vocabulary = Fs.readFileSync(Path.join(minilmTokenizer, "vocab.txt"), "utf8").split("\n")
const idOf = (token: string) => {
  const index = vocabulary.indexOf(token)
  if (index < 0) throw new Error(`no token ${token}`)
  return index
}

const V = 30522
const d = 4
const L = 3
const embeddings = OnnxModels.knownWeights(V * d, 1)
const weights = OnnxModels.knownWeights(d * L, 2, 2)
const bias = Float32Array.of(0.1, -0.2, 0.05)

const temporary = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "router-bert-"))

/** Expected win rate by hand: mean embedding of the ids, linear layer, softmax, 1 - sum over weak labels. */
const expectedWinRate = (ids: ReadonlyArray<number>, weakLabels: ReadonlyArray<number> = [1, 2]) => {
  const pooled = Array.from({ length: d }, (_, k) => ids.reduce((sum, id) => sum + embeddings[id * d + k]!, 0) / ids.length)
  const logits = Array.from({ length: L }, (_, l) => bias[l]! + pooled.reduce((sum, value, k) => sum + value * weights[k * L + l]!, 0))
  const max = Math.max(...logits)
  const exp = logits.map((value) => Math.exp(value - max))
  const total = exp.reduce((a, b) => a + b, 0)
  return 1 - weakLabels.reduce((sum, label) => sum + exp[label]! / total, 0)
}

const services = (root: string) => Layer.mergeAll(ArtifactStore.ArtifactStore.layerAt(root), PluginRegistry.PluginRegistry.layer([]))

const writeClassifier = () => {
  const directory = temporary()
  Fs.writeFileSync(Path.join(directory, "model.onnx"), OnnxModels.sequenceClassifier({ embeddings, dimensions: d, weights, bias }))
  return directory
}

describe("router/bert on an ONNX sequence classifier", () => {
  const modelDirectory = writeClassifier()

  it.effect("matches win rates computed by hand, batched and one at a time", () =>
    Effect.gen(function*() {
      const config = yield* PluginRegistry.decodeConfig(BertRouter.plugin, { model: "model.onnx", tokenizer: minilmTokenizer }, "test")
      const router = yield* BertRouter.plugin.make(config, { baseDirectory: modelDirectory })
      const prompts = ["hello world", "Solve this integral step by step", "hi"]
      const expected = [
        expectedWinRate(["[CLS]", "hello", "world", "[SEP]"].map(idOf)),
        expectedWinRate(["[CLS]", "solve", "this", "integral", "step", "by", "step", "[SEP]"].map(idOf)),
        expectedWinRate(["[CLS]", "hi", "[SEP]"].map(idOf))
      ]
      const batched = yield* router.winRates!(prompts)
      for (let index = 0; index < prompts.length; index++) {
        assert.closeTo(batched[index]!, expected[index]!, 1e-5)
        assert.closeTo(yield* router.winRate(prompts[index]!), expected[index]!, 1e-5)
      }
      // The three prompts give different values, so the check above is not trivially satisfied.
      assert.isTrue(new Set(expected.map((value) => value.toFixed(4))).size === 3)
    }).pipe(Effect.provide(services(temporary())), Effect.scoped))

  it.effect("truncates to maxLength, reads custom label meanings and falls back from CUDA to CPU", () =>
    Effect.gen(function*() {
      const config = yield* PluginRegistry.decodeConfig(
        BertRouter.plugin,
        { model: modelDirectory, tokenizer: minilmTokenizer, maxLength: 4, weakLabels: [2], executionProviders: ["cuda", "cpu"] },
        "test"
      )
      const router = yield* BertRouter.fromClassifier(config, "/")
      assert.strictEqual(router.provider, "cpu")
      const value = yield* router.winRate("hello world again and again")
      assert.closeTo(value, expectedWinRate(["[CLS]", "hello", "world", "[SEP]"].map(idOf), [2]), 1e-5)
    }).pipe(Effect.provide(services(temporary())), Effect.scoped))

  it.effect("names what is missing", () =>
    Effect.gen(function*() {
      const config = yield* PluginRegistry.decodeConfig(BertRouter.plugin, {}, "test")
      const error = yield* Effect.flip(BertRouter.plugin.make(config, { baseDirectory: "/" }))
      assert.include(error.message, "set `model`")
      const missing = yield* PluginRegistry.decodeConfig(BertRouter.plugin, { model: "/nonexistent/dir" }, "test")
      const missingError = yield* Effect.flip(BertRouter.plugin.make(missing, { baseDirectory: "/" }))
      assert.strictEqual(missingError._tag, "MissingInputError")
      const labels = yield* PluginRegistry.decodeConfig(BertRouter.plugin, { model: modelDirectory, tokenizer: minilmTokenizer, weakLabels: [3] }, "test")
      const labelError = yield* Effect.flip(BertRouter.plugin.make(labels, { baseDirectory: "/" }))
      assert.include(labelError.message, "out of range")
    }).pipe(Effect.provide(services(temporary())), Effect.scoped))
})

describe("battle labels", () => {
  it("labels strong-vs-weak battles 0 / 1 / 2 through the alias table and skips the rest", () => {
    const battles: Array<Records.Battle> = [
      { prompt: "a", model_a: "gpt4_1106_preview", model_b: "Mixtral-8x7B-Instruct-v0.1", winner: "model_a" },
      { prompt: "b", model_a: "mistralai/Mixtral-8x7B-Instruct-v0.1", model_b: "gpt-4-1106-preview", winner: "model_a" },
      { prompt: "c", model_a: "gpt-4-1106-preview", model_b: "mixtral-8x7b-instruct-v0.1", winner: "tie", weight: 0.5 },
      { prompt: "d", model_a: "gpt-4-1106-preview", model_b: "claude-2", winner: "model_a" },
      { prompt: "e", model_a: "gpt-4-1106-preview", model_b: "gpt4_1106_preview", winner: "model_b" }
    ]
    const paper = Labels.label(battles, { strongModels: ["gpt-4-1106-preview"], weakModels: ["mixtral-8x7b-instruct-v0.1"] })
    assert.deepStrictEqual(paper.prompts, ["a", "b", "c"])
    assert.deepStrictEqual([...paper.labels], [0, 2, 1])
    assert.deepStrictEqual([...paper.weights], [1, 1, 0.5])
    assert.deepStrictEqual(paper.counts, [1, 1, 1])
    assert.strictEqual(paper.skipped, 2)
    const everyone = Labels.label(battles, { strongModels: ["gpt-4-1106-preview"], weakModels: ["*"] })
    assert.deepStrictEqual(everyone.prompts, ["a", "b", "c", "d"])
  })

  it("labels by win rates within each source, and sums rows per prompt and label", () => {
    // Source s1: x wins 3 of 4 (rate 0.75), y 1 of 4 (0.25). Source s2 reverses them (y is the stronger there).
    const battles: Array<Records.Battle> = [
      { prompt: "p", model_a: "x", model_b: "y", winner: "model_a", source: "s1" },
      { prompt: "p", model_a: "y", model_b: "x", winner: "model_b", source: "s1" },
      { prompt: "q", model_a: "x", model_b: "y", winner: "model_a", source: "s1" },
      { prompt: "q", model_a: "x", model_b: "y", winner: "model_b", source: "s1", weight: 1 },
      { prompt: "r", model_a: "x", model_b: "y", winner: "model_b", source: "s2" },
      { prompt: "r", model_a: "x", model_b: "y", winner: "tie", source: "s2", weight: 0 },
      // x against itself carries no label
      { prompt: "r", model_a: "x", model_b: "x", winner: "model_a", source: "s2" }
    ]
    const labelled = Labels.labelBattles(battles, { kind: "ratings", minimumGap: 0.1 })
    assert.deepStrictEqual(labelled.prompts, ["p", "p", "q", "q", "r"])
    assert.deepStrictEqual([...labelled.labels], [Labels.STRONG_WINS, Labels.STRONG_WINS, Labels.STRONG_WINS, Labels.WEAK_WINS, Labels.STRONG_WINS])
    assert.strictEqual(labelled.skipped, 2)
    const rows = Labels.perPrompt(labelled)
    assert.deepStrictEqual(rows.prompts, ["p", "q", "q", "r"])
    assert.deepStrictEqual([...rows.labels], [Labels.STRONG_WINS, Labels.STRONG_WINS, Labels.WEAK_WINS, Labels.STRONG_WINS])
    assert.deepStrictEqual([...rows.weights], [2, 1, 1, 1])
    // A gap above every rate difference leaves nothing.
    assert.strictEqual(Labels.labelBattles(battles, { kind: "ratings", minimumGap: 0.9 }).prompts.length, 0)
  })
})

describe("softmax-regression head", () => {
  it("learns a linearly separable 3-label problem and round-trips through JSON", () => {
    const rows = 600
    const features = { rows, columns: 2, data: new Float32Array(rows * 2) }
    const targets = new Uint8Array(rows)
    for (let row = 0; row < rows; row++) {
      const label = row % 3
      const angle = (2 * Math.PI * label) / 3 + 0.3 * Math.sin(row)
      features.data[row * 2] = 5 + Math.cos(angle) * (1 + 0.2 * Math.cos(row * 1.7))
      features.data[row * 2 + 1] = -3 + Math.sin(angle) * (1 + 0.2 * Math.cos(row * 1.7))
      targets[row] = label
    }
    const result = Head.train(features, targets, new Float32Array(rows).fill(1), {
      labels: 3,
      epochs: 60,
      learningRate: 0.05,
      l2: 0,
      batchSize: 32,
      validationShare: 0.2,
      seed: 1,
      classWeights: "none",
      patience: 10
    })
    assert.strictEqual(result.validationRows, 120)
    const best = result.history[result.bestEpoch - 1]!
    assert.isAbove(best.validationAccuracy, 0.97)
    // Loss must fall from the prior-only start (ln 3).
    assert.isBelow(best.validationLoss, 0.3)
    // Grouped rows stay together: 100 groups of 5 rows and 100 single rows; 20% of the 200 groups are held out.
    const groups = Int32Array.from({ length: rows }, (_, row) => row < 500 ? Math.floor(row / 5) : row - 400)
    const grouped = Head.train(features, targets, new Float32Array(rows).fill(1), {
      labels: 3,
      epochs: 1,
      learningRate: 0.05,
      l2: 0,
      batchSize: 32,
      validationShare: 0.2,
      seed: 1,
      classWeights: "none",
      patience: 1
    }, groups)
    const heldGroups = new Set([...grouped.validation].map((row) => groups[row]!))
    assert.strictEqual(heldGroups.size, 40)
    const heldRows = Array.from({ length: rows }, (_, row) => row).filter((row) => heldGroups.has(groups[row]!))
    assert.deepStrictEqual([...grouped.validation], heldRows)
    assert.strictEqual(grouped.trainRows + grouped.validationRows, rows)
    const again = Head.fromJson(JSON.parse(JSON.stringify(Head.toJson(result.head))))
    assert.deepStrictEqual([...Head.logits(again, features)], [...Head.logits(result.head, features)])
  })
})

describe("router/bert training step on frozen ONNX-encoder features", () => {
  it.effect("labels battles, writes the Hugging Face training set and a head that routes as the battles say", () =>
    Effect.gen(function*() {
      const root = temporary()
      const encoderDirectory = temporary()
      // Spread-out embeddings so that "math" and "chat" prompts pool to different features.
      Fs.writeFileSync(Path.join(encoderDirectory, "model.onnx"), OnnxModels.encoder(OnnxModels.knownWeights(V * 8, 7), 8))
      const hard = ["prove the theorem", "integrate the function", "derive the equation", "solve the differential equation", "prove the lemma"]
      const easy = ["say hello", "tell a joke", "greet my friend", "say thanks", "tell me a joke please"]
      const battles: Array<Records.Battle> = []
      for (let repeat = 0; repeat < 6; repeat++) {
        for (const prompt of hard) battles.push({ prompt, model_a: "gpt-4-1106-preview", model_b: "mixtral-8x7b-instruct-v0.1", winner: "model_a" })
        for (const prompt of easy) {
          battles.push({ prompt, model_a: "mixtral-8x7b-instruct-v0.1", model_b: "gpt-4-1106-preview", winner: repeat % 2 === 0 ? "model_a" : "tie" })
        }
      }
      battles.push({ prompt: "unrelated", model_a: "claude-2", model_b: "llama-2-70b-chat", winner: "model_a" })
      const datasetDirectory = temporary()
      yield* Battles.write(datasetDirectory, battles)
      const stepDirectory = temporary()
      const config = yield* PluginRegistry.decodeConfig(
        BertRouter.plugin,
        { encoder: { model: encoderDirectory, tokenizer: minilmTokenizer }, training: { epochs: 200, learningRate: 0.05, validationShare: 0, patience: 200 } },
        "test"
      )
      const context = {
        stepId: "train",
        directory: stepDirectory,
        runDirectory: root,
        baseDirectory: root,
        inputs: [{ stepId: "data", uses: "dataset/test", kind: "dataset" as const, directory: datasetDirectory, value: {}, fingerprint: "x" }]
      }
      const output = yield* BertRouter.plugin.train!(config, Plugin.stepContext(BertRouter.plugin, context))
      assert.strictEqual((output.summary as any).labelled, 60)
      assert.strictEqual((output.summary as any).skipped, 1)
      assert.deepStrictEqual(
        [(output.summary as any).strongWins, (output.summary as any).ties, (output.summary as any).weakWins],
        [30, 15, 15]
      )
      const rows = Fs.readFileSync(Path.join(stepDirectory, BertRouter.trainingSetFile), "utf8").trim().split("\n").map((line) => JSON.parse(line))
      assert.strictEqual(rows.length, 60)
      assert.deepStrictEqual(rows[0], { text: "prove the theorem", label: 0 })
      assert.deepStrictEqual(rows[5], { text: "say hello", label: 2 })
      assert.deepStrictEqual(rows[15], { text: "say hello", label: 1 })
      const labelsJson = JSON.parse(Fs.readFileSync(Path.join(stepDirectory, BertRouter.labelsFile), "utf8"))
      assert.deepStrictEqual(labelsJson.id2label, { "0": "strong_wins", "1": "tie", "2": "weak_wins" })

      const router = yield* BertRouter.plugin.make(config, {
        baseDirectory: root,
        trained: { stepId: "train", uses: BertRouter.id, kind: "router", directory: stepDirectory, value: output.value, fingerprint: "y" }
      })
      const hardRates = yield* router.winRates!(hard)
      const easyRates = yield* router.winRates!(easy)
      // Hard prompts: the strong model always won. Easy prompts: the weak model won or tied.
      for (const value of hardRates) {
        assert.isAbove(value, 0.8)
      }
      for (const value of easyRates) assert.isBelow(value, 0.2)
      assert.closeTo(yield* router.winRate(hard[0]!), hardRates[0]!, 1e-9)

      // A head trained on other features is refused instead of silently misapplied.
      const otherEncoder = temporary()
      Fs.writeFileSync(Path.join(otherEncoder, "model.onnx"), OnnxModels.encoder(OnnxModels.knownWeights(V * 8, 9), 8))
      const mismatched = yield* PluginRegistry.decodeConfig(
        BertRouter.plugin,
        { encoder: { model: otherEncoder, tokenizer: minilmTokenizer }, head: stepDirectory },
        "test"
      )
      const error = yield* Effect.flip(BertRouter.plugin.make(mismatched, { baseDirectory: root }))
      assert.include(error.message, "was trained on features")
    }).pipe(
      Effect.provide(services(temporary())),
      Effect.provideService(Progress.Reporter, Progress.silent),
      Effect.scoped
    ))
})

describe("ONNX feeds for Hugging Face exports", () => {
  it.effect("fills position_ids over real tokens with left padding, logits_to_keep, and names inputs it cannot fill", () =>
    Effect.gen(function*() {
      const batch = Tokenizer.pad([[5, 6, 7], [8]], 0, "left")
      assert.deepStrictEqual([...batch.inputIds].map(Number), [5, 6, 7, 0, 0, 8])
      assert.deepStrictEqual([...batch.attentionMask].map(Number), [1, 1, 1, 0, 0, 1])
      const session = (inputNames: ReadonlyArray<string>): OnnxSession.Session => ({
        file: "m.onnx",
        provider: "cpu",
        inputNames,
        outputNames: ["logits"],
        run: () => Effect.die("not run")
      })
      const feeds = yield* OnnxSession.tokenFeeds("test", session(["input_ids", "attention_mask", "position_ids", "token_type_ids", "logits_to_keep"]), batch)
      assert.deepStrictEqual([...(feeds.position_ids!.data as BigInt64Array)].map(Number), [0, 1, 2, 0, 0, 0])
      assert.deepStrictEqual([...(feeds.token_type_ids!.data as BigInt64Array)].map(Number), [0, 0, 0, 0, 0, 0])
      assert.deepStrictEqual(feeds.logits_to_keep!.dims, [])
      const error = yield* Effect.flip(OnnxSession.tokenFeeds("test", session(["input_ids", "past_key_values.0.key"]), batch))
      assert.include(error.message, "past_key_values.0.key")
    }))
})
