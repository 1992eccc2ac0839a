import { assert, describe, it } from "@effect/vitest"
import { AnswerExtraction, ChatClient, GoldenLabels } from "@routellm/augment"
import { ArtifactStore, Files } from "@routellm/core"
import { Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as Path from "node:path"
import { evalDirectory } from "../../../test/support/SharedData.ts"
import * as StandIn from "./StandIn.ts"
import { runAugmenter, stepContext, temporaryDirectory, writeJsonl } from "./Support.ts"

const strongColumn = "gpt-4-1106-preview"
const weakColumn = "mistralai/Mixtral-8x7B-Instruct-v0.1"
const mmluFile = Path.join(evalDirectory, "mmlu", "responses", "mmlu_abstract_algebra.csv")
const gsm8kFile = Path.join(evalDirectory, "gsm8k", "gsm8k_responses.csv")

const endpoints = (baseUrl: string, prices = { inputDollarsPerMillion: 0, outputDollarsPerMillion: 0 }) => ({
  strong: { model: "gpt-4-1106-preview", baseUrl, apiKeyEnv: "ROUTELLM_TEST_KEY", ...prices },
  weak: { model: "mixtral-8x7b-instruct-v0.1", baseUrl, apiKeyEnv: "ROUTELLM_TEST_KEY", ...prices }
})

/** GSM8K rows where at least one model is recorded correct; its answer is the ground truth. */
const gsm8kQuestions = Effect.gen(function*() {
  const { rows } = yield* Files.readCsv(gsm8kFile)
  const questions: Array<{ question: string; answer: string; strong: string; weak: string; strongOk: boolean; weakOk: boolean }> = []
  for (const { value } of rows) {
    const strongOk = value[strongColumn] === "True"
    const weakOk = value[weakColumn] === "True"
    const strong = value[`${strongColumn}_response`]!
    const weak = value[`${weakColumn}_response`]!
    const truth = strongOk ? AnswerExtraction.extractNumber(strong) : weakOk ? AnswerExtraction.extractNumber(weak) : undefined
    if (truth !== undefined) questions.push({ question: value.prompt!, answer: truth, strong, weak, strongOk, weakOk })
  }
  return questions
})

describe("augment/golden-labels", () => {
  it.live("recorded outcomes give battles without calling any model", () =>
    Effect.scoped(Effect.gen(function*() {
      const root = yield* temporaryDirectory("recorded")
      const result = yield* runAugmenter(
        GoldenLabels.plugin,
        {
          recorded: { path: mmluFile, strongField: strongColumn, weakField: weakColumn }
        },
        stepContext(root),
        root
      )
      const { rows } = yield* Files.readCsv(mmluFile)
      assert.strictEqual(result.records.length, rows.length)
      rows.forEach(({ value }, index) => {
        const strong = value[strongColumn] === "True"
        const weak = value[weakColumn] === "True"
        const expected = strong && !weak ? "model_a" : weak && !strong ? "model_b" : "tie"
        assert.strictEqual(result.records[index]!.winner, expected)
        assert.strictEqual(result.records[index]!.model_a, "gpt-4-1106-preview")
        assert.strictEqual(result.records[index]!.model_b, "mixtral-8x7b-instruct-v0.1")
      })
      assert.strictEqual(result.report.modelCalls, 0)
    })).pipe(Effect.provide(Files.layer)))

  it.live("grades stand-in answers to real MMLU questions and reproduces the recorded outcomes", () =>
    Effect.scoped(Effect.gen(function*() {
      const root = yield* temporaryDirectory("mmlu")
      const { rows } = yield* Files.readCsv(mmluFile)
      const chosen = rows.slice(0, 30).map(({ value }, index) => ({
        question: value.prompt!,
        answer: "ABCD"[index % 4]!,
        strongOk: value[strongColumn] === "True",
        weakOk: value[weakColumn] === "True"
      }))
      const byPrompt = new Map(chosen.map((row) => [row.question, row]))
      // The stand-in answers right exactly where the real model was recorded right, in varied styles.
      const server = yield* StandIn.start((request) => {
        const row = byPrompt.get(StandIn.lastUser(request))!
        const right = request.model === "gpt-4-1106-preview" ? row.strongOk : row.weakOk
        const letter = right ? row.answer : "ABCD"[("ABCD".indexOf(row.answer) + 1) % 4]!
        return { content: request.model === "gpt-4-1106-preview" ? `Reasoning first.\nAnswer: ${letter}` : `(${letter}) is my pick` }
      })
      const questionsFile = Path.join(root, "mmlu.jsonl")
      writeJsonl(questionsFile, chosen)
      const result = yield* runAugmenter(
        GoldenLabels.plugin,
        {
          questions: { path: questionsFile, answerType: "choice" },
          ...endpoints(server.baseUrl)
        },
        stepContext(root),
        root
      )
      const recorded = yield* runAugmenter(
        GoldenLabels.plugin,
        {
          recorded: { path: mmluFile, strongField: strongColumn, weakField: weakColumn, limit: 30 }
        },
        stepContext(root),
        root
      )
      assert.deepStrictEqual(result.records.map((battle) => battle.winner), recorded.records.map((battle) => battle.winner))
      assert.deepStrictEqual(result.records.map((battle) => battle.prompt), chosen.map((row) => row.question))
      assert.strictEqual(server.received.length, 60)
      assert.isTrue(server.received.every((entry) => entry.request.temperature === 0))
      assert.strictEqual(result.report.strongAccuracy, chosen.filter((row) => row.strongOk).length / 30)
    })).pipe(Effect.provide(Files.layer)))

  it.live("grades recorded GSM8K responses served by the stand-in and reports tokens and dollars", () =>
    Effect.scoped(Effect.gen(function*() {
      const root = yield* temporaryDirectory("gsm8k")
      const questions = (yield* gsm8kQuestions).slice(0, 60)
      const byPrompt = new Map(questions.map((row) => [row.question, row]))
      const server = yield* StandIn.start((request) => {
        const row = byPrompt.get(StandIn.lastUser(request))!
        return { content: request.model === "gpt-4-1106-preview" ? row.strong : row.weak, promptTokens: 100, completionTokens: 50 }
      })
      const questionsFile = Path.join(root, "gsm8k.jsonl")
      writeJsonl(questionsFile, questions)
      const prices = { inputDollarsPerMillion: 10, outputDollarsPerMillion: 30 }
      const config = { questions: { path: questionsFile, answerType: "number" }, ...endpoints(server.baseUrl, prices) }
      const context = stepContext(root)
      const result = yield* runAugmenter(GoldenLabels.plugin, config, context, root)
      const outcomes = yield* Files.readJsonl(Path.join(context.directory, "outcomes.jsonl"))
      assert.strictEqual(outcomes.rows.length, 60)
      const gradings = yield* Files.readJsonl(Path.join(context.directory, "gradings.jsonl"))
      assert.strictEqual((gradings.rows[0]!.value as GoldenLabels.Grading).strong.response, questions[0]!.strong)
      let agree = 0
      result.records.forEach((battle, index) => {
        const row = questions[index]!
        const expected = row.strongOk && !row.weakOk ? "model_a" : row.weakOk && !row.strongOk ? "model_b" : "tie"
        if (battle.winner === expected) agree++
      })
      assert.isAbove(agree / questions.length, 0.95, `${agree}/${questions.length}`)
      // 120 calls x (100 x $10 + 50 x $30) / 1e6
      assert.strictEqual(result.report.modelCalls, 120)
      assert.closeTo(result.report.dollars as number, 120 * (100 * 10 + 50 * 30) / 1e6, 1e-9)
      assert.strictEqual(result.report.promptTokens, 12_000)
      // A second run is served from the cache: no call, same battles.
      const again = yield* runAugmenter(GoldenLabels.plugin, config, stepContext(root), root)
      assert.strictEqual(server.received.length, 120)
      assert.strictEqual(again.report.cachedCalls, 120)
      assert.strictEqual(again.report.dollars, 0)
      assert.deepStrictEqual(again.records, result.records)
    })).pipe(Effect.provide(Files.layer)))

  it.live("resumes an interrupted run without repeating a single answered request", () =>
    Effect.scoped(Effect.gen(function*() {
      const root = yield* temporaryDirectory("resume")
      const questions = (yield* gsm8kQuestions).slice(0, 20)
      const byPrompt = new Map(questions.map((row) => [row.question, row]))
      let broken = true
      const server = yield* StandIn.start((request, index) => {
        // The first run dies after 15 answers: the endpoint starts rejecting requests.
        if (broken && index >= 15) return { status: 400 }
        const row = byPrompt.get(StandIn.lastUser(request))!
        return { content: request.model === "gpt-4-1106-preview" ? row.strong : row.weak }
      })
      const questionsFile = Path.join(root, "questions.jsonl")
      writeJsonl(questionsFile, questions)
      const config = {
        questions: { path: questionsFile, answerType: "number" },
        ...endpoints(server.baseUrl),
        limits: { concurrency: 3 }
      }
      const first = yield* Effect.exit(runAugmenter(GoldenLabels.plugin, config, stepContext(root), root))
      assert.isTrue(Exit.isFailure(first))
      const answeredBefore = new Set(server.succeeded())
      assert.strictEqual(answeredBefore.size, 15)
      const receivedBefore = server.received.length
      broken = false
      const second = yield* runAugmenter(GoldenLabels.plugin, config, stepContext(root), root)
      const resumed = server.received.slice(receivedBefore).map((entry) => StandIn.keyOf(entry.request))
      assert.strictEqual(resumed.length, 40 - 15)
      for (const key of resumed) assert.isFalse(answeredBefore.has(key), "an answered request was sent again")
      assert.strictEqual(new Set(resumed).size, resumed.length)
      assert.strictEqual(second.report.cachedCalls, 15)
      assert.strictEqual(second.records.length, 20)
    })).pipe(Effect.provide(Files.layer)))

  it.live("stops cleanly at the spending cap", () =>
    Effect.scoped(Effect.gen(function*() {
      const root = yield* temporaryDirectory("cap")
      const questions = (yield* gsm8kQuestions).slice(0, 10)
      const server = yield* StandIn.start(() => ({ content: "#### 1", promptTokens: 10, completionTokens: 0 }))
      const questionsFile = Path.join(root, "questions.jsonl")
      writeJsonl(questionsFile, questions)
      // Each call costs 10 tokens x $1000 / 1e6 = $0.01; calls start while less than $0.045 is spent.
      const result = yield* runAugmenter(
        GoldenLabels.plugin,
        {
          questions: { path: questionsFile, answerType: "number" },
          ...endpoints(server.baseUrl, { inputDollarsPerMillion: 1000, outputDollarsPerMillion: 0 }),
          limits: { concurrency: 1, maxDollars: 0.045 }
        },
        stepContext(root),
        root
      )
      assert.strictEqual(server.received.length, 5)
      assert.strictEqual(result.report.budgetExhausted, true)
      assert.closeTo(result.report.dollars as number, 0.05, 1e-12)
      const graded = result.report.graded as number
      assert.isAtMost(graded * 2, 5)
      assert.isAtLeast(graded, 1)
      assert.strictEqual(result.records.length, graded)
      assert.strictEqual(result.report.unanswered, 10 - graded)
    })).pipe(Effect.provide(Files.layer)))

  it.live("retries rate-limited and failing requests with backoff, then gives up with a clear error", () =>
    Effect.scoped(Effect.gen(function*() {
      const root = yield* temporaryDirectory("retry")
      const questions = (yield* gsm8kQuestions).slice(0, 4)
      const attempts = new Map<string, number>()
      const server = yield* StandIn.start((request) => {
        const key = StandIn.keyOf(request)
        const attempt = (attempts.get(key) ?? 0) + 1
        attempts.set(key, attempt)
        if (attempt === 1) return { status: 429, headers: { "retry-after": "0" } }
        if (attempt === 2) return { status: 503 }
        return { content: "#### 7" }
      })
      const questionsFile = Path.join(root, "questions.jsonl")
      writeJsonl(questionsFile, questions)
      const config = { questions: { path: questionsFile, answerType: "number" }, ...endpoints(server.baseUrl) }
      const failed = yield* Effect.flip(runAugmenter(GoldenLabels.plugin, { ...config, limits: { retries: 1, backoffMs: 1 } }, stepContext(root), root))
      assert.include(failed.message, "HTTP 503")
      attempts.clear()
      const result = yield* runAugmenter(GoldenLabels.plugin, { ...config, limits: { retries: 2, backoffMs: 1 } }, stepContext(root), root)
      assert.strictEqual(result.report.modelCalls, 8)
      assert.strictEqual(result.report.retries, 16)
      assert.strictEqual(result.records.length, 4)
    })).pipe(Effect.provide(Files.layer)))

  it.effect("keeps to the requests-per-minute limit (driven by the test clock)", () =>
    Effect.scoped(Effect.gen(function*() {
      const root = yield* temporaryDirectory("rpm")
      const server = yield* StandIn.start(() => ({ content: "#### 3" }))
      // Real HTTP, simulated time: the limiter sleeps on the TestClock, so a request can
      // only reach the stand-in after the clock is moved on by a full interval.
      const client = yield* ChatClient.make({ concurrency: 4, requestsPerMinute: 60, retries: 0, backoffMs: 1, timeoutMs: 10_000 }).pipe(
        Effect.provide(ArtifactStore.ArtifactStore.layerAt(root))
      )
      const endpoint = { ...endpoints(server.baseUrl).strong, maxTokens: 16, temperature: 0 }
      const fiber = yield* Effect.forkChild(
        Effect.forEach([1, 2, 3, 4], (index) => client.complete(endpoint, [{ role: "user", content: `question ${index}` }]), {
          concurrency: "unbounded"
        })
      )
      // Real-time waits (not the TestClock): until the stand-in has n requests, then a little longer.
      const received = (count: number) =>
        Effect.promise(async () => {
          for (let waited = 0; server.received.length < count && waited < 10_000; waited += 10) {
            await new Promise((resolve) => setTimeout(resolve, 10))
          }
          await new Promise((resolve) => setTimeout(resolve, 100))
          return server.received.length
        })
      assert.strictEqual(yield* received(1), 1)
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(yield* received(1), 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* received(2), 2)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* received(3), 3)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* received(4), 4)
      const replies = yield* Fiber.join(fiber)
      assert.strictEqual(replies.length, 4)
    })).pipe(Effect.provide(Files.layer)))
})
