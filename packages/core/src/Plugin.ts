/**
 * The plugin contract. A plugin is a plain value: an id such as
 * `router/random`, a version, the contract version it implements, a Schema
 * for its YAML config, and a function that builds its contract (Router,
 * Dataset, Augmenter, Embedder, Benchmark) or, for pipeline-only steps, a
 * step function.
 */
import { Effect, type FileSystem, Layer, Schema, type Scope } from "effect"
import type { ArtifactStore } from "./ArtifactStore.ts"
import type { AugmenterShape } from "./Augmenter.ts"
import { Augmenter } from "./Augmenter.ts"
import { Benchmark, type BenchmarkShape } from "./Benchmark.ts"
import * as ContractVersion from "./ContractVersion.ts"
import { Dataset, type DatasetShape } from "./Dataset.ts"
import { Embedder, type EmbedderShape } from "./Embedder.ts"
import type { Reason } from "./Errors.ts"
import type { PluginRegistry } from "./PluginRegistry.ts"
import * as Port from "./Port.ts"
import type { ModelPair } from "./Records.ts"
import { Router, type RouterShape } from "./Router.ts"

export type Kind = "router" | "dataset" | "augmenter" | "embedder" | "benchmark" | "step"

/** Everything a plugin may fail with: any reason (core's, or one the plugin declares with `Errors.Reason`). */
export type Failure = Reason

/** Services every plugin may use. */
export type Services = ArtifactStore | PluginRegistry | FileSystem.FileSystem

/** Where a plugin is being built: relative paths in its config resolve against `baseDirectory`. */
export interface MakeContext {
  readonly baseDirectory: string
}

/** The output of an earlier pipeline step, as a later step sees it. */
export interface StepInput {
  readonly stepId: string
  readonly uses: string
  readonly kind: Kind
  /** The port the step produced (its kind and parameter). */
  readonly port?: Port.Any | undefined
  /** The step's artifact directory (read only). */
  readonly directory: string
  /** The step's JSON value (output.json), decoded by its port's Schema. */
  readonly value: unknown
  readonly fingerprint: string
}

/** Where a router is built. */
export interface RouterContext extends MakeContext {
  /** The output of this plugin's own training step, when it has one. */
  readonly trained?: StepInput | undefined
  /**
   * The strong and weak model the caller routes between (an evaluation's
   * benchmark pair). Routers that know many models score this pair instead of
   * the one in their config; others ignore it.
   */
  readonly pair?: ModelPair | undefined
}

export interface StepContext<I extends Port.Inputs = Port.Inputs> extends MakeContext {
  readonly stepId: string
  /** Write the step's files here; it becomes the artifact when the step succeeds. */
  readonly directory: string
  /** Outputs of the steps named in `needs`, in that order. */
  readonly inputs: ReadonlyArray<StepInput>
  /** The same outputs grouped by the plugin's declared inputs, each decoded by its port. */
  readonly ports: Port.Grouped<I>
  /** The run directory (manifest, reports). */
  readonly runDirectory: string
}

export interface StepOutput<A = unknown> {
  /** JSON value stored as output.json and handed to later steps (checked against the output port's Schema). */
  readonly value: A
  /** Counts and figures recorded in the run manifest. */
  readonly summary?: Readonly<Record<string, unknown>>
}

interface Base<C, E, I extends Port.Inputs, O extends Port.Any> {
  readonly id: string
  readonly version: string
  /** The plugin contract version it implements (the constructors below fill in this core's). */
  readonly contract: string
  readonly description: string
  readonly config: Schema.Codec<C, E>
  /** What the step consumes: named groups of accepted ports (`needs` edges are checked against them). */
  readonly inputs: I
  /** What the step produces. */
  readonly output: O
  /** Fingerprint of external inputs (data files) that the config names; part of the cache key. */
  readonly fingerprint?: (config: C, context: MakeContext) => Effect.Effect<string, Failure, Services>
}

/** The inputs of a trainable router: battle datasets. */
export const trainingInputs = { battles: Port.many(Port.battles, { min: 1, description: "battle datasets to train on" }) }
export type TrainingInputs = typeof trainingInputs

export interface RouterPlugin<C = any, E = any, Id extends string = string, I extends Port.Inputs = Port.Inputs>
  extends Base<C, E, I, Port.Port<`router:${Id}`, any>>
{
  readonly kind: "router"
  readonly id: Id
  /** Build a router; `trained` is the output of this plugin's own training step, when it has one. */
  readonly make: (config: C, context: RouterContext) => Effect.Effect<RouterShape, Failure, Services | Scope.Scope>
  /** Train from the step inputs (battle datasets) and write the trained state into the step directory. */
  readonly train?: (config: C, context: StepContext<TrainingInputs>) => Effect.Effect<StepOutput, Failure, Services | Scope.Scope>
}

