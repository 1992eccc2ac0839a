/** `routellm run`: its flags and help; the work is in ../handlers/Run.ts, loaded when it runs. */
import { Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"

export const flags = {
  file: Argument.String("pipeline.yaml").pipe(Argument.withDescription("The pipeline to run")),
  set: Flag.String("set").pipe(
    Flag.withDescription("Override a step's config: --set step.field=value (value parsed as YAML); repeatable"),
    Flag.atLeast(0)
  ),
  force: Flag.Boolean("force").pipe(
    Flag.withDescription("Recompute every step instead of reusing cached outputs"),
    Flag.withDefault(false)
  ),
  runDirectory: Flag.String("run-dir").pipe(
    Flag.withDescription("Where the manifest and step outputs go (default runs/<pipeline>/<time>)"),
    Flag.optional
  ),
  concurrency: Flag.Int("concurrency").pipe(Flag.withDescription("Steps to run at once"), Flag.withDefault(2))
}

export type Flags = Command.Command.Config.Infer<typeof flags>

export const command = Command.make(
  "run",
  flags,
  (input) => Effect.flatMap(Effect.promise(() => import("../handlers/Run.ts")), (handler) => handler.handle(input))
).pipe(
  Command.withDescription("Run a pipeline: steps run in dependency order, cached outputs are reused"),
  Command.withExamples([
    { command: "routellm run pipelines/eval-random.yaml", description: "Run a pipeline" },
    { command: "routellm run pipelines/sw-eval.yaml --set sw.numTiers=5 --force", description: "Override a field and recompute" }
  ])
)
