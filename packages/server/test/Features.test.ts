/**
 * Fallbacks, cost accounting, escalate-only conversations and the decision
 * log with shadow routers, end to end through the real server.
 */
import { assert, describe, it } from "@effect/vitest"
import { Random } from "@routellm/core"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { APIError } from "openai"
import { configFor, environment, failure, openai, serve, standIn } from "./support/Harness.ts"
import { tokensOf } from "./support/UpstreamStandIn.ts"

const ask = (prompt: string) => [{ role: "user" as const, content: prompt }]

/** The value of one Prometheus line, by its exact series text. */
const valueOf = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((entry) => entry.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

const metricsText = (url: string) => Effect.promise(() => fetch(`${url}/metrics`).then((response) => response.text()))

describe("fallbacks", () => {
  it.live("after the retries fail, falls back along the chain; marked in headers and /metrics", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong", { failTimes: 1000, failStatus: 503 })
      const weak = yield* standIn("weak")
      const { server } = yield* serve(configFor(strong, weak, { fallbacks: { "strong-model": ["weak-model"] } }))
      const client = openai(server.url)
      const answer = yield* Effect.promise(() => client.chat.completions.create({ model: "router-fixed-0.5", messages: ask("winrate=0.9") }).withResponse())
      assert.strictEqual(answer.data.model, "weak-model")
      assert.strictEqual(answer.data.choices[0]!.message.content, tokensOf("weak", 8).join(""))
      assert.strictEqual(answer.response.headers.get("x-routellm-model"), "weak-model")
      assert.strictEqual(answer.response.headers.get("x-routellm-fallback"), "strong-model>weak-model")
      // 1 attempt + 2 retries on strong, then weak once, with weak's own upstream id and key.
      assert.strictEqual(strong.received.length, 3)
      assert.strictEqual(weak.received.length, 1)
      assert.strictEqual(weak.received[0]!.body.model, "upstream/weak-1")
      assert.strictEqual(weak.received[0]!.headers.authorization, `Bearer ${environment.WEAK_KEY}`)
      // Streaming falls back the same way (before any byte went out).
      const stream = yield* Effect.promise(() =>
        client.chat.completions.create({ model: "router-fixed-0.5", messages: ask("winrate=0.9"), stream: true }).withResponse()
      )
      assert.strictEqual(stream.response.headers.get("x-routellm-fallback"), "strong-model>weak-model")
      const pieces: Array<string> = []
      yield* Effect.promise(async () => {
        for await (const chunk of stream.data) pieces.push(chunk.choices[0]?.delta.content ?? "")
      })
      assert.strictEqual(pieces.join(""), tokensOf("weak", 8).join(""))
      const text = yield* metricsText(server.url)
      assert.strictEqual(valueOf(text, "routellm_fallbacks_total{router=\"fixed\",from=\"strong-model\",to=\"weak-model\"}"), 2)
      // Requests count under the model that answered.
      assert.strictEqual(valueOf(text, "routellm_requests_total{router=\"fixed\",model=\"weak-model\",status=\"200\"}"), 2)
    }))

  it.live("a client error (4xx but 429) does not fall back; the end of the chain returns the last failure", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong", { errorStatus: 400 })
      const weak = yield* standIn("weak", { failTimes: 1000, failStatus: 502 })
      const { server } = yield* serve(configFor(strong, weak, { fallbacks: { "strong-model": ["weak-model"], "weak-model": ["strong-model"] } }))
      const client = openai(server.url)
      const refused = yield* failure(() => client.chat.completions.create({ model: "strong-model", messages: ask("x") }))
      assert.strictEqual((refused as APIError).status, 400)
      assert.strictEqual(weak.received.length, 0)
      // weak fails (502 three times), falls back to strong, which refuses with its 400.
      const chained = yield* failure(() => client.chat.completions.create({ model: "weak-model", messages: ask("x") }))
      assert.strictEqual((chained as APIError).status, 400)
      assert.strictEqual(weak.received.length, 3)
      assert.strictEqual(strong.received.length, 2)
    }))
})

