/**
 * Escalate-only conversations: once a conversation has gone to the strong
 * model, its later turns stay there, so a user who needed the strong model
 * mid-conversation is not handed back to the weak one.
 *
 * A conversation is recognised by its earlier turns: a strong decision marks
 * the hash of the messages up to and including the routed user turn; a later
 * request of the same conversation repeats those messages (then the answer
 * and a new user turn), so one of its prefixes that ends at an earlier user
 * turn carries the mark. Prefix hashes are chained (each message hashed once).
 *
 * Marks live in memory (bounded, oldest dropped first, with a time to live)
 * or in Redis when configured, so replicas agree.
 */
import { Effect } from "effect"
import { createHash } from "node:crypto"
import type * as Config from "./Config.ts"

/** A key-value store with expiry: Redis in production, a map otherwise. */
export interface MarkStore {
  readonly mark: (key: string, ttlSeconds: number) => Effect.Effect<void, unknown>
  /** Whether any of the keys is marked. */
  readonly anyMarked: (keys: ReadonlyArray<string>) => Effect.Effect<boolean, unknown>
}

export const memoryStore = (maxEntries: number): MarkStore => {
  const marks = new Map<string, number>()
  return {
    mark: (key, ttlSeconds) =>
      Effect.sync(() => {
        marks.delete(key)
        marks.set(key, Date.now() + ttlSeconds * 1000)
        if (marks.size > maxEntries) marks.delete(marks.keys().next().value!)
      }),
    anyMarked: (keys) =>
      Effect.sync(() => {
        const now = Date.now()
        for (const key of keys) {
          const expires = marks.get(key)
          if (expires === undefined) continue
          if (expires > now) return true
          marks.delete(key)
        }
        return false
      })
  }
}

const textOf = (content: unknown): string => {
  if (typeof content === "string") return content
  if (Array.isArray(content)) {
    return content.map((part) =>
      typeof part === "object" && part !== null && typeof (part as { text?: unknown }).text === "string" ? (part as { text: string }).text : ""
    ).join("\n")
  }
  return ""
}

/**
 * The chained hash of each prefix that ends at a user turn: `earlier` for
 * the user turns before the last one, `current` for the whole conversation
 * up to its last user turn.
 */
export const prefixKeys = (
  messages: ReadonlyArray<Record<string, unknown>>
): { readonly earlier: ReadonlyArray<string>; readonly current: string | undefined } => {
  let lastUser = -1
  for (let index = messages.length - 1; index >= 0; index--) {
    if (messages[index]!.role === "user") {
      lastUser = index
      break
    }
  }
  const earlier: Array<string> = []
  let chain = ""
  let current: string | undefined
  for (let index = 0; index <= lastUser; index++) {
    const message = messages[index]!
    chain = createHash("sha256").update(chain).update(String(message.role)).update("\u0000").update(textOf(message.content)).digest("hex")
    if (message.role !== "user") continue
    if (index === lastUser) current = chain
    else earlier.push(chain)
  }
  return { earlier, current }
}

export interface ConversationsShape {
  /** Whether an earlier turn of this conversation went to the strong model. */
  readonly escalated: (messages: ReadonlyArray<Record<string, unknown>>) => Effect.Effect<boolean>
  /** Remember that this turn went to the strong model. */
  readonly markStrong: (messages: ReadonlyArray<Record<string, unknown>>) => Effect.Effect<void>
}

export const make = (config: Config.Conversations, store: MarkStore, prefix: string): ConversationsShape => {
  const keyOf = (hash: string) => `${prefix}:conversation:${hash}`
  return {
    escalated: (messages) => {
      const { earlier } = prefixKeys(messages)
      if (earlier.length === 0) return Effect.succeed(false)
      return store.anyMarked(earlier.map(keyOf)).pipe(
        Effect.catch((error) => Effect.as(Effect.logWarning(`conversations: lookup failed, routing as a new conversation: ${String(error)}`), false))
      )
    },
    markStrong: (messages) => {
      const { current } = prefixKeys(messages)
      if (current === undefined) return Effect.void
      return store.mark(keyOf(current), config.ttlSeconds).pipe(
        Effect.catch((error) => Effect.logWarning(`conversations: could not record a strong turn: ${String(error)}`))
      )
    }
  }
}
