/**
 * Effect's FileSystem service on Node's `node:fs/promises`, built with
 * `FileSystem.make` (which derives exists, glob, readFileString, stream, sink
 * and writeFileString). Node errors become `PlatformError`s whose reason tag
 * follows the errno code (ENOENT: NotFound, EACCES: PermissionDenied, ...).
 *
 * Why not `@effect/platform-node-shared`: its 4.1 release declares Node >=
 * 22.19, and npm warns about that on the Node 20 this project supports.
 */
import { ByteSize, Effect, FileSystem, Layer, Option, PlatformError, Stream } from "effect"
import { randomBytes } from "node:crypto"
import type * as NodeFs from "node:fs"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"

const tagOf = (code: string | undefined): PlatformError.SystemErrorTag => {
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
      return "NotFound"
    case "EEXIST":
    case "ENOTEMPTY":
      return "AlreadyExists"
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return "PermissionDenied"
    case "EBUSY":
      return "Busy"
    case "ETIMEDOUT":
      return "TimedOut"
    case "EAGAIN":
      return "WouldBlock"
    case "EISDIR":
    case "EINVAL":
      return "InvalidData"
    default:
      return "Unknown"
  }
}

const systemError = (method: string, path: string | number) => (cause: unknown) => {
  const error = cause as NodeJS.ErrnoException
  return PlatformError.systemError({
    _tag: tagOf(error?.code),
    module: "FileSystem",
    method,
    pathOrDescriptor: path,
    description: error?.message ?? String(cause),
    ...(error?.syscall === undefined ? {} : { syscall: error.syscall }),
    cause
  })
}

const attempt = <A>(method: string, path: string | number, run: () => Promise<A>) => Effect.tryPromise({ try: run, catch: systemError(method, path) })

const typeOf = (stats: NodeFs.Stats | NodeFs.Dirent): FileSystem.File.Type =>
  stats.isFile()
    ? "File"
    : stats.isDirectory()
    ? "Directory"
    : stats.isSymbolicLink()
    ? "SymbolicLink"
    : stats.isBlockDevice()
    ? "BlockDevice"
    : stats.isCharacterDevice()
    ? "CharacterDevice"
    : stats.isFIFO()
    ? "FIFO"
    : stats.isSocket()
    ? "Socket"
    : "Unknown"

const info = (stats: NodeFs.Stats): FileSystem.File.Info => ({
  type: typeOf(stats),
  mtime: Option.some(stats.mtime),
  atime: Option.some(stats.atime),
  birthtime: Option.some(stats.birthtime),
  dev: BigInt(stats.dev),
  ino: Option.some(BigInt(stats.ino)),
  mode: stats.mode,
  nlink: Option.some(BigInt(stats.nlink)),
  uid: Option.some(stats.uid),
  gid: Option.some(stats.gid),
  rdev: Option.some(BigInt(stats.rdev)),
  size: ByteSize.bytes(stats.size),
  blksize: Option.some(ByteSize.bytes(stats.blksize)),
  blocks: Option.some(BigInt(stats.blocks))
})

const unsupported = (method: string) =>
  PlatformError.badArgument({ module: "FileSystem", method, description: `${method} is not supported by @routellm/core's file system` })

/** An open file: a Node FileHandle with its own cursor, closed with the scope. */
const makeFile = (handle: Fs.FileHandle, path: string, append: boolean): FileSystem.File => {
  let position = 0n
  const advance = (count: number) => {
    position += BigInt(count)
    return count
  }
  const read = (buffer: Uint8Array, options?: FileSystem.File.ReadOptions) =>
    attempt("read", path, async () => {
      const at = options?.position === undefined ? position : BigInt(options.position)
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, Number(at))
      return options?.position === undefined ? advance(bytesRead) : bytesRead
    })
  const write = (buffer: Uint8Array) =>
    attempt("write", path, async () => {
      const { bytesWritten } = await handle.write(buffer, 0, buffer.length, append ? null : Number(position))
      return advance(bytesWritten)
    })
  return {
    [FileSystem.FileTypeId]: FileSystem.FileTypeId,
    stat: Effect.map(attempt("stat", path, () => handle.stat()), info),
    seek: (offset, from) =>
      Effect.suspend(() => {
        const target = from === "start" ? offset : position + offset
        if (target < 0n) return Effect.fail(PlatformError.badArgument({ module: "FileSystem", method: "seek", description: "before the start" }))
        position = target
        return Effect.succeed(position)
      }),
    sync: attempt("sync", path, () => handle.sync()),
    read,
    readAlloc: (size, options) =>
      Effect.suspend(() => {
        const buffer = new Uint8Array(size)
        return Effect.map(read(buffer, options), (count) => count === 0 ? Option.none() : Option.some(buffer.subarray(0, count)))
      }),
    truncate: (length) => attempt("truncate", path, () => handle.truncate(length)),
    write,
    writeAll: (buffer) =>
      Effect.suspend(function loop(offset = 0): Effect.Effect<void, PlatformError.PlatformError> {
        if (offset >= buffer.length) return Effect.void
        return Effect.flatMap(write(buffer.subarray(offset)), (count) => loop(offset + count))
      })
  }
}

