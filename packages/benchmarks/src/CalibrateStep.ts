/**
 * `calibrate/quantile`: the threshold for a target share of strong calls on
 * a prompt sample (a JSONL/CSV file, a dataset plugin's battles or a
 * benchmark's prompts), with a bootstrap interval for the share on new traffic.
 */
import { Errors, Hash, Plugin, PluginRegistry, Port } from "@routellm/core"
import { Effect, Schema, Stream } from "effect"
import * as Path from "node:path"
import * as Calibration from "./Calibration.ts"
import * as Evaluate from "./Evaluate.ts"

export const Config = Schema.Struct({
  router: Schema.optionalKey(Plugin.Reference).annotate({
    description: "Router to calibrate (default: the router step in needs)"
  }),
  prompts: Schema.optionalKey(Schema.String).annotate({ description: "JSONL/JSON/CSV file of prompts" }),
  dataset: Schema.optionalKey(Plugin.Reference).annotate({ description: "Dataset plugin whose battle prompts to use" }),
  benchmark: Schema.optionalKey(Plugin.Reference).annotate({ description: "Benchmark plugin whose prompts to use" }),
  strongFraction: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 })).annotate({
    description: "Share of prompts to send to the strong model"
  }),
  resamples: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(1000))),
  confidence: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 })).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(0.95))
  ),
  seed: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0)))
}).annotate({ description: "Calibrate a router's threshold for a share of strong-model calls" })
export type Config = typeof Config.Type

export interface PromptSource {
  readonly prompts?: string | undefined
  readonly dataset?: Plugin.Reference | undefined
  readonly benchmark?: Plugin.Reference | undefined
}

/** The prompt sample and its fingerprint, from exactly one source. */
export const loadPrompts = Effect.fn("CalibrateStep.loadPrompts")(function*(source: PromptSource, context: Plugin.MakeContext) {
  const given = [source.prompts, source.dataset, source.benchmark].filter((value) => value !== undefined).length
  if (given !== 1) {
    return yield* new Errors.PluginError({
      pluginId: "calibrate/quantile",
      reason: `give exactly one prompt source (prompts file, dataset or benchmark); got ${given}`
    })
  }
  let prompts: Array<string>
  if (source.prompts !== undefined) {
    prompts = yield* Calibration.readPrompts(Path.resolve(context.baseDirectory, source.prompts))
  } else if (source.dataset !== undefined) {
    const registry = yield* PluginRegistry.PluginRegistry
    const { uses, with: raw } = Plugin.normalizeReference(source.dataset)
    const plugin = yield* registry.getKind(uses, "dataset", "dataset")
    const config = yield* PluginRegistry.decodeConfig(plugin, raw, "dataset")
    const dataset = yield* plugin.make(config, context)
    const battles = yield* Stream.runCollect(dataset.records)
    prompts = [...new Set(Array.from(battles, (battle) => battle.prompt))]
  } else {
    const benchmark = yield* PluginRegistry.makeBenchmark(source.benchmark!, context)
    prompts = benchmark.rows.map((row) => row.prompt)
  }
  if (prompts.length === 0) {
    return yield* new Errors.PluginError({ pluginId: "calibrate/quantile", reason: "the prompt source holds no prompts" })
  }
  return { prompts, fingerprint: Hash.hashValue(prompts) }
})

/** Score the sample with the router (cached) and calibrate. */
export const calibrateRouter = Effect.fn("CalibrateStep.calibrateRouter")(function*(
  spec: Evaluate.RouterSpec,
  sample: { readonly prompts: ReadonlyArray<string>; readonly fingerprint: string },
  context: Plugin.MakeContext,
  options: { readonly strongFraction: number; readonly resamples?: number; readonly seed?: number; readonly confidence?: number }
) {
  const scored = yield* Evaluate.scoreRouter(spec, sample.prompts, context, { fingerprint: sample.fingerprint, name: "prompt sample" })
  const calibration = Calibration.calibrate(scored.scores[0]!, options.strongFraction, options)
  return { router: scored.plugin.id, ...calibration }
})

export const plugin = Plugin.step({
  id: "calibrate/quantile",
  version: "1.0.0",
  description: "Threshold for a target share of strong-model calls, with a bootstrap interval for that share on new traffic",
  config: Config,
  inputs: { router: Port.optional(Port.router(), { description: "the router step to calibrate (or set router:)" }) },
  output: Port.calibration,
  run: (config, context) =>
    Effect.gen(function*() {
      const input = context.ports.router[0]
      const spec: Evaluate.RouterSpec | undefined = config.router !== undefined
        ? { reference: config.router }
        : input === undefined
        ? undefined
        : {
          name: input.stepId,
          reference: { uses: input.uses, with: (input as { readonly config?: unknown }).config ?? {} },
          trained: input as unknown as Plugin.StepInput
        }
      if (spec === undefined) {
        return yield* new Errors.PluginError({
          pluginId: "calibrate/quantile",
          reason: "no router: set router: or name a router step in needs:"
        })
      }
      const sample = yield* loadPrompts(config, context)
      const result = yield* calibrateRouter(spec, sample, context, config)
      return { value: result, summary: { ...result } }
    })
})
