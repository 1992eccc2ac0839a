/**
 * Append-only JSONL cache of chat completions under the artifact store root,
 * one file per (endpoint, model). Every response is appended the moment it
 * arrives, so a run that is interrupted or crashes resumes without paying for
 * the same request twice. A torn last line (crash mid-write) is ignored.
 */
import { Effect, Semaphore } from "effect"
import * as Fs from "node:fs/promises"
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
  readonly put: (entry: CachedResponse) => Effect.Effect<void>
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
  const text = yield* Effect.promise(() => Fs.readFile(file, "utf8").catch(() => ""))
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue
    try {
      const value: unknown = JSON.parse(line)
      if (isEntry(value)) entries.set(value.key, value)
    } catch {
      // a line torn by a crash: that response is requested again
    }
  }
  yield* Effect.promise(() => Fs.mkdir(Path.dirname(file), { recursive: true }))
  // A torn last line must not swallow the next entry: start appends on a fresh line.
  const prefix = text !== "" && !text.endsWith("\n") ? "\n" : ""
  const handle = yield* Effect.acquireRelease(
    Effect.promise(() => Fs.open(file, "a")),
    (handle) => Effect.promise(() => handle.close())
  )
  const lock = yield* Semaphore.make(1)
  let pending = prefix
  const put = (entry: CachedResponse) =>
    lock.withPermits(1)(Effect.promise(async () => {
      entries.set(entry.key, entry)
      await handle.appendFile(`${pending}${JSON.stringify(entry)}\n`)
      pending = ""
    }))
  return { file, get: (key: string) => entries.get(key), put, size: () => entries.size } satisfies ResponseCacheShape
})
