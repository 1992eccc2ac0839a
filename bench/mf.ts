/**
 * MF router speed, measured in one run:
 *  1. training throughput (battles/second/epoch) of the typed-array engine
 *     the package uses, against the same model and optimiser written in
 *     TensorFlow.js on its WASM backend (and tfjs-node-gpu when installed);
 *  2. routing decisions/second with precomputed prompt embeddings: the
 *     package's precomputed-vector path against a naive per-prompt forward
 *     pass (project, normalise, classify), for the strong/weak pair and for
 *     all-model scores.
 *
 *   node --import tsx bench/mf.ts [--battles 20000] [--text-dim 512] [--models 20] [--epochs 2]
 */
import { Matrix, Progress, Random } from "@routellm/core"
import { Effect } from "effect"
import { createRequire } from "node:module"
import * as Path from "node:path"
// The package sources, so the bench measures the code as it is (not a stale dist/).
import { Model, Training } from "../packages/router-mf/src/index.ts"

const argument = (name: string, fallback: number): number => {
  const index = process.argv.indexOf(`--${name}`)
  return index >= 0 ? Number(process.argv[index + 1]) : fallback
}

const battles = argument("battles", 20000)
const textDimensions = argument("text-dim", 512)
const modelCount = argument("models", 20)
const epochs = argument("epochs", 2)
const promptCount = argument("prompts", 2000)
const dimensions = 128
const batchSize = 64

