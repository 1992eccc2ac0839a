import { CrossFit } from "@routellm/augment"
import { Evaluate, Output, Report } from "@routellm/benchmarks"
import { PluginRegistry } from "@routellm/core"
import { Console, Effect, Option } from "effect"
import { baseContext, layer, readConfigFile, reportFailure, routerReference, withDataDirectory } from "../Cli.ts"
import type { Flags } from "../commands/Eval.ts"

/** `--config FILE` holds one router's config, or configs keyed by router name (RouteLLM's config.yaml). */
export const routerConfigs = (routers: ReadonlyArray<string>, raw: unknown): Array<unknown> => {
  if (raw === undefined || raw === null) return routers.map(() => undefined)
  const record = typeof raw === "object" ? raw as Record<string, unknown> : {}
  const keyed = routers.some((router) => router in record || router.replace(/^router\//, "") in record)
  if (keyed) return routers.map((router) => record[router] ?? record[router.replace(/^router\//, "")])
  return routers.length === 1 ? [raw] : routers.map(() => undefined)
}

export const handle = Effect.fn("routellm.eval")(function*(flags: Flags) {
  yield* reportFailure(Effect.scoped(
    Effect.gen(function*() {
      const seeds = Option.getOrUndefined(flags.seeds)
      if (flags.bins < 1 || (seeds !== undefined && seeds < 1)) return yield* Effect.fail(new Error("--bins and --seeds must be at least 1"))
      const context = baseContext()
      const rawBenchmark = Option.isSome(flags.benchmarkConfig) ? yield* readConfigFile(flags.benchmarkConfig.value) : {}
      const benchmarkWith = {
        ...(typeof rawBenchmark === "object" && rawBenchmark !== null ? rawBenchmark : {}),
        ...(Option.isSome(flags.strong) ? { strong: flags.strong.value } : {}),
        ...(Option.isSome(flags.weak) ? { weak: flags.weak.value } : {})
      }
      const benchmarkId = flags.benchmark.includes("/") ? flags.benchmark : `benchmark/${flags.benchmark}`
      const benchmark = yield* PluginRegistry.makeBenchmark({ uses: benchmarkId, with: benchmarkWith }, context, "--benchmark")
      const rawRouters = Option.isSome(flags.config) ? yield* readConfigFile(flags.config.value) : undefined
      const configs = routerConfigs(flags.router, rawRouters)
      const specs = flags.router.map((router, index) => ({
        name: router.replace(/^router\//, ""),
        reference: routerReference(router, configs[index])
      }))
      const baselines = !flags.baselines
        ? []
        : flags.baseline.length > 0
        ? flags.baseline.map((router) => ({ name: router.replace(/^router\//, ""), reference: routerReference(router, undefined) }))
        : undefined
      if (flags.router.length === 0 && baselines?.length === 0) {
        return yield* Effect.fail(new Error("nothing to evaluate: name a router with --router, or drop --no-baselines"))
      }
      const report = Option.isSome(flags.crossfit)
        ? yield* CrossFit.evaluateReport(benchmark, specs, context, {
          bins: flags.bins,
          seeds,
          baselines,
          folds: flags.crossfit.value,
          seed: flags.crossfitSeed,
          training: CrossFit.battleInputs(flags.trainBattles)
        })
        : yield* Evaluate.evaluate(benchmark, specs, context, { bins: flags.bins, seeds, baselines })
      yield* Console.log(Report.table(report))
      const written = yield* Output.writeAll(report, {
        json: Option.getOrUndefined(flags.json),
        markdown: Option.getOrUndefined(flags.markdown),
        plots: flags.plot
      })
      for (const file of written) yield* Console.log(`wrote ${file}`)
      if (report.routers.every((router) => router.cached)) yield* Console.log("(router scores read from the cache)")
    }).pipe(withDataDirectory(flags.dataDirectory))
  ))
}, Effect.provide(layer))
