/**
 * Sweep files: a pipeline plus axes over its config paths (the paths of
 * `routellm run --set step.field=value`). Each axis is a list of values for
 * one path, or named points that set several paths at once; axes combine as a
 * product (every combination) or a zip (the i-th value of every axis
 * together); seeds multiply every cell and are averaged over in the results.
 */
import { Errors } from "@routellm/core"
import { Effect, Schema } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import * as Yaml from "yaml"

/** `{ set: mf.lr, values: [0.001, 0.01] }`: one path, one value per cell; `labels` name them in cell names. */
const ListAxis = Schema.Struct({
  set: Schema.String.annotate({ description: "A config path as for --set: step.field.sub" }),
  values: Schema.Array(Schema.Unknown),
  labels: Schema.optionalKey(Schema.Array(Schema.String))
})

/** `{ values: { small: { mf.epochs: 3, mf.dim: 64 }, big: {...} } }`: named points setting several paths. */
const NamedAxis = Schema.Struct({
  values: Schema.Record(Schema.String, Schema.Record(Schema.String, Schema.Unknown))
})

export const Axis = Schema.Union([ListAxis, NamedAxis])
export type Axis = typeof Axis.Type

export const Seeds = Schema.Struct({
  set: Schema.Union([Schema.String, Schema.Array(Schema.String)]).annotate({
    description: "The config paths that receive the seed (every one gets the same value)"
  }),
  count: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))).annotate({ description: "Seeds 0..count-1" }),
  values: Schema.optionalKey(Schema.Array(Schema.Int)).annotate({ description: "Explicit seeds" })
})
export type Seeds = typeof Seeds.Type

export const SweepFileSchema = Schema.Struct({
  name: Schema.optionalKey(Schema.String),
  description: Schema.optionalKey(Schema.String),
  pipeline: Schema.String.annotate({ description: "The pipeline file, relative to this file" }),
  set: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown)).annotate({
    description: "Overrides applied to every cell: { step.field: value }"
  }),
  combine: Schema.optionalKey(Schema.Literals(["product", "zip"])).annotate({
    description: "product: every combination of the axes (default); zip: the i-th value of each axis together"
  }),
  axes: Schema.optionalKey(Schema.Record(Schema.String, Axis)),
  seeds: Schema.optionalKey(Seeds),
  report: Schema.optionalKey(Schema.Struct({
    routers: Schema.optionalKey(Schema.Array(Schema.String)).annotate({
      description: "Routers to put in the results table (default: every router of every eval step)"
    }),
    metric: Schema.optionalKey(Schema.Literals(["apgr", "apgrExact", "cpt50", "cpt80"])).annotate({
      description: "The metric the plot shows (default apgr)"
    })
  }))
})
export type SweepFileSchema = typeof SweepFileSchema.Type

/** The sweep file is not valid YAML, not a sweep, or its axes do not fit together. */
export class SweepFileError extends Schema.TaggedError<SweepFileError>()("SweepFileError", {
  file: Schema.String,
  line: Schema.optionalKey(Schema.Number),
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.file}${this.line === undefined ? "" : `:${this.line}`}: ${this.reason}`
  }
}

export interface Loaded {
  readonly file: string
  readonly name: string
  readonly text: string
  readonly pipelineFile: string
  readonly sweep: SweepFileSchema
  readonly lineOf: (path: ReadonlyArray<string>) => number | undefined
}

const decode = Schema.decodeUnknownExit(SweepFileSchema, { errors: "all", onExcessProperty: "error" })

/** Read and check a sweep file; the pipeline path resolves against the file's directory. */
export const load = Effect.fn("SweepFile.load")(function*(file: string) {
  const text = yield* Effect.tryPromise({
    try: () => Fs.readFile(file, "utf8"),
    catch: (cause) =>
      (cause as NodeJS.ErrnoException).code === "ENOENT"
        ? new Errors.MissingInputError({ path: file, field: "sweep" })
        : new Errors.InputError({ file, reason: String(cause) })
  })
  const lineCounter = new Yaml.LineCounter()
  const document = Yaml.parseDocument(text, { lineCounter, merge: true })
  if (document.errors.length > 0) {
    const first = document.errors[0]!
    return yield* new SweepFileError({
      file,
      line: lineCounter.linePos(first.pos[0]).line,
      reason: `YAML syntax error: ${first.message.split("\n")[0]}`
    })
  }
  // The line of a key (`lr:`) rather than of its value, else of the nearest existing ancestor.
  const lineOf = (segments: ReadonlyArray<string>): number | undefined => {
    for (let length = segments.length; length > 0; length--) {
      const parent = document.getIn(segments.slice(0, length - 1), true)
      if (Yaml.isMap(parent)) {
        const pair = parent.items.find((item) => Yaml.isScalar(item.key) && String(item.key.value) === segments[length - 1])
        const range = (pair?.key as { range?: [number, number, number] } | undefined)?.range
        if (range !== undefined) return lineCounter.linePos(range[0]).line
      }
    }
    return undefined
  }
  const decoded = decode(document.toJS())
  if (decoded._tag === "Failure") {
    const message = String(decoded.cause)
    const pathMatch = /at \[(.*?)\]/.exec(message)
    const segments = pathMatch === null ? [] : [...pathMatch[1]!.matchAll(/"([^"]*)"/g)].map((match) => match[1]!)
    const line = lineOf(segments)
    return yield* new SweepFileError({
      file,
      ...(line === undefined ? {} : { line }),
      reason: `not a sweep (expected pipeline:, axes:, seeds:, set:): ${message.replace(/\s+/g, " ")}`
    })
  }
  const sweep = decoded.value
  return {
    file,
    name: sweep.name ?? Path.basename(file).replace(/\.ya?ml$/, ""),
    text,
    pipelineFile: Path.resolve(Path.dirname(file), sweep.pipeline),
    sweep,
    lineOf
  } satisfies Loaded
})
