import { assert, describe, it } from "@effect/vitest"
import { Files } from "@routellm/core"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Config from "../src/Config.ts"
import { chooseCandidate, parseRouterModel, Routing } from "../src/Routing.ts"
import { rewriteEvent } from "../src/Server.ts"
import { services } from "./support/Harness.ts"

const valid = {
  strong: "gpt-4-1106-preview",
  weak: "mixtral-8x7b",
  routers: { random: { uses: "router/random", with: { seed: 0 } } },
  upstreams: {
    "gpt-4-1106-preview": { baseURL: "http://127.0.0.1:9001/v1", apiKeyEnv: "STRONG_API_KEY", model: "gpt-4-1106-preview" },
    "mixtral-8x7b": { baseURL: "http://127.0.0.1:9002/v1", apiKeyEnv: "WEAK_API_KEY", model: "mistralai/Mixtral-8x7B-Instruct-v0.1" }
  }
}
const environment = { STRONG_API_KEY: "sk-a-long-key", WEAK_API_KEY: "sk-b-long-key" }

const issuesOf = (raw: unknown, env: NodeJS.ProcessEnv = environment) =>
  Config.decode(raw, "serve.yaml", env).pipe(
    Effect.flip,
    Effect.map((error) => error.issues)
  )

describe("serve config", () => {
  it.effect("accepts the issue's example and fills the defaults", () =>
    Effect.gen(function*() {
      const config = yield* Config.decode(valid, "serve.yaml", environment)
      assert.strictEqual(config.routeOn, "last")
      assert.deepStrictEqual(config.retry, { attempts: 2, initialDelayMs: 250, maxDelayMs: 4000, retryAfterLimitMs: 5000 })
      assert.strictEqual(config.streamIdleTimeoutMs, 60_000)
      assert.strictEqual(config.requestLog, true)
      assert.isUndefined(config.cors)
      assert.deepStrictEqual(config.governor, { window: 1000, syncIntervalMs: 1000, initialShare: 0.5 })
      assert.strictEqual(config.maxBodyBytes, 4 * 1024 * 1024)
    }).pipe(Effect.provide(Files.layer)))

  it.effect("names the failing field for type errors", () =>
    Effect.gen(function*() {
      const issues = yield* issuesOf({
        ...valid,
        upstreams: { ...valid.upstreams, "mixtral-8x7b": { baseURL: 42 } },
        retry: { attempts: -1 },
        routeOn: "middle"
      })
      const paths = issues.map((issue) => issue.path)
      assert.include(paths, "upstreams.mixtral-8x7b.baseURL")
      assert.include(paths, "retry.attempts")
      assert.include(paths, "routeOn")
    }).pipe(Effect.provide(Files.layer)))

  it.effect("rejects unknown fields", () =>
    Effect.gen(function*() {
      const issues = yield* issuesOf({ ...valid, upstream: {} })
      assert.deepStrictEqual(issues.map((issue) => issue.path), ["upstream"])
    }).pipe(Effect.provide(Files.layer)))

  it.effect("checks that every model has an upstream and every named variable is set", () =>
    Effect.gen(function*() {
      const issues = yield* issuesOf(
        {
          ...valid,
          strong: "gpt-5",
          routers: {
            random: { uses: "router/random" },
            empty: {},
            multi: { uses: "router/random", candidates: { "mixtral-8x7b": { price: 1 }, "claude-2": { price: 2 } } }
          },
          upstreams: { ...valid.upstreams, local: { baseURL: "ftp://x" } },
          authTokenEnv: "NOT_SET_TOKEN"
        },
        { STRONG_API_KEY: "sk-a-long-key" }
      )
      const byPath = new Map(issues.map((issue) => [issue.path, issue.message]))
      assert.include(byPath.get("strong"), "\"gpt-5\" has no upstream")
      assert.include(byPath.get("routers.empty"), "needs `uses`")
      assert.include(byPath.get("routers.multi.candidates.claude-2"), "has no upstream")
      assert.include(byPath.get("upstreams.local.baseURL"), "not an http(s) URL")
      assert.include(byPath.get("upstreams.mixtral-8x7b.apiKeyEnv"), "WEAK_API_KEY is not set")
      assert.include(byPath.get("authTokenEnv"), "NOT_SET_TOKEN is not set")
      assert.isFalse(byPath.has("weak"))
    }).pipe(Effect.provide(Files.layer)))

  it.effect("the shipped examples/serve.yaml is a valid config, with prices for costs and spend targets", () =>
    Effect.gen(function*() {
      const file = Path.join(import.meta.dirname, "../../../examples/serve.yaml")
      const config = yield* Config.load(file, { OPENAI_API_KEY: "sk-example-1", TOGETHER_API_KEY: "sk-example-2" })
      assert.deepStrictEqual(config.upstreams["gpt-4-1106-preview"]!.price, { inputPerMillion: 10, outputPerMillion: 30 })
      assert.strictEqual(config.upstreams["mixtral-8x7b"]!.model, "mistralai/Mixtral-8x7B-Instruct-v0.1")
    }).pipe(Effect.provide(Files.layer)))

  it.effect("loads YAML files and reports their name", () =>
    Effect.gen(function*() {
      const directory = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-serve-")))
      const file = Path.join(directory, "serve.yaml")
      yield* Effect.promise(() =>
        Fs.writeFile(
          file,
          [
            "strong: gpt-4-1106-preview",
            "weak: mixtral-8x7b",
            "routers:",
            "  random: { uses: router/random, with: { seed: 0 } }",
            "upstreams:",
            "  gpt-4-1106-preview: { baseURL: \"http://127.0.0.1:9001/v1\", apiKeyEnv: STRONG_API_KEY, model: gpt-4-1106-preview }",
            "  mixtral-8x7b: { baseURL: \"http://127.0.0.1:9002/v1\", apiKeyEnv: WEAK_API_KEY, model: mistralai/Mixtral-8x7B-Instruct-v0.1 }",
            ""
          ].join("\n")
        )
      )
      const config = yield* Config.load(file, environment)
      assert.strictEqual(config.upstreams["mixtral-8x7b"]!.model, "mistralai/Mixtral-8x7B-Instruct-v0.1")
      yield* Effect.promise(() => Fs.writeFile(file, "strong: [unclosed"))
      const error = yield* Effect.flip(Config.load(file, environment))
      assert.include(error.message, file)
    }).pipe(Effect.provide(Files.layer)))

  it.effect("a router's plugin config is checked by the plugin's Schema, and candidates need modelScores", () =>
    Effect.gen(function*() {
      const badSeed = yield* Effect.flip(
        Effect.scoped(Layer.build(
          Routing.layer(
            yield* Config.decode({ ...valid, routers: { random: { uses: "router/random", with: { seed: "x" } } } }, "t", environment),
            "."
          ).pipe(Layer.provide(services))
        ))
      )
      assert.include(badSeed.message, "routers.random")
      assert.include(badSeed.message, "seed")
      const noScores = yield* Effect.flip(
        Effect.scoped(Layer.build(
          Routing.layer(
            yield* Config.decode(
              {
                ...valid,
                routers: {
                  random: { uses: "router/random", candidates: { "mixtral-8x7b": { price: 1 }, "gpt-4-1106-preview": { price: 30 } } }
                }
              },
              "t",
              environment
            ),
            "."
          ).pipe(Layer.provide(services))
        ))
      )
      assert.include(noScores.message, "routers.random.candidates")
      assert.include(noScores.message, "modelScores")
    }).pipe(Effect.provide(Files.layer)))
})

