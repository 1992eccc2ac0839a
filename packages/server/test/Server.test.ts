import { assert, describe, it } from "@effect/vitest"
import { Random } from "@routellm/core"
import { Context, Effect, Exit, Layer, References, Scope } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { APIError } from "openai"
import * as Config from "../src/Config.ts"
import { Server } from "../src/Server.ts"
import { configFor, environment, failure, openai, serve, serverLayer, standIn } from "./support/Harness.ts"
import { tokensOf } from "./support/UpstreamStandIn.ts"

const ask = (prompt: string) => [{ role: "user" as const, content: prompt }]

describe("routing", () => {
  it.live("routes to the strong or weak upstream by threshold and forwards the body unchanged except model", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong")
      const weak = yield* standIn("weak")
      const { server } = yield* serve(configFor(strong, weak))
      const client = openai(server.url)
      const prompt = "winrate=0.7 explain monads"
      const high = yield* Effect.promise(() =>
        client.chat.completions.create({ model: "router-fixed-0.5", messages: ask(prompt), temperature: 0.25, max_tokens: 17 })
          .withResponse()
      )
      // 0.7 >= 0.5: strong.
      assert.strictEqual(high.data.model, "strong-model")
      assert.strictEqual(high.response.headers.get("x-routellm-model"), "strong-model")
      assert.strictEqual(high.response.headers.get("x-routellm-win-rate"), "0.7")
      assert.strictEqual(high.data.choices[0]!.message.content, tokensOf("strong", 8).join(""))
      assert.deepStrictEqual(strong.received[0]!.body, {
        model: "upstream/strong-1",
        messages: ask(prompt),
        temperature: 0.25,
        max_tokens: 17
      })
      assert.strictEqual(strong.received[0]!.headers.authorization, `Bearer ${environment.STRONG_KEY}`)
      // 0.7 < 0.8: weak.
      const low = yield* Effect.promise(() => client.chat.completions.create({ model: "router-fixed-0.8", messages: ask(prompt) }).withResponse())
      assert.strictEqual(low.data.model, "weak-model")
      assert.strictEqual(low.response.headers.get("x-routellm-model"), "weak-model")
      assert.strictEqual(weak.received[0]!.body.model, "upstream/weak-1")
      assert.strictEqual(weak.received[0]!.headers.authorization, `Bearer ${environment.WEAK_KEY}`)
      // Thresholds 0 and 1 are valid: 0 always routes strong.
      const zero = yield* Effect.promise(() => client.chat.completions.create({ model: "router-fixed-0", messages: ask("winrate=0.01") }))
      assert.strictEqual(zero.model, "strong-model")
    }))

  it.live("router/random with a seed decides as its hash says", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong")
      const weak = yield* standIn("weak")
      const { server } = yield* serve(configFor(strong, weak))
      const client = openai(server.url)
      const prompts = Array.from({ length: 12 }, (_, index) => `question number ${index}`)
      for (const prompt of prompts) {
        const answer = yield* Effect.promise(() => client.chat.completions.create({ model: "router-random-0.5", messages: ask(prompt) }).withResponse())
        const expected = Random.hashUniform(7, prompt) >= 0.5 ? "strong-model" : "weak-model"
        assert.strictEqual(answer.data.model, expected, prompt)
        assert.strictEqual(Number(answer.response.headers.get("x-routellm-win-rate")), Random.hashUniform(7, prompt))
      }
      assert.strictEqual(strong.received.length + weak.received.length, prompts.length)
      assert.isAbove(strong.received.length, 0)
      assert.isAbove(weak.received.length, 0)
    }))

  it.live("routes on the last user turn by default and on the first when configured; plain model names pass through", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong")
      const weak = yield* standIn("weak")
      const { server } = yield* serve(configFor(strong, weak))
      const client = openai(server.url)
      const messages = [
        { role: "system" as const, content: "winrate=1.0 system prompts are not routed on" },
        { role: "user" as const, content: "winrate=0.9 first" },
        { role: "assistant" as const, content: "ok" },
        { role: "user" as const, content: [{ type: "text" as const, text: "winrate=0.1 last" }] }
      ]
      const last = yield* Effect.promise(() => client.chat.completions.create({ model: "router-fixed-0.5", messages }))
      assert.strictEqual(last.model, "weak-model")
      const first = yield* Effect.promise(() => client.chat.completions.create({ model: "router-fixed-first-0.5", messages }))
      assert.strictEqual(first.model, "strong-model")
      const direct = yield* Effect.promise(() => client.chat.completions.create({ model: "weak-model", messages: ask("winrate=1") }).withResponse())
      assert.strictEqual(direct.data.model, "weak-model")
      assert.strictEqual(direct.response.headers.get("x-routellm-model"), "weak-model")
      assert.isNull(direct.response.headers.get("x-routellm-win-rate"))
      assert.strictEqual(weak.received.length, 2)
    }))

  it.live("multi-model routers pick the cheapest candidate no pricier one beats with probability >= threshold", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong")
      const weak = yield* standIn("weak")
      const mid = yield* standIn("mid")
      const base = configFor(strong, weak)
      const { server } = yield* serve({
        ...base,
        upstreams: { ...base.upstreams, "mid-model": { baseURL: mid.baseURL } },
        routers: {
          multi: {
            uses: "test/fixed",
            candidates: {
              "strong-model": { price: 10, scoreName: "big" },
              "weak-model": { price: 0.1, scoreName: "small" },
              "mid-model": { price: 1, scoreName: "medium" }
            }
          }
        }
      })
      const client = openai(server.url)
      // Scores (logits): small 0, medium 1, big 1.5. sigmoid(1) = 0.731, sigmoid(1.5) = 0.818, sigmoid(0.5) = 0.622.
      const prompt = "scores=small:0,medium:1,big:1.5"
      const expectations: ReadonlyArray<readonly [number, string]> = [
        [0.5, "strong-model"], // small is beaten by medium (0.731), medium by big (0.622)
        [0.7, "mid-model"], // small beaten by medium (0.731 >= 0.7); medium not by big (0.622)
        [0.8, "mid-model"], // small beaten by big (0.818)
        [0.85, "weak-model"] // nothing beats small with 0.85
      ]
      for (const [threshold, expected] of expectations) {
        const answer = yield* Effect.promise(() => client.chat.completions.create({ model: `router-multi-${threshold}`, messages: ask(prompt) }).withResponse())
        assert.strictEqual(answer.data.model, expected, `threshold ${threshold}`)
        // The reported win rate is the priciest candidate's over the cheapest: sigmoid(1.5).
        assert.closeTo(Number(answer.response.headers.get("x-routellm-win-rate")), 1 / (1 + Math.exp(-1.5)), 1e-12)
      }
      assert.strictEqual(mid.received[0]!.body.model, "mid-model")
    }))

  it.live("loads a trained router from an artifact directory", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong")
      const weak = yield* standIn("weak")
      const directory = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-artifact-")))
      yield* Effect.promise(() =>
        Fs.writeFile(
          Path.join(directory, "output.json"),
          JSON.stringify({ uses: "test/fixed", kind: "router", config: { fallback: 0.1 }, value: { offset: 0.3 } })
        )
      )
      const { server } = yield* serve({ ...configFor(strong, weak), routers: { trained: { artifact: directory } } })
      const client = openai(server.url)
      // The trained offset 0.3 lifts 0.3 to 0.6 >= 0.5; without it the prompt would go weak.
      const answer = yield* Effect.promise(() => client.chat.completions.create({ model: "router-trained-0.5", messages: ask("winrate=0.3") }).withResponse())
      assert.strictEqual(answer.data.model, "strong-model")
      assert.closeTo(Number(answer.response.headers.get("x-routellm-win-rate")), 0.6, 1e-12)
      // The artifact's config (fallback 0.1, plus the offset) applies to prompts without a win rate.
      const fallback = yield* Effect.promise(() => client.chat.completions.create({ model: "router-trained-0.5", messages: ask("no hint") }))
      assert.strictEqual(fallback.model, "weak-model")
    }))
})