describe("cost accounting", () => {
  // The stand-in reports prompt_tokens = characters of the last user turn, completion_tokens = tokens sent (8).
  const prices = {
    "strong-model": { inputPerMillion: 10, outputPerMillion: 30 },
    "weak-model": { inputPerMillion: 0.5, outputPerMillion: 1.5 }
  }
  const priced = (strong: Parameters<typeof configFor>[0], weak: Parameters<typeof configFor>[1], extra = {}) => {
    const base = configFor(strong, weak, extra)
    return {
      ...base,
      upstreams: Object.fromEntries(
        Object.entries(base.upstreams).map(([name, upstream]) => [name, { ...upstream, price: prices[name as keyof typeof prices] }])
      )
    }
  }

  it.live("dollars per router, model and client key from streamed and non-streamed usage, and the saving against all-strong", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong")
      const weak = yield* standIn("weak")
      const keys = { TEAM_A_KEY: "team-a-secret-0001", TEAM_B_KEY: "team-b-secret-0002" }
      const { server } = yield* serve(
        priced(strong, weak, { clientKeys: { "team-a": "TEAM_A_KEY", "team-b": "TEAM_B_KEY" } }),
        undefined,
        undefined,
        { ...environment, ...keys }
      )
      const teamA = openai(server.url, keys.TEAM_A_KEY)
      const teamB = openai(server.url, keys.TEAM_B_KEY)
      const strongPrompt = "winrate=0.9 a question worth the strong model"
      const weakPrompt = "winrate=0.1 easy"
      // team-a: one streamed strong answer, one streamed weak answer (the client did not ask for usage).
      for (const prompt of [strongPrompt, weakPrompt]) {
        const stream = yield* Effect.promise(() => teamA.chat.completions.create({ model: "router-fixed-0.5", messages: ask(prompt), stream: true }))
        yield* Effect.promise(async () => {
          for await (const chunk of stream) {
            // The usage chunk the router asked for is not shown to a client that did not ask.
            assert.isAbove(chunk.choices.length, 0)
            assert.notProperty(chunk, "usage")
          }
        })
      }
      // team-b: a non-streamed weak answer, and a streamed one that asks for usage itself (and gets it).
      yield* Effect.promise(() => teamB.chat.completions.create({ model: "router-fixed-0.5", messages: ask(weakPrompt) }))
      const withUsage = yield* Effect.promise(() =>
        teamB.chat.completions.create({
          model: "router-fixed-0.5",
          messages: ask(weakPrompt),
          stream: true,
          stream_options: { include_usage: true }
        })
      )
      const usages: Array<unknown> = []
      yield* Effect.promise(async () => {
        for await (const chunk of withUsage) if (chunk.usage) usages.push(chunk.usage)
      })
      assert.deepStrictEqual(usages, [{ prompt_tokens: 16, completion_tokens: 8, total_tokens: 24 }])
      // The upstream was asked for usage on every stream.
      for (const request of [...strong.received, ...weak.received].filter((entry) => entry.body.stream === true)) {
        assert.deepStrictEqual(request.body.stream_options, { include_usage: true })
      }

      const dollars = (price: { inputPerMillion: number; outputPerMillion: number }, prompt: number, completion: number) =>
        (prompt * price.inputPerMillion + completion * price.outputPerMillion) / 1e6
      const strongCall = dollars(prices["strong-model"], strongPrompt.length, 8)
      const weakCall = dollars(prices["weak-model"], weakPrompt.length, 8)
      const weakCallOnStrong = dollars(prices["strong-model"], weakPrompt.length, 8)
      const text = yield* metricsText(server.url)
      const close = (series: string, expected: number) => {
        const value = valueOf(text, series)
        assert.isDefined(value, `${series} missing in\n${text}`)
        assert.closeTo(value!, expected, 1e-12, series)
      }
      close("routellm_cost_dollars_total{router=\"fixed\",model=\"strong-model\",api_key=\"team-a\"}", strongCall)
      close("routellm_cost_dollars_total{router=\"fixed\",model=\"weak-model\",api_key=\"team-a\"}", weakCall)
      close("routellm_cost_dollars_total{router=\"fixed\",model=\"weak-model\",api_key=\"team-b\"}", 2 * weakCall)
      close("routellm_tokens_total{router=\"fixed\",model=\"weak-model\",api_key=\"team-b\",kind=\"prompt\"}", 2 * weakPrompt.length)
      close("routellm_tokens_total{router=\"fixed\",model=\"strong-model\",api_key=\"team-a\",kind=\"completion\"}", 8)
      close("routellm_strong_equivalent_dollars_total{router=\"fixed\",api_key=\"team-a\"}", strongCall + weakCallOnStrong)
      close("routellm_strong_equivalent_dollars_total{router=\"fixed\",api_key=\"team-b\"}", 2 * weakCallOnStrong)
      const spent = strongCall + 3 * weakCall
      const allStrong = strongCall + 3 * weakCallOnStrong
      close("routellm_saving_dollars{router=\"fixed\"}", allStrong - spent)
      close("routellm_saving_ratio{router=\"fixed\"}", (allStrong - spent) / allStrong)
      // Client keys never appear, only their names.
      assert.notInclude(text, keys.TEAM_A_KEY)
    }))
})

