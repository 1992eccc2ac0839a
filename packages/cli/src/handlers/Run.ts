import { Report } from "@routellm/benchmarks"
import { Errors, Files, Pipeline, PipelineRunner } from "@routellm/core"
import { Console, Effect, Option } from "effect"
import * as Path from "node:path"
import { layer, reportFailure } from "../Cli.ts"
import type { Flags } from "../commands/Run.ts"
import * as RunDirectory from "../internal/RunDirectory.ts"
import { versions } from "../Versions.ts"

/** A benchmark evaluation report (eval/benchmark), as Report.table reads it. */
const isEvaluation = (value: unknown): value is Parameters<typeof Report.table>[0] =>
  typeof value === "object" && value !== null && Array.isArray((value as { routers?: unknown }).routers) &&
  typeof (value as { bins?: unknown }).bins === "number"

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
    }).pipe(
      // Reports of the steps that finished are kept even when a later step fails.
      Effect.ensuring(Effect.gen(function*() {
        const manifest = yield* Files.readJson(Path.join(directory, "manifest.json")).pipe(Effect.orElseSucceed(() => ({ steps: [] })))
        yield* RunDirectory.keepReports(directory, (manifest as PipelineRunner.Manifest).steps ?? [])
        if (Option.isNone(runDirectory)) yield* RunDirectory.linkLatest(directory)
      }))
    )
    // The results, as `routellm eval` prints them: one table per evaluation step.
    for (const step of result.manifest.steps) {
      const report = yield* Files.readJson(Path.join(step.artifact, "report.json")).pipe(Effect.option)
      if (Option.isNone(report) || !isEvaluation(report.value)) continue
      yield* Console.log(`\n== ${step.id} (${step.uses}${step.cached ? ", cached" : ""})\n${Report.table(report.value)}`)
    }
    const cached = result.manifest.steps.filter((step) => step.cached).length
    yield* Console.log(
      `\npipeline ${resolved.name}: ${result.manifest.steps.length} steps (${cached} cached); reports in ${
        Path.join(directory, "reports")
      }, manifest ${result.manifestPath}`
    )
  }))
}, Effect.provide(layer))
