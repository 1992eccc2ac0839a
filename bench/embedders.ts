/**
 * Embedding throughput of `embedder/use-lite` on real prompts (MMLU and
 * GSM8K questions from ../shared/data/eval/routellm), measured in one run:
 *  - the fast path (the plugin's default: the graph rebuilt for onnxruntime,
 *    int8 matrices, length-sorted sub-batches, one run per core) with its
 *    agreement (cosine) with the float32 graph, and the float32 graph;
 *  - the baseline: the package's TF.js graph on the pure-JS CPU backend (on
 *    fewer prompts, one at a time), and optionally TF.js WASM;
 * then the ratio. On a shared machine wall-clock rates depend on the load,
 * so each rate is also given per CPU-second of this process.
 *
 *   node --import tsx bench/embedders.ts [--prompts 1000] [--baseline 30] [--wasm 0|1]
 */
import { type Embedder, Files, Matrix } from "@routellm/core"
import { Effect, type Scope } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
// The package sources, so the bench measures the code as it is (not a stale dist/).
import { SentencePiece, UseLite } from "../packages/embedders/src/index.ts"
import * as TfjsUseLite from "../packages/embedders/src/internal/TfjsUseLite.ts"
import * as UseLiteFiles from "../packages/embedders/src/internal/UseLiteFiles.ts"

const argument = (name: string, fallback: number): number => {
  const index = process.argv.indexOf(`--${name}`)
  return index >= 0 ? Number(process.argv[index + 1]) : fallback
}

const promptCount = argument("prompts", 1000)
const baselineCount = argument("baseline", 30)
const withWasm = argument("wasm", 1) === 1

const sharedData = process.env.ROUTELLM_SHARED_DATA ?? Path.resolve(import.meta.dirname, "../../shared/data")
const evalRoot = Path.join(sharedData, "eval", "routellm")

/** MMLU and GSM8K prompts, sampled evenly across the files (deterministic). */
const loadPrompts = Effect.gen(function*() {
  const all: Array<string> = []
  const mmluDirectory = Path.join(evalRoot, "mmlu", "responses")
  for (const name of Fs.readdirSync(mmluDirectory).sort()) {
    const table = yield* Files.readCsv(Path.join(mmluDirectory, name))
    for (const row of table.rows) all.push(row.value["prompt"]!)
  }
  const gsm8k = yield* Files.readCsv(Path.join(evalRoot, "gsm8k", "gsm8k_responses.csv"))
  for (const row of gsm8k.rows) all.push(row.value["prompt"]!)
  return { all, sample: (count: number) => Array.from({ length: count }, (_, i) => all[Math.floor((i * all.length) / count)]!) }
})

interface Timing {
  readonly seconds: number
  readonly cpuSeconds: number
}

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const cpu = process.cpuUsage()
    const start = performance.now()
    const value = yield* effect
    const used = process.cpuUsage(cpu)
    const timing: Timing = { seconds: (performance.now() - start) / 1000, cpuSeconds: (used.user + used.system) / 1e6 }
    return { value, timing }
  })

const embedInBatches = (embedder: Embedder.EmbedderShape, texts: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const parts: Array<Matrix.Matrix> = []
    for (let start = 0; start < texts.length; start += embedder.batchSize) {
      parts.push(yield* embedder.embed(texts.slice(start, start + embedder.batchSize)))
    }
    return Matrix.concatRows(parts, embedder.dimensions)
  })

const rowCosines = (a: Matrix.Matrix, b: Matrix.Matrix) =>
  Array.from({ length: a.rows }, (_, row) => {
    const x = Matrix.row(a, row)
    const y = Matrix.row(b, row)
    let dot = 0, nx = 0, ny = 0
    for (let i = 0; i < x.length; i++) {
      dot += x[i]! * y[i]!
      nx += x[i]! * x[i]!
      ny += y[i]! * y[i]!
    }
    return dot / Math.sqrt(nx * ny)
  })

const rate = (count: number, timing: Timing) => ({
  wall: count / timing.seconds,
  perCpuSecond: count / timing.cpuSeconds
})

const format = (label: string, count: number, timing: Timing) => {
  const r = rate(count, timing)
  return `${label.padEnd(34)} ${r.wall.toFixed(1).padStart(8)} prompts/s   ${r.perCpuSecond.toFixed(1).padStart(8)} prompts/CPU-s   (${count} prompts, ${
    timing.seconds.toFixed(2)
  } s)`
}

const fastPath = (config: Partial<UseLite.Config>, texts: ReadonlyArray<string>): Effect.Effect<
  { readonly vectors: Matrix.Matrix; readonly timing: Timing },
  unknown,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const embedder = yield* UseLite.make({ backend: "onnx", precision: "int8", threads: 0, batchSize: 1024, longText: "head", maxWindows: 8, ...config }, {
      baseDirectory: "."
    })
    // Warm up (session start, first allocations).
    yield* embedder.embed(texts.slice(0, 64))
    const { value, timing } = yield* timed(embedInBatches(embedder, texts))
    return { vectors: value, timing }
  })

