/**
 * The plugin contract as one import, without the pipeline engine: what a
 * plugin author implements against. `import { Contract } from
 * "@routellm/core/Contract"` loads none of the YAML parser, the scheduler or
 * the step cache (a test walks this module's imports to keep it so).
 */
export * as ArtifactStore from "./ArtifactStore.ts"
export * as Augmenter from "./Augmenter.ts"
export * as Battles from "./Battles.ts"
export * as Benchmark from "./Benchmark.ts"
export * as ContractVersion from "./ContractVersion.ts"
export { version } from "./ContractVersion.ts"
export * as Dataset from "./Dataset.ts"
export * as Embedder from "./Embedder.ts"
export * as Errors from "./Errors.ts"
export * as Files from "./Files.ts"
export * as Plugin from "./Plugin.ts"
export * as PluginRegistry from "./PluginRegistry.ts"
export * as Port from "./Port.ts"
export * as Records from "./Records.ts"
export * as Router from "./Router.ts"