describe("streaming", () => {
  it.live("passes the upstream's events through intact, in order, with model rewritten, ending with [DONE]", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong", { tokens: 60, streamDelayMs: 1 })
      const weak = yield* standIn("weak")
      const { server } = yield* serve(configFor(strong, weak))
      const client = openai(server.url)
      const stream = yield* Effect.promise(() => client.chat.completions.create({ model: "router-fixed-0.5", messages: ask("winrate=0.9"), stream: true }))
      const pieces: Array<string> = []
      const models = new Set<string>()
      yield* Effect.promise(async () => {
        for await (const chunk of stream) {
          models.add(chunk.model)
          const content = chunk.choices[0]?.delta.content
          if (content) pieces.push(content)
        }
      })
      assert.deepStrictEqual(pieces, tokensOf("strong", 60))
      assert.deepStrictEqual([...models], ["strong-model"])
      assert.strictEqual(strong.received[0]!.body.stream, true)
      // Raw bytes: one event per upstream event, then data: [DONE].
      const raw = yield* Effect.promise(async () => {
        const response = await fetch(`${server.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model: "router-fixed-0.5", messages: ask("winrate=0.9"), stream: true })
        })
        return {
          status: response.status,
          type: response.headers.get("content-type"),
          model: response.headers.get("x-routellm-model"),
          text: await response.text()
        }
      })
      assert.strictEqual(raw.status, 200)
      assert.include(raw.type!, "text/event-stream")
      assert.strictEqual(raw.model, "strong-model")
      const events = raw.text.split("\n\n").filter((event) => event !== "")
      assert.strictEqual(events.length, 60 + 3)
      assert.strictEqual(events[events.length - 1], "data: [DONE]")
      assert.isTrue(raw.text.endsWith("data: [DONE]\n\n"))
    }))

  it.live("a client that aborts mid-stream cancels the upstream request; other requests are unaffected", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong", { stallAfterFirstEvent: true })
      const weak = yield* standIn("weak")
      const { server, metrics } = yield* serve(configFor(strong, weak))
      const client = openai(server.url)
      const cancelSeen = strong.nextCancel()
      const stream = yield* Effect.promise(() => client.chat.completions.create({ model: "router-fixed-0.5", messages: ask("winrate=0.9"), stream: true }))
      const first = yield* Effect.promise(async () => {
        const iterator = stream[Symbol.asyncIterator]()
        return (await iterator.next()).value
      })
      assert.strictEqual(first?.model, "strong-model")
      // While the first stream is stalled, another request goes through.
      const other = yield* Effect.promise(() => client.chat.completions.create({ model: "router-fixed-0.5", messages: ask("winrate=0.1") }))
      assert.strictEqual(other.model, "weak-model")
      stream.controller.abort()
      yield* Effect.promise(() => cancelSeen)
      assert.strictEqual(strong.cancelled(), 1)
      assert.strictEqual(strong.received.length, 1)
      yield* Effect.promise(() => waitFor(() => metrics.requests("fixed", "strong-model") === 1))
      const text = yield* metrics.render
      assert.include(text, "routellm_requests_total{router=\"fixed\",model=\"strong-model\",status=\"499\"} 1")
    }))

  it.live("never retries once the stream has started: a stream that breaks ends with an error event", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong", { breakAfterFirstEvent: true })
      const weak = yield* standIn("weak")
      const { server } = yield* serve(configFor(strong, weak))
      const client = openai(server.url)
      const stream = yield* Effect.promise(() => client.chat.completions.create({ model: "strong-model", messages: ask("hi"), stream: true }))
      const error = yield* failure(async () => {
        for await (const _ of stream) {
          // drain
        }
      })
      assert.instanceOf(error, APIError)
      assert.include((error as APIError).message, "stream broke")
      assert.strictEqual(strong.received.length, 1)
    }))
})

describe("errors", () => {
  const rawPost = (url: string, body: string, headers: Record<string, string> = {}) =>
    Effect.promise(async () => {
      const response = await fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body
      })
      return { status: response.status, body: await response.json() as { error: Record<string, unknown> } }
    })

  it.live("answers bad requests with 400 in OpenAI's error format", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong")
      const weak = yield* standIn("weak")
      const { server, metrics } = yield* serve(configFor(strong, weak))
      const client = openai(server.url)
      const malformed = yield* rawPost(server.url, "{\"model\": \"router-fixed-0.5\", ")
      assert.strictEqual(malformed.status, 400)
      assert.strictEqual(malformed.body.error.type, "invalid_request_error")
      assert.strictEqual(malformed.body.error.code, "invalid_json")
      const cases: ReadonlyArray<readonly [Record<string, unknown>, string, string]> = [
        [{ model: "router-fixed-0.5" }, "missing_required_parameter", "messages"],
        [{ model: "router-fixed-0.5", messages: [] }, "invalid_value", "messages"],
        [{ model: "router-nope-0.5", messages: ask("x") }, "router_not_found", "unknown router"],
        [{ model: "router-fixed-abc", messages: ask("x") }, "invalid_threshold", "must be a number in [0, 1]"],
        [{ model: "router-fixed-1.5", messages: ask("x") }, "invalid_threshold", "must be a number in [0, 1]"],
        [{ model: "router-fixed--0.1", messages: ask("x") }, "invalid_threshold", "must be a number in [0, 1]"],
        [{ model: "router-fixed-", messages: ask("x") }, "invalid_threshold", "must be a number in [0, 1]"],
        [{ model: "gpt-unknown", messages: ask("x") }, "model_not_found", "unknown model"],
        [{ model: "router-fixed-0.5", messages: [{ role: "assistant", content: "only" }] }, "invalid_value", "no user message"]
      ]
      for (const [body, code, text] of cases) {
        const error = yield* failure(() => client.chat.completions.create(body as never))
        assert.instanceOf(error, APIError, JSON.stringify(body))
        assert.strictEqual((error as APIError).status, 400, JSON.stringify(body))
        assert.strictEqual((error as APIError).code, code, JSON.stringify(body))
        assert.include((error as APIError).message, text)
      }
      assert.strictEqual(strong.received.length + weak.received.length, 0)
      const rendered = yield* metrics.render
      assert.include(rendered, "routellm_errors_total{router=\"none\",model=\"none\"} 10")
    }))

  it.live("answers 413 for a body over the limit and 401 without the bearer token", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong")
      const weak = yield* standIn("weak")
      const { server } = yield* serve(configFor(strong, weak, { maxBodyBytes: 4096, authTokenEnv: "ROUTELLM_TOKEN" }))
      const authorized = openai(server.url, environment.ROUTELLM_TOKEN)
      const tooLarge = yield* failure(() => authorized.chat.completions.create({ model: "router-fixed-0.5", messages: ask("x".repeat(10_000)) }))
      assert.strictEqual((tooLarge as APIError).status, 413)
      assert.strictEqual((tooLarge as APIError).code, "request_too_large")
      const wrong = yield* failure(() => openai(server.url, "wrong-token").chat.completions.create({ model: "weak-model", messages: ask("x") }))
      assert.strictEqual((wrong as APIError).status, 401)
      assert.strictEqual((wrong as APIError).type, "authentication_error")
      const missing = yield* rawPost(server.url, JSON.stringify({ model: "weak-model", messages: ask("x") }))
      assert.strictEqual(missing.status, 401)
      const models = yield* Effect.promise(() => fetch(`${server.url}/v1/models`))
      assert.strictEqual(models.status, 401)
      const ok = yield* Effect.promise(() => authorized.chat.completions.create({ model: "weak-model", messages: ask("x") }))
      assert.strictEqual(ok.model, "weak-model")
      // The token is not forwarded upstream: the upstream gets its own key.
      assert.strictEqual(weak.received[0]!.headers.authorization, `Bearer ${environment.WEAK_KEY}`)
      // /health stays open for probes.
      const health = yield* Effect.promise(() => fetch(`${server.url}/health`).then((response) => response.status))
      assert.strictEqual(health, 200)
    }))

  it.live("keeps the upstream's status and error and never shows API keys", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong", { errorStatus: 401, echoAuthorization: true })
      const weak = yield* standIn("weak", { errorStatus: 404 })
      const logs: Array<string> = []
      const { server } = yield* serve(configFor(strong, weak), undefined, logs)
      const client = openai(server.url)
      const notFound = yield* failure(() => client.chat.completions.create({ model: "router-fixed-0.5", messages: ask("winrate=0") }))
      assert.strictEqual((notFound as APIError).status, 404)
      assert.strictEqual((notFound as APIError).code, "refused")
      assert.include((notFound as APIError).message, "weak refused the request")
      assert.strictEqual(weak.received.length, 1) // 4xx is not retried
      const unauthorized = yield* failure(() => client.chat.completions.create({ model: "strong-model", messages: ask("x") }))
      assert.strictEqual((unauthorized as APIError).status, 401)
      const message = JSON.stringify((unauthorized as APIError).error)
      assert.include(message, "[redacted]")
      assert.notInclude(message, environment.STRONG_KEY!)
      // The failure was logged, without the key.
      assert.isTrue(logs.some((line) => line.includes("401") && line.includes("[redacted]")), logs.join("\n"))
      for (const line of logs) {
        assert.notInclude(line, environment.STRONG_KEY!)
        assert.notInclude(line, environment.WEAK_KEY!)
      }
    }))

  it.live("retries 5xx with backoff: an upstream failing twice then succeeding answers 200", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong", { failTimes: 2, failStatus: 503 })
      const weak = yield* standIn("weak", { failTimes: 5, failStatus: 429 })
      const { server } = yield* serve(configFor(strong, weak))
      const client = openai(server.url)
      const answer = yield* Effect.promise(() => client.chat.completions.create({ model: "strong-model", messages: ask("x") }))
      assert.strictEqual(answer.choices[0]!.message.content, tokensOf("strong", 8).join(""))
      assert.strictEqual(strong.received.length, 3)
      // Still failing after 1 + 2 attempts: the upstream's own status comes back.
      const limited = yield* failure(() => client.chat.completions.create({ model: "weak-model", messages: ask("x") }))
      assert.strictEqual((limited as APIError).status, 429)
      assert.strictEqual(weak.received.length, 3)
    }))

  it.live("an upstream that hangs is a 504 after the retries; an unreachable one is a 502; neither affects other requests", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong", { hang: true })
      const weak = yield* standIn("weak")
      const closed = yield* Effect.promise(async () => {
        const { start } = await import("./support/UpstreamStandIn.ts")
        const upstream = await start("gone")
        await upstream.close()
        return upstream.baseURL
      })
      const base = configFor(strong, weak, { timeoutMs: 150, retry: { attempts: 1, initialDelayMs: 10, maxDelayMs: 10 } })
      const { server } = yield* serve({ ...base, upstreams: { ...base.upstreams, gone: { baseURL: closed } } })
      const client = openai(server.url)
      const [hung, unreachable, fine] = yield* Effect.all([
        failure(() => client.chat.completions.create({ model: "strong-model", messages: ask("x") })),
        failure(() => client.chat.completions.create({ model: "gone", messages: ask("x") })),
        Effect.promise(() => client.chat.completions.create({ model: "weak-model", messages: ask("x") }))
      ], { concurrency: "unbounded" })
      assert.strictEqual((hung as APIError).status, 504)
      assert.strictEqual((hung as APIError).code, "upstream_timeout")
      assert.strictEqual(strong.received.length, 2)
      // Each timed-out attempt was aborted (the stand-in sees the close a moment later).
      yield* Effect.promise(() => waitFor(() => strong.cancelled() === 2))
      assert.strictEqual(strong.cancelled(), 2)
      assert.strictEqual((unreachable as APIError).status, 502)
      assert.strictEqual((unreachable as APIError).code, "upstream_unreachable")
      assert.strictEqual(fine.model, "weak-model")
    }))
})

describe("endpoints and lifecycle", () => {
  it.live("lists models, reports health and Prometheus metrics", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong")
      const weak = yield* standIn("weak")
      const { server } = yield* serve(configFor(strong, weak))
      const client = openai(server.url)
      const models = yield* Effect.promise(async () => {
        const ids: Array<string> = []
        for await (const model of client.models.list()) ids.push(model.id)
        return ids
      })
      assert.deepStrictEqual(models, [
        "router-fixed-0.5",
        "router-fixed-0.8",
        "router-fixed-first-0.5",
        "router-random-0.5",
        "strong-model",
        "weak-model"
      ])
      for (const winRate of ["0.9", "0.9", "0.9", "0.2"]) {
        yield* Effect.promise(() => client.chat.completions.create({ model: "router-fixed-0.5", messages: ask(`winrate=${winRate}`) }))
      }
      yield* failure(() => client.chat.completions.create({ model: "router-fixed-2", messages: ask("x") }))
      const health = yield* Effect.promise(() => fetch(`${server.url}/health`).then((response) => response.json()))
      assert.deepStrictEqual(health, {
        status: "ok",
        routers: ["fixed", "fixed-first", "random"],
        upstreams: ["strong-model", "weak-model"]
      })
      const metrics = yield* Effect.promise(async () => {
        const response = await fetch(`${server.url}/metrics`)
        return { type: response.headers.get("content-type"), text: await response.text() }
      })
      assert.include(metrics.type!, "text/plain")
      const lines = metrics.text.split("\n")
      const has = (line: string) => assert.include(lines, line)
      has("routellm_requests_total{router=\"fixed\",model=\"strong-model\",status=\"200\"} 3")
      has("routellm_requests_total{router=\"fixed\",model=\"weak-model\",status=\"200\"} 1")
      has("routellm_requests_total{router=\"none\",model=\"none\",status=\"400\"} 1")
      has("routellm_errors_total{router=\"none\",model=\"none\"} 1")
      has("routellm_strong_share{router=\"fixed\"} 0.75")
      has("routellm_routing_latency_seconds_count{router=\"fixed\"} 4")
      has("routellm_upstream_latency_seconds_count{model=\"strong-model\",phase=\"total\"} 3")
      has("routellm_upstream_latency_seconds_bucket{model=\"weak-model\",phase=\"first_byte\",le=\"+Inf\"} 1")
      assert.include(metrics.text, "# TYPE routellm_routing_latency_seconds histogram")
    }))

  it.live("graceful shutdown: stops accepting and lets the in-flight stream finish", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong", { tokens: 20, streamDelayMs: 15 })
      const weak = yield* standIn("weak")
      const config = yield* Config.decode(configFor(strong, weak), "test", environment)
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(serverLayer(config), scope).pipe(
        Effect.provideService(References.MinimumLogLevel, "None")
      )
      const server = Context.get(context, Server)
      const client = openai(server.url)
      const stream = yield* Effect.promise(() => client.chat.completions.create({ model: "strong-model", messages: ask("x"), stream: true }))
      const collected = Effect.promise(async () => {
        const pieces: Array<string> = []
        for await (const chunk of stream) {
          const content = chunk.choices[0]?.delta.content
          if (content) pieces.push(content)
        }
        return pieces
      })
      const [pieces] = yield* Effect.all([
        collected,
        Effect.gen(function*() {
          yield* Effect.sleep(40)
          yield* Scope.close(scope, Exit.void)
        })
      ], { concurrency: "unbounded" })
      assert.deepStrictEqual(pieces, tokensOf("strong", 20))
      const refused = yield* failure(() => fetch(`${server.url}/health`))
      assert.instanceOf(refused, Error)
    }))
})

const waitFor = async (condition: () => boolean) => {
  for (let attempt = 0; attempt < 200 && !condition(); attempt++) await new Promise((wake) => setTimeout(wake, 5))
}
