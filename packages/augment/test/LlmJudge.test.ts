import { assert, describe, it } from "@effect/vitest"
import { LlmJudge } from "@routellm/augment"
import { Files } from "@routellm/core"
import { Effect } from "effect"
import * as Path from "node:path"
import { evalDirectory } from "../../../test/support/SharedData.ts"
import * as StandIn from "./StandIn.ts"
import { runAugmenter, stepContext, temporaryDirectory } from "./Support.ts"

const gsm8kFile = Path.join(evalDirectory, "gsm8k", "gsm8k_responses.csv")
const strongColumn = "gpt-4-1106-preview"
const weakColumn = "mistralai/Mixtral-8x7B-Instruct-v0.1"
const verdicts = { a: "[[A]]", b: "[[B]]", tie: "[[C]]" }

/** The two answers a judge request shows, from the default template. */
const answersOf = (request: StandIn.ChatRequest) => {
  const text = request.messages[1]!.content
  return {
    question: /\[User request\]\n([\s\S]*?)\n\n\[Answer A\]/.exec(text)![1]!,
    a: /\[Answer A\]\n([\s\S]*?)\n\[End of Answer A\]/.exec(text)![1]!,
    b: /\[Answer B\]\n([\s\S]*?)\n\[End of Answer B\]/.exec(text)![1]!
  }
}

/** Real GSM8K prompts with both models' recorded responses. */
const promptSet = (limit: number) => ({
  path: gsm8kFile,
  promptField: "prompt",
  strongResponseField: `${strongColumn}_response`,
  weakResponseField: `${weakColumn}_response`,
  limit
})

const judge = (baseUrl: string, prices = {}) => ({ model: "judge-model", baseUrl, apiKeyEnv: "ROUTELLM_TEST_KEY", ...prices })

