/**
 * The registry of plugins a run can use: the ones the CLI registers
 * statically plus third-party packages loaded by name from a pipeline's
 * `plugins:` list.
 */
import { Context, Effect, Layer, type Schema, SchemaIssue, type Scope } from "effect"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import type { BenchmarkShape } from "./Benchmark.ts"
import * as ContractVersion from "./ContractVersion.ts"
import type { EmbedderShape } from "./Embedder.ts"
import { ConfigError, ContractVersionError, PluginLoadError, UnknownPluginError } from "./Errors.ts"
import * as Files from "./Files.ts"
import * as Plugin from "./Plugin.ts"
import type { RouterShape } from "./Router.ts"

export { ConfigError, ContractVersionError, PluginLoadError, UnknownPluginError }
export type { ConfigIssue } from "./Errors.ts"

const standardFormatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** Decode a plugin config, reporting every failing field with its path. */
export const decodeConfig = <C>(plugin: Plugin.Any & { readonly config: Schema.Decoder<C> }, raw: unknown, where: string) =>
  Plugin.decodeConfig(plugin)(raw ?? {}).pipe(
    Effect.mapError((error) =>
      new ConfigError({
        pluginId: plugin.id,
        where,
        issues: standardFormatter(error.issue).issues.map((issue) => ({
          path: (issue.path ?? []).map((segment: unknown) => typeof segment === "object" && segment !== null && "key" in segment ? segment.key : segment),
          message: issue.message
        }))
      })
    )
  )

export interface RegistryShape {
  readonly plugins: ReadonlyArray<Plugin.Any>
  readonly get: (id: string, where?: string) => Effect.Effect<Plugin.Any, UnknownPluginError>
  readonly getKind: <K extends Plugin.Kind>(
    id: string,
    kind: K,
    where?: string
  ) => Effect.Effect<Extract<Plugin.Any, { readonly kind: K }>, UnknownPluginError>
}

export const make = (plugins: ReadonlyArray<Plugin.Any>): RegistryShape => {
  const byId = new Map<string, Plugin.Any>()
  for (const plugin of plugins) byId.set(plugin.id, plugin)
  const ids = () => [...byId.keys()].sort()
  const get = (id: string, where?: string) => {
    const plugin = byId.get(id)
    return plugin === undefined
      ? Effect.fail(new UnknownPluginError({ pluginId: id, available: ids(), ...(where === undefined ? {} : { where }) }))
      : Effect.succeed(plugin)
  }
  const getKind = <K extends Plugin.Kind>(id: string, kind: K, where?: string) => {
    // Allow the short form `random` for `router/random`.
    const plugin = byId.get(id) ?? byId.get(`${kind}/${id}`)
    if (plugin === undefined || plugin.kind !== kind) {
      return Effect.fail(
        new UnknownPluginError({
          pluginId: id,
          available: ids().filter((candidate) => byId.get(candidate)!.kind === kind),
          expectedKind: kind,
          ...(where === undefined ? {} : { where })
        })
      )
    }
    return Effect.succeed(plugin as Extract<Plugin.Any, { readonly kind: K }>)
  }
  return { plugins: [...byId.values()], get, getKind }
}

/** Fail with ContractVersionError unless every plugin implements a contract version this core runs. */
export const checkContracts = (plugins: ReadonlyArray<Plugin.Any>, source?: string): Effect.Effect<void, ContractVersionError> =>
  Effect.forEach(
    plugins,
    (plugin) => ContractVersion.check(`plugin ${plugin.id} ${plugin.version}${source === undefined ? "" : ` (package ${source})`}`, plugin.contract),
    { discard: true }
  )

export class PluginRegistry extends Context.Service<PluginRegistry, RegistryShape>()("@routellm/core/PluginRegistry") {
  /** A registry of these plugins; refuses any whose contract version this core does not implement. */
  static readonly layer = (plugins: ReadonlyArray<Plugin.Any>) => Layer.effect(PluginRegistry, Effect.as(checkContracts(plugins), make(plugins)))
}

/** Registry plus more plugins (later ones win on id clashes). */
export const extend = (registry: RegistryShape, plugins: ReadonlyArray<Plugin.Any>): RegistryShape => make([...registry.plugins, ...plugins])

const isPlugin = (value: unknown): value is Plugin.Any =>
  typeof value === "object" && value !== null && typeof (value as Plugin.Any).id === "string" &&
  typeof (value as Plugin.Any).kind === "string" && (value as Plugin.Any).config !== undefined

