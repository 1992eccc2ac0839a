/** `routellm calibrate`: its flags and help; the work is in ../handlers/Calibrate.ts, loaded when it runs. */
import { Effect } from "effect"
import { Command, Flag } from "effect/cli"

export const flags = {
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
}

export type Flags = Command.Command.Config.Infer<typeof flags>

export const command = Command.make(
  "calibrate",
  flags,
  (input) => Effect.flatMap(Effect.promise(() => import("../handlers/Calibrate.ts")), (handler) => handler.handle(input))
).pipe(
  Command.withDescription("Find the threshold that sends a given share of prompts to the strong model, with a bootstrap interval"),
  Command.withExamples([
    {
      command: "routellm calibrate --router random --strong-fraction 0.5 --prompts prompts.jsonl",
      description: "Threshold for 50% strong calls on a prompt sample"
    }
  ])
)
