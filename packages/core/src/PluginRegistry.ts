/**
 * The registry of plugins a run can use: the ones the CLI registers
 * statically plus third-party packages loaded by name from a pipeline's
 * `plugins:` list.
 */
import { Context, Effect, Layer, Schema, SchemaIssue, type Scope } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import type { BenchmarkShape } from "./Benchmark.ts"
import type { EmbedderShape } from "./Embedder.ts"
import * as Plugin from "./Plugin.ts"
import type { RouterShape } from "./Router.ts"

export class UnknownPluginError extends Schema.TaggedError<UnknownPluginError>()("UnknownPluginError", {
  pluginId: Schema.String,
  available: Schema.Array(Schema.String),
  expectedKind: Schema.optionalKey(Schema.String),
  where: Schema.optionalKey(Schema.String)
}) {
  override get message(): string {
    return `${this.where === undefined ? "" : `${this.where}: `}unknown ${this.expectedKind ?? "plugin"} "${this.pluginId}"; available: ${
      this.available.join(", ")
    }`
  }
}

export interface ConfigIssue {
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
}

/** A plugin config that fails the plugin's Schema; `issues` name each field. */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  pluginId: Schema.String,
  where: Schema.String,
  issues: Schema.Array(Schema.Struct({ path: Schema.Array(Schema.Unknown), message: Schema.String }))
}) {
  override get message(): string {
    return `${this.where}: invalid config for ${this.pluginId}:\n${
      this.issues.map((issue) => `  - ${issue.path.length === 0 ? "(config)" : issue.path.map(String).join(".")}: ${issue.message}`).join("\n")
    }`
  }
}

export class PluginLoadError extends Schema.TaggedError<PluginLoadError>()("PluginLoadError", {
  packageName: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot load plugin package "${this.packageName}": ${this.reason}`
  }
}

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

export class PluginRegistry extends Context.Service<PluginRegistry, RegistryShape>()("@routellm/core/PluginRegistry") {
  static readonly layer = (plugins: ReadonlyArray<Plugin.Any>) => Layer.succeed(PluginRegistry, make(plugins))
}

/** Registry plus more plugins (later ones win on id clashes). */
export const extend = (registry: RegistryShape, plugins: ReadonlyArray<Plugin.Any>): RegistryShape => make([...registry.plugins, ...plugins])

const isPlugin = (value: unknown): value is Plugin.Any =>
  typeof value === "object" && value !== null && typeof (value as Plugin.Any).id === "string" &&
  typeof (value as Plugin.Any).kind === "string" && (value as Plugin.Any).config !== undefined

/** Find a package's ESM entry point by walking up node_modules directories from `fromDirectory`. */
const resolvePackage = async (packageName: string, fromDirectory: string): Promise<string> => {
  let directory = Path.resolve(fromDirectory)
  for (;;) {
    const candidate = Path.join(directory, "node_modules", packageName, "package.json")
    try {
      const manifest = JSON.parse(await Fs.readFile(candidate, "utf8"))
      const root = Path.dirname(candidate)
      const exported = manifest.exports?.["."] ?? manifest.exports
      const entry = typeof exported === "string"
        ? exported
        : exported?.import ?? exported?.default ?? manifest.module ?? manifest.main ?? "index.js"
      return Path.join(root, typeof entry === "string" ? entry : entry.default)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error
    }
    const parent = Path.dirname(directory)
    if (parent === directory) throw new Error(`not installed (searched node_modules from ${fromDirectory} upwards)`)
    directory = parent
  }
}

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
 * (an array of plugin values) or a default export that is one.
 */
export const loadPackage = (packageName: string, fromDirectory: string) =>
  Effect.gen(function*() {
    const importPackage = yield* PackageImport
    return yield* Effect.tryPromise({
      try: async () => {
        // The pipeline's directory first, then the working directory (a pipeline kept outside the project).
        const entry = await resolvePackage(packageName, fromDirectory).catch(() => resolvePackage(packageName, process.cwd()))
        const module: any = await importPackage(pathToFileURL(entry).href)
        const exported: unknown = module.plugins ?? module.default?.plugins ?? module.default
        const list = Array.isArray(exported) ? exported : [exported]
        const plugins = list.filter(isPlugin)
        if (plugins.length === 0 || plugins.length !== list.length) {
          throw new Error("the package must export `plugins`: an array of plugin values ({ id, kind, version, config, ... })")
        }
        return plugins
      },
      catch: (cause) => new PluginLoadError({ packageName, reason: cause instanceof Error ? cause.message : String(cause) })
    })
  })

type Built<A> = Effect.Effect<A, Plugin.Failure | UnknownPluginError | ConfigError, PluginRegistry | Plugin.Services | Scope.Scope>

/** Build the router a reference names (used by eval, serve, route). */
export const makeRouter = (
  reference: Plugin.Reference,
  context: Plugin.MakeContext & { readonly trained?: Plugin.StepInput | undefined },
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