const temporaryName = (prefix: string | undefined, suffix = "") => `${prefix ?? ""}${randomBytes(6).toString("hex")}${suffix}`

/** Node's file system as Effect's FileSystem service. */
export const fileSystem: FileSystem.FileSystem = FileSystem.make({
  access: (path, options) =>
    attempt("access", path, () => {
      let mode = Fs.constants.F_OK
      if (options?.readable) mode |= Fs.constants.R_OK
      if (options?.writable) mode |= Fs.constants.W_OK
      return Fs.access(path, mode)
    }),
  copy: (from, to, options) =>
    attempt("copy", from, () =>
      Fs.cp(from, to, {
        recursive: true,
        force: options?.overwrite ?? false,
        errorOnExist: !(options?.overwrite ?? false),
        preserveTimestamps: options?.preserveTimestamps ?? false
      })),
  copyFile: (from, to) => attempt("copyFile", from, () => Fs.copyFile(from, to)),
  chmod: (path, mode) => attempt("chmod", path, () => Fs.chmod(path, mode)),
  chown: (path, uid, gid) => attempt("chown", path, () => Fs.chown(path, uid, gid)),
  link: (from, to) => attempt("link", from, () => Fs.link(from, to)),
  lstat: (path) => Effect.map(attempt("lstat", path, () => Fs.lstat(path)), info),
  makeDirectory: (path, options) =>
    attempt(
      "makeDirectory",
      path,
      () => Fs.mkdir(path, { recursive: options?.recursive ?? false, ...(options?.mode === undefined ? {} : { mode: options.mode }) })
    )
      .pipe(Effect.asVoid),
  makeTempDirectory: (options) =>
    attempt("makeTempDirectory", options?.directory ?? Os.tmpdir(), () => Fs.mkdtemp(Path.join(options?.directory ?? Os.tmpdir(), options?.prefix ?? ""))),
  makeTempDirectoryScoped: (options) =>
    Effect.acquireRelease(
      attempt("makeTempDirectory", options?.directory ?? Os.tmpdir(), () => Fs.mkdtemp(Path.join(options?.directory ?? Os.tmpdir(), options?.prefix ?? ""))),
      (path) => Effect.ignore(attempt("remove", path, () => Fs.rm(path, { recursive: true, force: true })))
    ),
  makeTempFile: (options) => {
    const path = Path.join(options?.directory ?? Os.tmpdir(), temporaryName(options?.prefix, options?.suffix))
    return Effect.as(attempt("makeTempFile", path, () => Fs.writeFile(path, new Uint8Array(0), { flag: "wx" })), path)
  },
  makeTempFileScoped: (options) => {
    const path = Path.join(options?.directory ?? Os.tmpdir(), temporaryName(options?.prefix, options?.suffix))
    return Effect.acquireRelease(
      Effect.as(attempt("makeTempFile", path, () => Fs.writeFile(path, new Uint8Array(0), { flag: "wx" })), path),
      () => Effect.ignore(attempt("remove", path, () => Fs.rm(path, { force: true })))
    )
  },
  open: (path, options) =>
    options?.noFollow === true
      ? Effect.fail(unsupported("open with noFollow"))
      : Effect.map(
        Effect.acquireRelease(
          attempt("open", path, () => Fs.open(path, options?.flag ?? "r", options?.mode)),
          (handle) => Effect.ignore(attempt("close", path, () => handle.close()))
        ),
        (handle) => makeFile(handle, path, (options?.flag ?? "r").startsWith("a"))
      ),
  readDirectory: (path, options) =>
    attempt("readDirectory", path, () => Fs.readdir(path, { recursive: options?.recursive ?? false })).pipe(
      Effect.map((names) => names.map(String))
    ),
  readDirectoryEntries: (path) =>
    Effect.map(
      attempt("readDirectoryEntries", path, () => Fs.readdir(path, { withFileTypes: true })),
      (entries) => entries.map((entry) => ({ name: entry.name, type: typeOf(entry) }))
    ),
  readFile: (path) =>
    Effect.map(attempt("readFile", path, () => Fs.readFile(path)), (buffer) => new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)),
  readLink: (path) => attempt("readLink", path, () => Fs.readlink(path)),
  realPath: (path) => attempt("realPath", path, () => Fs.realpath(path)),
  remove: (path, options) => attempt("remove", path, () => Fs.rm(path, { recursive: options?.recursive ?? false, force: options?.force ?? false })),
  rename: (from, to) => attempt("rename", from, () => Fs.rename(from, to)),
  stat: (path) => Effect.map(attempt("stat", path, () => Fs.stat(path)), info),
  symlink: (target, path) => attempt("symlink", path, () => Fs.symlink(target, path)),
  truncate: (path, length) => attempt("truncate", path, () => Fs.truncate(path, length)),
  utimes: (path, atime, mtime) => attempt("utimes", path, () => Fs.utimes(path, atime, mtime)),
  watch: () => Stream.fail(unsupported("watch")),
  writeFile: (path, data, options) =>
    attempt("writeFile", path, () => Fs.writeFile(path, data, { flag: options?.flag ?? "w", ...(options?.mode === undefined ? {} : { mode: options.mode }) }))
})

export const layer: Layer.Layer<FileSystem.FileSystem> = Layer.succeed(FileSystem.FileSystem, fileSystem)
