import { assert, describe, it } from "@effect/vitest"
import { ArtifactStore, Battles, Plugin, PluginRegistry, Progress, type Records } from "@routellm/core"
import { Tokenizer } from "@routellm/router-bert"
import { CausalRouter, FineTune, Scores, Template, TrainingData } from "@routellm/router-causal"
import { Effect, Layer, References } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as OnnxModels from "../../router-bert/test/support/OnnxModels.ts"
import * as StandIn from "./support/StandIn.ts"
import * as TinyBpe from "./support/TinyBpe.ts"

const temporary = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "router-causal-"))
const services = Layer.mergeAll(ArtifactStore.ArtifactStore.layerAt(temporary()), PluginRegistry.PluginRegistry.layer([]))

/** 1 - P(score >= 4), with the five scores' probabilities given unnormalised (0 = absent). */
const byHand = (p1: number, p2: number, p3: number, p4: number, p5: number) => 1 - (p4 + p5) / (p1 + p2 + p3 + p4 + p5)

const decode = (raw: unknown) => PluginRegistry.decodeConfig(CausalRouter.plugin, raw, "test")

describe("score tokens to win rate", () => {
  it("normalises over the score tokens and takes 1 - P(score >= threshold)", () => {
    const logits = [0.5, -1, 2, 0.25, 1.5]
    const e = logits.map(Math.exp)
    assert.closeTo(Scores.fromLogits(logits, 4), byHand(e[0]!, e[1]!, e[2]!, e[3]!, e[4]!), 1e-12)
    assert.closeTo(Scores.fromLogits(logits, 2), e[0]! / e.reduce((a, b) => a + b, 0), 1e-12)
    assert.strictEqual(Scores.fromLogprobs(new Map(), 5, 4), undefined)
  })
})

describe("router/causal on an OpenAI-compatible logprobs endpoint (local stand-in)", () => {
  it.live("reads top_logprobs, falls back to the strong model without score tokens and counts it", () =>
    Effect.gen(function*() {
      const standIn = yield* StandIn.start
      const config = yield* decode({ endpoint: { baseUrl: standIn.baseUrl, model: "router-8b", maxRetries: 0 } })
      const router = yield* CausalRouter.plugin.make(config, { baseDirectory: "/" }) as Effect.Effect<CausalRouter.CausalRouter, any, any>
      const top = Object.fromEntries(StandIn.chatTop.map((entry) => [entry.token, Math.exp(entry.logprob)]))
      const expected = byHand(top["[[1]]"]!, 0, top["[[3]]"]!, top["[[4]]"]!, top["[[5]]"]!)
      assert.closeTo(yield* router.winRate("What is 2 + 2?"), expected, 1e-9)
      assert.strictEqual(yield* router.winRate("NO-SCORES please"), 1)
      const batch = yield* router.winRates!(["a question", "NO-SCORES again", "another"])
      assert.deepStrictEqual([...batch].map((value) => value.toFixed(9)), [expected, 1, expected].map((value) => value.toFixed(9)))
      assert.deepStrictEqual(router.counters(), { scored: 3, fallbacks: 2, requestErrors: 0 })

      // The request carried the template's messages and asked for logprobs of one token.
      const request = JSON.parse(standIn.requests[0]!.body)
      assert.strictEqual(request.model, "router-8b")
      assert.strictEqual(request.max_tokens, 1)
      assert.strictEqual(request.logprobs, true)
      assert.strictEqual(request.top_logprobs, 20)
      assert.strictEqual(request.messages[0].role, "system")
      assert.include(request.messages[1].content, "What is 2 + 2?")

      // Server errors fail the scoring unless configured to route to the strong model.
      const failing = yield* Effect.flip(router.winRate("SERVER-ERROR"))
      assert.strictEqual(failing._tag, "RouterError")
      const tolerant = (yield* CausalRouter.plugin.make(
        yield* decode({ endpoint: { baseUrl: standIn.baseUrl, model: "m", maxRetries: 0, onRequestError: "strong" } }),
        { baseDirectory: "/" }
      )) as CausalRouter.CausalRouter
      assert.strictEqual(yield* tolerant.winRate("SERVER-ERROR"), 1)
      assert.strictEqual(tolerant.counters().requestErrors, 1)
    }).pipe(Effect.provide(services), Effect.provideService(References.MinimumLogLevel, "Error"), Effect.scoped))

  it.live("searches later positions (maxTokens) and reads the legacy completions format", () =>
    Effect.gen(function*() {
      const standIn = yield* StandIn.start
      const chat = (yield* CausalRouter.plugin.make(
        yield* decode({ endpoint: { baseUrl: standIn.baseUrl, model: "m", maxTokens: 2 } }),
        { baseDirectory: "/" }
      )) as CausalRouter.CausalRouter
      // Second position: [[2]] and " [[4]]" with equal probability.
      assert.closeTo(yield* chat.winRate("SECOND"), 0.5, 1e-12)
      const completions = (yield* CausalRouter.plugin.make(
        yield* decode({ endpoint: { baseUrl: standIn.baseUrl, model: "m", api: "completions" } }),
        { baseDirectory: "/" }
      )) as CausalRouter.CausalRouter
      // "[[2]]" counted once although it is both the sampled token and in top_logprobs; both spellings of [[4]] add up.
      const p2 = Math.exp(-0.5)
      const p4 = Math.exp(-1) + Math.exp(-2)
      assert.closeTo(yield* completions.winRate("anything"), byHand(0, p2, 0, p4, 0), 1e-12)
      const request = JSON.parse(standIn.requests.at(-1)!.body)
      assert.strictEqual(request.logprobs, 20)
      assert.include(request.prompt, "anything")
    }).pipe(Effect.provide(services), Effect.provideService(References.MinimumLogLevel, "Error"), Effect.scoped))
})

