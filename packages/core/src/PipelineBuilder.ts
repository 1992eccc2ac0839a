/**
 * Pipelines in TypeScript, with the wiring checked by the compiler: each
 * `step` takes a plugin value, its config as written in YAML (the encoded side
 * of the plugin's Schema) and `needs` that may only name earlier steps whose
 * output port the plugin takes. The result runs through the same resolution
 * (config decoding, port counts) and runner as a YAML file, and prints as one.
 *
 * ```ts
 * const pipeline = PipelineBuilder.make("example", { directory: import.meta.dirname })
 *   .step("battles", AlpacaEval.plugin, { with: { dir: "../data" } })
 *   .step("sw", SwRouter.plugin, { needs: ["battles"] })
 *   .step("mmlu", EvalStep.plugin, { with: { benchmark: "benchmark/mmlu" }, needs: ["sw"] })
 * // .step("bad", SwRouter.plugin, { needs: ["mmlu"] })  <- a compile error: a report is not battles
 * ```
 */
import { Effect } from "effect"
import * as Path from "node:path"
import * as Yaml from "yaml"
import type * as Pipeline from "./Pipeline.ts"
import { resolve } from "./Pipeline.ts"
import * as PipelineRunner from "./PipelineRunner.ts"
import type * as Plugin from "./Plugin.ts"
import type { RegistryShape } from "./PluginRegistry.ts"
import type * as Port from "./Port.ts"

/** The output port type of a plugin value. */
export type OutputOf<P> = P extends { readonly output: infer O } ? O : never

/** The port ids a plugin's inputs accept (`router:${string}` for any router). */
export type AcceptedOf<P> = P extends { readonly inputs: infer I } ? { [K in keyof I]: I[K] extends Port.Input<infer Q> ? Q["id"] : never }[keyof I]
  : never

type Ids<Steps> = Extract<keyof Steps, string>

/** The earlier steps a plugin may name in `needs`: those whose output it takes. */
export type NeedsOf<Steps extends Record<string, Port.Any>, P> = "*" extends AcceptedOf<P> ? Ids<Steps>
  : { [K in Ids<Steps>]: Steps[K]["id"] extends AcceptedOf<P> ? K : never }[Ids<Steps>]

export interface StepOptions<P, Needs> {
  /** The plugin's config as it would be written under `with:`. */
  readonly with?: Plugin.ConfigInput<P>
  readonly needs?: ReadonlyArray<Needs>
  readonly description?: string
}

export interface Entry {
  readonly id: string
  readonly plugin: Plugin.Any
  readonly with: unknown
  readonly needs: ReadonlyArray<string>
  readonly description?: string | undefined
}

export interface Builder<Steps extends Record<string, Port.Any>> {
  readonly name: string
  /** Relative paths in configs resolve against it (as against a YAML file's directory). */
  readonly directory: string
  readonly entries: ReadonlyArray<Entry>
  /** Add a step; its id must be new and its needs must be earlier steps whose output the plugin takes. */
  readonly step: <const Id extends string, P extends Plugin.Any>(
    id: Id extends keyof Steps ? never : Id,
    plugin: P,
    options?: StepOptions<P, NeedsOf<Steps, P>>
  ) => Builder<Steps & { readonly [K in Id]: OutputOf<P> }>
}

const builder = <Steps extends Record<string, Port.Any>>(
  name: string,
  directory: string,
  entries: ReadonlyArray<Entry>
): Builder<Steps> => ({
  name,
  directory,
  entries,
  step: (id, plugin, options = {}) =>
    builder(name, directory, [
      ...entries,
      { id, plugin, with: options.with ?? {}, needs: [...(options.needs ?? [])], description: options.description }
    ])
})

/** Start a pipeline; `directory` plays the part of a YAML file's directory (default: the working directory). */
export const make = (name: string, options: { readonly directory?: string } = {}): Builder<Record<never, Port.Any>> =>
  builder(name, Path.resolve(options.directory ?? "."), [])

/** The pipeline as YAML, pointing editors at the pipeline schema. */
export const toYaml = (pipeline: Builder<any>, options: { readonly schema?: string } = {}): string => {
  const document = {
    name: pipeline.name,
    steps: Object.fromEntries(pipeline.entries.map((entry) => [entry.id, {
      uses: entry.plugin.id,
      ...(entry.description === undefined ? {} : { description: entry.description }),
      ...(entry.needs.length === 0 ? {} : { needs: entry.needs }),
      ...(typeof entry.with === "object" && entry.with !== null && Object.keys(entry.with).length === 0 ? {} : { with: entry.with })
    }]))
  }
  const header = options.schema === undefined ? "" : `# yaml-language-server: $schema=${options.schema}\n`
  return header + Yaml.stringify(document)
}

/** The pipeline as `Pipeline.load` would have read it from its YAML. */
export const toLoaded = (pipeline: Builder<any>): Pipeline.Loaded => ({
  file: `${pipeline.name} (TypeScript)`,
  name: pipeline.name,
  directory: pipeline.directory,
  plugins: [],
  steps: pipeline.entries.map((entry) => ({ id: entry.id, uses: entry.plugin.id, with: entry.with, needs: entry.needs, line: undefined })),
  lineOf: () => undefined,
  pluginValues: [...new Map(pipeline.entries.map((entry) => [entry.plugin.id, entry.plugin])).values()],
  text: toYaml(pipeline)
})

/** Resolve the pipeline (configs and port counts checked, as for YAML) against the registry plus its own plugins. */
export const resolved = (pipeline: Builder<any>) => resolve(toLoaded(pipeline))

/** Resolve and run the pipeline. */
export const run = Effect.fn("PipelineBuilder.run")(function*(pipeline: Builder<any>, options: PipelineRunner.RunOptions) {
  const { resolved: ready, registry }: { resolved: Pipeline.Resolved; registry: RegistryShape } = yield* resolved(pipeline)
  return yield* PipelineRunner.run(ready, registry, options)
})
