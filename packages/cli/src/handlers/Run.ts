import { Errors, Pipeline, PipelineRunner } from "@routellm/core"
import { Console, Effect, Option } from "effect"
import * as Path from "node:path"
import { layer, reportFailure } from "../Cli.ts"
import type { Flags } from "../commands/Run.ts"
import { versions } from "../Versions.ts"

const timestamp = () => new Date().toISOString().replace(/[:.]/g, "-")

export const handle = Effect.fn("routellm.run")(function*({ file, set, force, runDirectory, concurrency }: Flags) {
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
}, Effect.provide(layer))
