/**
 * Typed ports: what a pipeline step consumes and produces. Every plugin
 * declares its inputs (named groups of accepted ports, with how many of each
 * it takes) and its output port; the engine checks every `needs` edge against
 * them before anything runs, and hands each step its inputs decoded by the
 * producing port's Schema, grouped by name.
 *
 * A port is a kind (`battles`, `outcomes`, `router`, `report`, ...), an
 * optional parameter (the plugin id of a trained router) and a Schema of the
 * value the step stores in its `output.json`. Its files (battles.jsonl,
 * outcomes.jsonl) are read through the port's `read`, never by convention in
 * the consumer.
 */
import { Effect, type FileSystem, Schema } from "effect"
import * as Path from "node:path"
import type { Reason } from "./Errors.ts"
import { InputError } from "./Errors.ts"
import * as Files from "./Files.ts"
import { Battle, OutcomeRow } from "./Records.ts"

/** A port whose identity `Id` is part of its type, so the compiler can check pipeline wiring. */
export interface Port<Id extends string = string, A = unknown, D = never> {
  readonly id: Id
  readonly kind: string
  /** For router ports: the plugin id of the router (absent: any router). */
  readonly parameter?: string | undefined
  readonly description: string
  /** The value a producing step stores (output.json `value`). */
  readonly schema: Schema.Codec<A, unknown>
  /** Read the port's data from a producing step's directory (battles, outcome rows). */
  readonly read?: ((directory: string, value: A) => Effect.Effect<D, Reason, FileSystem.FileSystem>) | undefined
}

export type Any = Port<string, any, any>

/** The decoded value type of a port. */
export type Type<P> = P extends Port<string, infer A, any> ? A : never
/** The data type of a port's `read`. */
export type Data<P> = P extends Port<string, any, infer D> ? D : never

/** A group of inputs: which port it accepts and how many steps of it. */
export interface Input<P extends Any = Any> {
  readonly port: P
  readonly min: number
  /** `Infinity` for no limit. */
  readonly max: number
  readonly description?: string | undefined
}

export type Inputs = Readonly<Record<string, Input>>

/** The inputs of a step that takes none. */
export type NoInputs = Readonly<Record<never, Input>>

/** One consumed step output, decoded. */
export interface Received<P extends Any = Any> {
  readonly stepId: string
  readonly uses: string
  /** The producing step's artifact directory (read only). */
  readonly directory: string
  readonly fingerprint: string
  /** The producing port (its kind and parameter). */
  readonly port: Any
  readonly value: Type<P>
  /** The port's data (battles, outcome rows), read on demand. */
  readonly read: Effect.Effect<Data<P>, Reason, FileSystem.FileSystem>
}

/** The inputs of a step, grouped as the plugin declared them. */
export type Grouped<I extends Inputs> = { readonly [K in keyof I]: ReadonlyArray<Received<I[K]["port"]>> }

export const make = <const Id extends string, A, D = never>(port: Port<Id, A, D>): Port<Id, A, D> => port

/** A step output as the consumer receives it through `port` (its value already decoded). */
export const receive = <P extends Any>(
  port: P,
  output: {
    readonly stepId: string
    readonly uses: string
    readonly directory: string
    readonly fingerprint: string
    readonly port?: Any | undefined
    readonly value: unknown
  }
): Received<P> => ({
  ...output,
  port: output.port ?? port,
  value: output.value as Type<P>,
  read: (port.read === undefined
    ? Effect.succeed(undefined)
    : port.read(output.directory, output.value)) as Effect.Effect<Data<P>, Reason, FileSystem.FileSystem>
})

/** Whether a consumer's accepted port takes a producer's output. */
export const accepts = (accepted: Any, given: Any): boolean =>
  accepted.kind === "*" || (accepted.kind === given.kind && (accepted.parameter === undefined || accepted.parameter === given.parameter))

