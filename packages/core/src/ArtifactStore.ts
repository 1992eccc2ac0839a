/**
 * Content-addressed step outputs on disk. An artifact is a directory named by
 * its key; it is built in a temporary directory beside its final place and
 * renamed into place only when complete, so a crash never leaves a
 * half-written artifact that a later run would read as valid.
 */
import { Context, Effect, FileSystem, Layer, Option, type PlatformError } from "effect"
import { randomBytes } from "node:crypto"
import * as Path from "node:path"
import { ArtifactError } from "./Errors.ts"
import * as Files from "./Files.ts"
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
  /** Read a file under the store (a cache entry); none when it does not exist. */
  readonly readFile: (path: string) => Effect.Effect<Option.Option<Uint8Array>, ArtifactError>
  /** The names in a directory under the store; empty when it does not exist. */
  readonly list: (directory: string) => Effect.Effect<ReadonlyArray<string>, ArtifactError>
}

const validKey = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/

const isNotFound = (error: PlatformError.PlatformError) => error.reason._tag === "NotFound"

/** A store rooted at a directory, doing its I/O through `fs`. */
export const make = (root: string, fs: FileSystem.FileSystem): ArtifactStoreShape => {
  const resolvedRoot = Path.resolve(root)
  const directoryOf = (key: string): string => Path.join(resolvedRoot, "artifacts", key)

  const fail = (path: string) => (cause: PlatformError.PlatformError) => new ArtifactError({ path, reason: cause.message })

  const checkKey = (key: string) =>
    validKey.test(key) && !key.split("/").includes("..")
      ? Effect.void
      : Effect.fail(new ArtifactError({ path: key, reason: "invalid artifact key" }))

  const lookup = (key: string) =>
    Effect.andThen(
      checkKey(key),
      fs.stat(directoryOf(key)).pipe(
        Effect.map((info) => info.type === "Directory" ? Option.some(directoryOf(key)) : Option.none<string>()),
        Effect.catchIf(isNotFound, () => Effect.succeed(Option.none<string>())),
        Effect.mapError(fail(directoryOf(key)))
      )
    )

  const commit = <A, E, R>(key: string, build: (directory: string) => Effect.Effect<A, E, R>) =>
    Effect.gen(function*() {
      yield* checkKey(key)
      const final = directoryOf(key)
      const parent = Path.dirname(final)
      const temporary = Path.join(parent, `.tmp-${Path.basename(final)}-${process.pid}-${randomBytes(6).toString("hex")}`)
      yield* fs.makeDirectory(temporary, { recursive: true }).pipe(Effect.mapError(fail(temporary)))
      const value = yield* build(temporary).pipe(
        Effect.onExit((exit) => exit._tag === "Success" ? Effect.void : fs.remove(temporary, { recursive: true, force: true }).pipe(Effect.ignore))
      )
      // A directory rename is atomic on one file system; an older artifact
      // with the same key is moved aside first because rename cannot replace
      // a non-empty directory.
      const old = `${temporary}.old`
      const replaced = yield* fs.rename(final, old).pipe(
        Effect.as(true),
        Effect.catchIf(isNotFound, () => Effect.succeed(false)),
        Effect.mapError(fail(final))
      )
      yield* fs.rename(temporary, final).pipe(Effect.mapError(fail(final)))
      if (replaced) yield* fs.remove(old, { recursive: true, force: true }).pipe(Effect.mapError(fail(old)))
      return { directory: final, value }
    })

  const writeFileAtomic = (path: string, data: string | Uint8Array) =>
    Effect.scoped(Effect.gen(function*() {
      yield* fs.makeDirectory(Path.dirname(path), { recursive: true })
      const temporary = `${path}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`
      const file = yield* fs.open(temporary, { flag: "w" })
      yield* file.writeAll(typeof data === "string" ? new TextEncoder().encode(data) : data)
      yield* file.sync
      yield* fs.rename(temporary, path)
    })).pipe(Effect.mapError(fail(path)))

  const readFile = (path: string) =>
    fs.readFile(path).pipe(
      Effect.map(Option.some),
      Effect.catchIf(isNotFound, () => Effect.succeed(Option.none<Uint8Array>())),
      Effect.mapError(fail(path))
    )

  const list = (directory: string) =>
    fs.readDirectory(directory).pipe(
      Effect.map((names): ReadonlyArray<string> => [...names].sort()),
      Effect.catchIf(isNotFound, () => Effect.succeed<ReadonlyArray<string>>([])),
      Effect.mapError(fail(directory))
    )

  return { root: resolvedRoot, lookup, commit, writeFileAtomic, readFile, list }
}

export class ArtifactStore extends Context.Service<ArtifactStore, ArtifactStoreShape>()("@routellm/core/ArtifactStore") {
  /** A store rooted at a directory, on the FileSystem the program provides. */
  static readonly layerOn = (root: string) => Layer.effect(ArtifactStore, FileSystem.FileSystem.useSync((fs) => make(root, fs)))
  /**
   * A store rooted at a local directory, together with Node's FileSystem
   * (which the store's users read and write their own files with).
   */
  static readonly layerAt = (root: string) => Layer.provideMerge(ArtifactStore.layerOn(root), Files.layer)
  /** A store rooted at the cache directory from Settings (ROUTELLM_CACHE_DIR), with Node's FileSystem. */
  static readonly layer = Layer.provideMerge(
    Layer.effect(
      ArtifactStore,
      Effect.gen(function*() {
        const settings = yield* Settings
        return make(settings.cacheDirectory, yield* FileSystem.FileSystem)
      })
    ),
    Files.layer
  )
}
