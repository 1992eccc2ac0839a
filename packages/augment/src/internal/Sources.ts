/**
 * Reading the tables augmenters start from: a JSONL, JSON or CSV file, or a
 * directory of CSV files (the RouteLLM MMLU layout), as records keyed by
 * field name, each with the file and line it came from.
 */
import { Errors, Files } from "@routellm/core"
import { Effect, type FileSystem } from "effect"
import { createHash } from "node:crypto"
import * as Path from "node:path"

export interface SourceRow {
  readonly file: string
  readonly line: number
  readonly record: Readonly<Record<string, unknown>>
}

const readFile = (
  file: string,
  field: string
): Effect.Effect<Array<SourceRow>, Errors.InputError | Errors.MissingInputError, FileSystem.FileSystem> => {
  if (file.endsWith(".csv")) {
    return Effect.map(Files.readCsv(file, field), ({ rows }) => rows.map((row) => ({ file, line: row.line, record: row.value })))
  }
  if (file.endsWith(".jsonl")) {
    return Effect.map(
      Files.readJsonl(file, { field }),
      ({ rows }) => rows.map((row) => ({ file, line: row.line, record: (row.value ?? {}) as Record<string, unknown> }))
    )
  }
  return Effect.flatMap(Files.readJson(file, { field, allowNaN: true }), (value) =>
    Array.isArray(value)
      ? Effect.succeed(value.map((record, index) => ({ file, line: index + 1, record: (record ?? {}) as Record<string, unknown> })))
      : Effect.fail(new Errors.InputError({ file, reason: "expected a JSON array of records" })))
}

/** Rows of a file, or of every CSV/JSONL file in a directory (sorted by name). */
export const read = (path: string, field: string) =>
  Effect.gen(function*() {
    yield* Files.requireExists(path, field)
    if (!(yield* Files.isDirectory(path))) return yield* readFile(path, field)
    const names = (yield* Files.readDirectory(path, field)).filter((name) => /\.(csv|jsonl)$/.test(name))
    if (names.length === 0) return yield* new Errors.InputError({ file: path, field, reason: "directory holds no .csv or .jsonl files" })
    const parts = yield* Effect.forEach(names, (name) => readFile(Path.join(path, name), field))
    return parts.flat()
  })

/** A text field of a row; a missing field is an InputError naming file, line and field. */
export const text = (row: SourceRow, field: string): Effect.Effect<string, Errors.InputError> => {
  const value = row.record[field]
  if (typeof value === "string") return Effect.succeed(value)
  if (typeof value === "number" && Number.isFinite(value)) return Effect.succeed(String(value))
  return Effect.fail(
    new Errors.InputError({
      file: row.file,
      line: row.line,
      field,
      reason: value === undefined ? `no field "${field}" (fields: ${Object.keys(row.record).join(", ")})` : "not a string"
    })
  )
}

/** A recorded correctness (`True`/`False`, `1`/`0`, booleans, scores in [0, 1]) as a number. */
export const outcome = (row: SourceRow, field: string): Effect.Effect<number, Errors.InputError> => {
  const value = row.record[field]
  if (typeof value === "boolean") return Effect.succeed(value ? 1 : 0)
  if (typeof value === "number" && Number.isFinite(value)) return Effect.succeed(value)
  if (typeof value === "string") {
    const trimmed = value.trim().toLowerCase()
    if (trimmed === "true") return Effect.succeed(1)
    if (trimmed === "false") return Effect.succeed(0)
    const number = Number(trimmed)
    if (trimmed !== "" && Number.isFinite(number)) return Effect.succeed(number)
  }
  return Effect.fail(
    new Errors.InputError({
      file: row.file,
      line: row.line,
      field,
      reason: value === undefined
        ? `no field "${field}" (fields: ${Object.keys(row.record).join(", ")})`
        : `not a recorded outcome (True/False or a number): ${JSON.stringify(value).slice(0, 40)}`
    })
  )
}

/** Resolve a config path against the pipeline's directory. */
export const resolvePath = (baseDirectory: string, path: string) => Path.resolve(baseDirectory, path)

/** Hash of the contents of a file or of every CSV/JSONL file in a directory: part of a step's cache key. */
export const fingerprint = (path: string) =>
  Effect.gen(function*() {
    if (!(yield* Files.exists(path))) return "missing"
    const hash = createHash("sha256")
    const files = (yield* Files.isDirectory(path))
      ? (yield* Files.readDirectory(path)).filter((name) => /\.(csv|jsonl)$/.test(name)).map((name) => Path.join(path, name))
      : [path]
    for (const file of files) {
      hash.update(Path.basename(file))
      hash.update(yield* Files.readBytes(file))
    }
    return hash.digest("hex")
  })