/** How a port reads in messages: `battles`, `a router/sw router`. */
export const describePort = (port: Any): string =>
  port.kind === "router" ? (port.parameter === undefined ? "a router" : `a ${port.parameter} router`) : port.kind === "*" ? "any step output" : port.kind

export const count = (input: Input): string =>
  input.max === Infinity
    ? (input.min === 0 ? "any number of" : input.min === 1 ? "one or more" : `at least ${input.min}`)
    : input.min === input.max
    ? (input.min === 1 ? "exactly one" : `exactly ${input.min}`)
    : input.min === 0 && input.max === 1
    ? "at most one"
    : `${input.min} to ${input.max}`

/** Inputs of one port, any number (`min` defaults to 0). */
export const many = <P extends Any>(port: P, options: { readonly min?: number; readonly description?: string } = {}): Input<P> => ({
  port,
  min: options.min ?? 0,
  max: Infinity,
  description: options.description
})
/** At most one input of the port. */
export const optional = <P extends Any>(port: P, options: { readonly description?: string } = {}): Input<P> => ({
  port,
  min: 0,
  max: 1,
  description: options.description
})
/** Exactly one input of the port. */
export const one = <P extends Any>(port: P, options: { readonly description?: string } = {}): Input<P> => ({
  port,
  min: 1,
  max: 1,
  description: options.description
})

const readJsonlRows = <A>(file: string, schema: Schema.Codec<A, unknown>, what: string) =>
  Effect.gen(function*() {
    const { rows } = yield* Files.readJsonl(file)
    const decode = Schema.decodeUnknownExit(schema)
    const out: Array<A> = []
    for (const row of rows) {
      const decoded = decode(row.value)
      if (decoded._tag === "Failure") return yield* new InputError({ file, line: row.line, reason: `not ${what}` })
      out.push(decoded.value)
    }
    return out
  })

// ---------------------------------------------------------------------------
// The ports core ships

export const battlesFile = "battles.jsonl"
export const outcomesFile = "outcomes.jsonl"

/** Preference battles (dataset and augmenter steps): `battles.jsonl`, one Battle per line. */
export const battles = make({
  id: "battles",
  kind: "battles",
  description: "preference battles (battles.jsonl) of a dataset or augmenter step",
  schema: Schema.Struct({
    battles: Schema.Int,
    fingerprint: Schema.optionalKey(Schema.String),
    report: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown))
  }),
  read: (directory: string) => readJsonlRows(Path.join(directory, battlesFile), Battle, "a battle record")
})

/** A benchmark's per-prompt outcome table (benchmark steps): `outcomes.jsonl`, one OutcomeRow per line. */
export const outcomes = make({
  id: "outcomes",
  kind: "outcomes",
  description: "a benchmark's per-prompt outcomes (outcomes.jsonl) of a benchmark step",
  schema: Schema.Struct({
    name: Schema.String,
    strongModel: Schema.String,
    weakModel: Schema.String,
    models: Schema.Array(Schema.String),
    prompts: Schema.Int,
    dropped: Schema.Int,
    fingerprint: Schema.String
  }),
  read: (directory: string) => readJsonlRows(Path.join(directory, outcomesFile), OutcomeRow, "an outcome row")
})

/** The value of a router step (what its training step or its config recorded). */
export const RouterValue = Schema.Unknown

/** A router step's output; `router("router/sw")` accepts only routers of that plugin. */
export const router: {
  (): Port<`router:${string}`, typeof RouterValue.Type>
  <const Id extends string>(pluginId: Id): Port<`router:${Id}`, typeof RouterValue.Type>
} = (pluginId?: string) =>
  ({
    id: pluginId === undefined ? "router:*" : `router:${pluginId}`,
    kind: "router",
    parameter: pluginId,
    description: pluginId === undefined ? "a router step (trained or configured)" : `a ${pluginId} router step`,
    schema: RouterValue
  }) as Port<any, typeof RouterValue.Type>

/** An evaluation report (eval/benchmark, eval/crossfit, ...): report.json and friends in the step directory. */
export const report = make({
  id: "report",
  kind: "report",
  description: "an evaluation report (report.json)",
  schema: Schema.Record(Schema.String, Schema.Unknown)
})

