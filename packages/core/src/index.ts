/**
 * @routellm/core: the contracts (Router, Dataset, Augmenter, Metric, Embedder,
 * Benchmark, ArtifactStore), shared records, plugins and the pipeline engine.
 * Plugin authors who want the contract without the engine import
 * `@routellm/core/Contract`.
 */
export * as Adam from "./Adam.ts"
export * as ArtifactStore from "./ArtifactStore.ts"
export * as Augmenter from "./Augmenter.ts"
export * as Battles from "./Battles.ts"
export * as Benchmark from "./Benchmark.ts"
export * as Contract from "./Contract.ts"
export * as ContractVersion from "./ContractVersion.ts"
export * as Dataset from "./Dataset.ts"
export * as Embedder from "./Embedder.ts"
export * as Errors from "./Errors.ts"
export * as Files from "./Files.ts"
export * as Hash from "./Hash.ts"
export * as LengthRouter from "./LengthRouter.ts"
export * as Matrix from "./Matrix.ts"
export * as Metric from "./Metric.ts"
export * as ModelAliases from "./ModelAliases.ts"
export * as Pipeline from "./Pipeline.ts"
export * as PipelineRunner from "./PipelineRunner.ts"
export * as Plugin from "./Plugin.ts"
export * as PluginRegistry from "./PluginRegistry.ts"
export * as Progress from "./Progress.ts"
export * as Random from "./Random.ts"
export * as RandomRouter from "./RandomRouter.ts"
export * as Records from "./Records.ts"
export * as Retry from "./Retry.ts"
export * as Router from "./Router.ts"
export * as Settings from "./Settings.ts"
export * as Simd from "./Simd.ts"
