import { assert, describe, it } from "@effect/vitest"
import { Matrix, Progress, Random } from "@routellm/core"
import { Model, Training } from "@routellm/router-mf"
import { Effect } from "effect"

const tinyModel = () => Model.initialize(["a", "b", "c"], 4, 5, 3)

const tinyBatch = (): Model.Batch => {
  const generator = Random.make(9)
  return {
    size: 5,
    first: Int32Array.from([0, 1, 2, 0, 2]),
    second: Int32Array.from([1, 2, 0, 2, 1]),
    target: Float32Array.from([1, 1, 0.5, 1, 0.5]),
    weight: Float32Array.from([1, 2, 1, 0.5, 1]),
    inputs: Float32Array.from({ length: 25 }, () => generator.normal())
  }
}

/** The loss written straight from its definition, in float64, with no shared code. */
const referenceLoss = (parameters: Model.Parameters, batch: Model.Batch): number => {
  let total = 0
  for (let b = 0; b < batch.size; b++) {
    const x = batch.inputs.subarray(b * parameters.textDimensions, (b + 1) * parameters.textDimensions)
    const logit = Model.scoreDirect(parameters, batch.first[b]!, x) - Model.scoreDirect(parameters, batch.second[b]!, x)
    const p = 1 / (1 + Math.exp(-logit))
    const y = batch.target[b]!
    total += batch.weight[b]! * -(y * Math.log(p) + (1 - y) * Math.log(1 - p))
  }
  return total / batch.size
}

describe("Model", () => {
  it("computes the loss of its definition", () => {
    const parameters = tinyModel()
    const batch = tinyBatch()
    const loss = Model.batchLossAndGradients(parameters, batch, Model.makeWorkspace(parameters, batch.size), Model.zeroGradients(parameters))
    // normalised model rows are stored in float32
    assert.closeTo(loss, referenceLoss(parameters, batch), 1e-7)
  })

  it("has gradients that match central finite differences", () => {
    const parameters = tinyModel()
    const batch = tinyBatch()
    const gradients = Model.zeroGradients(parameters)
    Model.batchLossAndGradients(parameters, batch, Model.makeWorkspace(parameters, batch.size), gradients)
    const step = 1e-3
    const groups = [
      ["modelEmbeddings", parameters.modelEmbeddings, gradients.modelEmbeddings],
      ["projection", parameters.projection, gradients.projection],
      ["classifier", parameters.classifier, gradients.classifier]
    ] as const
    let checked = 0
    for (const [name, values, analytic] of groups) {
      for (let i = 0; i < values.length; i++) {
        const original = values[i]!
        values[i] = original + step
        const plus = referenceLoss(parameters, batch)
        values[i] = original - step
        const minus = referenceLoss(parameters, batch)
        values[i] = original
        // float32 storage rounds original ± step: use the perturbation actually applied
        const applied = Math.fround(original + step) - Math.fround(original - step)
        const numeric = (plus - minus) / applied
        assert.closeTo(analytic[i]!, numeric, 2e-5 + 1e-3 * Math.abs(numeric), `${name}[${i}]`)
        checked++
      }
    }
    assert.strictEqual(checked, 3 * 4 + 4 * 5 + 4)
  })

  it("routes through precomputed vectors exactly as the direct forward pass", () => {
    const parameters = Model.initialize(["m0", "m1", "m2", "m3"], 8, 16, 5)
    const generator = Random.make(2)
    const prompts = Matrix.make(7, 16, Float32Array.from({ length: 7 * 16 }, () => generator.normal()))
    const vectors = Model.scoringVectors(parameters)
    const rates = Model.pairWinRates(Model.pairVector(vectors, 2, 0), prompts)
    const all = Model.scores(vectors, prompts)
    for (let i = 0; i < prompts.rows; i++) {
      const x = Matrix.row(prompts, i)
      const expected = 1 / (1 + Math.exp(-(Model.scoreDirect(parameters, 2, x) - Model.scoreDirect(parameters, 0, x))))
      assert.closeTo(rates[i]!, expected, 1e-6)
      for (let m = 0; m < 4; m++) assert.closeTo(all.data[i * 4 + m]!, Model.scoreDirect(parameters, m, x), 1e-5)
    }
  })
})

/** Two clusters of prompts: model "x" wins on the first, "y" on the second, "z" always loses. */
const separable = () => {
  const generator = Random.make(4)
  const textDimensions = 6
  const prompts = 60
  const embeddings = Matrix.make(prompts, textDimensions)
  for (let p = 0; p < prompts; p++) {
    const cluster = p % 2
    for (let j = 0; j < textDimensions; j++) embeddings.data[p * textDimensions + j] = 0.2 * generator.normal()
    embeddings.data[p * textDimensions + cluster] = embeddings.data[p * textDimensions + cluster]! + 1
  }
  const battles = 600
  const first = new Int32Array(battles)
  const second = new Int32Array(battles)
  const prompt = new Int32Array(battles)
  for (let i = 0; i < battles; i++) {
    const p = generator.int(prompts)
    const pair = generator.int(3)
    const [a, b] = pair === 0 ? [0, 1] : pair === 1 ? [0, 2] : [1, 2]
    // winner: on cluster 0 x > y > z, on cluster 1 y > x > z
    const aWins = p % 2 === 0 ? true : !(a === 0 && b === 1)
    first[i] = aWins ? a : b
    second[i] = aWins ? b : a
    prompt[i] = p
  }
  const examples: Training.Examples = {
    count: battles,
    first,
    second,
    prompt,
    target: new Float32Array(battles).fill(1),
    weight: new Float32Array(battles).fill(1)
  }
  return { modelIds: ["x", "y", "z"], examples, embeddings }
}