export interface DatasetPlugin<C = any, E = any> extends Base<C, E, Port.NoInputs, typeof Port.battles> {
  readonly kind: "dataset"
  readonly make: (config: C, context: MakeContext) => Effect.Effect<DatasetShape, Failure, Services | Scope.Scope>
}

export interface AugmenterPlugin<C = any, E = any, I extends Port.Inputs = any> extends Base<C, E, I, typeof Port.battles> {
  readonly kind: "augmenter"
  /** Built with the step context, so an augmenter can read other inputs (evaluation sets for decontamination). */
  readonly make: (config: C, context: StepContext<I>) => Effect.Effect<AugmenterShape, Failure, Services | Scope.Scope>
}

export interface EmbedderPlugin<C = any, E = any> extends Base<C, E, Port.NoInputs, typeof Port.value> {
  readonly kind: "embedder"
  readonly make: (config: C, context: MakeContext) => Effect.Effect<EmbedderShape, Failure, Services | Scope.Scope>
}

export interface BenchmarkPlugin<C = any, E = any> extends Base<C, E, Port.NoInputs, typeof Port.outcomes> {
  readonly kind: "benchmark"
  readonly make: (config: C, context: MakeContext) => Effect.Effect<BenchmarkShape, Failure, Services | Scope.Scope>
}

export interface StepPlugin<C = any, E = any, I extends Port.Inputs = any, O extends Port.Any = any> extends Base<C, E, I, O> {
  readonly kind: "step"
  readonly run: (config: C, context: StepContext<I>) => Effect.Effect<StepOutput<Port.Type<O>>, Failure, Services | Scope.Scope>
}

export type Any = RouterPlugin | DatasetPlugin | AugmenterPlugin | EmbedderPlugin | BenchmarkPlugin | StepPlugin

/** The config a plugin takes as written in YAML (its Schema's encoded side). */
export type ConfigInput<P> = P extends { readonly config: Schema.Codec<any, infer E> } ? E : never

const contract = ContractVersion.version

interface Common<C, E> {
  readonly version: string
  readonly contract?: string
  readonly description: string
  readonly config: Schema.Codec<C, E>
  readonly fingerprint?: (config: C, context: MakeContext) => Effect.Effect<string, Failure, Services>
}

/** A router plugin; with `train` it takes battle datasets as a pipeline step, without it nothing. */
export function router<C, E, const Id extends string>(
  plugin: Common<C, E> & {
    readonly id: Id
    readonly make: RouterPlugin<C, E, Id>["make"]
    readonly train: NonNullable<RouterPlugin<C, E, Id>["train"]>
  }
): RouterPlugin<C, E, Id, TrainingInputs>
export function router<C, E, const Id extends string>(
  plugin: Common<C, E> & { readonly id: Id; readonly make: RouterPlugin<C, E, Id>["make"]; readonly train?: undefined }
): RouterPlugin<C, E, Id, Port.NoInputs>
export function router<C, E, const Id extends string>(
  plugin: Common<C, E> & {
    readonly id: Id
    readonly make: RouterPlugin<C, E, Id>["make"]
    readonly train?: RouterPlugin<C, E, Id>["train"]
  }
): RouterPlugin<C, E, Id, any> {
  return {
    contract,
    ...plugin,
    inputs: plugin.train === undefined ? {} : trainingInputs,
    output: Port.router(plugin.id),
    kind: "router"
  }
}

export const dataset = <C, E>(
  plugin: Common<C, E> & { readonly id: string; readonly make: DatasetPlugin<C, E>["make"] }
): DatasetPlugin<C, E> => ({ contract, ...plugin, inputs: {}, output: Port.battles, kind: "dataset" })

/** The inputs an augmenter takes unless it declares its own: any number of battle datasets. */
export const augmenterInputs = { battles: Port.many(Port.battles, { description: "battles to augment" }) }

export const augmenter = <C, E, const I extends Port.Inputs = typeof augmenterInputs>(
  plugin: Common<C, E> & {
    readonly id: string
    readonly inputs?: I
    readonly make: (config: C, context: StepContext<I>) => Effect.Effect<AugmenterShape, Failure, Services | Scope.Scope>
  }
): AugmenterPlugin<C, E, I> => ({
  contract,
  ...plugin,
  inputs: plugin.inputs ?? (augmenterInputs as unknown as I),
  output: Port.battles,
  kind: "augmenter"
})

export const embedder = <C, E>(
  plugin: Common<C, E> & { readonly id: string; readonly make: EmbedderPlugin<C, E>["make"] }
): EmbedderPlugin<C, E> => ({ contract, ...plugin, inputs: {}, output: Port.value, kind: "embedder" })

