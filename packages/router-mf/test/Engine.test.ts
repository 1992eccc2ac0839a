import { assert, describe, it } from "@effect/vitest"
import { Matrix, Progress, Random, Simd } from "@routellm/core"
import { Model, Training } from "@routellm/router-mf"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { trainDirectory } from "../../../test/support/SharedData.ts"
import * as HashEmbedder from "./support/HashEmbedder.ts"

const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provideService(effect, Progress.Reporter, Progress.silent)

/** Random battles between `models` models over `prompts` random unit prompts; targets and weights vary. */
const problem = (models: number, prompts: number, textDimensions: number, battles: number, seed: number) => {
  const generator = Random.make(seed)
  const embeddings = Matrix.make(prompts, textDimensions)
  for (let i = 0; i < embeddings.data.length; i++) embeddings.data[i] = generator.normal()
  const normalized = Matrix.normalizeRows(embeddings)
  const examples: Training.Examples = {
    count: battles,
    first: new Int32Array(battles),
    second: new Int32Array(battles),
    prompt: new Int32Array(battles),
    target: new Float32Array(battles),
    weight: new Float32Array(battles)
  }
  for (let i = 0; i < battles; i++) {
    const a = generator.int(models)
    let b = generator.int(models - 1)
    if (b >= a) b++
    examples.first[i] = a
    examples.second[i] = b
    examples.prompt[i] = generator.int(prompts)
    examples.target[i] = generator.next() < 0.2 ? 0.5 : 1
    examples.weight[i] = generator.next() < 0.5 ? 1 : 0.5
  }
  return { modelIds: Array.from({ length: models }, (_, index) => `model-${index}`), examples, embeddings: normalized }
}

/**
 * Training written straight from its definition, battle by battle in float64:
 * score_m(x) = w · (P_m / |P_m| ⊙ W x), BCE on score_first − score_second,
 * gradients by the chain rule, torch's Adam. It replays Training's seeded
 * choices (initialisation, split, shuffles) and the ONNX engine's noise
 * (Simd's generator, `pad8(size · textDimensions)` samples per batch, row-major).
 */
const reference = (data: ReturnType<typeof problem>, options: Training.Options, noiseStream: boolean) => {
  const initial = Model.initialize(data.modelIds, options.dimensions, data.embeddings.columns, options.seed)
  const P = Float64Array.from(initial.modelEmbeddings)
  const W = Float64Array.from(initial.projection)
  const w = Float64Array.from(initial.classifier)
  const d = options.dimensions
  const t = data.embeddings.columns
  const models = data.modelIds.length
  const { train } = Training.split(data.examples, options.validationFraction, options.seed + 1)
  const generator = Random.make(options.seed + 2)
  const state = Simd.seedState(options.seed + 3)
  const groups = [P, W, w].map((values) => ({ values, m: new Float64Array(values.length), v: new Float64Array(values.length) }))
  let step = 0
  const order = Array.from({ length: train.count }, (_, index) => index)
  const losses: Array<number> = []
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = generator.int(i + 1)
      ;[order[i], order[j]] = [order[j]!, order[i]!]
    }
    let epochLoss = 0
    for (let start = 0; start < train.count; start += options.batchSize) {
      const size = Math.min(options.batchSize, train.count - start)
      const noise = new Float32Array(Math.ceil((size * t) / 8) * 8)
      if (noiseStream && options.noise > 0) Simd.twins.normals(noise, state, options.noise)
      const gP = new Float64Array(P.length)
      const gW = new Float64Array(W.length)
      const gw = new Float64Array(w.length)
      for (let b = 0; b < size; b++) {
        const example = order[start + b]!
        const x = Array.from({ length: t }, (_, j) => Math.fround(noise[b * t + j]! + data.embeddings.data[train.prompt[example]! * t + j]!))
        const z = Array.from({ length: d }, (_, k) => x.reduce((sum, value, j) => sum + W[k * t + j]! * value, 0))
        const row = (m: number) => {
          const norm = Math.max(Math.sqrt(Array.from({ length: d }, (_, k) => P[m * d + k]! ** 2).reduce((a, c) => a + c, 0)), 1e-12)
          return { norm, unit: Array.from({ length: d }, (_, k) => P[m * d + k]! / norm) }
        }
        const f = row(train.first[example]!)
        const s = row(train.second[example]!)
        let logit = 0
        for (let k = 0; k < d; k++) logit += w[k]! * (f.unit[k]! - s.unit[k]!) * z[k]!
        const y = train.target[example]!
        const weight = train.weight[example]!
        const p = 1 / (1 + Math.exp(-logit))
        epochLoss += weight * -(y * Math.log(p) + (1 - y) * Math.log(1 - p))
        const g = (weight * (p - y)) / size
        for (let k = 0; k < d; k++) {
          gw[k]! += g * (f.unit[k]! - s.unit[k]!) * z[k]!
          for (let j = 0; j < t; j++) gW[k * t + j]! += g * w[k]! * (f.unit[k]! - s.unit[k]!) * x[j]!
        }
        for (const [side, sign, m] of [[f, 1, train.first[example]!], [s, -1, train.second[example]!]] as const) {
          // d(P_m / |P_m|) / dP_m = (I − u uᵀ) / |P_m|
          const upstream = Array.from({ length: d }, (_, k) => sign * g * w[k]! * z[k]!)
          const dot = upstream.reduce((sum, value, k) => sum + value * side.unit[k]!, 0)
          for (let k = 0; k < d; k++) gP[m * d + k]! += (upstream[k]! - side.unit[k]! * dot) / side.norm
        }
      }
      step++
      ;[gP, gW, gw].forEach((gradient, index) => {
        const { values, m, v } = groups[index]!
        for (let i = 0; i < values.length; i++) {
          const g = gradient[i]! + options.weightDecay * values[i]!
          m[i] = 0.9 * m[i]! + 0.1 * g
          v[i] = 0.999 * v[i]! + 0.001 * g * g
          values[i] = values[i]! - options.learningRate * (m[i]! / (1 - 0.9 ** step)) / (Math.sqrt(v[i]! / (1 - 0.999 ** step)) + 1e-8)
        }
      })
    }
    losses.push(epochLoss / train.count)
  }
  void models
  return { modelEmbeddings: P, projection: W, classifier: w, losses }
}

