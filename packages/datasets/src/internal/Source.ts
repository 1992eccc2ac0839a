/**
 * What every dataset plugin shares: where its files are (an explicit `file:`,
 * a `dir:` data root, or ROUTELLM_DATA_DIR), content fingerprints, row
 * validation with file and line, and the `onInvalid: fail | skip` policy.
 */
import { Dataset, Errors, Files, Hash, ModelAliases, type Plugin, type Records, Settings } from "@routellm/core"
import { Effect, FileSystem, Schema, SchemaIssue, Stream } from "effect"
import { createHash } from "node:crypto"
import * as Path from "node:path"

export const OnInvalid = Schema.Literals(["fail", "skip"]).pipe(
  Schema.withDecodingDefaultKey(Effect.succeed("fail" as const))
).annotate({ description: "A malformed row fails the step (fail) or is skipped and counted in the manifest (skip)" })
export type OnInvalid = "fail" | "skip"

export const FileOption = Schema.optionalKey(
  Schema.String.annotate({ description: "The data file, relative to the pipeline's directory (overrides dir)" })
)
export const DirectoryOption = Schema.optionalKey(
  Schema.String.annotate({
    description: "A data root in the layout of ../shared/data (train/..., eval/...), relative to the pipeline's directory; default ROUTELLM_DATA_DIR"
  })
)

/** The data root: `dir:` relative to the base directory, else ROUTELLM_DATA_DIR. */
export const dataRoot = (directory: string | undefined, context: Plugin.MakeContext) =>
  Effect.gen(function*() {
    if (directory !== undefined) return Path.resolve(context.baseDirectory, directory)
    const settings = yield* Settings.Settings
    return settings.dataDirectory
  })

/**
 * Resolve a dataset's file: `file:` relative to the base directory, else
 * `<data root>/<relative>`; without either a MissingInputError says what to set.
 */
export const resolveFile = (
  options: { readonly file?: string | undefined; readonly dir?: string | undefined },
  context: Plugin.MakeContext,
  relative: string
) =>
  Effect.gen(function*() {
    if (options.file !== undefined) return Path.resolve(context.baseDirectory, options.file)
    const root = yield* dataRoot(options.dir, context)
    if (root === undefined) {
      return yield* new Errors.MissingInputError({
        path: relative,
        field: "file",
        hint: "set file: (a path), dir: (a data root containing train/) or the ROUTELLM_DATA_DIR environment variable"
      })
    }
    return Path.join(root, relative)
  })

/** sha256 of a file's bytes, streamed. */
export const hashFile = (
  path: string,
  field?: string
): Effect.Effect<string, Errors.MissingInputError | Errors.InputError, FileSystem.FileSystem> =>
  FileSystem.FileSystem.use((fs) => {
    const hash = createHash("sha256")
    return fs.stream(path).pipe(
      Stream.runForEach((chunk) => Effect.sync(() => void hash.update(chunk))),
      Effect.map(() => hash.digest("hex")),
      Effect.mapError((error) =>
        error.reason._tag === "NotFound"
          ? new Errors.MissingInputError({ path, ...(field === undefined ? {} : { field }) })
          : new Errors.InputError({ file: path, reason: error.message })
      )
    )
  })

/** Fingerprint of a plugin's files (by content) and the options that change its records. */
export const fingerprintFiles = (id: string, files: ReadonlyArray<string>, options: unknown) =>
  Effect.map(
    Effect.forEach(files, (file) => hashFile(file)),
    (hashes) => Hash.hashValue({ id, files: files.map((file, index) => ({ name: Path.basename(file), sha256: hashes[index] })), options })
  )

const formatIssue = SchemaIssue.makeFormatterDefault()

/** Decode one row with a Schema; the failure is a one-line reason naming the field. */
export const decodeRow = <S extends Schema.Decoder<unknown>>(schema: S) => {
  const decode = Schema.decodeUnknownExit(schema as unknown as Schema.Codec<S["Type"], unknown>)
  return (value: unknown): { readonly value: S["Type"] } | { readonly reason: string } => {
    const exit = decode(value)
    if (exit._tag === "Success") return { value: exit.value }
    const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
    const issue = failure !== undefined && failure._tag === "Fail" ? (failure.error as Schema.SchemaError).issue : undefined
    return { reason: issue === undefined ? "invalid row" : formatIssue(issue).replace(/\s+/g, " ") }
  }
}

/**
 * Collects the invalid rows of one read: under `fail` the first one is an
 * InputError with file and line, under `skip` it is recorded and reading goes on.
 */
export interface InvalidRows {
  readonly report: (file: string, line: number, reason: string) => Effect.Effect<void, Errors.InputError>
}

/**
 * A DatasetShape whose records are read (on the FileSystem of the caller) when
 * the stream runs; `skipped` is refilled on every run.
 */
export const makeDataset = (
  id: string,
  fingerprint: string,
  onInvalid: OnInvalid,
  read: (invalid: InvalidRows) => Effect.Effect<ReadonlyArray<Records.Battle>, Dataset.DatasetError, FileSystem.FileSystem>
): Effect.Effect<Dataset.DatasetShape, never, FileSystem.FileSystem> =>
  FileSystem.FileSystem.useSync((fs) => {
    const skipped: Array<Dataset.InvalidRow> = []
    const invalid: InvalidRows = {
      report: (file, line, reason) =>
        onInvalid === "fail"
          ? Effect.fail(new Errors.InputError({ file, line, reason }))
          : Effect.sync(() => {
            skipped.push({ file, line, reason })
          })
    }
    return {
      id,
      fingerprint,
      skipped,
      records: Stream.unwrap(Effect.suspend(() => {
        skipped.length = 0
        return Effect.map(read(invalid).pipe(Effect.provideService(FileSystem.FileSystem, fs)), (battles) => Stream.fromIterable(battles))
      }))
    }
  })

/** Canonical model name through core's alias table. */
export const model = (name: string): string => ModelAliases.canonical(name)

/** Line (1-based) on which each top-level element of a JSON array starts, for error messages. */
export const jsonArrayElementLines = (text: string): Array<number> => {
  const lines: Array<number> = []
  let line = 1
  let depth = 0
  let inString = false
  let expectElement = false
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i)
    if (char === 10) line++
    if (inString) {
      if (char === 92) i++ // backslash: skip the escaped character
      else if (char === 34) inString = false
      continue
    }
    if (char === 32 || char === 9 || char === 10 || char === 13) continue
    if (depth === 1 && expectElement && char !== 93) {
      lines.push(line)
      expectElement = false
    }
    if (char === 34) inString = true
    else if (char === 91 || char === 123) {
      depth++
      if (depth === 1) expectElement = true
    } else if (char === 93 || char === 125) depth--
    else if (char === 44 && depth === 1) expectElement = true
  }
  return lines
}

/** Read a JSON file that must hold an array, with the line of each element. */
export const readJsonArray = (path: string, options: { readonly allowNaN?: boolean } = {}) =>
  Effect.gen(function*() {
    const text = yield* Files.readText(path, "file")
    const value = yield* Files.parseJson(text, path, options)
    if (!Array.isArray(value)) return yield* new Errors.InputError({ file: path, line: 1, reason: "expected a JSON array of records" })
    const lines = jsonArrayElementLines(text)
    return value.map((element, index) => ({ line: lines[index] ?? 1, value: element as unknown }))
  })
