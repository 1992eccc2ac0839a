import { CalibrateStep } from "@routellm/benchmarks"
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { baseContext, readConfigFile, reportFailure, routerReference, withDataDirectory } from "../Cli.ts"

const percent = (value: number) => `${(value * 100).toFixed(1)}%`

export const command = Command.make(
  "calibrate",
  {
    router: Flag.String("router").pipe(Flag.withDescription("Router plugin id (random, sw, router/mf, ...)")),
    config: Flag.String("config").pipe(Flag.withDescription("YAML/JSON file with the router's config"), Flag.optional),
    strongFraction: Flag.Finite("strong-fraction").pipe(
      Flag.withDescription("Share of prompts to send to the strong model (0..1)"),
      Flag.withDefault(0.5)
    ),
    prompts: Flag.String("prompts").pipe(
      Flag.withDescription("JSONL/JSON/CSV file of prompts (prompt/question/turns/messages)"),
      Flag.optional
    ),
    dataset: Flag.String("dataset").pipe(Flag.withDescription("Dataset plugin whose battle prompts to use"), Flag.optional),
    datasetConfig: Flag.String("dataset-config").pipe(Flag.withDescription("YAML/JSON config of the dataset"), Flag.optional),
    benchmark: Flag.String("benchmark").pipe(Flag.withDescription("Benchmark plugin whose prompts to use"), Flag.optional),
    dataDirectory: Flag.String("data-dir").pipe(
      Flag.withDescription("Root of the local data (the layout of ../shared/data)"),
      Flag.optional
    ),
    resamples: Flag.Int("resamples").pipe(Flag.withDescription("Bootstrap resamples"), Flag.withDefault(1000)),
    seed: Flag.Int("seed").pipe(Flag.withDescription("Bootstrap seed"), Flag.withDefault(0)),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print the result as JSON"), Flag.withDefault(false))
  },
  Effect.fn(function*(flags) {
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
  })
).pipe(
  Command.withDescription("Find the threshold that sends a given share of prompts to the strong model, with a bootstrap interval"),
  Command.withExamples([
    {
      command: "routellm calibrate --router random --strong-fraction 0.5 --prompts prompts.jsonl",
      description: "Threshold for 50% strong calls on a prompt sample"
    }
  ])
)
