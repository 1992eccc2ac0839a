import { CrossFit } from "@routellm/augment"
import { Evaluate, Output, Report } from "@routellm/benchmarks"
import { PluginRegistry } from "@routellm/core"
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { baseContext, readConfigFile, reportFailure, routerReference, withDataDirectory } from "../Cli.ts"

/** `--config FILE` holds one router's config, or configs keyed by router name (RouteLLM's config.yaml). */
export const routerConfigs = (routers: ReadonlyArray<string>, raw: unknown): Array<unknown> => {
  if (raw === undefined || raw === null) return routers.map(() => undefined)
  const record = typeof raw === "object" ? raw as Record<string, unknown> : {}
  const keyed = routers.some((router) => router in record || router.replace(/^router\//, "") in record)
  if (keyed) return routers.map((router) => record[router] ?? record[router.replace(/^router\//, "")])
  return routers.length === 1 ? [raw] : routers.map(() => undefined)
}

export const command = Command.make(
  "eval",
  {
    benchmark: Flag.String("benchmark").pipe(
      Flag.withDescription("Benchmark plugin: mt-bench, mmlu, gsm8k, outcomes (or any benchmark/<id>)")
    ),
    router: Flag.String("router").pipe(
      Flag.withDescription("Router plugin id (random, oracle, sw, router/mf, ...); repeat for several"),
      Flag.atLeast(1)
    ),
    config: Flag.String("config").pipe(
      Flag.withDescription("YAML/JSON router config: one router's config, or configs keyed by router name"),
      Flag.optional
    ),
    benchmarkConfig: Flag.String("benchmark-config").pipe(
      Flag.withDescription("YAML/JSON config of the benchmark (e.g. outcomes: { file, strong, weak })"),
      Flag.optional
    ),
    dataDirectory: Flag.String("data-dir").pipe(
      Flag.withDescription("Root of the local data (the layout of ../shared/data); overrides ROUTELLM_DATA_DIR"),
      Flag.optional
    ),
    strong: Flag.String("strong").pipe(Flag.withDescription("Strong model (default gpt-4-1106-preview)"), Flag.optional),
    weak: Flag.String("weak").pipe(Flag.withDescription("Weak model (default mixtral-8x7b-instruct-v0.1)"), Flag.optional),
    bins: Flag.Int("bins").pipe(Flag.withDescription("Threshold quantile bins (RouteLLM --num-results)"), Flag.withDefault(10)),
    seeds: Flag.Int("seeds").pipe(
      Flag.withDescription("Seeds a random router is averaged over (default 10, more on small benchmarks: seeds x prompts >= 10,000)"),
      Flag.optional
    ),
    json: Flag.String("json").pipe(Flag.withDescription("Write the report as JSON here"), Flag.optional),
    markdown: Flag.String("markdown").pipe(Flag.withDescription("Write a Markdown report here"), Flag.optional),
    plot: Flag.String("plot").pipe(
      Flag.withDescription("Write the figure here (.svg or .png); repeatable"),
      Flag.atLeast(0)
    ),
    crossfit: Flag.Int("crossfit").pipe(
      Flag.withDescription("Cross-fit trainable routers: K folds by prompt, each scored by a router trained on the other folds' golden labels"),
      Flag.optional
    ),
    crossfitSeed: Flag.Int("crossfit-seed").pipe(Flag.withDescription("Seed of the fold split"), Flag.withDefault(0)),
    trainBattles: Flag.String("train-battles").pipe(
      Flag.withDescription("With --crossfit: extra training battles (battles.jsonl or its directory); repeatable"),
      Flag.atLeast(0)
    )
  },
  Effect.fn(function*(flags) {
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
        const report = Option.isSome(flags.crossfit)
          ? yield* CrossFit.evaluateReport(benchmark, specs, context, {
            bins: flags.bins,
            seeds,
            folds: flags.crossfit.value,
            seed: flags.crossfitSeed,
            training: CrossFit.battleInputs(flags.trainBattles)
          })
          : yield* Evaluate.evaluate(benchmark, specs, context, { bins: flags.bins, seeds })
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
  })
).pipe(
  Command.withDescription("Evaluate routers on a benchmark with RouteLLM's metrics (CPT, APGR) and write JSON, Markdown and plots"),
  Command.withExamples([
    {
      command: "routellm eval --benchmark mmlu --router random --router oracle --data-dir ../shared/data --json out.json --plot mmlu.png",
      description: "Random and oracle routers on MMLU"
    }
  ])
)
