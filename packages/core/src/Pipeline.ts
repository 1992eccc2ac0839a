/**
 * Pipelines: YAML files that compose dataset, augmentation, training,
 * calibration and evaluation steps. Each step names a plugin (`uses:`), its
 * config (`with:`, checked by the plugin's Schema) and the earlier steps it
 * consumes (`needs:`).
 */
import { Effect, Schema, SchemaIssue } from "effect"
import * as Path from "node:path"
import * as Yaml from "yaml"
import { InputError, MissingInputError, PortError } from "./Errors.ts"
import * as Files from "./Files.ts"
import * as Plugin from "./Plugin.ts"
import {
  checkContracts,
  ConfigError,
  decodeConfig,
  extend,
  loadPackage,
  type PluginLoadError,
  PluginRegistry,
  type UnknownPluginError
} from "./PluginRegistry.ts"
import * as Port from "./Port.ts"

const StepSchema = Schema.Struct({
  uses: Schema.String.annotate({ description: "Plugin id, e.g. router/sw (see `routellm plugins`)" }),
  with: Schema.optionalKey(Schema.Unknown).annotate({ description: "The plugin's config, checked by its Schema" }),
  needs: Schema.optionalKey(Schema.Union([Schema.String, Schema.Array(Schema.String)])).annotate({
    description: "Earlier steps whose outputs this step consumes"
  }),
  description: Schema.optionalKey(Schema.String)
})

/** The pipeline file format. */
export const PipelineFile = Schema.Struct({
  name: Schema.optionalKey(Schema.String),
  description: Schema.optionalKey(Schema.String),
  plugins: Schema.optionalKey(
    Schema.Array(Schema.String).annotate({ description: "Third-party plugin packages to load by name" })
  ),
  steps: Schema.Record(Schema.String, StepSchema)
})
export type PipelineFile = typeof PipelineFile.Type

/** The pipeline file is not valid YAML or not a pipeline. */
export class PipelineFileError extends Schema.TaggedError<PipelineFileError>()("PipelineFileError", {
  file: Schema.String,
  line: Schema.optionalKey(Schema.Number),
  column: Schema.optionalKey(Schema.Number),
  reason: Schema.String
}) {
  override get message(): string {
    const where = this.line === undefined ? this.file : `${this.file}:${this.line}${this.column === undefined ? "" : `:${this.column}`}`
    return `${where}: ${this.reason}`
  }
}

