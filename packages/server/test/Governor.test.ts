/**
 * The budget governor: share targets hold while the traffic mix shifts,
 * spend targets become the share their dollars buy, the state survives a
 * restart, and replicas share it through the real Redis on 127.0.0.1:6379.
 */
import { assert, describe, it } from "@effect/vitest"
import { Random } from "@routellm/core"
import { Effect } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { createClient } from "redis"
import * as Governor from "../src/Governor.ts"
import { configFor, openai, serve, standIn } from "./support/Harness.ts"

const ask = (prompt: string) => [{ role: "user" as const, content: prompt }]

/** Win rates of a traffic mix: a share `hard` of prompts score in [0.5, 1), the rest in [0, 0.5). */
const mix = (generator: Random.Generator, hard: number) => () => generator.next() < hard ? 0.5 + 0.5 * generator.next() : 0.5 * generator.next()

/** Run decisions through the governor's state; the realised share over each trailing window after the first. */
const simulate = (window: number, share: number, traffic: (index: number) => number, count: number) => {
  const state = new Governor.State(window, 0.5)
  const goal: Governor.Goal = { _tag: "Share", share }
  const decisions = new Uint8Array(count)
  let worst = 0
  let inWindow = 0
  for (let index = 0; index < count; index++) {
    const score = traffic(index)
    const strong = score >= state.threshold("r", goal)
    state.record("r", score, goal, strong, index)
    decisions[index] = strong ? 1 : 0
    inWindow += decisions[index]!
    if (index >= window) inWindow -= decisions[index - window]!
    if (index >= 2 * window) worst = Math.max(worst, Math.abs(inWindow / window - share))
  }
  return { worst, state }
}

describe("governor arithmetic", () => {
  it("holds the share within 3 points over the window when the traffic mix shifts mid-run", () => {
    const generator = Random.make(11)
    const before = mix(generator, 0.2)
    const after = mix(generator, 0.6)
    for (const share of [0.1, 0.3, 0.5, 0.8]) {
      const { worst } = simulate(500, share, (index) => (index < 3000 ? before() : after()), 6000)
      assert.isBelow(worst, 0.03, `share ${share}`)
    }
    // A fixed threshold, for contrast, swings with the mix: 0.5 sends 20% then 60% to the strong model.
  })

  it("holds it through a jump to disjoint scores, a jump back, and a slow drift", () => {
    const generator = Random.make(12)
    const scenarios: ReadonlyArray<readonly [string, (index: number) => number]> = [
      ["up", (index) => (index < 3000 ? 0.5 * generator.next() : 0.5 + 0.5 * generator.next())],
      ["down", (index) => (index < 3000 ? 0.4 + 0.6 * generator.next() : 0.6 * generator.next())],
      ["drift", (index) => Math.min(1, 0.5 * generator.next() + index / 12_000)]
    ]
    for (const [name, traffic] of scenarios) {
      const { worst } = simulate(1000, 0.3, traffic, 6000)
      assert.isBelow(worst, 0.03, name)
    }
  })

  it("turns a spend rate into the share it buys", () => {
    const state = new Governor.State(200, 0.5)
    const goal: Governor.Goal = { _tag: "Spend", dollarsPerHour: 3600 * (0.3 * 0.01 + 0.7 * 0.001) }
    // Until calls have been costed, the initial share.
    assert.strictEqual(state.shareFor("r", goal), 0.5)
    const generator = Random.make(3)
    for (let index = 0; index < 400; index++) {
      const score = generator.next()
      const strong = score >= state.threshold("r", goal)
      // One request per second: 3600 an hour; a strong call costs $0.01, a weak one $0.001.
      state.record("r", score, goal, strong, index * 1000)
      state.recordCost("r", strong, strong ? 0.01 : 0.001)
    }
    // (dollars per hour / requests per hour - weak) / (strong - weak) = 0.3
    assert.closeTo(state.shareFor("r", goal), 0.3, 1e-9)
    const actual = state.targetOf("r", "spend").actualShare()!
    assert.closeTo(actual, 0.3, 0.05)
    const spend = state.gauges().find((reading) => reading.name === "routellm_governor_spend_dollars_per_hour")!
    assert.closeTo(spend.value, 3600 * (actual * 0.01 + (1 - actual) * 0.001), 1e-9)
  })

  it("keeps its windows bounded and restores them from a snapshot", () => {
    const { state } = simulate(100, 0.3, () => 0.5, 1000)
    // Without shared storage nothing waits to be pushed (memory stays bounded however long it runs).
    assert.strictEqual(state.pendingScores.size + state.pendingDecisions.size, 0)
    const shared = new Governor.State(100, 0.5, true)
    shared.record("r", 0.5, { _tag: "Share", share: 0.3 }, true, 0)
    assert.deepStrictEqual(shared.pendingScores.get("r"), [[0.5, 0]])
    const snapshot = state.snapshot()
    assert.strictEqual(snapshot.decisions.r!.s30!.length, 100)
    assert.strictEqual(snapshot.scores.r!.length, state.scoreCapacity)
    const restored = new Governor.State(100, 0.5)
    restored.restore(JSON.parse(JSON.stringify(snapshot)))
    assert.deepStrictEqual(restored.snapshot(), snapshot)
    assert.strictEqual(
      restored.threshold("r", { _tag: "Share", share: 0.3 }),
      state.threshold("r", { _tag: "Share", share: 0.3 })
    )
  })
})