const options: Training.Options = {
  ...Training.defaults,
  dimensions: 8,
  learningRate: 0.01,
  batchSize: 16,
  epochs: 30,
  patience: 0,
  validationFraction: 0.2,
  noise: 0.05,
  seed: 1
}

const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provideService(effect, Progress.Reporter, Progress.silent)

describe("Training", () => {
  it.effect("decreases the loss on a separable toy set and learns it", () =>
    Effect.gen(function*() {
      const data = separable()
      const result = yield* quiet(Training.train(data.modelIds, data.examples, data.embeddings, options))
      const first = result.history[0]!
      const last = result.history.at(-1)!
      assert.isBelow(last.trainLoss, first.trainLoss / 3)
      assert.isBelow(last.validationLoss!, first.validationLoss! / 3)
      assert.isAtLeast(last.validationAccuracy!, 0.95)
      assert.strictEqual(result.trainCount + result.validationCount, 600)
      assert.strictEqual(result.validationCount, 120)
    }))

  it.effect("is deterministic for a fixed seed and differs for another", () =>
    Effect.gen(function*() {
      const data = separable()
      const short = { ...options, epochs: 3 }
      const one = yield* quiet(Training.train(data.modelIds, data.examples, data.embeddings, short))
      const two = yield* quiet(Training.train(data.modelIds, data.examples, data.embeddings, short))
      const other = yield* quiet(Training.train(data.modelIds, data.examples, data.embeddings, { ...short, seed: 2 }))
      assert.deepStrictEqual(Array.from(one.parameters.projection), Array.from(two.parameters.projection))
      assert.deepStrictEqual(Array.from(one.parameters.modelEmbeddings), Array.from(two.parameters.modelEmbeddings))
      assert.deepStrictEqual(one.history.map((epoch) => epoch.trainLoss), two.history.map((epoch) => epoch.trainLoss))
      assert.notDeepEqual(Array.from(one.parameters.projection), Array.from(other.parameters.projection))
    }))

  it.effect("stops early when validation loss stops improving and keeps the best epoch", () =>
    Effect.gen(function*() {
      const data = separable()
      const result = yield* quiet(
        Training.train(data.modelIds, data.examples, data.embeddings, { ...options, learningRate: 0.3, epochs: 200, patience: 3 })
      )
      assert.isTrue(result.stoppedEarly)
      assert.strictEqual(result.history.length, result.bestEpoch + 3)
      const best = Math.min(...result.history.map((epoch) => epoch.validationLoss!))
      assert.strictEqual(result.history[result.bestEpoch - 1]!.validationLoss, best)
      const measured = Training.evaluate(
        result.parameters,
        Training.split(data.examples, options.validationFraction, options.seed + 1).validation,
        data.embeddings
      )
      assert.closeTo(measured.loss, best, 1e-12)
    }))

  it("prepares battles: aliases, ties dropped or half-wins, self-battles dropped", () => {
    const battles = [
      { prompt: "p1", model_a: "gpt4_1106_preview", model_b: "Mixtral-8x7B-Instruct-v0.1", winner: "model_b" as const },
      { prompt: "p1", model_a: "gpt-4-1106-preview", model_b: "mistralai/Mixtral-8x7B-Instruct-v0.1", winner: "tie" as const },
      { prompt: "p2", model_a: "gpt-4-1106-preview", model_b: "gpt4_1106_preview", winner: "model_a" as const },
      { prompt: "p2", model_a: "claude-2", model_b: "gpt-4-1106-preview", winner: "model_a" as const, weight: 0.5 }
    ]
    const dropped = Training.prepare(battles, "drop")
    assert.deepStrictEqual(dropped.modelIds, ["claude-2.0", "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"])
    assert.strictEqual(dropped.examples.count, 2)
    assert.deepStrictEqual(dropped.dropped, { ties: 1, selfBattles: 1 })
    assert.deepStrictEqual(Array.from(dropped.examples.first), [2, 0])
    assert.deepStrictEqual(Array.from(dropped.examples.second), [1, 1])
    assert.deepStrictEqual(Array.from(dropped.examples.weight), [1, 0.5])
    assert.deepStrictEqual(dropped.prompts, ["p1", "p2"])
    const half = Training.prepare(battles, "half")
    assert.strictEqual(half.examples.count, 3)
    assert.deepStrictEqual(Array.from(half.examples.target), [1, 0.5, 1])
  })
})