const program = Effect.gen(function*() {
  const prompts = yield* loadPrompts
  const texts = prompts.sample(promptCount)
  const { directory, version } = UseLiteFiles.installedDirectory()
  const files = yield* Effect.promise(() => UseLiteFiles.read(directory, version))
  const tokenizer = SentencePiece.make(files.vocabulary)
  const tokenized = yield* timed(Effect.sync(() => UseLite.tokenize(tokenizer, texts)))
  const meanTokens = tokenized.value.reduce((sum, ids) => sum + ids.length, 0) / texts.length

  console.log(`embedder/use-lite throughput on ${texts.length} MMLU/GSM8K prompts (of ${prompts.all.length})`)
  console.log(`machine: ${Os.availableParallelism()} cores, load average ${Os.loadavg().map((x) => x.toFixed(1)).join(" ")}`)
  console.log(`tokens per prompt after clipping to 128: ${meanTokens.toFixed(1)}; tokenizer alone: ${format("", texts.length, tokenized.timing).trim()}`)

  const float32 = yield* Effect.scoped(fastPath({ precision: "float32" }, texts))
  const int8 = yield* Effect.scoped(fastPath({ precision: "int8" }, texts))
  const int8Cosines = rowCosines(int8.vectors, float32.vectors)
  console.log(
    `${format("fast path (onnx int8, default)", texts.length, int8.timing)}   cosine to float32: min ${Math.min(...int8Cosines).toFixed(5)}, mean ${
      (int8Cosines.reduce((a, b) => a + b, 0) / int8Cosines.length).toFixed(5)
    }`
  )
  console.log(format("onnx float32", texts.length, float32.timing))

  // Baseline: the TF.js graph on the pure-JS CPU backend, one prompt at a time.
  const baselineTexts = texts.slice(0, baselineCount)
  const baselineSequences = UseLite.tokenize(tokenizer, baselineTexts)
  const reference = yield* Effect.promise(() => TfjsUseLite.load(files, "cpu"))
  yield* Effect.promise(() => reference.run([baselineSequences[0]!]))
  const baseline = yield* timed(Effect.promise(async () => {
    const rows: Array<Float32Array> = []
    for (const sequence of baselineSequences) rows.push(await reference.run([sequence]))
    return Matrix.fromRows(rows, 512)
  }))
  yield* Effect.promise(() => reference.close())
  console.log(format("baseline (TF.js pure-JS CPU)", baselineTexts.length, baseline.timing))
  const agreement = rowCosines(baseline.value, Matrix.take(float32.vectors, baselineTexts.map((_, i) => i)))
  const agreementInt8 = rowCosines(baseline.value, Matrix.take(int8.vectors, baselineTexts.map((_, i) => i)))
  console.log(
    `vs baseline on the baseline prompts: min cosine float32 ${Math.min(...agreement).toFixed(6)}, int8 ${Math.min(...agreementInt8).toFixed(6)}`
  )

  let wasmRate: ReturnType<typeof rate> | undefined
  if (withWasm) {
    const wasm = yield* Effect.scoped(Effect.gen(function*() {
      const embedder = yield* UseLite.make({ backend: "tfjs-wasm", precision: "float32", threads: 0, batchSize: 1024, longText: "head", maxWindows: 8 }, {
        baseDirectory: "."
      })
      yield* embedder.embed(baselineTexts.slice(0, 4))
      return yield* timed(embedInBatches(embedder, baselineTexts))
    }))
    console.log(format("TF.js WASM (length-bucketed)", baselineTexts.length, wasm.timing))
    wasmRate = rate(baselineTexts.length, wasm.timing)
  }

  const fast = rate(texts.length, float32.timing)
  const slow = rate(baselineTexts.length, baseline.timing)
  const quantized = rate(texts.length, int8.timing)
  const ratio = (label: string, a: ReturnType<typeof rate>, b: ReturnType<typeof rate>) =>
    console.log(`${label.padEnd(44)} ${(a.wall / b.wall).toFixed(1)}x wall-clock, ${(a.perCpuSecond / b.perCpuSecond).toFixed(1)}x per CPU-second`)
  ratio("ratio fast path (int8) / TF.js pure-JS", quantized, slow)
  ratio("ratio onnx float32 / TF.js pure-JS", fast, slow)
  if (wasmRate !== undefined) ratio("ratio fast path (int8) / TF.js WASM", quantized, wasmRate)
  console.log(
    `estimate on ${Os.availableParallelism()} idle cores (per-CPU-second rate x cores): int8 ${
      (quantized.perCpuSecond * Os.availableParallelism()).toFixed(0)
    } prompts/s, float32 ${(fast.perCpuSecond * Os.availableParallelism()).toFixed(0)} prompts/s`
  )
})

Effect.runPromise(program.pipe(Effect.provide(Files.layer))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