/** `needs` names a step that does not exist, or steps depend on each other in a cycle. */
export class DependencyError extends Schema.TaggedError<DependencyError>()("DependencyError", {
  file: Schema.String,
  stepId: Schema.String,
  line: Schema.optionalKey(Schema.Number),
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.file}${this.line === undefined ? "" : `:${this.line}`}: step "${this.stepId}": ${this.reason}`
  }
}

export type LoadError = PipelineFileError | InputError | MissingInputError
export type ResolveError = LoadError | UnknownPluginError | ConfigError | DependencyError | PluginLoadError | PortError

export interface Step {
  readonly id: string
  readonly uses: string
  readonly with: unknown
  readonly needs: ReadonlyArray<string>
  readonly line: number | undefined
}

export interface Loaded {
  readonly file: string
  readonly name: string
  readonly directory: string
  readonly plugins: ReadonlyArray<string>
  readonly steps: ReadonlyArray<Step>
  /** The YAML line of a path in the document (the nearest existing ancestor when the path is missing). */
  readonly lineOf: (path: ReadonlyArray<PropertyKey>) => number | undefined
  /** Plugin values a TypeScript-built pipeline brings along (besides the registry's and `plugins:` packages). */
  readonly pluginValues?: ReadonlyArray<Plugin.Any> | undefined
  /** The pipeline's text when it has no file (built in TypeScript): recorded in the manifest. */
  readonly text?: string | undefined
}

export interface ResolvedStep extends Step {
  readonly plugin: Plugin.Any
  readonly config: unknown
  /** The config re-encoded with defaults filled in: what the cache key and manifest record. */
  readonly encodedConfig: unknown
}

export interface Resolved extends Omit<Loaded, "steps"> {
  /** Steps in a topological order. */
  readonly steps: ReadonlyArray<ResolvedStep>
}

/** `--set step.field.sub=value`: the value is parsed as YAML (numbers, booleans, lists). */
export interface Override {
  readonly stepId: string
  readonly path: ReadonlyArray<string>
  readonly value: unknown
}

export const parseOverride = (text: string): Override | undefined => {
  const equals = text.indexOf("=")
  if (equals <= 0) return undefined
  const [stepId, ...path] = text.slice(0, equals).split(".")
  if (stepId === undefined || stepId === "" || path.length === 0 || path.some((segment) => segment === "")) return undefined
  return { stepId, path, value: Yaml.parse(text.slice(equals + 1)) }
}

const schemaFormatter = Schema.decodeUnknownExit(PipelineFile, { errors: "all", onExcessProperty: "error" })
const pipelineIssueFormatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** Parse and check a pipeline file (structure only; plugins are resolved by `resolve`). */
export const load = Effect.fn("Pipeline.load")(function*(file: string, overrides: ReadonlyArray<Override> = []) {
  const path = Path.resolve(file)
  const text = yield* Files.readText(path, "pipeline").pipe(
    Effect.mapError((error) =>
      error._tag === "MissingInputError" ? new MissingInputError({ path: file, field: "pipeline" }) : new InputError({ file, reason: error.reason })
    )
  )
  const lineCounter = new Yaml.LineCounter()
  const document = Yaml.parseDocument(text, { lineCounter, prettyErrors: false, merge: true })
  if (document.errors.length > 0) {
    const first = document.errors[0]!
    const position = lineCounter.linePos(first.pos[0])
    return yield* new PipelineFileError({
      file,
      line: position.line,
      column: position.col,
      reason: `YAML syntax error: ${first.message.split("\n")[0]}`
    })
  }
  // The line of a key (`pick:`) rather than of its value, falling back to the nearest existing ancestor.
  const lineOf = (segments: ReadonlyArray<PropertyKey>): number | undefined => {
    for (let length = segments.length; length > 0; length--) {
      const parent = document.getIn(segments.slice(0, length - 1), true)
      if (Yaml.isMap(parent)) {
        const pair = parent.items.find((item) => Yaml.isScalar(item.key) && String(item.key.value) === String(segments[length - 1]))
        const range = (pair?.key as { range?: [number, number, number] } | undefined)?.range
        if (range !== undefined) return lineCounter.linePos(range[0]).line
      } else if (Yaml.isSeq(parent) && typeof segments[length - 1] === "number") {
        // A list item (`needs: [a, b]`): the line of the item itself.
        const range = (parent.items[segments[length - 1] as number] as { range?: [number, number, number] } | undefined)?.range
        if (range !== undefined) return lineCounter.linePos(range[0]).line
      }
    }
    return undefined
  }
  for (const override of overrides) {
    if (!document.hasIn(["steps", override.stepId])) {
      return yield* new PipelineFileError({ file, reason: `--set names step "${override.stepId}", which the pipeline does not have` })
    }
    document.setIn(["steps", override.stepId, "with", ...override.path], override.value)
  }
  const raw = document.toJS() as unknown
  const decoded = schemaFormatter(raw)
  if (decoded._tag === "Failure") {
    // The first issue, by its path: the key and its line, in words (not the Schema's dump).
    const failure = decoded.cause.reasons.find((reason) => reason._tag === "Fail")
    const issue = failure?._tag === "Fail" ? pipelineIssueFormatter(failure.error.issue).issues[0] : undefined
    const segments = (issue?.path ?? []).map((segment: unknown) =>
      String(typeof segment === "object" && segment !== null && "key" in segment ? segment.key : segment)
    )
    const line = lineOf(segments)
    const excess = issue !== undefined && /excess property|Unexpected key/.test(issue.message)
    const key = segments[segments.length - 1]
    const where = segments.length >= 2 && segments[0] === "steps" ? `step "${segments[1]}"` : "the pipeline"
    const reason = issue === undefined
      ? "not a pipeline (expected steps: { <id>: { uses, with?, needs? } })"
      : excess
      ? `${where}: unknown key "${key}" (${segments.length === 3 ? "a step has uses, with and needs" : "a pipeline has name, plugins and steps"})`
      : `${
        segments.length === 0
          ? "not a pipeline (expected steps: { <id>: { uses, with?, needs? } })"
          : `${where}: ${segments.slice(segments[0] === "steps" ? 2 : 0).join(".") || key}`
      }: ${issue.message}`
    return yield* new PipelineFileError({ file, ...(line === undefined ? {} : { line }), reason })
  }
  const pipeline = decoded.value
  const steps: Array<Step> = Object.entries(pipeline.steps).map(([id, step]) => ({
    id,
    uses: step.uses,
    with: step.with ?? {},
    needs: step.needs === undefined ? [] : typeof step.needs === "string" ? [step.needs] : [...step.needs],
    line: lineOf(["steps", id])
  }))
  return {
    file,
    name: pipeline.name ?? Path.basename(file).replace(/\.ya?ml$/, ""),
    directory: Path.dirname(path),
    plugins: pipeline.plugins ?? [],
    steps,
    lineOf
  } satisfies Loaded
})

/** Order steps so every step follows its needs; fails on missing needs and cycles. */
export const topologicalOrder = <S extends Step>(file: string, steps: ReadonlyArray<S>): Effect.Effect<Array<S>, DependencyError> =>
  Effect.suspend(() => {
    const byId = new Map(steps.map((step) => [step.id, step]))
    for (const step of steps) {
      for (const need of step.needs) {
        if (!byId.has(need)) {
          return Effect.fail(
            new DependencyError({
              file,
              stepId: step.id,
              ...(step.line === undefined ? {} : { line: step.line }),
              reason: `needs "${need}", which is not a step of this pipeline (steps: ${[...byId.keys()].join(", ")})`
            })
          )
        }
        if (need === step.id) {
          return Effect.fail(new DependencyError({ file, stepId: step.id, reason: "needs itself" }))
        }
      }
    }
    const state = new Map<string, "visiting" | "done">()
    const order: Array<S> = []
    const visit = (step: S, trail: ReadonlyArray<string>): DependencyError | undefined => {
      const mark = state.get(step.id)
      if (mark === "done") return undefined
      if (mark === "visiting") {
        const cycle = [...trail.slice(trail.indexOf(step.id)), step.id]
        return new DependencyError({
          file,
          stepId: step.id,
          ...(step.line === undefined ? {} : { line: step.line }),
          reason: `dependency cycle: ${cycle.join(" -> ")}`
        })
      }
      state.set(step.id, "visiting")
      for (const need of step.needs) {
        const error = visit(byId.get(need)!, [...trail, step.id])
        if (error) return error
      }
      state.set(step.id, "done")
      order.push(step)
      return undefined
    }
    for (const step of steps) {
      const error = visit(step, [])
      if (error) return Effect.fail(error)
    }
    return Effect.succeed(order)
  })

const encodeConfig = (plugin: Plugin.Any, config: unknown): unknown => {
  try {
    return Schema.encodeUnknownSync(plugin.config as Schema.Codec<unknown, unknown>)(config)
  } catch {
    return config
  }
}

/**
 * Check every `needs` edge against the plugins' ports: each needed step's
 * output must be one the step takes, in the number it takes. Every mismatch
 * names the step, the YAML line (of the offending `needs` entry), what the
 * step takes and what it was given.
 */
export const wiring = (
  loaded: Pick<Loaded, "lineOf">,
  steps: ReadonlyArray<ResolvedStep>
): Array<PortError["issues"][number]> => {
  const byId = new Map(steps.map((step) => [step.id, step]))
  const issues: Array<PortError["issues"][number]> = []
  for (const step of steps) {
    const given = step.needs.map((need) => {
      const producer = byId.get(need)!
      return { stepId: producer.id, uses: producer.uses, port: Plugin.outputOf(producer.plugin) }
    })
    for (const mismatch of Port.assign(Plugin.inputsOf(step.plugin), given).mismatches) {
      const line = (mismatch.need === undefined ? undefined : loaded.lineOf(["steps", step.id, "needs", mismatch.need])) ??
        loaded.lineOf(["steps", step.id, "needs"]) ?? step.line
      issues.push({
        stepId: step.id,
        pluginId: step.uses,
        ...(line === undefined ? {} : { line }),
        expected: mismatch.expected,
        given: mismatch.given,
        reason: mismatch.reason
      })
    }
  }
  return issues
}

/**
 * Load third-party plugin packages, resolve every step's plugin, check its
 * config against the plugin's Schema and order the steps. Provides a registry
 * extended with the loaded packages to the caller through the result.
 */
export const resolve = Effect.fn("Pipeline.resolve")(function*(loaded: Loaded) {
  const base = yield* PluginRegistry
  const extra: Array<Plugin.Any> = []
  for (const packageName of loaded.plugins) extra.push(...(yield* loadPackage(packageName, loaded.directory)))
  if (loaded.pluginValues !== undefined) {
    yield* checkContracts(loaded.pluginValues)
    extra.push(...loaded.pluginValues)
  }
  const registry = extra.length === 0 ? base : extend(base, extra)
  const steps: Array<ResolvedStep> = []
  for (const step of loaded.steps) {
    const line = step.line
    const where = `${loaded.file}${line === undefined ? "" : `:${line}`}: step "${step.id}"`
    const plugin = yield* registry.get(step.uses, where)
    if (plugin.kind === "embedder") {
      return yield* new PipelineFileError({
        file: loaded.file,
        ...(line === undefined ? {} : { line }),
        reason: `step "${step.id}": ${plugin.id} is an embedder; embedders are used inside other steps' config (embedder: ${plugin.id})`
      })
    }
    const config = yield* decodeConfig(plugin, step.with, where).pipe(
      Effect.mapError((error) =>
        new ConfigError({
          pluginId: error.pluginId,
          where: error.where,
          issues: error.issues.map((issue) => {
            const fieldLine = loaded.lineOf(["steps", step.id, "with", ...issue.path.map(String)])
            return fieldLine === undefined ? issue : { ...issue, message: `${issue.message} (line ${fieldLine})` }
          })
        })
      )
    )
    steps.push({ ...step, plugin, config, encodedConfig: encodeConfig(plugin, config) })
  }
  const ordered = yield* topologicalOrder(loaded.file, steps)
  const issues = wiring(loaded, ordered)
  if (issues.length > 0) return yield* new PortError({ file: loaded.file, issues })
  return { resolved: { ...loaded, steps: ordered } satisfies Resolved, registry }
})
