/**
 * Append-only JSONL cache of chat completions under the artifact store root,
 * one file per (endpoint, model). Every response is appended the moment it
 * arrives, so a run that is interrupted or crashes resumes without paying for
 * the same request twice. A torn last line (crash mid-write) is ignored.
 */
import { Errors, Files } from "@routellm/core"
import { Effect, FileSystem, Semaphore } from "effect"
import * as Path from "node:path"

export interface CachedResponse {
  readonly key: string
  readonly content: string
  readonly promptTokens: number
  readonly completionTokens: number
}

export interface ResponseCacheShape {
  readonly file: string
  readonly get: (key: string) => CachedResponse | undefined
  readonly put: (entry: CachedResponse) => Effect.Effect<void, Errors.FileError>
  readonly size: () => number
}

const isEntry = (value: unknown): value is CachedResponse =>
  typeof value === "object" && value !== null &&
  typeof (value as CachedResponse).key === "string" &&
  typeof (value as CachedResponse).content === "string" &&
  typeof (value as CachedResponse).promptTokens === "number" &&
  typeof (value as CachedResponse).completionTokens === "number"

/** Open (creating if needed) the cache file; the handle closes with the scope. */
export const open = Effect.fnUntraced(function*(file: string) {
  const entries = new Map<string, CachedResponse>()
  const fs = yield* FileSystem.FileSystem
  // A cache that cannot be read is started afresh (its responses are requested again).
  const text = yield* Files.readText(file).pipe(Effect.orElseSucceed(() => ""))
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue
    try {
      const value: unknown = JSON.parse(line)
      if (isEntry(value)) entries.set(value.key, value)
    } catch {
      // a line torn by a crash: that response is requested again
    }
  }
  yield* Files.makeDirectory(Path.dirname(file))
  // A torn last line must not swallow the next entry: start appends on a fresh line.
  const prefix = text !== "" && !text.endsWith("\n") ? "\n" : ""
  const handle = yield* fs.open(file, { flag: "a" }).pipe(
    Effect.mapError((error) => new Errors.FileError({ path: file, operation: "open", reason: error.message }))
  )
  const lock = yield* Semaphore.make(1)
  let pending = prefix
  const put = (entry: CachedResponse) =>
    lock.withPermits(1)(Effect.suspend(() => {
      entries.set(entry.key, entry)
      return handle.writeAll(new TextEncoder().encode(`${pending}${JSON.stringify(entry)}\n`)).pipe(
        Effect.tap(() => Effect.sync(() => void (pending = ""))),
        Effect.mapError((error) => new Errors.FileError({ path: file, operation: "append to", reason: error.message }))
      )
    }))
  return { file, get: (key: string) => entries.get(key), put, size: () => entries.size } satisfies ResponseCacheShape
})
