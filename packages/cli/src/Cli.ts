/**
 * What every command shares: the services a command runs with, and one way
 * to report failures (a clear message on stderr and exit code 1).
 */
import { ArtifactStore, Errors, Files, type Plugin, PluginRegistry, Settings } from "@routellm/core"
import { Cause, Console, Effect, Layer, Option } from "effect"
import * as Path from "node:path"
import * as Yaml from "yaml"

/**
 * Services every command may use: the artifact store (ROUTELLM_CACHE_DIR) and
 * the registry of shipped plugins. The plugin modules are imported only when a
 * command builds this layer, so `--help` never loads them.
 */
export const layer = Layer.mergeAll(
  ArtifactStore.ArtifactStore.layer,
  Layer.unwrap(Effect.promise(() => import("./Registry.ts")).pipe(Effect.map(({ plugins }) => PluginRegistry.PluginRegistry.layer(plugins))))
)

/** Print a failure as `error: ...` and set exit code 1, so scripts can rely on it. */
export const reportFailure = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A | void, never, R> =>
  effect.pipe(
    Effect.catchCause((cause) =>
      Effect.gen(function*() {
        const failure = cause.reasons.find((reason) => reason._tag === "Fail")
        const message = failure && failure._tag === "Fail"
          ? Errors.format(failure.error)
          : cause.reasons.some((reason) => reason._tag === "Interrupt")
          ? "interrupted"
          : Cause.pretty(cause)
        yield* Console.error(`error: ${message}`)
        process.exitCode = 1
      })
    )
  )

/** Read a YAML or JSON config file for a plugin (`--config FILE`). */
export const readConfigFile = (file: string) =>
  Effect.flatMap(Files.readText(file, "--config"), (text) =>
    Effect.try({
      try: () => Yaml.parse(text) as unknown,
      catch: (error) => new Errors.InputError({ file, reason: `not YAML/JSON: ${Errors.format(error)}` })
    }))

/** `--router sw` or `--router router/sw` with an optional config file; a file may also name `uses:` and `with:`. */
export const routerReference = (id: string, config: unknown): Plugin.Reference => {
  if (typeof config === "object" && config !== null && "uses" in config) return config as Plugin.Reference
  return { uses: id.includes("/") ? id : `router/${id}`, with: config ?? {} }
}

export const baseContext = (): Plugin.MakeContext => ({ baseDirectory: Path.resolve(".") })

/** `--data-dir DIR` overrides ROUTELLM_DATA_DIR for the command it wraps. */
export const withDataDirectory = (dataDirectory: Option.Option<string>) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.provideService(effect, Settings.Settings, {
    ...Settings.fromEnvironment(),
    ...(Option.isSome(dataDirectory) ? { dataDirectory: Path.resolve(dataDirectory.value) } : {})
  })
