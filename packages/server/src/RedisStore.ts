/**
 * Redis behind the governor's shared windows and the conversation marks, on
 * node-redis (the project has no @effect/platform-node: it declares Node >=
 * 22.19). The module is imported only when a config names Redis, so a server
 * without it never loads the Redis client.
 */
import { Effect, type Scope } from "effect"
import { createClient } from "redis"
import type * as Config from "./Config.ts"
import type { MarkStore } from "./Conversations.ts"
import type { SharedStore } from "./Governor.ts"

export interface RedisStores {
  readonly shared: SharedStore
  readonly marks: MarkStore
}

const encode = ([value, time]: readonly [number, number]) => `${value}:${time}`

const decode = (text: string): readonly [number, number] | undefined => {
  const at = text.indexOf(":")
  const value = Number(text.slice(0, at))
  const time = Number(text.slice(at + 1))
  return at > 0 && Number.isFinite(value) && Number.isFinite(time) ? [value, time] : undefined
}

/** Connect (failing when Redis is not reachable) for the rest of the scope. */
export const make = Effect.fn("RedisStore.make")(function*(config: Config.Redis): Effect.fn.Return<RedisStores, unknown, Scope.Scope> {
  const client = yield* Effect.acquireRelease(
    Effect.tryPromise(async () => {
      // Give up on the first connection error at start; reconnect with backoff once connected.
      let ready = false
      const created = createClient({
        url: config.url,
        socket: { connectTimeout: 5000, reconnectStrategy: (retries, cause) => (ready ? Math.min(2 ** retries * 50, 2000) : cause) }
      })
      // node-redis rethrows `error` events without a listener; command failures still reach the callers.
      created.on("error", () => {})
      await created.connect()
      ready = true
      return created
    }),
    (created) => Effect.promise(() => created.close().catch(() => undefined))
  )
  const redis = {
    use: <A>(f: (connected: typeof client) => Promise<A>) => Effect.tryPromise({ try: () => f(client), catch: (cause) => cause })
  }

  const shared: SharedStore = {
    exchange: (lists) =>
      redis.use(async (client) => {
        const multi = client.multi()
        for (const list of lists) {
          if (list.entries.length > 0) multi.lPush(list.key, list.entries.map(encode))
          multi.lTrim(list.key, 0, list.capacity - 1)
          multi.lRange(list.key, 0, list.capacity - 1)
        }
        const replies = (await multi.exec()) as unknown as ReadonlyArray<unknown>
        const ranges: Array<ReadonlyArray<readonly [number, number]>> = []
        let reply = 0
        for (const list of lists) {
          reply += list.entries.length > 0 ? 2 : 1
          const newestFirst = replies[reply++] as ReadonlyArray<string>
          const entries: Array<readonly [number, number]> = []
          for (let index = newestFirst.length - 1; index >= 0; index--) {
            const entry = decode(newestFirst[index]!)
            if (entry !== undefined) entries.push(entry)
          }
          ranges.push(entries)
        }
        return ranges
      }),
    keys: (prefix) =>
      redis.use(async (client) => {
        const found: Array<string> = []
        let cursor = "0"
        do {
          const [next, keys] = (await client.sendCommand(["SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", "200"])) as [string, Array<string>]
          found.push(...keys)
          cursor = next
        } while (cursor !== "0")
        return found
      })
  }

  const marks: MarkStore = {
    mark: (key, ttlSeconds) => redis.use((client) => client.set(key, "1", { EX: ttlSeconds })).pipe(Effect.asVoid),
    anyMarked: (keys) =>
      keys.length === 0
        ? Effect.succeed(false)
        : redis.use((client) => client.mGet([...keys])).pipe(Effect.map((values) => values.some((value) => value !== null)))
  }
  return { shared, marks }
})
