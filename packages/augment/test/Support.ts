/**
 * Running an augmenter plugin the way the pipeline does (decode config, make
 * with a step context, augment), in temporary directories.
 */
import { ArtifactStore, type Plugin, PluginRegistry, Progress, type Records } from "@routellm/core"
import { Effect, Schema, Stream } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

export const temporaryDirectory = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), `routellm-augment-${prefix}-`))),
    (directory) => Effect.sync(() => Fs.rmSync(directory, { recursive: true, force: true }))
  )

export const writeJsonl = (file: string, rows: ReadonlyArray<unknown>) => Fs.writeFileSync(file, rows.map((row) => JSON.stringify(row)).join("\n") + "\n")

export const stepContext = (baseDirectory: string, stepId = "augment"): Plugin.StepContext<any> => {
  const directory = Fs.mkdtempSync(Path.join(baseDirectory, `${stepId}-`))
  return { stepId, directory, inputs: [], ports: {}, runDirectory: baseDirectory, baseDirectory }
}

/** Decode a raw config with the plugin's Schema, build the augmenter and run it on `input`. */
export const runAugmenter = <C>(
  plugin: Plugin.AugmenterPlugin<C>,
  raw: unknown,
  context: Plugin.StepContext,
  cacheRoot: string,
  input: ReadonlyArray<Records.Battle> = []
) =>
  Effect.scoped(Effect.gen(function*() {
    const config = yield* Schema.decodeUnknownEffect(plugin.config as Schema.Codec<C, unknown>)(raw)
    const augmenter = yield* plugin.make(config, context)
    return yield* augmenter.augment(Stream.fromIterable(input))
  })).pipe(
    Effect.provide(ArtifactStore.ArtifactStore.layerAt(cacheRoot)),
    Effect.provide(PluginRegistry.PluginRegistry.layer([])),
    Effect.provideService(Progress.Reporter, Progress.silent)
  )
