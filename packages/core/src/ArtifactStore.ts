/**
 * Content-addressed step outputs on disk. An artifact is a directory named by
 * its key; it is built in a temporary directory beside its final place and
 * renamed into place only when complete, so a crash never leaves a
 * half-written artifact that a later run would read as valid.
 */
import { Context, Effect, Layer, Option } from "effect"
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { ArtifactError } from "./Errors.ts"
import { Settings } from "./Settings.ts"

export interface ArtifactStoreShape {
  readonly root: string
  /** The directory of a completed artifact, if there is one. */
  readonly lookup: (key: string) => Effect.Effect<Option.Option<string>, ArtifactError>
  /**
   * Build an artifact: `build` writes files into a fresh temporary directory,
   * which becomes the artifact only once `build` succeeds. An existing artifact
   * with the same key is replaced.
   */
  readonly commit: <A, E, R>(
    key: string,
    build: (directory: string) => Effect.Effect<A, E, R>
  ) => Effect.Effect<{ readonly directory: string; readonly value: A }, E | ArtifactError, R>
  /** Write one file atomically (temporary file, then rename). */
  readonly writeFileAtomic: (path: string, data: string | Uint8Array) => Effect.Effect<void, ArtifactError>
}

const validKey = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/

export const make = (root: string): ArtifactStoreShape => {
  const resolvedRoot = Path.resolve(root)
  const directoryOf = (key: string): string => Path.join(resolvedRoot, "artifacts", key)

  const fail = (path: string) => (cause: unknown) => new ArtifactError({ path, reason: cause instanceof Error ? cause.message : String(cause) })

  const checkKey = (key: string) =>
    validKey.test(key) && !key.split("/").includes("..")
      ? Effect.void
      : Effect.fail(new ArtifactError({ path: key, reason: "invalid artifact key" }))

  const lookup = (key: string) =>
    checkKey(key).pipe(
      Effect.andThen(Effect.tryPromise({
        try: async () => {
          const directory = directoryOf(key)
          try {
            const stat = await Fs.stat(directory)
            return stat.isDirectory() ? Option.some(directory) : Option.none()
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code === "ENOENT") return Option.none<string>()
            throw error
          }
        },
        catch: fail(directoryOf(key))
      }))
    )

  const commit = <A, E, R>(key: string, build: (directory: string) => Effect.Effect<A, E, R>) =>
    Effect.gen(function*() {
      yield* checkKey(key)
      const final = directoryOf(key)
      const parent = Path.dirname(final)
      const temporary = Path.join(parent, `.tmp-${Path.basename(final)}-${process.pid}-${randomBytes(6).toString("hex")}`)
      yield* Effect.tryPromise({ try: () => Fs.mkdir(temporary, { recursive: true }), catch: fail(temporary) })
      const value = yield* build(temporary).pipe(
        Effect.onError(() => Effect.promise(() => Fs.rm(temporary, { recursive: true, force: true })))
      )
      yield* Effect.tryPromise({
        try: async () => {
          // A directory rename is atomic on one file system; an older artifact
          // with the same key is moved aside first because rename cannot replace
          // a non-empty directory.
          const old = `${temporary}.old`
          let replaced = false
          try {
            await Fs.rename(final, old)
            replaced = true
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error
          }
          await Fs.rename(temporary, final)
          if (replaced) await Fs.rm(old, { recursive: true, force: true })
        },
        catch: fail(final)
      })
      return { directory: final, value }
    })

  const writeFileAtomic = (path: string, data: string | Uint8Array) =>
    Effect.tryPromise({
      try: async () => {
        await Fs.mkdir(Path.dirname(path), { recursive: true })
        const temporary = `${path}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`
        const handle = await Fs.open(temporary, "w")
        try {
          await handle.writeFile(data)
          await handle.sync()
        } finally {
          await handle.close()
        }
        await Fs.rename(temporary, path)
      },
      catch: fail(path)
    })

  return { root: resolvedRoot, lookup, commit, writeFileAtomic }
}

export class ArtifactStore extends Context.Service<ArtifactStore, ArtifactStoreShape>()("@routellm/core/ArtifactStore") {
  /** A store rooted at a directory. */
  static readonly layerAt = (root: string) => Layer.succeed(ArtifactStore, make(root))
  /** A store rooted at the cache directory from Settings (ROUTELLM_CACHE_DIR). */
  static readonly layer = Layer.effect(
    ArtifactStore,
    Settings.useSync((settings) => make(settings.cacheDirectory))
  )
}