/** Synthetic battles from a planted MF model, so training has something to learn. */
const makeData = () => {
  const generator = Random.make(7)
  const embeddings = Matrix.make(promptCount, textDimensions)
  for (let i = 0; i < embeddings.data.length; i++) embeddings.data[i] = generator.normal() / Math.sqrt(textDimensions)
  const planted = Model.initialize(Array.from({ length: modelCount }, (_, i) => `model-${i}`), dimensions, textDimensions, 11)
  const vectors = Model.scoringVectors(planted)
  const scores = Model.scores(vectors, embeddings)
  // scale the planted scores to a spread of about 2 logits, so outcomes are learnable but noisy
  let sumSquares = 0
  for (const value of scores.data) sumSquares += value * value
  const scale = 2 / Math.sqrt(sumSquares / scores.data.length)
  const first = new Int32Array(battles)
  const second = new Int32Array(battles)
  const prompt = new Int32Array(battles)
  for (let i = 0; i < battles; i++) {
    const a = generator.int(modelCount)
    let b = generator.int(modelCount - 1)
    if (b >= a) b++
    const p = generator.int(promptCount)
    const aWins = generator.next() < Model.sigmoid(scale * (scores.data[p * modelCount + a]! - scores.data[p * modelCount + b]!))
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
  return { embeddings, examples, modelIds: planted.modelIds }
}

const typedArrayThroughput = async (data: ReturnType<typeof makeData>) => {
  const result = await Effect.runPromise(
    Training.train(data.modelIds, data.examples, data.embeddings, {
      ...Training.defaults,
      epochs,
      patience: 0,
      validationFraction: 0
    }).pipe(Effect.provideService(Progress.Reporter, Progress.silent))
  )
  return { battlesPerSecond: result.battlesPerSecond, finalLoss: result.history.at(-1)!.trainLoss }
}

/**
 * The same model, loss and optimiser in TensorFlow.js, timed per epoch. The
 * gradients are written out as tensor ops (the ESM build of tfjs-core cannot
 * register its autodiff gradients under Node), which is also TF.js's best case:
 * the two big products are single matMul kernels.
 */
const tfjsThroughput = async (backend: "wasm" | "cpu" | "tensorflow", data: ReturnType<typeof makeData>) => {
  const tf = await import("@tensorflow/tfjs-core")
  if (backend === "wasm") {
    const wasm = await import("@tensorflow/tfjs-backend-wasm")
    const require = createRequire(import.meta.url)
    const directory = Path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm"))
    // Local .wasm files: no network, and Node has no fetch of relative URLs.
    wasm.setWasmPaths({
      "tfjs-backend-wasm.wasm": Path.join(directory, "tfjs-backend-wasm.wasm"),
      "tfjs-backend-wasm-simd.wasm": Path.join(directory, "tfjs-backend-wasm-simd.wasm"),
      "tfjs-backend-wasm-threaded-simd.wasm": Path.join(directory, "tfjs-backend-wasm-threaded-simd.wasm")
    })
  } else if (backend === "cpu") {
    await import("@tensorflow/tfjs-backend-cpu")
  } else {
    // Native/GPU TF.js only where the user installed it; it cannot install offline here.
    const name = "@tensorflow/tfjs-node-gpu"
    await import(name)
  }
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} did not initialise`)
  await tf.ready()
  const models = data.modelIds.length
  const init = Model.initialize(data.modelIds, dimensions, textDimensions, 42)
  const P = tf.variable(tf.tensor2d(init.modelEmbeddings, [models, dimensions]), true, `P-${backend}`)
  const W = tf.variable(tf.tensor2d(init.projection, [dimensions, textDimensions]), true, `W-${backend}`)
  const w = tf.variable(tf.tensor1d(init.classifier), true, `w-${backend}`)
  const optimizer = tf.train.adam(3e-4, 0.9, 0.999, 1e-8)
  const embeddings = tf.tensor2d(data.embeddings.data, [promptCount, textDimensions])
  const { examples } = data
  const generator = Random.make(1)
  let seconds = 0
  let lastLoss = 0
  for (let epoch = 0; epoch < epochs; epoch++) {
    const started = performance.now()
    let lossSum = 0
    for (let start = 0; start < examples.count; start += batchSize) {
      const size = Math.min(batchSize, examples.count - start)
      const seed = generator.int(2 ** 31)
      const loss = tf.tidy(() => {
        const winner = tf.tensor1d(examples.first.subarray(start, start + size), "int32")
        const loser = tf.tensor1d(examples.second.subarray(start, start + size), "int32")
        const prompt = tf.tensor1d(examples.prompt.subarray(start, start + size), "int32")
        const norms = tf.maximum(tf.norm(P, 2, 1, true), 1e-12)
        const normalized = tf.div(P, norms)
        const difference = tf.sub(tf.gather(normalized, winner), tf.gather(normalized, loser))
        const x = tf.add(tf.gather(embeddings, prompt), tf.randomNormal([size, textDimensions], 0, 0.1, "float32", seed))
        const projected = tf.matMul(x, W, false, true)
        const logits = tf.sum(tf.mul(tf.mul(difference, projected), w), 1)
        // label 1: loss softplus(−s), dloss/ds = sigmoid(s) − 1
        const g = tf.reshape(tf.div(tf.sub(tf.sigmoid(logits), 1), size), [size, 1])
        const dw = tf.sum(tf.mul(g, tf.mul(difference, projected)), 0)
        const dProjected = tf.mul(tf.mul(g, difference), w)
        const dW = tf.matMul(dProjected, x, true, false)
        const dRows = tf.mul(tf.mul(g, w), projected)
        const selector = tf.sub(tf.oneHot(winner, models), tf.oneHot(loser, models))
        const dNormalized = tf.matMul(tf.cast(selector, "float32"), dRows, true, false)
        const radial = tf.sum(tf.mul(normalized, dNormalized), 1, true)
        const dP = tf.div(tf.sub(dNormalized, tf.mul(normalized, radial)), norms)
        // torch Adam's weight_decay: gradient + decay · parameter
        optimizer.applyGradients({
          [P.name]: tf.add(dP, tf.mul(P, 1e-5)),
          [W.name]: tf.add(dW, tf.mul(W, 1e-5)),
          [w.name]: tf.add(dw, tf.mul(w, 1e-5))
        })
        return tf.mean(tf.softplus(tf.neg(logits)))
      })
      lossSum += (await loss.data())[0]! * size
      loss.dispose()
    }
    seconds += (performance.now() - started) / 1000
    lastLoss = lossSum / examples.count
  }
  tf.dispose([P, W, w, embeddings])
  optimizer.dispose()
  return { battlesPerSecond: (examples.count * epochs) / seconds, finalLoss: lastLoss }
}

const routing = (data: ReturnType<typeof makeData>) => {
  const parameters = Model.initialize(data.modelIds, dimensions, textDimensions, 3)
  const prompts = data.embeddings
  const time = (run: () => void, units: number) => {
    let repeats = 0
    const started = performance.now()
    while (performance.now() - started < 1500 || repeats < 2) {
      run()
      repeats++
    }
    return (units * repeats) / ((performance.now() - started) / 1000)
  }
  let sink = 0
  const pairFast = time(() => {
    // the router precomputes these vectors once when it loads
    const vector = Model.pairVector(Model.scoringVectors(parameters), 0, 1)
    const rates = Model.pairWinRates(vector, prompts)
    sink += rates[0]!
  }, prompts.rows)
  const naiveRows = Math.min(prompts.rows, 300)
  const pairNaive = time(() => {
    for (let i = 0; i < naiveRows; i++) {
      const x = Matrix.row(prompts, i)
      sink += Model.sigmoid(Model.scoreDirect(parameters, 0, x) - Model.scoreDirect(parameters, 1, x))
    }
  }, naiveRows)
  const allFast = time(() => {
    const scores = Model.scores(Model.scoringVectors(parameters), prompts)
    sink += scores.data[0]!
  }, prompts.rows)
  const allNaiveRows = Math.min(prompts.rows, 40)
  const allNaive = time(() => {
    for (let i = 0; i < allNaiveRows; i++) {
      const x = Matrix.row(prompts, i)
      for (let m = 0; m < parameters.modelIds.length; m++) sink += Model.scoreDirect(parameters, m, x)
    }
  }, allNaiveRows)
  if (Number.isNaN(sink)) console.log("")
  return { pairFast, pairNaive, allFast, allNaive }
}

const main = async () => {
  const data = makeData()
  console.log(
    `MF bench: ${battles} battles, ${promptCount} prompts, text dim ${textDimensions}, ${modelCount} models, dim ${dimensions}, batch ${batchSize}, ${epochs} epochs`
  )
  const typed = await typedArrayThroughput(data)
  console.log(`training  typed arrays (package engine): ${typed.battlesPerSecond.toFixed(0)} battles/s/epoch (final train loss ${typed.finalLoss.toFixed(4)})`)
  for (const backend of ["wasm", "cpu", "tensorflow"] as const) {
    try {
      const measured = await tfjsThroughput(backend, data)
      console.log(
        `training  TF.js ${backend}: ${measured.battlesPerSecond.toFixed(0)} battles/s/epoch (final train loss ${
          measured.finalLoss.toFixed(4)
        }); typed arrays / TF.js = ${(typed.battlesPerSecond / measured.battlesPerSecond).toFixed(2)}x`
      )
    } catch (error) {
      console.log(`training  TF.js ${backend}: unavailable (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`)
    }
  }
  const speeds = routing(data)
  console.log(
    `routing   strong/weak win rate: ${speeds.pairFast.toFixed(0)} decisions/s vs naive per-prompt forward ${speeds.pairNaive.toFixed(0)}/s = ${
      (speeds.pairFast / speeds.pairNaive).toFixed(1)
    }x`
  )
  console.log(
    `routing   all ${modelCount} model scores: ${speeds.allFast.toFixed(0)} prompts/s vs naive ${speeds.allNaive.toFixed(0)}/s = ${
      (speeds.allFast / speeds.allNaive).toFixed(1)
    }x`
  )
}

main()