const options: Training.Options = {
  ...Training.defaults,
  dimensions: 6,
  learningRate: 0.01,
  weightDecay: 1e-3,
  batchSize: 16,
  noise: 0.1,
  epochs: 3,
  patience: 0,
  validationFraction: 0,
  seed: 5
}

const largestDifference = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.strictEqual(a.length, b.length)
  let largest = 0
  for (let i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs(a[i]! - b[i]!))
  return largest
}

describe("Training engines", () => {
  it.effect("the ONNX engine gives the parameters and losses of the straightforward implementation, noise included", () =>
    Effect.gen(function*() {
      // 4 models, 9-dimensional prompts (not a multiple of 4 or 8), 200 battles: 13 batches per epoch, the last of 8
      const data = problem(4, 30, 9, 200, 1)
      const result = yield* quiet(Training.train(data.modelIds, data.examples, data.embeddings, { ...options, engine: "onnx" }))
      const expected = reference(data, options, true)
      for (let epoch = 0; epoch < options.epochs; epoch++) {
        assert.closeTo(result.history[epoch]!.trainLoss, expected.losses[epoch]!, 2e-5, `epoch ${epoch + 1} loss`)
      }
      // float32 state and products against float64: a few units in the 5th digit after 39 Adam steps
      assert.isBelow(largestDifference(result.parameters.modelEmbeddings, expected.modelEmbeddings), 2e-4)
      assert.isBelow(largestDifference(result.parameters.projection, expected.projection), 2e-4)
      assert.isBelow(largestDifference(result.parameters.classifier, expected.classifier), 2e-4)
      // and training moved them well beyond that tolerance
      const initial = Model.initialize(data.modelIds, options.dimensions, 9, options.seed)
      assert.isAbove(largestDifference(initial.projection, expected.projection), 0.05)
    }))

  it.effect("the ONNX engine matches it without noise, with a batch larger than the data", () =>
    Effect.gen(function*() {
      const data = problem(3, 10, 12, 40, 6)
      const settings = { ...options, noise: 0, batchSize: 64, epochs: 4, engine: "onnx" as const }
      const result = yield* quiet(Training.train(data.modelIds, data.examples, data.embeddings, settings))
      const expected = reference(data, settings, false)
      assert.closeTo(result.history.at(-1)!.trainLoss, expected.losses.at(-1)!, 2e-6)
      assert.isBelow(largestDifference(result.parameters.projection, expected.projection), 2e-5)
    }))

  it.effect("the JavaScript engine gives the straightforward implementation's parameters without noise", () =>
    Effect.gen(function*() {
      const data = problem(5, 20, 8, 150, 2)
      const noiseless = { ...options, noise: 0, engine: "javascript" as const }
      const result = yield* quiet(Training.train(data.modelIds, data.examples, data.embeddings, noiseless))
      const expected = reference(data, noiseless, false)
      for (let epoch = 0; epoch < options.epochs; epoch++) {
        assert.closeTo(result.history[epoch]!.trainLoss, expected.losses[epoch]!, 1e-6)
      }
      assert.isBelow(largestDifference(result.parameters.projection, expected.projection), 1e-5)
      assert.isBelow(largestDifference(result.parameters.modelEmbeddings, expected.modelEmbeddings), 1e-5)
    }))

  it.effect("is deterministic for a seed and differs between seeds", () =>
    Effect.gen(function*() {
      const data = problem(6, 40, 16, 400, 3)
      const run = (seed: number) => quiet(Training.train(data.modelIds, data.examples, data.embeddings, { ...options, validationFraction: 0.1, seed }))
      const first = yield* run(7)
      const again = yield* run(7)
      const other = yield* run(8)
      assert.deepStrictEqual(Array.from(again.parameters.projection), Array.from(first.parameters.projection))
      assert.deepStrictEqual(Array.from(again.parameters.modelEmbeddings), Array.from(first.parameters.modelEmbeddings))
      assert.deepStrictEqual(again.history.map((h) => [h.trainLoss, h.validationLoss]), first.history.map((h) => [h.trainLoss, h.validationLoss]))
      assert.notDeepEqual(Array.from(other.parameters.projection), Array.from(first.parameters.projection))
    }))

  it("validation scores battles through the scoring vectors exactly as the forward pass", () => {
    const data = problem(4, 12, 10, 60, 4)
    const parameters = Model.initialize(data.modelIds, 5, 10, 9)
    const measured = Training.evaluate(parameters, data.examples, data.embeddings)
    let loss = 0
    let weights = 0
    let correct = 0
    let decisive = 0
    for (let i = 0; i < data.examples.count; i++) {
      const x = Matrix.row(data.embeddings, data.examples.prompt[i]!)
      const logit = Model.scoreDirect(parameters, data.examples.first[i]!, x) - Model.scoreDirect(parameters, data.examples.second[i]!, x)
      const y = data.examples.target[i]!
      const p = 1 / (1 + Math.exp(-logit))
      loss += data.examples.weight[i]! * -(y * Math.log(p) + (1 - y) * Math.log(1 - p))
      weights += data.examples.weight[i]!
      if (y === 1) {
        decisive++
        if (logit > 0) correct++
      }
    }
    assert.closeTo(measured.loss, loss / weights, 1e-6)
    assert.strictEqual(measured.accuracy, correct / decisive)
  })
})