describe("escalate-only conversations", () => {
  it.live("once a conversation went to the strong model it stays there; other conversations are routed as usual", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong")
      const weak = yield* standIn("weak")
      const { server } = yield* serve(configFor(strong, weak, { conversations: { escalateOnly: true } }))
      const client = openai(server.url)
      const system = { role: "system" as const, content: "You are helpful." }
      const first = [system, { role: "user" as const, content: "winrate=0.9 prove the theorem" }]
      const turn1 = yield* Effect.promise(() => client.chat.completions.create({ model: "router-fixed-0.5", messages: first }).withResponse())
      assert.strictEqual(turn1.data.model, "strong-model")
      const second = [...first, { role: "assistant" as const, content: turn1.data.choices[0]!.message.content! }, {
        role: "user" as const,
        content: "winrate=0.1 thanks, and now?"
      }]
      const turn2 = yield* Effect.promise(() => client.chat.completions.create({ model: "router-fixed-0.5", messages: second }).withResponse())
      assert.strictEqual(turn2.data.model, "strong-model")
      assert.strictEqual(turn2.response.headers.get("x-routellm-escalated"), "true")
      // Its third turn too (the mark follows the conversation).
      const third = [...second, { role: "assistant" as const, content: "ok" }, { role: "user" as const, content: "winrate=0.0 bye" }]
      const turn3 = yield* Effect.promise(() => client.chat.completions.create({ model: "router-fixed-0.5", messages: third }))
      assert.strictEqual(turn3.model, "strong-model")
      // A different conversation with the same later turn is not escalated.
      const other = [system, { role: "user" as const, content: "winrate=0.2 something else" }, { role: "assistant" as const, content: "x" }, {
        role: "user" as const,
        content: "winrate=0.1 thanks, and now?"
      }]
      const fresh = yield* Effect.promise(() => client.chat.completions.create({ model: "router-fixed-0.5", messages: other }).withResponse())
      assert.strictEqual(fresh.data.model, "weak-model")
      assert.isNull(fresh.response.headers.get("x-routellm-escalated"))
      const text = yield* metricsText(server.url)
      assert.strictEqual(valueOf(text, "routellm_conversation_escalations_total{router=\"fixed\"}"), 2)
    }))
})

describe("decision log", () => {
  it.live("writes one JSON line per routed request with the serving and shadow routers' scores, tokens and cost", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong")
      const weak = yield* standIn("weak")
      const directory = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-decisions-")))
      const base = configFor(strong, weak, {
        decisionLog: { path: "logs/decisions.jsonl", includePrompt: true, shadowRouters: ["random"] }
      })
      const config = {
        ...base,
        upstreams: {
          ...base.upstreams,
          "strong-model": { ...base.upstreams["strong-model"]!, price: { inputPerMillion: 10, outputPerMillion: 30 } }
        }
      }
      const prompts = ["winrate=0.9 first", "winrate=0.2 second", "winrate=0.6 third"]
      yield* Effect.scoped(Effect.gen(function*() {
        const { server } = yield* serve(config, directory)
        const client = openai(server.url)
        for (const prompt of prompts) {
          yield* Effect.promise(() => client.chat.completions.create({ model: "router-fixed-0.5", messages: ask(prompt) }))
        }
        // Pass-through requests are not routing decisions.
        yield* Effect.promise(() => client.chat.completions.create({ model: "weak-model", messages: ask("direct") }))
      }))
      const lines = (yield* Effect.promise(() => Fs.readFile(Path.join(directory, "logs/decisions.jsonl"), "utf8"))).trim().split("\n")
      assert.strictEqual(lines.length, 3)
      const entries = lines.map((line) => JSON.parse(line) as Record<string, any>)
      entries.forEach((entry, index) => {
        const prompt = prompts[index]!
        const winRate = Number(/winrate=([0-9.]+)/.exec(prompt)![1])
        assert.strictEqual(entry.prompt, prompt)
        assert.strictEqual(entry.promptHash, createHash("sha256").update(prompt).digest("hex").slice(0, 32))
        assert.strictEqual(entry.router, "fixed")
        assert.strictEqual(entry.target, "0.5")
        assert.strictEqual(entry.threshold, 0.5)
        // The serving router's score and the shadow router's, which was not obeyed.
        assert.deepStrictEqual(entry.scores, { fixed: winRate, random: Random.hashUniform(7, prompt) })
        assert.strictEqual(entry.strong, winRate >= 0.5)
        assert.strictEqual(entry.model, winRate >= 0.5 ? "strong-model" : "weak-model")
        assert.strictEqual(entry.status, 200)
        assert.strictEqual(entry.promptTokens, prompt.length)
        assert.strictEqual(entry.completionTokens, 8)
        assert.strictEqual(entry.apiKey, "anonymous")
        assert.isAtLeast(entry.latencyMs, entry.routingMs)
        assert.isFalse(Number.isNaN(Date.parse(entry.time)))
        if (entry.strong) assert.closeTo(entry.dollars, (prompt.length * 10 + 8 * 30) / 1e6, 1e-15)
        else assert.notProperty(entry, "dollars") // the weak model has no price here
      })
    }))

  it.live("without includePrompt, only the prompt's hash is written", () =>
    Effect.gen(function*() {
      const strong = yield* standIn("strong")
      const weak = yield* standIn("weak")
      const directory = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-decisions-")))
      yield* Effect.scoped(Effect.gen(function*() {
        const { server } = yield* serve(configFor(strong, weak, { decisionLog: { path: "decisions.jsonl" } }), directory)
        yield* Effect.promise(() => openai(server.url).chat.completions.create({ model: "router-fixed-0.5", messages: ask("winrate=0.9 secret") }))
      }))
      const text = yield* Effect.promise(() => Fs.readFile(Path.join(directory, "decisions.jsonl"), "utf8"))
      assert.notInclude(text, "secret")
      const entry = JSON.parse(text) as Record<string, unknown>
      assert.notProperty(entry, "prompt")
      assert.deepStrictEqual(entry.scores, { fixed: 0.9 })
    }))
})
