/**
 * Evaluation speed, measured in one run:
 *  1. the threshold sweep on typed arrays (Metrics.sweep, Metrics.exactCurve)
 *     against a straightforward array version (filter + map per threshold,
 *     as a pandas-style translation would do) on N synthetic prompts;
 *  2. `routellm eval`'s engine on real MMLU with the random router over 10
 *     seeds: cold (scores computed and stored) against warm (scores read
 *     from the artifact store).
 *
 *   node --import tsx bench/benchmarks.ts [--prompts 200000] [--data ../shared/data]
 */
import { ArtifactStore, PluginRegistry, Progress, Random, RandomRouter } from "@routellm/core"
import { Effect, Layer, Schema } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
// The package sources, so the bench measures the code as it is (not a stale dist/).
import { Evaluate, Metrics, Mmlu, plugins } from "../packages/benchmarks/src/index.ts"

const argument = (name: string, fallback: string): string => {
  const index = process.argv.indexOf(`--${name}`)
  return index >= 0 ? process.argv[index + 1]! : fallback
}
const promptCount = Number(argument("prompts", "200000"))
const dataDirectory = Path.resolve(argument("data", Path.join(import.meta.dirname, "../../shared/data")))

const time = <A>(run: () => A): { readonly value: A; readonly ms: number } => {
  const start = performance.now()
  const value = run()
  return { value, ms: performance.now() - start }
}

// 1. Sweep: typed arrays against plain arrays.
const generator = Random.make(1)
const winRates = Float64Array.from({ length: promptCount }, () => generator.next())
const strong = Float64Array.from({ length: promptCount }, () => (generator.next() < 0.8 ? 1 : 0))
const weak = Float64Array.from({ length: promptCount }, () => (generator.next() < 0.68 ? 1 : 0))
const naiveSweep = (bins: number) => {
  const rows = Array.from(winRates, (winRate, index) => ({ winRate, strong: strong[index]!, weak: weak[index]! }))
  const sorted = [...rows].map((row) => row.winRate).sort((left, right) => left - right)
  const edges = Array.from({ length: bins + 1 }, (_, k) => Metrics.quantileSorted(sorted, k / bins))
  return edges.map((edge, index) => {
    const chosen = rows.map((row) => (index === bins ? row.winRate > edge : row.winRate >= edge) ? row.strong : row.weak)
    const strongCalls = rows.filter((row) => (index === bins ? row.winRate > edge : row.winRate >= edge)).length
    return { strongPercent: (strongCalls / rows.length) * 100, score: chosen.reduce((total, value) => total + value, 0) / rows.length }
  })
}
naiveSweep(10)
Metrics.sweep(winRates, strong, weak)
const naive = time(() => naiveSweep(10))
const typed = time(() => Metrics.sweep(winRates, strong, weak))
const exact = time(() => Metrics.exactCurve(winRates, strong, weak))
const agree = naive.value.every((point, index) => Math.abs(point.score - typed.value.score[10 - index]!) < 1e-12)
console.log(
  `sweep of ${promptCount} prompts, 10 bins: typed ${typed.ms.toFixed(1)} ms, plain arrays ${naive.ms.toFixed(1)} ms (${
    (naive.ms / typed.ms).toFixed(1)
  }x faster; same points: ${agree})`
)
console.log(`exact curve (${exact.value.strongPercent.length} points): ${exact.ms.toFixed(1)} ms (${(exact.ms / typed.ms).toFixed(1)}x the 10-bin sweep)`)

// 2. Cold against cached evaluation on MMLU.
const root = await Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-bench-"))
const layer = Layer.mergeAll(ArtifactStore.ArtifactStore.layerAt(root), PluginRegistry.PluginRegistry.layer([RandomRouter.plugin, ...plugins]))
const evaluateOnce = Effect.gen(function*() {
  const context = { baseDirectory: process.cwd() }
  const benchmark = yield* Mmlu.make(Schema.decodeUnknownSync(Mmlu.Config)({ dir: Path.join(dataDirectory, "eval/routellm") }), context)
  const start = performance.now()
  const report = yield* Evaluate.evaluate(benchmark, [{ reference: "random" }], context, { seeds: 10 })
  return { ms: performance.now() - start, apgr: report.routers[0]!.metrics.apgr, cached: report.routers[0]!.cached }
}).pipe(Effect.scoped, Effect.provide(layer), Effect.provideService(Progress.Reporter, Progress.silent))
const cold = await Effect.runPromise(evaluateOnce)
const warm = await Effect.runPromise(evaluateOnce)
console.log(
  `MMLU random x10 seeds: cold ${cold.ms.toFixed(0)} ms, cached ${warm.ms.toFixed(0)} ms (${(cold.ms / warm.ms).toFixed(1)}x; cached: ${warm.cached}; APGR ${
    cold.apgr.toFixed(4)
  } both times: ${cold.apgr === warm.apgr})`
)
await Fs.rm(root, { recursive: true, force: true })