/** A calibrated threshold (calibrate/quantile). */
export const calibration = make({
  id: "calibration",
  kind: "calibration",
  description: "a calibrated routing threshold",
  schema: Schema.Struct({ router: Schema.String, threshold: Schema.Number, strongFraction: Schema.Number })
})

/** Any JSON value: the output of a step that declares no port of its own. */
export const value = make({
  id: "value",
  kind: "value",
  description: "a JSON value",
  schema: Schema.Unknown
})

/** Accepts any step's output (steps that declare no inputs of their own). */
export const anything = make({
  id: "*",
  kind: "*",
  description: "any step output",
  schema: Schema.Unknown
})

// ---------------------------------------------------------------------------
// Wiring: which input group takes each `needs` entry

export interface Given {
  readonly stepId: string
  readonly uses: string
  readonly port: Any
}

export interface Mismatch {
  /** The index in `needs` of the offending entry (absent for a count that does not fit). */
  readonly need?: number | undefined
  /** What the step takes, e.g. `battles (one or more)`. */
  readonly expected: string
  /** What it was given, e.g. `outcomes from "mmlu" (benchmark/mmlu)`. */
  readonly given: string
  readonly reason: string
}

const takes = (inputs: Inputs): string => {
  const groups = Object.values(inputs)
  return groups.length === 0 ? "no inputs" : groups.map((input) => `${describePort(input.port)} (${count(input)})`).join(", or ")
}

/**
 * Assign each given output (in `needs` order) to the first input group that
 * accepts it, then check each group's count. Returns the groups and every
 * mismatch, each naming what the step takes and what it was given.
 */
export const assign = (inputs: Inputs, given: ReadonlyArray<Given>) => {
  const groups: Record<string, Array<number>> = Object.fromEntries(Object.keys(inputs).map((name) => [name, []]))
  const mismatches: Array<Mismatch> = []
  given.forEach((output, index) => {
    const name = Object.keys(inputs).find((candidate) => accepts(inputs[candidate]!.port, output.port))
    if (name === undefined) {
      mismatches.push({
        need: index,
        expected: takes(inputs),
        given: `${describePort(output.port)} from "${output.stepId}" (${output.uses})`,
        reason: `needs "${output.stepId}" (${output.uses}), which gives ${describePort(output.port)}, but it takes ${takes(inputs)}`
      })
    } else {
      groups[name]!.push(index)
    }
  })
  for (const [name, input] of Object.entries(inputs)) {
    const taken = groups[name]!
    if (taken.length >= input.min && taken.length <= input.max) continue
    const listed = taken.length === 0 ? "none" : `${taken.length} (${taken.map((index) => `"${given[index]!.stepId}"`).join(", ")})`
    mismatches.push({
      ...(taken.length > input.max ? { need: taken[input.max] } : {}),
      expected: `${describePort(input.port)} (${count(input)})`,
      given: listed,
      reason: `takes ${describePort(input.port)} (${count(input)}) as ${name}, but its needs give ${listed}`
    })
  }
  return { groups, mismatches }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

// A port's Schema names the fields consumers rely on; the fields it does not name travel along.
const keepUnnamed = <A>(original: unknown, checked: A): A => isRecord(original) && isRecord(checked) ? ({ ...original, ...checked } as A) : checked

/** Decode a stored step value with a port's Schema (keeping fields the Schema does not name). */
export const decodeValue = <A>(port: Port<string, A, any>, value: unknown) =>
  Effect.map(Schema.decodeUnknownEffect(port.schema)(value), (decoded) => keepUnnamed(value, decoded))

/** Encode (and so check) a step's value against its output port before it is stored. */
export const encodeValue = <A>(port: Port<string, A, any>, value: A) =>
  Effect.map(Schema.encodeUnknownEffect(port.schema)(value), (encoded) => keepUnnamed(value, encoded))
