import { assert, describe, it } from "@effect/vitest"
import { Retry } from "@routellm/core"
import { Clock, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"

interface Failure {
  readonly status: number
  readonly retryAfterMs?: number
}

const classify = (failure: Failure): Retry.Verdict => ({
  retryable: Retry.isRetryableStatus(failure.status),
  retryAfterMs: failure.retryAfterMs
})

const policy: Retry.Policy = { retries: 3, initialDelayMs: 100, maxDelayMs: 250, retryAfterLimitMs: 5000 }

const headers = (values: Record<string, string>): Retry.HeaderLookup => ({ get: (name) => values[name] })

/** Run an effect that fails with `failures` in turn (then succeeds), recording the clock at each attempt. */
const attempts = (failures: ReadonlyArray<Failure>, used: Retry.Policy = policy) =>
  Effect.gen(function*() {
    const times: Array<number> = []
    const attempt = Effect.gen(function*() {
      times.push(yield* Clock.currentTimeMillis)
      const failure = failures[times.length - 1]
      if (failure !== undefined) return yield* Effect.fail(failure)
      return "ok"
    })
    const fiber = yield* Effect.forkChild(Effect.result(attempt.pipe(Retry.retry(used, classify))))
    yield* TestClock.adjust(60_000)
    const result = yield* Fiber.join(fiber)
    const start = times[0]!
    return { result, delays: times.slice(1).map((time, index) => time - (index === 0 ? start : times[index]!)) }
  })

describe("Retry", () => {
  it("reads Retry-After in seconds, as a date, and OpenAI's retry-after-ms", () => {
    const now = Date.parse("2025-01-01T00:00:00Z")
    assert.strictEqual(Retry.retryAfterMs(headers({ "retry-after": "30" }), now), 30_000)
    assert.strictEqual(Retry.retryAfterMs(headers({ "retry-after": "1.5" }), now), 1500)
    assert.strictEqual(Retry.retryAfterMs(headers({ "retry-after": "Wed, 01 Jan 2025 00:00:07 GMT" }), now), 7000)
    // A date in the past asks for no wait.
    assert.strictEqual(Retry.retryAfterMs(headers({ "retry-after": "Tue, 31 Dec 2024 23:00:00 GMT" }), now), 0)
    assert.strictEqual(Retry.retryAfterMs(headers({ "retry-after-ms": "250", "retry-after": "9" }), now), 250)
    assert.strictEqual(Retry.retryAfterMs(headers({ "retry-after": "soon" }), now), undefined)
    assert.strictEqual(Retry.retryAfterMs(headers({ "retry-after": "-3" }), now), undefined)
    assert.strictEqual(Retry.retryAfterMs(headers({}), now), undefined)
    assert.strictEqual(Retry.retryAfterMs(undefined, now), undefined)
  })

  it.effect("backs off exponentially up to the cap, then gives up after the retries", () =>
    Effect.gen(function*() {
      const { result, delays } = yield* attempts([{ status: 503 }, { status: 503 }, { status: 500 }, { status: 502 }])
      // 100, 200, then 400 capped at 250; the fourth failure is final (3 retries).
      assert.deepStrictEqual(delays, [100, 200, 250])
      assert.strictEqual(result._tag, "Failure")
      if (result._tag === "Failure") assert.strictEqual(result.failure.status, 502)
    }))

  it.effect("succeeds after retryable failures; a non-retryable status is final at once", () =>
    Effect.gen(function*() {
      const recovered = yield* attempts([{ status: 429 }, { status: 503 }])
      assert.deepStrictEqual(recovered.delays, [100, 200])
      assert.strictEqual(recovered.result._tag, "Success")
      const final = yield* attempts([{ status: 400 }])
      assert.deepStrictEqual(final.delays, [])
      assert.strictEqual(final.result._tag, "Failure")
    }))

  it.effect("waits the Retry-After (beyond the backoff cap) up to the limit; a longer one ends the retries at once", () =>
    Effect.gen(function*() {
      const honoured = yield* attempts([{ status: 429, retryAfterMs: 3000 }])
      assert.deepStrictEqual(honoured.delays, [3000])
      assert.strictEqual(honoured.result._tag, "Success")
      const passedOn = yield* attempts([{ status: 429, retryAfterMs: 30_000 }])
      assert.deepStrictEqual(passedOn.delays, [])
      assert.strictEqual(passedOn.result._tag, "Failure")
      assert.isTrue(Retry.exceedsLimit(policy, { retryable: true, retryAfterMs: 30_000 }))
      assert.isFalse(Retry.exceedsLimit(policy, { retryable: true, retryAfterMs: 5000 }))
    }))

  it.effect("reports each retry with its number and delay", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const fiber = yield* Effect.forkChild(Effect.result(
        Effect.fail({ status: 503 } as Failure).pipe(
          Retry.retry({ ...policy, retries: 2 }, classify, (info) => Effect.sync(() => void seen.push(`${info.retry}:${info.delayMs}:${info.error.status}`)))
        )
      ))
      yield* TestClock.adjust(10_000)
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(seen, ["1:100:503", "2:200:503"])
    }))
})
