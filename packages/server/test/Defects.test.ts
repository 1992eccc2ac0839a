/**
 * The defects of issue #13, one test each (1 lives in HugePrompt.test.ts,
 * 6 is measured by bench/server.ts), against the real server and upstream
 * stand-ins on 127.0.0.1.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { APIError } from "openai"
import { configFor, failure, openai, serve, standIn } from "./support/Harness.ts"
import { tokensOf } from "./support/UpstreamStandIn.ts"

const ask = (prompt: string) => [{ role: "user" as const, content: prompt }]

const post = (url: string, body: string, headers: Record<string, string> = { "content-type": "application/json" }) =>
  Effect.promise(async () => {
    const response = await fetch(`${url}/v1/chat/completions`, { method: "POST", headers, body })
    return { status: response.status, headers: response.headers, text: await response.text() }
  })

const waitFor = async (condition: () => boolean) => {
  for (let attempt = 0; attempt < 400 && !condition(); attempt++) await new Promise((wake) => setTimeout(wake, 5))
}

describe("defect 2: a stream whose upstream stalls", () => {
  it.live("ends with an error event after the idle timeout and cancels the upstream", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong", { stallAfterFirstEvent: true })
      const weak = yield* standIn("weak")
      const { server, metrics } = yield* serve(configFor(strong, weak, { streamIdleTimeoutMs: 150 }))
      const cancelled = strong.nextCancel()
      const stream = yield* Effect.promise(() => openai(server.url).chat.completions.create({ model: "strong-model", messages: ask("x"), stream: true }))
      const pieces: Array<string> = []
      const error = yield* failure(async () => {
        for await (const chunk of stream) pieces.push(chunk.choices[0]?.delta.content ?? "")
      })
      assert.instanceOf(error, APIError)
      assert.include((error as APIError).message, "sent nothing for 150 ms")
      // The first event came through before the stall.
      assert.deepStrictEqual(pieces, [""])
      yield* Effect.promise(() => cancelled)
      assert.strictEqual(strong.cancelled(), 1)
      assert.include(yield* metrics.render, "routellm_stream_errors_total{model=\"strong-model\",reason=\"stalled\"} 1")
    }))
})

describe("defect 3: an upstream stream that ends without [DONE]", () => {
  it.live("ends with an error event, never with an appended [DONE]", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong", { endWithoutDone: true, tokens: 5 })
      const weak = yield* standIn("weak")
      const { server, metrics } = yield* serve(configFor(strong, weak))
      const raw = yield* post(server.url, JSON.stringify({ model: "strong-model", messages: ask("x"), stream: true }))
      assert.strictEqual(raw.status, 200)
      assert.notInclude(raw.text, "data: [DONE]")
      const events = raw.text.split("\n\n").filter((event) => event !== "")
      // All upstream events are forwarded, then the error event.
      assert.strictEqual(events.length, 5 + 2 + 1)
      const last = JSON.parse(events[events.length - 1]!.slice("data: ".length)) as { error: { code: string; message: string } }
      assert.strictEqual(last.error.code, "upstream_stream_truncated")
      assert.include(last.error.message, "without [DONE]")
      // The openai client sees an error, not a clean short answer.
      const stream = yield* Effect.promise(() => openai(server.url).chat.completions.create({ model: "strong-model", messages: ask("x"), stream: true }))
      const pieces: Array<string> = []
      const error = yield* failure(async () => {
        for await (const chunk of stream) pieces.push(chunk.choices[0]?.delta.content ?? "")
      })
      assert.instanceOf(error, APIError)
      assert.strictEqual(pieces.join(""), tokensOf("strong", 5).join(""))
      assert.include(yield* metrics.render, "routellm_stream_errors_total{model=\"strong-model\",reason=\"truncated\"} 2")
    }))
})

describe("defect 4: content types and cross-origin requests", () => {
  it.live("answers 415 for non-JSON bodies and refuses browsers unless their origin is configured", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong")
      const weak = yield* standIn("weak")
      const { server } = yield* serve(configFor(strong, weak))
      const body = JSON.stringify({ model: "weak-model", messages: ask("x") })
      const plain = yield* post(server.url, body, { "content-type": "text/plain" })
      assert.strictEqual(plain.status, 415)
      assert.strictEqual(JSON.parse(plain.text).error.code, "unsupported_media_type")
      const form = yield* post(server.url, body, { "content-type": "application/x-www-form-urlencoded" })
      assert.strictEqual(form.status, 415)
      const none = yield* post(server.url, body, {})
      assert.strictEqual(none.status, 415)
      // A web page's request (it carries an Origin) is refused and gets no CORS header.
      const browser = yield* post(server.url, body, { "content-type": "text/plain", origin: "http://evil.example" })
      assert.strictEqual(browser.status, 403)
      assert.isNull(browser.headers.get("access-control-allow-origin"))
      assert.strictEqual(strong.received.length + weak.received.length, 0)
      const json = yield* post(server.url, body, { "content-type": "application/json; charset=utf-8" })
      assert.strictEqual(json.status, 200)
    }))

  it.live("with cors.origins: answers the preflight and marks responses for that origin only", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong")
      const weak = yield* standIn("weak")
      const { server } = yield* serve(configFor(strong, weak, { cors: { origins: ["http://localhost:3000"] } }))
      const preflight = yield* Effect.promise(() =>
        fetch(`${server.url}/v1/chat/completions`, {
          method: "OPTIONS",
          headers: { origin: "http://localhost:3000", "access-control-request-method": "POST" }
        })
      )
      assert.strictEqual(preflight.status, 204)
      assert.strictEqual(preflight.headers.get("access-control-allow-origin"), "http://localhost:3000")
      assert.include(preflight.headers.get("access-control-allow-headers")!, "content-type")
      const allowed = yield* post(server.url, JSON.stringify({ model: "weak-model", messages: ask("x") }), {
        "content-type": "application/json",
        origin: "http://localhost:3000"
      })
      assert.strictEqual(allowed.status, 200)
      assert.strictEqual(allowed.headers.get("access-control-allow-origin"), "http://localhost:3000")
      const other = yield* post(server.url, JSON.stringify({ model: "weak-model", messages: ask("x") }), {
        "content-type": "application/json",
        origin: "http://localhost:4000"
      })
      assert.strictEqual(other.status, 403)
      assert.strictEqual(weak.received.length, 1)
    }))
})

describe("defect 5: Retry-After", () => {
  it.live("a Retry-After beyond the limit is answered at once with the upstream's 429 and its Retry-After", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong", { failTimes: 100, failStatus: 429, failRetryAfter: "30" })
      const weak = yield* standIn("weak")
      // The default limit (retry.retryAfterLimitMs) is 5 s.
      const { server } = yield* serve(configFor(strong, weak, { retry: { attempts: 3, initialDelayMs: 10, maxDelayMs: 50 } }))
      const answer = yield* post(server.url, JSON.stringify({ model: "strong-model", messages: ask("x") }))
      assert.strictEqual(answer.status, 429)
      assert.strictEqual(answer.headers.get("retry-after"), "30")
      // Not retried: the wait is the client's to make.
      assert.strictEqual(strong.received.length, 1)
    }))

  it.live("a Retry-After within the limit is waited for (not capped by maxDelayMs), then the retry succeeds", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong", { failTimes: 1, failStatus: 429, failRetryAfter: "0.2" })
      const weak = yield* standIn("weak")
      const { server } = yield* serve(configFor(strong, weak, { retry: { attempts: 2, initialDelayMs: 1, maxDelayMs: 1 } }))
      const answer = yield* post(server.url, JSON.stringify({ model: "strong-model", messages: ask("x") }))
      assert.strictEqual(answer.status, 200)
      assert.strictEqual(strong.received.length, 2)
      // The retry waited the 200 ms asked for, not the 1 ms backoff cap (a lower bound on a wait, not a speed check).
      assert.isAtLeast(strong.received[1]!.at - strong.received[0]!.at, 190)
    }))

  it.live("a 429 without Retry-After is retried with backoff and then passed on", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong", { failTimes: 100, failStatus: 429 })
      const weak = yield* standIn("weak")
      const { server, metrics } = yield* serve(configFor(strong, weak, { retry: { attempts: 2, initialDelayMs: 5, maxDelayMs: 10, retryAfterLimitMs: 5000 } }))
      const answer = yield* post(server.url, JSON.stringify({ model: "strong-model", messages: ask("x") }))
      assert.strictEqual(answer.status, 429)
      assert.isNull(answer.headers.get("retry-after"))
      assert.strictEqual(strong.received.length, 3)
      assert.include(yield* metrics.render, "routellm_upstream_retries_total{model=\"strong-model\"} 2")
    }))
})

describe("defect 7: small ones", () => {
  it.live("an aborted request reaches the request log as 499", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong", { stallAfterFirstEvent: true })
      const weak = yield* standIn("weak")
      const logs: Array<string> = []
      const { server } = yield* serve(configFor(strong, weak), undefined, logs)
      const cancelled = strong.nextCancel()
      const stream = yield* Effect.promise(() =>
        openai(server.url).chat.completions.create({ model: "router-fixed-0.5", messages: ask("winrate=0.9"), stream: true })
      )
      yield* Effect.promise(() => stream[Symbol.asyncIterator]().next())
      stream.controller.abort()
      yield* Effect.promise(() => cancelled)
      yield* Effect.promise(() => waitFor(() => logs.some((line) => line.includes(" 499 "))))
      const line = logs.find((entry) => entry.includes(" 499 "))
      assert.isDefined(line, logs.join("\n"))
      assert.include(line!, "POST /v1/chat/completions 499 fixed -> strong-model")
    }))

  it.live("refuses thresholds that are not plain decimals: 0x1, 1e-1, ' 0.5', '+0.5'", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong")
      const weak = yield* standIn("weak")
      const { server } = yield* serve(configFor(strong, weak))
      const client = openai(server.url)
      for (const threshold of ["0x1", "1e-1", " 0.5", "+0.5", "0.5 ", "Infinity", "s101", "s-1"]) {
        const error = yield* failure(() => client.chat.completions.create({ model: `router-fixed-${threshold}`, messages: ask("x") }))
        assert.strictEqual((error as APIError).status, 400, threshold)
        assert.strictEqual((error as APIError).code, "invalid_threshold", threshold)
      }
      assert.strictEqual(strong.received.length + weak.received.length, 0)
      for (const [threshold, expected] of [["0.5", "strong-model"], ["1", "weak-model"], ["1.0", "weak-model"], ["00.7", "strong-model"]] as const) {
        const answer = yield* Effect.promise(() => client.chat.completions.create({ model: `router-fixed-${threshold}`, messages: ask("winrate=0.7") }))
        assert.strictEqual(answer.model, expected, threshold)
      }
    }))

  it.live("router-<name> without a threshold says what to add, or uses the router's configured default", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong")
      const weak = yield* standIn("weak")
      const base = configFor(strong, weak)
      const { server } = yield* serve({
        ...base,
        routers: { ...base.routers, defaulted: { uses: "test/fixed", default: "0.6" } }
      })
      const client = openai(server.url)
      const error = yield* failure(() => client.chat.completions.create({ model: "router-fixed", messages: ask("x") }))
      assert.strictEqual((error as APIError).status, 400)
      assert.strictEqual((error as APIError).code, "missing_threshold")
      assert.include((error as APIError).message, "router-fixed-0.5")
      assert.notInclude((error as APIError).message, "unknown router")
      const high = yield* Effect.promise(() => client.chat.completions.create({ model: "router-defaulted", messages: ask("winrate=0.65") }).withResponse())
      assert.strictEqual(high.data.model, "strong-model")
      assert.strictEqual(high.response.headers.get("x-routellm-threshold"), "0.6")
      const low = yield* Effect.promise(() => client.chat.completions.create({ model: "router-defaulted", messages: ask("winrate=0.55") }))
      assert.strictEqual(low.model, "weak-model")
      // Names with '-' still resolve: router-fixed-first is the router fixed-first, not fixed with threshold "first".
      const firstError = yield* failure(() => client.chat.completions.create({ model: "router-fixed-first", messages: ask("x") }))
      assert.strictEqual((firstError as APIError).code, "missing_threshold")
    }))

  it.live("requestLog: false turns the per-request log off (warnings stay)", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong")
      const weak = yield* standIn("weak", { errorStatus: 404 })
      const logs: Array<string> = []
      const { server } = yield* serve(configFor(strong, weak, { requestLog: false }), undefined, logs)
      const client = openai(server.url)
      yield* Effect.promise(() => client.chat.completions.create({ model: "strong-model", messages: ask("x") }))
      yield* failure(() => client.chat.completions.create({ model: "weak-model", messages: ask("x") }))
      assert.isFalse(logs.some((line) => line.startsWith("POST /v1/chat/completions 200")), logs.join("\n"))
      assert.isTrue(logs.some((line) => line.includes("404")), logs.join("\n"))
      const on: Array<string> = []
      const { server: logged } = yield* serve(configFor(strong, weak), undefined, on)
      yield* Effect.promise(() => openai(logged.url).chat.completions.create({ model: "strong-model", messages: ask("x") }))
      assert.isTrue(on.some((line) => line.startsWith("POST /v1/chat/completions 200 direct -> strong-model")), on.join("\n"))
    }))
})
