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
  /** The step's artifact directory (read only). */
  readonly directory: string
  /** The step's JSON value (output.json). */
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

export interface StepContext extends MakeContext {
  readonly stepId: string
  /** Write the step's files here; it becomes the artifact when the step succeeds. */
  readonly directory: string
  /** Outputs of the steps named in `needs`, in that order. */
  readonly inputs: ReadonlyArray<StepInput>
  /** The run directory (manifest, reports). */
  readonly runDirectory: string
}

export interface StepOutput {
  /** JSON value stored as output.json and handed to later steps. */
  readonly value: unknown
  /** Counts and figures recorded in the run manifest. */
  readonly summary?: Readonly<Record<string, unknown>>
}

interface Base<C> {
  readonly id: string
  readonly version: string
  /** The plugin contract version it implements (the constructors below fill in this core's). */
  readonly contract: string
  readonly description: string
  readonly config: Schema.Decoder<C>
  /** Fingerprint of external inputs (data files) that the config names; part of the cache key. */
  readonly fingerprint?: (config: C, context: MakeContext) => Effect.Effect<string, Failure, Services>
}

export interface RouterPlugin<C = any> extends Base<C> {
  readonly kind: "router"
  /** Build a router; `trained` is the output of this plugin's own training step, when it has one. */
  readonly make: (config: C, context: RouterContext) => Effect.Effect<RouterShape, Failure, Services | Scope.Scope>
  /** Train from the step inputs (battle datasets) and write the trained state into the step directory. */
  readonly train?: (config: C, context: StepContext) => Effect.Effect<StepOutput, Failure, Services | Scope.Scope>
}

export interface DatasetPlugin<C = any> extends Base<C> {
  readonly kind: "dataset"
  readonly make: (config: C, context: MakeContext) => Effect.Effect<DatasetShape, Failure, Services | Scope.Scope>
}

export interface AugmenterPlugin<C = any> extends Base<C> {
  readonly kind: "augmenter"
  /** Built with the step context, so an augmenter can read other inputs (evaluation sets for decontamination). */
  readonly make: (config: C, context: StepContext) => Effect.Effect<AugmenterShape, Failure, Services | Scope.Scope>
}

export interface EmbedderPlugin<C = any> extends Base<C> {
  readonly kind: "embedder"
  readonly make: (config: C, context: MakeContext) => Effect.Effect<EmbedderShape, Failure, Services | Scope.Scope>
}

export interface BenchmarkPlugin<C = any> extends Base<C> {
  readonly kind: "benchmark"
  readonly make: (config: C, context: MakeContext) => Effect.Effect<BenchmarkShape, Failure, Services | Scope.Scope>
}

export interface StepPlugin<C = any> extends Base<C> {
  readonly kind: "step"
  readonly run: (config: C, context: StepContext) => Effect.Effect<StepOutput, Failure, Services | Scope.Scope>
}

export type Any = RouterPlugin | DatasetPlugin | AugmenterPlugin | EmbedderPlugin | BenchmarkPlugin | StepPlugin

/** What a constructor takes: the plugin without its kind, the contract version optional. */
type Input<P extends Any> = Omit<P, "kind" | "contract"> & { readonly contract?: string }

const contract = ContractVersion.version

export const router = <C>(plugin: Input<RouterPlugin<C>>): RouterPlugin<C> => ({ contract, ...plugin, kind: "router" })
export const dataset = <C>(plugin: Input<DatasetPlugin<C>>): DatasetPlugin<C> => ({ contract, ...plugin, kind: "dataset" })
export const augmenter = <C>(plugin: Input<AugmenterPlugin<C>>): AugmenterPlugin<C> => ({
  contract,
  ...plugin,
  kind: "augmenter"
})
export const embedder = <C>(plugin: Input<EmbedderPlugin<C>>): EmbedderPlugin<C> => ({
  contract,
  ...plugin,
  kind: "embedder"
})
export const benchmark = <C>(plugin: Input<BenchmarkPlugin<C>>): BenchmarkPlugin<C> => ({
  contract,
  ...plugin,
  kind: "benchmark"
})
export const step = <C>(plugin: Input<StepPlugin<C>>): StepPlugin<C> => ({ contract, ...plugin, kind: "step" })

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
  config: jsonSchema(plugin)
})

export const decodeConfig = <C>(plugin: { readonly config: Schema.Decoder<C> }) =>
  Schema.decodeUnknownEffect(plugin.config as Schema.Codec<C, unknown>, { errors: "all", onExcessProperty: "error" })