const writeTinyCausalModel = (directory: string) => {
  const d = 6
  const V = TinyBpe.vocabularySize
  const weights = {
    embeddings: OnnxModels.knownWeights(V * d, 11),
    dimensions: d,
    weights: OnnxModels.knownWeights(d * V, 12, 3),
    bias: OnnxModels.knownWeights(V, 13, 0.5)
  }
  Fs.writeFileSync(Path.join(directory, "model.onnx"), OnnxModels.causalLanguageModel(weights))
  Fs.writeFileSync(Path.join(directory, "tokenizer.json"), JSON.stringify(TinyBpe.tokenizerJson()))
  Fs.writeFileSync(Path.join(directory, "tokenizer_config.json"), JSON.stringify(TinyBpe.tokenizerConfig))
  return weights
}

/** By hand: mean of the prompt tokens' embeddings, logits of the five score ids, softmax, 1 - P(4) - P(5). */
const expectedOnnx = (w: ReturnType<typeof writeTinyCausalModel>, ids: ReadonlyArray<number>) => {
  const hidden = Array.from({ length: w.dimensions }, (_, k) => ids.reduce((sum, id) => sum + w.embeddings[id * w.dimensions + k]!, 0) / ids.length)
  const V = TinyBpe.vocabularySize
  const scoreLogits = [0, 1, 2, 3, 4].map((score) => {
    const id = TinyBpe.addedBase + score
    return w.bias[id]! + hidden.reduce((sum, value, k) => sum + value * w.weights[k * V + id]!, 0)
  })
  const e = scoreLogits.map(Math.exp)
  return byHand(e[0]!, e[1]!, e[2]!, e[3]!, e[4]!)
}