describe("augment/llm-judge", () => {
  it("parses verdicts strictly and combines position-swapped verdicts", () => {
    assert.strictEqual(LlmJudge.parseVerdict("A is clearer.\n[[A]]", verdicts), "a")
    assert.strictEqual(LlmJudge.parseVerdict("[[C]]", verdicts), "tie")
    assert.isUndefined(LlmJudge.parseVerdict("Answer A is better.", verdicts))
    assert.isUndefined(LlmJudge.parseVerdict("[[A]] or maybe [[B]]", verdicts))
    assert.isUndefined(LlmJudge.parseVerdict("[[A]] ... final: [[A]]", verdicts))
    assert.strictEqual(LlmJudge.toPreference("a", true), "strong")
    assert.strictEqual(LlmJudge.toPreference("a", false), "weak")
    assert.strictEqual(LlmJudge.toPreference("b", false), "strong")
    assert.strictEqual(LlmJudge.combine("strong", "strong"), "model_a")
    assert.strictEqual(LlmJudge.combine("weak", "weak"), "model_b")
    assert.strictEqual(LlmJudge.combine("strong", "weak"), "tie")
    assert.strictEqual(LlmJudge.combine("strong", "tie"), "tie")
    assert.strictEqual(LlmJudge.combine("tie", "tie"), "tie")
  })

  it.live("judges both orders: a consistent judge gives wins, a position-biased judge gives ties", () =>
    Effect.scoped(Effect.gen(function*() {
      const root = yield* temporaryDirectory("judge")
      const { rows } = yield* Files.readCsv(gsm8kFile)
      const recorded = new Map(rows.slice(0, 12).map(({ value }) => [value.prompt!, value]))
      // A fair judge: prefers the answer the recorded grading called correct, ties otherwise.
      const fair = yield* StandIn.start((request) => {
        const { question, a, b } = answersOf(request)
        const row = recorded.get(question)!
        const correct = (answer: string) => answer === row[`${strongColumn}_response`] ? row[strongColumn] === "True" : row[weakColumn] === "True"
        const verdict = correct(a) && !correct(b) ? "[[A]]" : correct(b) && !correct(a) ? "[[B]]" : "[[C]]"
        return { content: `Reasoning.\n${verdict}` }
      })
      const result = yield* runAugmenter(
        LlmJudge.plugin,
        {
          prompts: promptSet(12),
          judge: judge(fair.baseUrl),
          strongName: "gpt-4-1106-preview",
          weakName: "mixtral-8x7b-instruct-v0.1"
        },
        stepContext(root),
        root
      )
      assert.strictEqual(fair.received.length, 24)
      assert.strictEqual(result.records.length, 12)
      result.records.forEach((battle) => {
        const row = recorded.get(battle.prompt)!
        const strong = row[strongColumn] === "True"
        const weak = row[weakColumn] === "True"
        assert.strictEqual(battle.winner, strong && !weak ? "model_a" : weak && !strong ? "model_b" : "tie")
      })
      assert.strictEqual(result.report.positionConsistency, 1)
      // Each prompt was shown once with the strong answer first and once with it second.
      const firstAnswers = fair.received.map((entry) => answersOf(entry.request).a)
      for (const [prompt, row] of recorded) {
        const shown = fair.received.filter((entry) => answersOf(entry.request).question === prompt).map((entry) => answersOf(entry.request).a)
        assert.sameMembers(shown, [row[`${strongColumn}_response`]!, row[`${weakColumn}_response`]!])
      }
      assert.strictEqual(firstAnswers.length, 24)

      const biased = yield* StandIn.start(() => ({ content: "The first one.\n[[A]]" }))
      const ties = yield* runAugmenter(
        LlmJudge.plugin,
        {
          prompts: promptSet(12),
          judge: judge(biased.baseUrl),
          strongName: "gpt-4-1106-preview",
          weakName: "mixtral-8x7b-instruct-v0.1"
        },
        stepContext(root),
        root
      )
      assert.isTrue(ties.records.every((battle) => battle.winner === "tie"))
      assert.strictEqual(ties.report.positionConsistency, 0)
      assert.strictEqual(ties.report.firstPositionPreference, 1)
    })).pipe(Effect.provide(Files.layer)))

  it.live("asks again after a malformed verdict, and counts one that stays malformed without guessing", () =>
    Effect.scoped(Effect.gen(function*() {
      const root = yield* temporaryDirectory("malformed")
      const { rows } = yield* Files.readCsv(gsm8kFile)
      const stubborn = rows[0]!.value.prompt!
      const server = yield* StandIn.start((request) => {
        const { question } = answersOf(request)
        if (question === stubborn) return { content: "Both have merit: [[A]] or [[B]]" }
        // Others: malformed on the first ask, a proper verdict after the reminder.
        return { content: request.messages.length === 2 ? "Answer A is better." : "[[A]]" }
      })
      const result = yield* runAugmenter(
        LlmJudge.plugin,
        {
          prompts: promptSet(3),
          judge: judge(server.baseUrl),
          strongName: "strong",
          weakName: "weak",
          parseRetries: 2
        },
        stepContext(root),
        root
      )
      assert.strictEqual(result.report.unparseable, 1)
      assert.strictEqual(result.records.length, 2)
      assert.isFalse(result.records.some((battle) => battle.prompt === stubborn))
      // Stubborn prompt: 2 orders x 3 asks; the others: 2 orders x 2 asks.
      assert.strictEqual(server.received.length, 6 + 2 * 4)
      const retry = server.received.find((entry) => entry.request.messages.length === 4)!
      assert.include(retry.request.messages[3]!.content, "exactly one of [[A]], [[B]] or [[C]]")
    })).pipe(Effect.provide(Files.layer)))

  it.live("generates missing responses, stops at the spending cap, and resumes without repeating calls", () =>
    Effect.scoped(Effect.gen(function*() {
      const root = yield* temporaryDirectory("judge-cap")
      yield* Files.readCsv(gsm8kFile)
      const server = yield* StandIn.start((request) => {
        if (request.model === "judge-model") {
          const { a } = answersOf(request)
          return { content: a.startsWith("STRONG") ? "[[A]]" : "[[B]]", promptTokens: 100, completionTokens: 0 }
        }
        return { content: `${request.model === "strong-model" ? "STRONG" : "WEAK"} answer to ${StandIn.lastUser(request).slice(0, 20)}`, promptTokens: 0 }
      })
      const prices = { inputDollarsPerMillion: 100, outputDollarsPerMillion: 0 }
      const base = {
        // Prompts only: the strong and weak responses are generated.
        prompts: { path: gsm8kFile, promptField: "prompt", limit: 8 },
        strong: { model: "strong-model", baseUrl: server.baseUrl, apiKeyEnv: "ROUTELLM_TEST_KEY" },
        weak: { model: "weak-model", baseUrl: server.baseUrl, apiKeyEnv: "ROUTELLM_TEST_KEY" },
        judge: judge(server.baseUrl, prices),
        strongName: "strong",
        weakName: "weak"
      }
      // A judge call costs 100 x $100 / 1e6 = $0.01; the cap allows about 6 of the 16.
      const capped = yield* runAugmenter(LlmJudge.plugin, { ...base, limits: { concurrency: 1, maxDollars: 0.055 } }, stepContext(root), root)
      assert.strictEqual(capped.report.budgetExhausted, true)
      const judgeCalls = server.received.filter((entry) => entry.request.model === "judge-model").length
      assert.strictEqual(judgeCalls, 6)
      assert.isAbove(capped.report.notJudged as number, 0)
      assert.strictEqual(capped.records.length, (capped.report.judged as number) - (capped.report.unparseable as number))
      assert.isTrue(capped.records.every((battle) => battle.winner === "model_a"))
      const before = new Set(server.succeeded())
      const countBefore = server.received.length
      const full = yield* runAugmenter(LlmJudge.plugin, { ...base, limits: { concurrency: 2 } }, stepContext(root), root)
      const resumed = server.received.slice(countBefore).map((entry) => StandIn.keyOf(entry.request))
      for (const key of resumed) assert.isFalse(before.has(key), "a paid request was sent again")
      assert.strictEqual(full.records.length, 8)
      assert.isTrue(full.records.every((battle) => battle.winner === "model_a"))
      assert.strictEqual(server.received.filter((entry) => entry.request.model === "judge-model").length, 16)
      assert.closeTo(full.report.cachedDollars as number, 0.06, 1e-12)
    })).pipe(Effect.provide(Files.layer)))
})