export const benchmark = <C, E>(
  plugin: Common<C, E> & { readonly id: string; readonly make: BenchmarkPlugin<C, E>["make"] }
): BenchmarkPlugin<C, E> => ({ contract, ...plugin, inputs: {}, output: Port.outcomes, kind: "benchmark" })

export const step = <C, E, const I extends Port.Inputs, O extends Port.Any>(
  plugin: Common<C, E> & {
    readonly id: string
    readonly inputs: I
    readonly output: O
    readonly run: (config: C, context: StepContext<I>) => Effect.Effect<StepOutput<Port.Type<O>>, Failure, Services | Scope.Scope>
  }
): StepPlugin<C, E, I, O> => ({ contract, ...plugin, kind: "step" })

/** A plugin's declared inputs; a plain-JS plugin that declares none takes any step outputs. */
export const inputsOf = (plugin: Any): Port.Inputs => (plugin as { readonly inputs?: Port.Inputs }).inputs ?? { inputs: Port.many(Port.anything) }

/** The port a step output was produced on: recorded, else the usual port of its plugin kind. */
export const portOfInput = (input: StepInput): Port.Any =>
  input.port ??
    (input.kind === "dataset" || input.kind === "augmenter"
      ? Port.battles
      : input.kind === "benchmark"
      ? Port.outcomes
      : input.kind === "router"
      ? Port.router(input.uses)
      : Port.value)

/**
 * A StepContext for calling a plugin directly (tests, cross-fitting): the
 * inputs grouped by the plugin's declared ports, their values taken as given.
 * The pipeline runner builds its contexts itself, checking and decoding.
 */
export const stepContext = <I extends Port.Inputs>(
  plugin: { readonly inputs: I },
  context: Omit<StepContext, "ports">
): StepContext<any> => {
  const given = context.inputs.map((input) => ({ ...input, port: portOfInput(input) }))
  const { groups } = Port.assign(plugin.inputs, given)
  const ports = Object.fromEntries(
    Object.entries(groups).map(([name, indices]) => [name, indices.map((index) => Port.receive(plugin.inputs[name]!.port, given[index]!))])
  )
  return { ...context, ports }
}

/** A plugin's output port; a plain-JS plugin that declares none produces a JSON value. */
export const outputOf = (plugin: Any): Port.Any => (plugin as { readonly output?: Port.Any }).output ?? Port.value

/** The Layer that provides a router plugin's contract. */
export const routerLayer = <C>(plugin: RouterPlugin<C>, config: C, context: MakeContext & { readonly trained?: StepInput }) =>
  Layer.effect(Router, plugin.make(config, context))

export const datasetLayer = <C>(plugin: DatasetPlugin<C>, config: C, context: MakeContext) => Layer.effect(Dataset, plugin.make(config, context))

export const augmenterLayer = <C>(plugin: AugmenterPlugin<C>, config: C, context: StepContext) => Layer.effect(Augmenter, plugin.make(config, context))

export const embedderLayer = <C>(plugin: EmbedderPlugin<C>, config: C, context: MakeContext) => Layer.effect(Embedder, plugin.make(config, context))

export const benchmarkLayer = <C>(plugin: BenchmarkPlugin<C>, config: C, context: MakeContext) => Layer.effect(Benchmark, plugin.make(config, context))

/**
 * A reference to another plugin inside a config (`embedder: { uses: embedder/use-lite, with: {...} }`);
 * a bare string is shorthand for `{ uses: <id> }`.
 */
export const Reference = Schema.Union([
  Schema.String,
  Schema.Struct({
    uses: Schema.String,
    with: Schema.optionalKey(Schema.Unknown)
  })
])
export type Reference = typeof Reference.Type

export const normalizeReference = (reference: Reference): { readonly uses: string; readonly with: unknown } =>
  typeof reference === "string" ? { uses: reference, with: {} } : { uses: reference.uses, with: reference.with ?? {} }

/** JSON Schema of a plugin's config, for `routellm plugins --json` and editor completion. */
export const jsonSchema = (plugin: Any): unknown => Schema.toJsonSchemaDocument(plugin.config).schema

export const describe = (plugin: Any) => ({
  id: plugin.id,
  version: plugin.version,
  contract: plugin.contract,
  kind: plugin.kind,
  description: plugin.description,
  trainable: plugin.kind === "router" && plugin.train !== undefined,
  inputs: Object.fromEntries(
    Object.entries(inputsOf(plugin)).map(([name, input]) => [name, { port: input.port.id, min: input.min, max: input.max === Infinity ? null : input.max }])
  ),
  output: outputOf(plugin).id,
  config: jsonSchema(plugin)
})

export const decodeConfig = <C>(plugin: { readonly config: Schema.Decoder<C> }) =>
  Schema.decodeUnknownEffect(plugin.config as Schema.Codec<C, unknown>, { errors: "all", onExcessProperty: "error" })
