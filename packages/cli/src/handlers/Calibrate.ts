import { CalibrateStep } from "@routellm/benchmarks"
import { Console, Effect, Option } from "effect"
import { baseContext, layer, readConfigFile, reportFailure, routerReference, withDataDirectory } from "../Cli.ts"
import type { Flags } from "../commands/Calibrate.ts"

const percent = (value: number) => `${(value * 100).toFixed(1)}%`

export const handle = Effect.fn("routellm.calibrate")(function*(flags: Flags) {
  yield* reportFailure(Effect.scoped(
    Effect.gen(function*() {
      if (!(flags.strongFraction >= 0 && flags.strongFraction <= 1)) {
        return yield* Effect.fail(new Error(`--strong-fraction must be in [0, 1], got ${flags.strongFraction}`))
      }
      if (flags.resamples < 1) return yield* Effect.fail(new Error("--resamples must be at least 1"))
      const context = baseContext()
      const datasetWith = Option.isSome(flags.datasetConfig) ? yield* readConfigFile(flags.datasetConfig.value) : {}
      const sample = yield* CalibrateStep.loadPrompts({
        prompts: Option.getOrUndefined(flags.prompts),
        dataset: Option.isSome(flags.dataset)
          ? { uses: flags.dataset.value.includes("/") ? flags.dataset.value : `dataset/${flags.dataset.value}`, with: datasetWith }
          : undefined,
        benchmark: Option.isSome(flags.benchmark)
          ? (flags.benchmark.value.includes("/") ? flags.benchmark.value : `benchmark/${flags.benchmark.value}`)
          : undefined
      }, context)
      const raw = Option.isSome(flags.config) ? yield* readConfigFile(flags.config.value) : undefined
      const result = yield* CalibrateStep.calibrateRouter(
        { reference: routerReference(flags.router, raw) },
        sample,
        context,
        { strongFraction: flags.strongFraction, resamples: flags.resamples, seed: flags.seed }
      )
      if (flags.json) {
        yield* Console.log(JSON.stringify(result))
      } else {
        yield* Console.log(`router: ${result.router} on ${result.prompts} prompts`)
        yield* Console.log(`threshold: ${result.threshold}`)
        yield* Console.log(
          `strong share: ${percent(result.sampleShare)} of the sample (asked ${percent(result.strongFraction)}); ` +
            `${(result.confidence * 100).toFixed(0)}% bootstrap interval on new traffic: [${percent(result.interval[0])}, ${
              percent(result.interval[1])
            }] (${result.resamples} resamples)`
        )
      }
    }).pipe(withDataDirectory(flags.dataDirectory))
  ))
}, Effect.provide(layer))
