/**
 * `eval/benchmark`: the pipeline step of `routellm eval`. Routers come from
 * the config (`routers: [router/oracle, { uses: router/sw, with: {...} }]`),
 * from the router steps named in `needs` (rebuilt from their trained output
 * and cached on the step's fingerprint) and from `baselines` (random and
 * prompt length unless told otherwise). Writes report.json, report.md,
 * plot.svg and plot.png into the step's artifact.
 */
import { Errors, Plugin, PluginRegistry, Port } from "@routellm/core"
import { Effect, Schema } from "effect"
import * as Path from "node:path"
import * as Evaluate from "./Evaluate.ts"
import * as Output from "./Output.ts"

export const RouterEntry = Schema.Union([
  Schema.String,
  Schema.Struct({
    name: Schema.optionalKey(Schema.String),
    uses: Schema.String,
    with: Schema.optionalKey(Schema.Unknown)
  })
])

export const Config = Schema.Struct({
  benchmark: Plugin.Reference.annotate({ description: "Benchmark plugin reference, e.g. benchmark/mmlu or { uses, with }" }),
  routers: Schema.Array(RouterEntry).pipe(Schema.withDecodingDefaultKey(Effect.succeed([]))).annotate({
    description: "Routers to evaluate besides the router steps in needs"
  }),
  baselines: Schema.Array(RouterEntry).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(Evaluate.defaultBaselines.map((spec) => spec.reference as string)))
  ).annotate({
    description:
      "Routers every report shows without being listed (default [router/random, router/length]; [] for none); one whose plugin is listed in routers or needs is not added again"
  }),
  ...Evaluate.OptionsSchema.fields,
  png: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))).annotate({
    description: "Also render the figure as PNG"
  })
}).annotate({ description: "Evaluate routers on a benchmark: paper metrics, JSON/Markdown report and figure" })
export type Config = typeof Config.Type

export const inputs = { routers: Port.many(Port.router(), { description: "router steps (trained or configured) to evaluate" }) }

/** Router specs of config entries (`routers`, `baselines`). */
export const entrySpecs = (entries: Config["routers"]): Array<Evaluate.RouterSpec> =>
  entries.map((entry) =>
    typeof entry === "string"
      ? { reference: entry }
      : { name: entry.name, reference: { uses: entry.uses, ...(entry.with === undefined ? {} : { with: entry.with }) } }
  )

/** Router specs from the config entries and from the router steps among the inputs. */
export const routerSpecs = (
  entries: Config["routers"],
  routers: ReadonlyArray<Port.Received<ReturnType<typeof Port.router>>>
): Array<Evaluate.RouterSpec> => [
  ...entrySpecs(entries),
  ...routers.map((input) => ({
    name: input.stepId,
    reference: { uses: input.uses, with: (input as { readonly config?: unknown }).config ?? {} },
    trained: input as unknown as Plugin.StepInput
  }))
]

export const plugin = Plugin.step({
  id: "eval/benchmark",
  version: "1.2.0",
  description:
    "Evaluate routers (config and trained router steps, beside the random and length baselines) on a benchmark with RouteLLM's metrics; writes report and plots",
  config: Config,
  inputs,
  output: Port.report,
  run: (config, context) =>
    Effect.gen(function*() {
      const specs = routerSpecs(config.routers, context.ports.routers)
      if (specs.length === 0 && config.baselines.length === 0) {
        return yield* new Errors.PluginError({
          pluginId: "eval/benchmark",
          reason: "no routers: list them under routers: or baselines:, or name router steps in needs:"
        })
      }
      const benchmark = yield* PluginRegistry.makeBenchmark(config.benchmark, context, `step ${context.stepId} benchmark`)
      const report = yield* Evaluate.evaluate(benchmark, specs, context, {
        bins: config.bins,
        seeds: config.seeds,
        baselines: entrySpecs(config.baselines),
        ...(config.prices === undefined ? {} : { prices: config.prices })
      })
      yield* Output.writeAll(report, {
        json: Path.join(context.directory, "report.json"),
        markdown: Path.join(context.directory, "report.md"),
        plots: [Path.join(context.directory, "plot.svg"), ...(config.png ? [Path.join(context.directory, "plot.png")] : [])]
      })
      return {
        value: report,
        summary: {
          benchmark: report.benchmark,
          prompts: report.prompts,
          strongScore: report.strongScore,
          weakScore: report.weakScore,
          routers: Object.fromEntries(report.routers.map((router) => [router.name, {
            apgr: router.metrics.apgr,
            apgrExact: router.metrics.apgrExact,
            cpt50: router.metrics.cpt50,
            cpt80: router.metrics.cpt80
          }])),
          optimalApgr: report.optimal.metrics.apgr
        }
      }
    })
})