describe("router/causal on an ONNX causal LM", () => {
  it.effect("reads the score tokens' logits at the last prompt position, batched with padding", () =>
    Effect.gen(function*() {
      const directory = temporary()
      const weights = writeTinyCausalModel(directory)
      // Template that passes the question through, so the ids are known by hand.
      Fs.writeFileSync(Path.join(directory, "bare.yaml"), "system: ''\nuser: '{question}'\nformat: '{user}'\n")
      const tokenizer = yield* Tokenizer.load(directory)
      assert.deepStrictEqual(tokenizer.tokens("hello there world"), ["hello", "Ġthere", "Ġworld"])
      const config = yield* decode({ onnx: { model: "." }, template: "bare.yaml" })
      const router = (yield* CausalRouter.plugin.make(config, { baseDirectory: directory })) as CausalRouter.CausalRouter
      const hello = [259, 263, 268] // hello Ġthere Ġworld: merges 3, 7 and 12 of the tiny vocabulary
      assert.deepStrictEqual([...tokenizer.contentIds("hello there world")], hello)
      const one = yield* router.winRate("hello there world")
      assert.closeTo(one, expectedOnnx(weights, hello), 1e-5)
      const short = [...tokenizer.contentIds("hi")]
      const batch = yield* router.winRates!(["hello there world", "hi"])
      assert.closeTo(batch[0]!, expectedOnnx(weights, hello), 1e-5)
      assert.closeTo(batch[1]!, expectedOnnx(weights, short), 1e-5)
      assert.notStrictEqual(batch[0]!.toFixed(4), batch[1]!.toFixed(4))
      assert.deepStrictEqual(router.counters(), { scored: 3, fallbacks: 0, requestErrors: 0 })
    }).pipe(Effect.provide(services), Effect.scoped))

  it.effect("uses the default template, trims long questions to maxLength and refuses unknown score tokens", () =>
    Effect.gen(function*() {
      const directory = temporary()
      const weights = writeTinyCausalModel(directory)
      const config = yield* decode({ onnx: { model: directory, maxLength: 5000 } })
      const router = (yield* CausalRouter.plugin.make(config, { baseDirectory: "/" })) as CausalRouter.CausalRouter & {
        readonly onnxBackend: { readonly inputIds: (prompt: string) => ReadonlyArray<number> }
      }
      const tokenizer = yield* Tokenizer.load(directory)
      const template = yield* Template.load({}, "/")
      const ids = tokenizer.contentIds(Template.render(template, "hello there"))
      assert.deepStrictEqual([...router.onnxBackend.inputIds("hello there")], [...ids])
      assert.closeTo(yield* router.winRate("hello there"), expectedOnnx(weights, ids), 1e-5)

      // A question too long for maxLength is cut; the instructions before and after it stay whole.
      const empty = tokenizer.contentIds(Template.render(template, ""))
      const limit = empty.length + 10
      const tight = (yield* CausalRouter.plugin.make(yield* decode({ onnx: { model: directory, maxLength: limit } }), { baseDirectory: "/" })) as typeof router
      const long = tight.onnxBackend.inputIds("hello world ".repeat(400))
      assert.isAtMost(long.length, limit)
      assert.isAbove(long.length, empty.length)
      const head = tokenizer.contentIds(Template.render(template, "").split("Question:")[0]!)
      assert.deepStrictEqual([...long.slice(0, head.length)], [...head])
      const tail = tokenizer.contentIds("\n\nRating:\n")
      assert.deepStrictEqual([...long.slice(long.length - tail.length)], [...tail])

      const unknown = yield* decode({ onnx: { model: directory }, scoreTokens: ["one", "two", "three", "four", "five"] })
      const error = yield* Effect.flip(CausalRouter.plugin.make(unknown, { baseDirectory: "/" }))
      assert.include(error.message, "is not one token")
      const both = yield* decode({})
      assert.include((yield* Effect.flip(CausalRouter.plugin.make(both, { baseDirectory: "/" }))).message, "exactly one backend")
    }).pipe(Effect.provide(services), Effect.scoped))
})