/** Ask the server `count` times with win rates from `traffic`; returns the models chosen. */
const drive = (url: string, model: string, traffic: () => number, count: number, concurrency = 4) =>
  Effect.promise(async () => {
    const chosen: Array<string> = new Array(count)
    let next = 0
    await Promise.all(Array.from({ length: concurrency }, async () => {
      for (let index = next++; index < count; index = next++) {
        const response = await fetch(`${url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model, messages: ask(`winrate=${traffic().toFixed(6)} q${index}`) })
        })
        await response.arrayBuffer()
        chosen[index] = response.headers.get("x-routellm-model")!
      }
    }))
    return chosen
  })

const gauge = (text: string, name: string, router: string, target: string) => {
  const line = text.split("\n").find((entry) => entry.startsWith(`${name}{router="${router}",target="${target}"} `))
  return line === undefined ? undefined : Number(line.split(" ").pop())
}

const metricsOf = (url: string) => Effect.promise(() => fetch(`${url}/metrics`).then((response) => response.text()))

describe("governor in the server", () => {
  it.live("router-<name>-s30 holds 30% strong calls while the traffic mix shifts; /metrics shows target and actual share", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong", { tokens: 1 })
      const weak = yield* standIn("weak", { tokens: 1 })
      const window = 200
      const { server } = yield* serve(configFor(strong, weak, { governor: { window }, requestLog: false }))
      const generator = Random.make(21)
      const before = yield* drive(server.url, "router-fixed-s30", mix(generator, 0.15), 600)
      const after = yield* drive(server.url, "router-fixed-s30", mix(generator, 0.7), 600)
      const all = [...before, ...after]
      let worst = 0
      for (let end = 2 * window; end <= all.length; end++) {
        const share = all.slice(end - window, end).filter((model) => model === "strong-model").length / window
        worst = Math.max(worst, Math.abs(share - 0.3))
      }
      // Requests run 4 at a time, so decisions interleave a little (the order of `all` is the order they were sent).
      assert.isBelow(worst, 0.03)
      const text = yield* metricsOf(server.url)
      assert.strictEqual(gauge(text, "routellm_governor_target_share", "fixed", "s30"), 0.3)
      const actual = gauge(text, "routellm_governor_actual_share", "fixed", "s30")!
      assert.closeTo(actual, all.slice(-window).filter((model) => model === "strong-model").length / window, 1e-12)
      assert.strictEqual(gauge(text, "routellm_governor_window_decisions", "fixed", "s30"), window)
      // With 70% hard prompts, 30% strong needs a threshold in the hard range.
      assert.isAbove(gauge(text, "routellm_governor_threshold", "fixed", "s30")!, 0.5)
    }))

  it.live("the state survives a restart (statePath)", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong", { tokens: 1 })
      const weak = yield* standIn("weak", { tokens: 1 })
      const directory = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-governor-")))
      const config = configFor(strong, weak, { governor: { window: 200, statePath: "state/governor.json", syncIntervalMs: 60_000 } })
      const generator = Random.make(5)
      let before = ""
      yield* Effect.scoped(Effect.gen(function*() {
        const { server } = yield* serve(config, directory)
        yield* drive(server.url, "router-fixed-s20", () => 0.9 * generator.next(), 250)
        before = yield* metricsOf(server.url)
      }))
      // Written at shutdown.
      const saved = JSON.parse(yield* Effect.promise(() => Fs.readFile(Path.join(directory, "state/governor.json"), "utf8"))) as Governor.Snapshot
      assert.strictEqual(saved.decisions.fixed!.s20!.length, 200)
      const { server } = yield* serve(config, directory)
      const after = yield* metricsOf(server.url)
      // Before any new request the restarted server reports the same window.
      assert.strictEqual(gauge(after, "routellm_governor_window_decisions", "fixed", "s20"), 200)
      assert.strictEqual(
        gauge(after, "routellm_governor_actual_share", "fixed", "s20"),
        gauge(before, "routellm_governor_actual_share", "fixed", "s20")
      )
      // And steers from it: the next threshold is the quantile of the restored scores, not the cold-start prior (0.8).
      const next = yield* Effect.promise(() =>
        openai(server.url).chat.completions.create({ model: "router-fixed-s20", messages: ask("winrate=0.5") }).withResponse()
      )
      const threshold = Number(next.response.headers.get("x-routellm-threshold"))
      assert.isBelow(threshold, 0.8)
      assert.closeTo(threshold, gauge(before, "routellm_governor_threshold", "fixed", "s20")!, 0.15)
    }))

  it.live("replicas share the window through Redis; a new replica starts from it", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong", { tokens: 1 })
      const weak = yield* standIn("weak", { tokens: 1 })
      const prefix = `routellm-test-${process.pid}-${Date.now()}`
      const redis = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const client = createClient({ url: "redis://127.0.0.1:6379" })
          await client.connect()
          return client
        }),
        (client) =>
          Effect.promise(async () => {
            for await (const keys of client.scanIterator({ MATCH: `${prefix}:*` })) if (keys.length > 0) await client.del(keys)
            await client.close()
          })
      )
      const config = configFor(strong, weak, {
        governor: { window: 200, syncIntervalMs: 20 },
        redis: { url: "redis://127.0.0.1:6379", prefix },
        conversations: { escalateOnly: true }
      })
      const { server: first } = yield* serve(config)
      const { server: second } = yield* serve(config)
      const generator = Random.make(8)
      // Alternate the two replicas.
      for (let round = 0; round < 6; round++) {
        yield* drive(round % 2 === 0 ? first.url : second.url, "router-fixed-s40", () => generator.next(), 50, 2)
      }
      yield* Effect.sleep(100)
      const decisionsKey = `${prefix}:governor:decisions:fixed:s40`
      assert.strictEqual(yield* Effect.promise(() => redis.lLen(decisionsKey)), 200)
      const [one, two] = [yield* metricsOf(first.url), yield* metricsOf(second.url)]
      // Both replicas see the same merged window of 200 of the 300 decisions.
      assert.strictEqual(gauge(one, "routellm_governor_window_decisions", "fixed", "s40"), 200)
      assert.strictEqual(
        gauge(one, "routellm_governor_actual_share", "fixed", "s40"),
        gauge(two, "routellm_governor_actual_share", "fixed", "s40")
      )
      const shared = (yield* Effect.promise(() => redis.lRange(decisionsKey, 0, -1))).map((entry) => Number(entry.split(":")[0]))
      assert.closeTo(gauge(one, "routellm_governor_actual_share", "fixed", "s40")!, shared.reduce((sum, value) => sum + value, 0) / 200, 1e-12)
      // A replica started now takes the shared window over at once.
      const { server: third } = yield* serve(config)
      const three = yield* metricsOf(third.url)
      assert.strictEqual(gauge(three, "routellm_governor_window_decisions", "fixed", "s40"), 200)
      // Conversation marks are shared too: a conversation escalated on one replica stays strong on another.
      const conversation = [{ role: "user" as const, content: "winrate=0.99 hard" }]
      const turn1 = yield* Effect.promise(() => openai(first.url).chat.completions.create({ model: "router-fixed-0.5", messages: conversation }))
      assert.strictEqual(turn1.model, "strong-model")
      const turn2 = yield* Effect.promise(() =>
        openai(third.url).chat.completions.create({
          model: "router-fixed-0.5",
          messages: [...conversation, { role: "assistant", content: "a" }, { role: "user", content: "winrate=0.01 easy" }]
        })
      )
      assert.strictEqual(turn2.model, "strong-model")
    }))
})
