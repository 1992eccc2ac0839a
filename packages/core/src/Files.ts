/**
 * File I/O for every package, through Effect's FileSystem service: reading the
 * data formats the sources use (CSV, JSON, JSONL) with the line of every row
 * kept, so a malformed row is reported with file and line, and writing files
 * and directories with typed errors (`InputError`, `MissingInputError`,
 * `FileError`) instead of defects.
 */
import { Effect, FileSystem, type Layer, type PlatformError } from "effect"
import { FileError, InputError, MissingInputError } from "./Errors.ts"
import * as NodeFileSystem from "./internal/NodeFileSystem.ts"

/** Node's FileSystem (the CLI, the server and the ArtifactStore layers provide it). */
export const layer: Layer.Layer<FileSystem.FileSystem> = NodeFileSystem.layer

export interface Row<A> {
  readonly line: number
  readonly value: A
}

const isNotFound = (error: PlatformError.PlatformError) => error.reason._tag === "NotFound"

const describe = (error: PlatformError.PlatformError): string => {
  const reason = error.reason
  return reason._tag === "BadArgument" ?
    reason.description ?? reason.message :
    `${reason._tag}${reason.description === undefined ? "" : ` (${reason.description})`}`
}

const readError = (path: string, field: string | undefined) => (error: PlatformError.PlatformError) =>
  isNotFound(error)
    ? new MissingInputError({ path, ...(field === undefined ? {} : { field }) })
    : new InputError({ file: path, reason: describe(error) })

const fileError = (path: string, operation: string) => (error: PlatformError.PlatformError) => new FileError({ path, operation, reason: describe(error) })

/** Read a whole text file; a missing file is a MissingInputError naming the field it came from. */
export const readText = (path: string, field?: string): Effect.Effect<string, MissingInputError | InputError, FileSystem.FileSystem> =>
  FileSystem.FileSystem.use((fs) => Effect.mapError(fs.readFileString(path), readError(path, field)))

/** Read a whole file as bytes. */
export const readBytes = (path: string, field?: string): Effect.Effect<Uint8Array, MissingInputError | InputError, FileSystem.FileSystem> =>
  FileSystem.FileSystem.use((fs) => Effect.mapError(fs.readFile(path), readError(path, field)))

/** Whether a path exists; a path that cannot be examined counts as absent (reading it then names the real error). */
export const exists = (path: string): Effect.Effect<boolean, never, FileSystem.FileSystem> =>
  FileSystem.FileSystem.use((fs) => fs.exists(path).pipe(Effect.orElseSucceed(() => false)))

/** Whether a path is a directory (false when it does not exist). */
export const isDirectory = (path: string): Effect.Effect<boolean, never, FileSystem.FileSystem> =>
  FileSystem.FileSystem.use((fs) => fs.stat(path).pipe(Effect.map((info) => info.type === "Directory"), Effect.orElseSucceed(() => false)))

/** Fail with MissingInputError unless the path exists. */
export const requireExists = (
  path: string,
  field?: string,
  hint?: string
): Effect.Effect<void, MissingInputError, FileSystem.FileSystem> =>
  Effect.flatMap(exists(path), (found) =>
    found
      ? Effect.void
      : Effect.fail(
        new MissingInputError({ path, ...(field === undefined ? {} : { field }), ...(hint === undefined ? {} : { hint }) })
      ))

/** The names in a directory, sorted; a missing directory is a MissingInputError. */
export const readDirectory = (path: string, field?: string) =>
  FileSystem.FileSystem.use((fs) => fs.readDirectory(path).pipe(Effect.map((names) => [...names].sort()), Effect.mapError(readError(path, field))))

/** The absolute path with symbolic links resolved. */
export const realPath = (path: string) => FileSystem.FileSystem.use((fs) => Effect.mapError(fs.realPath(path), readError(path, undefined)))

/** Write a text file (replacing it). */
export const writeText = (path: string, text: string): Effect.Effect<void, FileError, FileSystem.FileSystem> =>
  FileSystem.FileSystem.use((fs) => Effect.mapError(fs.writeFileString(path, text), fileError(path, "write")))