describe("fine-tuning data and the fine-tuning step", () => {
  const battles: Array<Records.Battle> = [
    { prompt: "prove it", model_a: "gpt4_1106_preview", model_b: "Mixtral-8x7B-Instruct-v0.1", winner: "model_a" },
    { prompt: "say hi", model_a: "gpt-4-1106-preview", model_b: "mixtral-8x7b-instruct-v0.1", winner: "model_b" },
    { prompt: "say hi", model_a: "gpt-4-1106-preview", model_b: "mixtral-8x7b-instruct-v0.1", winner: "tie" },
    { prompt: "other", model_a: "claude-2", model_b: "gpt-4-1106-preview", winner: "model_a" }
  ]

  it.live("exports chat JSONL with score targets and fine-tunes through the stand-in until the job succeeds", () =>
    Effect.gen(function*() {
      const data = temporary()
      yield* Battles.write(data, battles)
      const exportDirectory = temporary()
      const exportConfig = yield* PluginRegistry.decodeConfig(TrainingData.plugin, {}, "test")
      const exported = yield* TrainingData.plugin.run(
        exportConfig,
        Plugin.stepContext(TrainingData.plugin, {
          stepId: "export",
          directory: exportDirectory,
          runDirectory: exportDirectory,
          baseDirectory: "/",
          inputs: [{ stepId: "data", uses: "dataset/x", kind: "dataset", directory: data, value: {}, fingerprint: "f" }]
        })
      )
      assert.deepStrictEqual((exported.summary as any).perScore, { "[[1]]": 1, "[[2]]": 0, "[[3]]": 0, "[[4]]": 1, "[[5]]": 1 })
      const lines = Fs.readFileSync(Path.join(exportDirectory, TrainingData.trainFile), "utf8").trim().split("\n").map((line) => JSON.parse(line))
      assert.strictEqual(lines.length, 3)
      assert.deepStrictEqual(lines.map((line) => line.messages.at(-1)), [
        { role: "assistant", content: "[[1]]" },
        { role: "assistant", content: "[[5]]" },
        { role: "assistant", content: "[[4]]" }
      ])
      assert.deepStrictEqual(lines[0].messages.map((message: { role: string }) => message.role), ["system", "user", "assistant"])
      assert.include(lines[0].messages[1].content, "prove it")

      const standIn = yield* StandIn.start
      const exportInput = {
        stepId: "export",
        uses: TrainingData.id,
        kind: "step" as const,
        port: TrainingData.port,
        directory: exportDirectory,
        value: exported.value,
        fingerprint: "g"
      }
      const tuneConfig = yield* PluginRegistry.decodeConfig(FineTune.plugin, {
        baseUrl: standIn.baseUrl,
        model: "llama-3-8b",
        suffix: "router",
        pollSeconds: 0.01
      }, "test")
      const tuned = yield* FineTune.plugin.run(
        tuneConfig,
        Plugin.stepContext(FineTune.plugin, {
          stepId: "tune",
          directory: temporary(),
          runDirectory: "/",
          baseDirectory: "/",
          inputs: [exportInput]
        })
      )
      assert.deepStrictEqual(
        { model: (tuned.value as any).fineTunedModel, polls: (tuned.value as any).polls, file: (tuned.value as any).trainingFile },
        { model: "ft:llama-3-8b:router:abc123", polls: 3, file: "file-train.jsonl-3" }
      )
      const paths = standIn.requests.map((request) => `${request.method} ${request.path}`)
      assert.deepStrictEqual(paths.slice(0, 3), ["POST /v1/files", "POST /v1/fine_tuning/jobs", "GET /v1/fine_tuning/jobs/ftjob-1"])

      const failConfig = yield* PluginRegistry.decodeConfig(FineTune.plugin, { baseUrl: standIn.baseUrl, model: "fail-me", pollSeconds: 0.01 }, "test")
      const failed = yield* Effect.flip(
        FineTune.plugin.run(
          failConfig,
          Plugin.stepContext(FineTune.plugin, { stepId: "tune", directory: temporary(), runDirectory: "/", baseDirectory: "/", inputs: [exportInput] })
        )
      )
      assert.include(failed.message, "failed: bad data")
    }).pipe(
      Effect.provide(services),
      Effect.provideService(Progress.Reporter, Progress.silent),
      Effect.provideService(References.MinimumLogLevel, "Error"),
      Effect.scoped
    ))
})
