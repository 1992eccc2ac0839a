/**
 * Queries/second of the ONNX paths of router/bert (sequence classifier) and
 * router/causal (causal LM scorer), on tiny models built here (with the real
 * all-MiniLM-L6-v2 tokenizer for the classifier) and on real prompts (GSM8K
 * questions), batched and one prompt at a time. The baseline, measured in the
 * same run, is tokenisation alone with the same tokenizer: the ratio shows
 * how much of a query's cost is the model.
 *
 *   node --import tsx bench/onnx-routers.ts [--prompts 512] [--bert <model dir or .onnx>] [--causal <model dir or .onnx>]
 *
 * A user-supplied model (also ROUTELLM_BENCH_BERT / ROUTELLM_BENCH_CAUSAL) is
 * measured the same way, with its own tokenizer.json beside it.
 */
import { ArtifactStore, Files, PluginRegistry, Progress, type Router } from "@routellm/core"
import { Effect, Layer, References } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { BertRouter, Tokenizer } from "../packages/router-bert/src/index.ts"
import * as OnnxModels from "../packages/router-bert/test/support/OnnxModels.ts"
import { CausalRouter, Template } from "../packages/router-causal/src/index.ts"
import * as TinyBpe from "../packages/router-causal/test/support/TinyBpe.ts"
import { evalDirectory, minilmTokenizer } from "../test/support/SharedData.ts"

const option = (name: string): string | undefined => {
  const index = process.argv.indexOf(`--${name}`)
  return index >= 0 ? process.argv[index + 1] : undefined
}
const promptCount = Number(option("prompts") ?? 512)
const userBert = option("bert") ?? process.env.ROUTELLM_BENCH_BERT
const userCausal = option("causal") ?? process.env.ROUTELLM_BENCH_CAUSAL

const workDirectory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "bench-onnx-routers-"))

const buildTinyModels = () => {
  const bertDirectory = Path.join(workDirectory, "bert")
  Fs.mkdirSync(bertDirectory)
  const d = 64
  Fs.writeFileSync(
    Path.join(bertDirectory, "model.onnx"),
    OnnxModels.sequenceClassifier({
      embeddings: OnnxModels.knownWeights(30522 * d, 1),
      dimensions: d,
      weights: OnnxModels.knownWeights(d * 3, 2),
      bias: new Float32Array(3)
    })
  )
  const causalDirectory = Path.join(workDirectory, "causal")
  Fs.mkdirSync(causalDirectory)
  const V = TinyBpe.vocabularySize
  Fs.writeFileSync(
    Path.join(causalDirectory, "model.onnx"),
    OnnxModels.causalLanguageModel({
      embeddings: OnnxModels.knownWeights(V * d, 3),
      dimensions: d,
      weights: OnnxModels.knownWeights(d * V, 4),
      bias: new Float32Array(V)
    })
  )
  Fs.writeFileSync(Path.join(causalDirectory, "tokenizer.json"), JSON.stringify(TinyBpe.tokenizerJson()))
  Fs.writeFileSync(Path.join(causalDirectory, "tokenizer_config.json"), JSON.stringify({ ...TinyBpe.tokenizerConfig, model_max_length: 2048 }))
  return { bertDirectory, causalDirectory }
}

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = performance.now()
    const value = yield* effect
    return { value, seconds: (performance.now() - start) / 1000 }
  })

const measure = (label: string, router: Router.RouterShape, prompts: ReadonlyArray<string>, baselineQps: number) =>
  Effect.gen(function*() {
    // Warm-up over every prompt, so JIT compilation and ONNX Runtime's first-run allocations are not measured.
    yield* router.winRates!(prompts.slice(0, 64))
    yield* Effect.forEach(prompts.slice(0, 64), (prompt) => router.winRate(prompt), { discard: true })
    const batchSize = router.batchSize ?? 32
    const batched = yield* timed(Effect.gen(function*() {
      for (let start = 0; start < prompts.length; start += batchSize) yield* router.winRates!(prompts.slice(start, start + batchSize))
    }))
    const singles = prompts.slice(0, Math.min(prompts.length, 128))
    const single = yield* timed(Effect.forEach(singles, (prompt) => router.winRate(prompt), { discard: true }))
    const batchedQps = prompts.length / batched.seconds
    const singleQps = singles.length / single.seconds
    console.log(
      `${label.padEnd(44)} batched (${String(batchSize).padStart(3)}): ${batchedQps.toFixed(0).padStart(7)} q/s` +
        `  one at a time: ${singleQps.toFixed(0).padStart(6)} q/s  vs tokenisation alone: ${(batchedQps / baselineQps).toFixed(3)}x`
    )
  })

