/**
 * `router/oracle`: the router that knows the answers. Its win rate for a
 * prompt of the benchmark is 0.5 plus half the strong model's score gain over
 * the weak model (scaled by the largest gain), so 1 where only the strong
 * model is right, 0 where only the weak one is, 0.5 on ties and unknown
 * prompts. It bounds what any router can reach on the benchmark.
 */
import { type Benchmark, Errors, Plugin, PluginRegistry, type Router } from "@routellm/core"
import { Effect, Schema } from "effect"

export const Config = Schema.Struct({
  benchmark: Schema.optionalKey(Plugin.Reference).annotate({
    description: "The benchmark whose recorded outcomes it reads (eval supplies the evaluated benchmark when omitted)"
  })
}).annotate({ description: "Oracle router: routes with the benchmark's recorded outcomes (upper bound)" })
export type Config = typeof Config.Type

export const fromBenchmark = (benchmark: Benchmark.BenchmarkShape): Router.RouterShape => {
  const gains = new Map<string, { total: number; count: number }>()
  for (const row of benchmark.rows) {
    const gain = row.scores[benchmark.strongModel]! - row.scores[benchmark.weakModel]!
    const entry = gains.get(row.prompt) ?? { total: 0, count: 0 }
    entry.total += gain
    entry.count++
    gains.set(row.prompt, entry)
  }
  let largest = 0
  for (const entry of gains.values()) largest = Math.max(largest, Math.abs(entry.total / entry.count))
  const winRateSync = (prompt: string) => {
    const entry = gains.get(prompt)
    if (entry === undefined || largest === 0) return 0.5
    return 0.5 + entry.total / entry.count / (2 * largest)
  }
  return {
    id: "router/oracle",
    winRate: (prompt) => Effect.sync(() => winRateSync(prompt)),
    winRates: (prompts) => Effect.sync(() => Float64Array.from(prompts, winRateSync)),
    batchSize: 65536
  }
}

export const plugin = Plugin.router({
  id: "router/oracle",
  version: "1.0.0",
  description: "Oracle router (upper bound): routes with a benchmark's recorded outcomes",
  config: Config,
  make: (config, context) =>
    Effect.gen(function*() {
      if (config.benchmark === undefined) {
        return yield* new Errors.PluginError({
          pluginId: "router/oracle",
          reason: "needs benchmark: (a benchmark reference); `routellm eval` and eval/benchmark supply the evaluated one"
        })
      }
      const benchmark = yield* PluginRegistry.makeBenchmark(config.benchmark, context, "router/oracle benchmark")
      return fromBenchmark(benchmark)
    })
})
