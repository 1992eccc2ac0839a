/**
 * Defect 1: a 3.9 MB prompt to an embedding router must not block the
 * server (health checks and other requests keep being answered) nor blow up
 * its memory. The router scores at most `maxRouteChars` of the prompt.
 */
import { assert, describe, it } from "@effect/vitest"
import { ArtifactStore, PluginRegistry } from "@routellm/core"
import * as Embedders from "@routellm/embedders"
import { Context, Effect, Layer, References } from "effect"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Config from "../src/Config.ts"
import { Metrics } from "../src/Metrics.ts"
import { Routing } from "../src/Routing.ts"
import { Server } from "../src/Server.ts"
import { configFor, environment, standIn } from "./support/Harness.ts"
import * as TestRouter from "./support/TestRouter.ts"

const chat = (url: string, model: string, content: string) =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content }] })
  }).then(async (response) => ({ status: response.status, model: response.headers.get("x-routellm-model") }))

describe("defect 1: a huge prompt", () => {
  it.live("to an embedding router is scored on its first maxRouteChars only, while health checks and other requests go on", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong", { tokens: 1 })
      const weak = yield* standIn("weak", { tokens: 1 })
      const base = configFor(strong, weak, { maxBodyBytes: 8 * 1024 * 1024 })
      const config = yield* Config.decode(
        {
          ...base,
          routers: { ...base.routers, embedded: { uses: "test/embedding", with: { embedder: { uses: "embedder/use-lite", with: { threads: 1 } } } } }
        },
        "test",
        environment
      )
      const context = yield* Layer.build(
        Server.layer({ port: 0, host: "127.0.0.1", environment }).pipe(
          Layer.provideMerge(Layer.mergeAll(Routing.layer(config, process.cwd()), Metrics.layer)),
          Layer.provide(Layer.mergeAll(
            PluginRegistry.PluginRegistry.layer([...TestRouter.plugins, TestRouter.embeddingPlugin, ...Embedders.plugins]),
            ArtifactStore.ArtifactStore.layerAt(Path.join(Os.tmpdir(), "routellm-server-test-cache"))
          ))
        )
      ).pipe(Effect.provideService(References.MinimumLogLevel, "None"))
      const server = Context.get(context, Server)
      // Warm: the embedding model is loaded by the first prompt.
      const warm = yield* Effect.promise(() => chat(server.url, "router-embedded-0.5", "hello"))
      assert.strictEqual(warm.status, 200)
      TestRouter.embeddedPromptLengths.length = 0

      const huge = "Please summarise the following log. " + "lorem ipsum dolor sit amet ".repeat(145_000) // about 3.9 MB
      assert.isAbove(huge.length, 3_900_000)
      global.gc?.()
      const rssBefore = process.memoryUsage().rss
      const { big, probes, others } = yield* Effect.promise(async () => {
        let done = false
        const big = chat(server.url, "router-embedded-0.5", huge).finally(() => (done = true))
        const probes: Array<number> = []
        const others: Array<string | null> = []
        // Health checks and small routed requests while the huge one is in flight (and a few after).
        while (!done || probes.length < 3) {
          probes.push((await fetch(`${server.url}/health`)).status)
          others.push((await chat(server.url, "router-fixed-0.5", "winrate=0.9 small")).model)
        }
        return { big: await big, probes, others }
      })
      const rssAfter = process.memoryUsage().rss
      assert.strictEqual(big.status, 200)
      assert.include(["strong-model", "weak-model"], big.model)
      assert.isTrue(probes.every((status) => status === 200))
      assert.isTrue(others.every((model) => model === "strong-model"))
      // The router saw the capped text, not 3.9 MB.
      assert.deepStrictEqual(TestRouter.embeddedPromptLengths, [config.maxRouteChars])
      // A few copies of the body at most (it is read, parsed and forwarded), not a gigabyte.
      assert.isBelow(rssAfter - rssBefore, 300 * 1024 * 1024)
    }))
})