/** Find a package's ESM entry point by walking up node_modules directories from `fromDirectory`. */
const resolvePackage = (packageName: string, fromDirectory: string) =>
  Effect.gen(function*() {
    let directory = Path.resolve(fromDirectory)
    for (;;) {
      const candidate = Path.join(directory, "node_modules", packageName, "package.json")
      if (yield* Files.exists(candidate)) {
        const manifest = (yield* Files.readJson(candidate)) as {
          readonly exports?: any
          readonly module?: string
          readonly main?: string
        }
        const exported = manifest.exports?.["."] ?? manifest.exports
        const entry = typeof exported === "string"
          ? exported
          : exported?.import ?? exported?.default ?? manifest.module ?? manifest.main ?? "index.js"
        return Path.join(Path.dirname(candidate), typeof entry === "string" ? entry : entry.default)
      }
      const parent = Path.dirname(directory)
      if (parent === directory) {
        return yield* new PluginLoadError({ packageName, reason: `not installed (searched node_modules from ${fromDirectory} upwards)` })
      }
      directory = parent
    }
  })

/**
 * How a plugin package's entry module is imported. A host that bundles
 * `effect` and `@routellm/*` (the CLI) replaces it so that the package shares
 * the host's instances of them instead of loading second copies.
 */
export const PackageImport = Context.Reference<(url: string) => Promise<Record<string, unknown>>>("@routellm/core/PluginRegistry/PackageImport", {
  defaultValue: () => (url) => import(url)
})

/**
 * Load third-party plugins by package name. The package exports `plugins`
 * (an array of plugin values) or a default export that is one; each must
 * implement a contract version this core runs.
 */
export const loadPackage = (packageName: string, fromDirectory: string) =>
  Effect.gen(function*() {
    // The pipeline's directory first, then the working directory (a pipeline kept outside the project).
    const entry = yield* resolvePackage(packageName, fromDirectory).pipe(
      Effect.catchTag("PluginLoadError", () => resolvePackage(packageName, process.cwd())),
      Effect.mapError((error) => error._tag === "PluginLoadError" ? error : new PluginLoadError({ packageName, reason: error.message }))
    )
    const importPackage = yield* PackageImport
    const module: any = yield* Effect.tryPromise({
      try: () => importPackage(pathToFileURL(entry).href),
      catch: (cause) => new PluginLoadError({ packageName, reason: cause instanceof Error ? cause.message : String(cause) })
    })
    const exported: unknown = module.plugins ?? module.default?.plugins ?? module.default
    const list = Array.isArray(exported) ? exported : [exported]
    const plugins = list.filter(isPlugin)
    if (plugins.length === 0 || plugins.length !== list.length) {
      return yield* new PluginLoadError({
        packageName,
        reason: "the package must export `plugins`: an array of plugin values ({ id, kind, version, contract, config, ... })"
      })
    }
    yield* checkContracts(plugins, packageName)
    return plugins
  })

type Built<A> = Effect.Effect<A, Plugin.Failure, Plugin.Services | Scope.Scope>

/** Build the router a reference names (used by eval, serve, route). */
export const makeRouter = (
  reference: Plugin.Reference,
  context: Plugin.RouterContext,
  where = "router"
): Built<RouterShape> =>
  Effect.gen(function*() {
    const registry = yield* PluginRegistry
    const { uses, with: raw } = Plugin.normalizeReference(reference)
    const plugin = yield* registry.getKind(uses, "router", where)
    const config = yield* decodeConfig(plugin, raw, where)
    return yield* plugin.make(config, context)
  })

/** Build the embedder a reference names (routers that embed prompts call this). */
export const makeEmbedder = (reference: Plugin.Reference, context: Plugin.MakeContext, where = "embedder"): Built<EmbedderShape> =>
  Effect.gen(function*() {
    const registry = yield* PluginRegistry
    const { uses, with: raw } = Plugin.normalizeReference(reference)
    const plugin = yield* registry.getKind(uses, "embedder", where)
    const config = yield* decodeConfig(plugin, raw, where)
    return yield* plugin.make(config, context)
  })

/** Build the benchmark a reference names. */
export const makeBenchmark = (reference: Plugin.Reference, context: Plugin.MakeContext, where = "benchmark"): Built<BenchmarkShape> =>
  Effect.gen(function*() {
    const registry = yield* PluginRegistry
    const { uses, with: raw } = Plugin.normalizeReference(reference)
    const plugin = yield* registry.getKind(uses, "benchmark", where)
    const config = yield* decodeConfig(plugin, raw, where)
    return yield* plugin.make(config, context)
  })