/** Write a binary file (replacing it). */
export const writeBytes = (path: string, bytes: Uint8Array): Effect.Effect<void, FileError, FileSystem.FileSystem> =>
  FileSystem.FileSystem.use((fs) => Effect.mapError(fs.writeFile(path, bytes), fileError(path, "write")))

/** Write JSON (two-space indented, with a final newline). */
export const writeJson = (path: string, value: unknown) => writeText(path, JSON.stringify(value, null, 2) + "\n")

/** Write JSON Lines: one value per line. */
export const writeJsonl = (path: string, values: ReadonlyArray<unknown>) =>
  writeText(path, values.map((value) => JSON.stringify(value)).join("\n") + (values.length > 0 ? "\n" : ""))

/** Make a directory and its parents. */
export const makeDirectory = (path: string): Effect.Effect<void, FileError, FileSystem.FileSystem> =>
  FileSystem.FileSystem.use(
    (fs) => Effect.mapError(fs.makeDirectory(path, { recursive: true }), fileError(path, "make directory"))
  )

/** Remove a file or a directory tree; nothing to remove is not an error. */
export const remove = (path: string): Effect.Effect<void, FileError, FileSystem.FileSystem> =>
  FileSystem.FileSystem.use(
    (fs) => Effect.mapError(fs.remove(path, { recursive: true, force: true }), fileError(path, "remove"))
  )

/** Rename a file or directory (atomic on one file system). */
export const rename = (from: string, to: string): Effect.Effect<void, FileError, FileSystem.FileSystem> =>
  FileSystem.FileSystem.use((fs) => Effect.mapError(fs.rename(from, to), fileError(`${from} -> ${to}`, "rename")))

/** Point a symbolic link at a target, replacing whatever the link path held. */
export const replaceSymlink = (target: string, path: string): Effect.Effect<void, FileError, FileSystem.FileSystem> =>
  FileSystem.FileSystem.use((fs) => remove(path).pipe(Effect.andThen(Effect.mapError(fs.symlink(target, path), fileError(path, "link")))))

/**
 * Parse CSV (RFC 4180: quoted fields may hold commas, quotes and newlines).
 * Returns the header and the records, each with the line it starts on.
 */
export const parseCsv = (
  text: string,
  file: string
): Effect.Effect<{ readonly header: ReadonlyArray<string>; readonly rows: ReadonlyArray<Row<ReadonlyArray<string>>> }, InputError> =>
  Effect.suspend(() => {
    const records: Array<Row<Array<string>>> = []
    let field = ""
    let record: Array<string> = []
    let line = 1
    let recordLine = 1
    let inQuotes = false
    let quoteLine = 0
    let i = text.charCodeAt(0) === 0xfeff ? 1 : 0
    const n = text.length
    const endRecord = () => {
      record.push(field)
      field = ""
      if (!(record.length === 1 && record[0] === "")) records.push({ line: recordLine, value: record })
      record = []
    }
    while (i < n) {
      const char = text[i]!
      if (inQuotes) {
        if (char === "\"") {
          if (text[i + 1] === "\"") {
            field += "\""
            i += 2
            continue
          }
          inQuotes = false
          i++
          continue
        }
        if (char === "\n") line++
        // Copy runs of plain characters at once: prompts are long.
        let j = i
        while (j < n && text[j] !== "\"" && text[j] !== "\n") j++
        if (j > i) {
          field += text.slice(i, j)
          i = j
        } else {
          field += char
          i++
        }
        continue
      }
      if (char === "\"" && field === "") {
        inQuotes = true
        quoteLine = line
        i++
      } else if (char === ",") {
        record.push(field)
        field = ""
        i++
      } else if (char === "\n" || char === "\r") {
        endRecord()
        if (char === "\r" && text[i + 1] === "\n") i++
        i++
        line++
        recordLine = line
      } else {
        let j = i
        while (j < n && text[j] !== "," && text[j] !== "\n" && text[j] !== "\r" && text[j] !== "\"") j++
        if (j === i) {
          field += char
          i++
        } else {
          field += text.slice(i, j)
          i = j
        }
      }
    }
    if (inQuotes) {
      return Effect.fail(new InputError({ file, line: quoteLine, reason: "unterminated quoted field" }))
    }
    if (field !== "" || record.length > 0) endRecord()
    const [headerRow, ...rows] = records
    if (headerRow === undefined) return Effect.fail(new InputError({ file, line: 1, reason: "empty CSV file (no header)" }))
    return Effect.succeed({ header: headerRow.value, rows })
  })

