import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import * as Os from "node:os"
import * as Path from "node:path"
import { NotFoundError } from "openai"
import { RouteLLM, RouteLLMClient } from "../src/Client.ts"
import * as Config from "../src/Config.ts"
import { configFor, environment, failure, services, standIn } from "./support/Harness.ts"
import * as TestRouter from "./support/TestRouter.ts"
import { tokensOf } from "./support/UpstreamStandIn.ts"

const ask = (prompt: string) => [{ role: "user" as const, content: prompt }]

describe("RouteLLM (promise client)", () => {
  it.live("routes in-process and calls the chosen upstream with the openai client, streaming and not", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong")
      const weak = yield* standIn("weak", { tokens: 30 })
      const client = new RouteLLM({
        config: configFor(strong, weak),
        plugins: TestRouter.plugins,
        environment,
        cacheDirectory: Path.join(Os.tmpdir(), "routellm-client-test-cache")
      })
      yield* Effect.addFinalizer(() => Effect.promise(() => client.close()))
      const completion = yield* Effect.promise(() =>
        client.chat.completions.create({ model: "router-fixed-0.5", messages: ask("winrate=0.6"), temperature: 0 })
      )
      assert.strictEqual(completion.model, "strong-model")
      assert.strictEqual(completion.choices[0]!.message.content, tokensOf("strong", 8).join(""))
      assert.deepStrictEqual(strong.received[0]!.body, { model: "upstream/strong-1", messages: ask("winrate=0.6"), temperature: 0 })
      assert.strictEqual(strong.received[0]!.headers.authorization, `Bearer ${environment.STRONG_KEY}`)

      const stream = yield* Effect.promise(() => client.chat.completions.create({ model: "router-fixed-0.5", messages: ask("winrate=0.2"), stream: true }))
      const pieces: Array<string> = []
      yield* Effect.promise(async () => {
        for await (const chunk of stream) {
          assert.strictEqual(chunk.model, "weak-model")
          const content = chunk.choices[0]?.delta.content
          if (content) pieces.push(content)
        }
      })
      assert.deepStrictEqual(pieces, tokensOf("weak", 30))

      const decision = yield* Effect.promise(() => client.route({ model: "router-fixed-0.9", messages: ask("winrate=0.95") }))
      assert.strictEqual(decision.model, "strong-model")
      assert.strictEqual(decision.winRate, 0.95)

      const unknown = yield* failure(() => client.chat.completions.create({ model: "router-none-0.5", messages: ask("x") }))
      assert.include(String(unknown), "unknown router")
    }))

  it.live("rejects with the openai package's errors for upstream failures", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong")
      const weak = yield* standIn("weak", { errorStatus: 404 })
      const client = new RouteLLM({ config: configFor(strong, weak), plugins: TestRouter.plugins, environment })
      yield* Effect.addFinalizer(() => Effect.promise(() => client.close()))
      const error = yield* failure(() => client.chat.completions.create({ model: "weak-model", messages: ask("x") }))
      assert.instanceOf(error, NotFoundError)
    }))
})

describe("RouteLLMClient (Effect service)", () => {
  it.live("creates and streams completions", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong", { tokens: 12 })
      const weak = yield* standIn("weak")
      const config = yield* Config.decode(configFor(strong, weak), "test", environment)
      yield* Effect.gen(function*() {
        const client = yield* RouteLLMClient
        const { completion, decision } = yield* client.create({ model: "router-fixed-0.5", messages: ask("winrate=0.3") })
        assert.strictEqual(decision.model, "weak-model")
        assert.strictEqual(completion.model, "weak-model")
        const streamed = yield* client.stream({ model: "router-fixed-0.5", messages: ask("winrate=0.8") })
        assert.strictEqual(streamed.decision.model, "strong-model")
        const chunks = yield* Stream.runCollect(streamed.chunks)
        const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("")
        assert.strictEqual(text, tokensOf("strong", 12).join(""))
        const failed = yield* Effect.flip(client.create({ model: "router-fixed-7", messages: ask("x") }))
        assert.strictEqual(failed._tag, "InvalidRequestError")
      }).pipe(Effect.provide(RouteLLMClient.layer(config, { environment }).pipe(Layer.provide(services))))
    }))
})