const tokenisationQps = (tokenizerPath: string, raw: ReadonlyArray<string>, render: (prompt: string) => string = (prompt) => prompt) =>
  Effect.gen(function*() {
    const tokenizer = yield* Tokenizer.load(tokenizerPath)
    const prompts = raw.map(render)
    const maxLength = undefined
    tokenizer.encodeBatch(prompts, maxLength)
    const run = yield* timed(Effect.sync(() => {
      for (let start = 0; start < prompts.length; start += 32) tokenizer.encodeBatch(prompts.slice(start, start + 32), maxLength)
    }))
    return prompts.length / run.seconds
  })

const program = Effect.gen(function*() {
  const { rows } = yield* Files.readCsv(Path.join(evalDirectory, "gsm8k", "gsm8k_responses.csv"))
  const prompts = rows.slice(0, promptCount).map((row) => row.value.prompt!)
  const meanLength = prompts.reduce((sum, prompt) => sum + prompt.length, 0) / prompts.length
  console.log(`${prompts.length} GSM8K prompts (mean ${meanLength.toFixed(0)} characters), ${Os.cpus().length} CPU cores, onnxruntime-node CPU`)
  const { bertDirectory, causalDirectory } = buildTinyModels()

  const bertBaseline = yield* tokenisationQps(minilmTokenizer, prompts)
  console.log(`${"baseline: MiniLM tokenisation alone".padEnd(44)} ${bertBaseline.toFixed(0).padStart(7)} q/s`)
  const bertConfig = yield* PluginRegistry.decodeConfig(BertRouter.plugin, { model: bertDirectory, tokenizer: minilmTokenizer, batchSize: 32 }, "bench")
  yield* measure("router/bert, tiny classifier (d=64, 3 labels)", yield* BertRouter.plugin.make(bertConfig, { baseDirectory: "/" }), prompts, bertBaseline)

  const causalConfig = yield* PluginRegistry.decodeConfig(CausalRouter.plugin, { onnx: { model: causalDirectory, batchSize: 8 } }, "bench")
  // The causal router tokenises the whole scoring prompt (template + question), so the baseline does too.
  const template = yield* Template.load({}, "/")
  const causalBaseline = yield* tokenisationQps(causalDirectory, prompts, (prompt) => Template.render(template, prompt))
  console.log(`${"baseline: byte-level BPE of templated prompts".padEnd(44)} ${causalBaseline.toFixed(0).padStart(7)} q/s`)
  yield* measure("router/causal, tiny causal LM (d=64)", yield* CausalRouter.plugin.make(causalConfig, { baseDirectory: "/" }), prompts, causalBaseline)

  if (userBert !== undefined) {
    const config = yield* PluginRegistry.decodeConfig(BertRouter.plugin, { model: Path.resolve(userBert), batchSize: 16 }, "bench")
    const router = yield* BertRouter.plugin.make(config, { baseDirectory: "/" })
    const tokenizerDirectory = Fs.statSync(userBert).isDirectory() ? userBert : Path.dirname(userBert)
    yield* measure(`router/bert, ${Path.basename(Path.resolve(userBert))}`, router, prompts, yield* tokenisationQps(tokenizerDirectory, prompts))
  }
  if (userCausal !== undefined) {
    const config = yield* PluginRegistry.decodeConfig(CausalRouter.plugin, { onnx: { model: Path.resolve(userCausal), batchSize: 4 } }, "bench")
    const router = yield* CausalRouter.plugin.make(config, { baseDirectory: "/" })
    const tokenizerDirectory = Fs.statSync(userCausal).isDirectory() ? userCausal : Path.dirname(userCausal)
    const template = yield* Template.load({}, "/")
    yield* measure(
      `router/causal, ${Path.basename(Path.resolve(userCausal))}`,
      router,
      prompts,
      yield* tokenisationQps(tokenizerDirectory, prompts, (prompt) => Template.render(template, prompt))
    )
  }
})

Effect.runPromise(
  program.pipe(
    Effect.scoped,
    Effect.provide(Layer.mergeAll(ArtifactStore.ArtifactStore.layerAt(workDirectory), PluginRegistry.PluginRegistry.layer([]))),
    Effect.provideService(Progress.Reporter, Progress.silent),
    Effect.provideService(References.MinimumLogLevel, "Error"),
    Effect.ensuring(Effect.sync(() => Fs.rmSync(workDirectory, { recursive: true, force: true })))
  )
).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