/** Read a CSV file into objects keyed by header; a row with the wrong number of fields is an InputError. */
export const readCsv = (path: string, field?: string) =>
  Effect.gen(function*() {
    const text = yield* readText(path, field)
    const { header, rows } = yield* parseCsv(text, path)
    const objects: Array<Row<Record<string, string>>> = []
    for (const row of rows) {
      if (row.value.length !== header.length) {
        return yield* new InputError({
          file: path,
          line: row.line,
          reason: `expected ${header.length} fields (${header.join(", ")}), found ${row.value.length}`
        })
      }
      const object: Record<string, string> = {}
      header.forEach((name, index) => {
        object[name] = row.value[index]!
      })
      objects.push({ line: row.line, value: object })
    }
    return { header, rows: objects }
  })

/**
 * Parse JSON Lines; each non-empty line becomes a row. A line that is not
 * JSON becomes an InputError, or is collected in `invalid` when skipping.
 */
export const parseJsonl = (text: string, file: string, onInvalid: "fail" | "skip" = "fail") =>
  Effect.suspend(() => {
    const rows: Array<Row<unknown>> = []
    const invalid: Array<{ readonly line: number; readonly reason: string }> = []
    const lines = text.split("\n")
    for (let index = 0; index < lines.length; index++) {
      const content = lines[index]!.trim()
      if (content === "") continue
      try {
        rows.push({ line: index + 1, value: JSON.parse(content) })
      } catch (error) {
        const reason = `invalid JSON: ${error instanceof Error ? error.message : String(error)}`
        if (onInvalid === "fail") return Effect.fail(new InputError({ file, line: index + 1, reason }))
        invalid.push({ line: index + 1, reason })
      }
    }
    return Effect.succeed({ rows, invalid })
  })

export const readJsonl = (path: string, options: { readonly field?: string; readonly onInvalid?: "fail" | "skip" } = {}) =>
  Effect.flatMap(readText(path, options.field), (text) => parseJsonl(text, path, options.onInvalid))

/**
 * Python's `json` writes `NaN`, `Infinity` and `-Infinity` as bare tokens,
 * which JSON.parse rejects. Outside strings (a scan that follows quotes and
 * escapes, so `"values: [1, NaN]"` inside a string is left alone) they become
 * `null`.
 */
export const bareNonFiniteToNull = (text: string): string => {
  let out = ""
  let copied = 0
  let inString = false
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (inString) {
      if (code === 92) index++ // backslash: skip the escaped character
      else if (code === 34) inString = false
      continue
    }
    if (code === 34) {
      inString = true
      continue
    }
    const token = code === 78 && text.startsWith("NaN", index)
      ? "NaN"
      : code === 73 && text.startsWith("Infinity", index)
      ? "Infinity"
      : code === 45 && text.startsWith("-Infinity", index)
      ? "-Infinity"
      : undefined
    if (token === undefined) continue
    out += text.slice(copied, index) + "null"
    index += token.length - 1
    copied = index + 1
  }
  return copied === 0 ? text : out + text.slice(copied)
}

/** Parse a JSON document; syntax errors name the line. With `allowNaN`, bare NaN and Infinity tokens become null. */
export const parseJson = (text: string, file: string, options: { readonly allowNaN?: boolean } = {}) =>
  Effect.try({
    try: () => JSON.parse(options.allowNaN ? bareNonFiniteToNull(text) : text) as unknown,
    catch: (error) => {
      const message = error instanceof Error ? error.message : String(error)
      const position = /position (\d+)/.exec(message)
      const line = position === null ? undefined : text.slice(0, Number(position[1])).split("\n").length
      return new InputError({ file, ...(line === undefined ? {} : { line }), reason: `invalid JSON: ${message}` })
    }
  })

export const readJson = (path: string, options: { readonly field?: string; readonly allowNaN?: boolean } = {}) =>
  Effect.flatMap(readText(path, options.field), (text) => parseJson(text, path, options))
