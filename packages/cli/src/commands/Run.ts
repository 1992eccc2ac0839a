import { Errors, Pipeline, PipelineRunner } from "@routellm/core"
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as Path from "node:path"
import { reportFailure } from "../Cli.ts"
import { versions } from "../Versions.ts"

const timestamp = () => new Date().toISOString().replace(/[:.]/g, "-")

export const command = Command.make(
  "run",
  {
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
  },
  Effect.fn(function*({ file, set, force, runDirectory, concurrency }) {
    yield* reportFailure(Effect.gen(function*() {
      const overrides: Array<Pipeline.Override> = []
      for (const text of set) {
        const override = Pipeline.parseOverride(text)
        if (override === undefined) {
          return yield* new Errors.InputError({ file: "--set", reason: `expected step.field=value, got "${text}"` })
        }
        overrides.push(override)
      }
      const loaded = yield* Pipeline.load(file, overrides)
      const { resolved, registry } = yield* Pipeline.resolve(loaded)
      const directory = Option.getOrElse(runDirectory, () => Path.join("runs", resolved.name, timestamp()))
      const result = yield* PipelineRunner.run(resolved, registry, {
        runDirectory: directory,
        force,
        concurrency,
        command: process.argv.slice(2),
        versions: versions()
      })
      const cached = result.manifest.steps.filter((step) => step.cached).length
      yield* Console.log(
        `pipeline ${resolved.name}: ${result.manifest.steps.length} steps (${cached} cached) -> ${result.manifestPath}`
      )
    }))
  })
).pipe(
  Command.withDescription("Run a pipeline: steps run in dependency order, cached outputs are reused"),
  Command.withExamples([
    { command: "routellm run pipelines/eval-random.yaml", description: "Run a pipeline" },
    { command: "routellm run pipelines/sw.yaml --set train.numTiers=5 --force", description: "Override a field and recompute" }
  ])
)