describe("routing helpers", () => {
  it("splits router-<name>-<threshold> with the longest configured name", () => {
    const names = ["mf", "mf-big", "sw"]
    assert.deepStrictEqual(parseRouterModel("router-mf-0.3", names), { name: "mf", thresholdText: "0.3" })
    assert.deepStrictEqual(parseRouterModel("router-mf-big-0.3", names), { name: "mf-big", thresholdText: "0.3" })
    assert.deepStrictEqual(parseRouterModel("router-sw-1e-3", names), { name: "sw", thresholdText: "1e-3" })
    assert.isUndefined(parseRouterModel("router-bert-0.5", names))
  })

  it("multi-model choice reduces to the two-model rule with two candidates", () => {
    // sigmoid(s_strong - s_weak) is the strong win rate: strong exactly when it is >= threshold.
    for (const [difference, threshold] of [[0.4, 0.5], [-0.4, 0.5], [1, 0.73], [1, 0.74], [0, 0.5]] as const) {
      const winRate = 1 / (1 + Math.exp(-difference))
      const choice = chooseCandidate([0, difference], threshold)
      assert.strictEqual(choice.index, winRate >= threshold ? 1 : 0, `${difference} ${threshold}`)
      assert.closeTo(choice.winRate, winRate, 1e-12)
    }
    // Threshold 0 always takes the priciest, threshold above every win rate the cheapest.
    assert.strictEqual(chooseCandidate([3, 0, -1], 0).index, 2)
    assert.strictEqual(chooseCandidate([0, 1, 2], 0.999).index, 0)
  })

  it("rewrites model in SSE data lines only", () => {
    const event = "event: x\ndata: {\"id\":\"a\",\"model\":\"upstream/m\",\"choices\":[]}"
    assert.deepStrictEqual(rewriteEvent(event, "weak"), {
      text: "event: x\ndata: {\"id\":\"a\",\"model\":\"weak\",\"choices\":[]}",
      done: false,
      usage: undefined
    })
    assert.deepStrictEqual(rewriteEvent("data: [DONE]", "weak"), { text: "data: [DONE]", done: true, usage: undefined })
    assert.deepStrictEqual(rewriteEvent(": keep-alive", "weak"), { text: ": keep-alive", done: false, usage: undefined })
    // The usage-only chunk the router asked for itself is read, then dropped; usage fields are removed.
    const usageChunk = "data: {\"id\":\"a\",\"model\":\"up\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10}}"
    assert.deepStrictEqual(rewriteEvent(usageChunk, "weak", true), { text: undefined, done: false, usage: { promptTokens: 7, completionTokens: 3 } })
    assert.deepStrictEqual(rewriteEvent(usageChunk, "weak", false).usage, { promptTokens: 7, completionTokens: 3 })
    assert.include(rewriteEvent(usageChunk, "weak", false).text!, "\"usage\"")
    const contentChunk = "data: {\"model\":\"up\",\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"usage\":null}"
    assert.deepStrictEqual(rewriteEvent(contentChunk, "weak", true).text, "data: {\"model\":\"weak\",\"choices\":[{\"delta\":{\"content\":\"x\"}}]}")
  })
})