/** Real AlpacaEval battles (GPT-4 judge) from ../shared/data, prompts embedded by hashed words. */
const alpacaBattles = () => {
  const lines = Fs.readFileSync(Path.join(trainDirectory, "alpaca_eval", "battles.jsonl"), "utf8").split("\n").filter((line) => line.length > 0)
  return lines.slice(0, 50000).map((line) => JSON.parse(line) as { prompt: string; model_1: string; model_2: string; preference: number })
    .filter((row) => (row.preference === 1 || row.preference === 2) && row.model_1 !== row.model_2 && row.model_2 !== "example")
    .map((row) => ({ prompt: row.prompt, model_a: row.model_1, model_b: row.model_2, winner: row.preference === 1 ? "model_a" as const : "model_b" as const }))
}

describe("Training engines on real battles", () => {
  it.effect("reach the same validation accuracy, well above chance", () =>
    Effect.gen(function*() {
      const prepared = Training.prepare(alpacaBattles(), "drop")
      assert.isAbove(prepared.examples.count, 20000)
      const embeddings = HashEmbedder.embed(prepared.prompts, 256)
      const settings = { ...Training.defaults, dimensions: 32, epochs: 3, patience: 0, validationFraction: 0.1, seed: 11 }
      const onnx = yield* quiet(Training.train(prepared.modelIds, prepared.examples, embeddings, { ...settings, engine: "onnx" }))
      const javascript = yield* quiet(Training.train(prepared.modelIds, prepared.examples, embeddings, { ...settings, engine: "javascript" }))
      const accuracy = (result: Training.Result) => result.history[result.bestEpoch - 1]!.validationAccuracy!
      // who beats the baseline is mostly the model, then the prompt: far above a coin
      assert.isAbove(accuracy(onnx), 0.7)
      assert.closeTo(accuracy(onnx), accuracy(javascript), 0.02)
      assert.closeTo(onnx.history.at(-1)!.validationLoss!, javascript.history.at(-1)!.validationLoss!, 0.02)
    }))
})
