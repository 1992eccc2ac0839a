/**
 * The learn-from-traffic loop end to end: traffic through the real routing
 * server (serving router: router/random) writes the decision log;
 * pipelines/from-traffic.yaml turns it into judged battles with
 * augment/llm-judge against local stand-ins for the strong and weak models
 * and the judge, retrains router/sw on real USE-lite embeddings and compares
 * it with the serving router on held-out traffic.
 *
 * The judge's truth is known: the strong model's answer wins on proofs and
 * the weak model's on greetings. A router that learnt from the log must rank
 * held-out proofs above greetings; the random serving router cannot.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Augment from "@routellm/augment"
import { ArtifactStore, Files, Pipeline, PipelineRunner, PluginRegistry, Progress, RandomRouter } from "@routellm/core"
import * as Embedders from "@routellm/embedders"
import * as RouterSw from "@routellm/router-sw"
import * as ServerPackage from "@routellm/server"
import { Context, Effect, Layer, References } from "effect"
import * as Fs from "node:fs/promises"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as UpstreamStandIn from "../packages/server/test/support/UpstreamStandIn.ts"
import { repositoryRoot } from "./support/SharedData.ts"

const { Config, Metrics, Routing, Server, Traffic } = ServerPackage

/** An OpenAI-compatible judge: prefers the strong answer on proofs and the weak one otherwise, always as `[[A]]`/`[[B]]`. */
const startJudge = () =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ readonly baseURL: string; readonly calls: () => number; readonly close: () => Promise<void> }>((resolve) => {
        let calls = 0
        const server = Http.createServer((request, response) => {
          const chunks: Array<Buffer> = []
          request.on("data", (chunk: Buffer) => chunks.push(chunk))
          request.on("end", () => {
            calls++
            const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { messages: Array<{ role: string; content: string }> }
            const text = body.messages.find((message) => message.role === "user")!.content
            const question = /\[User request\]\n([\s\S]*?)\n\n\[Answer A\]/.exec(text)![1]!
            const answerA = /\[Answer A\]\n([\s\S]*?)\n\[End of Answer A\]/.exec(text)![1]!
            const strongIsA = answerA.includes("strong-t0")
            const strongBetter = /prove/i.test(question)
            const verdict = strongBetter === strongIsA ? "[[A]]" : "[[B]]"
            const reply = JSON.stringify({
              id: "judge",
              object: "chat.completion",
              created: 0,
              model: "judge",
              choices: [{ index: 0, message: { role: "assistant", content: `Compared both. ${verdict}` }, finish_reason: "stop" }],
              usage: { prompt_tokens: text.length, completion_tokens: 5, total_tokens: text.length + 5 }
            })
            response.writeHead(200, { "content-type": "application/json" })
            response.end(reply)
          })
        })
        server.listen(0, "127.0.0.1", () =>
          resolve({
            baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
            calls: () => calls,
            close: () => new Promise((done) => server.close(() => done()))
          }))
      })
    ),
    (judge) => Effect.promise(() => judge.close())
  )

const hardTopics = [
  "the sum of the first n odd numbers is a perfect square",
  "there are infinitely many primes",
  "the square root of 2 is irrational",
  "every tree with n nodes has n - 1 edges",
  "a bounded monotone sequence converges"
]
const easyTopics = ["my friend Alice", "the new neighbours", "everyone at the party", "my grandmother", "the team on Monday"]

/** Distinct prompts of two kinds; the kind decides which answer the judge prefers. */
const traffic = (): Array<string> => {
  const prompts: Array<string> = []
  for (let round = 0; round < 12; round++) {
    for (const topic of hardTopics) prompts.push(`Prove that ${topic}. Give every step of the proof (variant ${round}).`)
    for (const topic of easyTopics) prompts.push(`Say a friendly hello to ${topic}, in one short sentence (variant ${round}).`)
  }
  return prompts
}

describe("pipelines/from-traffic.yaml", () => {
  it.live("log -> judged battles -> retrained router beats the serving router on held-out traffic", () =>
    Effect.gen(function*() {
      const directory = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-traffic-")))
      const strong = yield* Effect.acquireRelease(Effect.promise(() => UpstreamStandIn.start("strong", { tokens: 4 })), (s) => Effect.promise(() => s.close()))
      const weak = yield* Effect.acquireRelease(Effect.promise(() => UpstreamStandIn.start("weak", { tokens: 4 })), (s) => Effect.promise(() => s.close()))
      const judge = yield* startJudge()
      const services = Layer.mergeAll(
        ArtifactStore.ArtifactStore.layerAt(Path.join(directory, "cache")),
        PluginRegistry.PluginRegistry.layer([RandomRouter.plugin, ...Embedders.plugins, ...Augment.plugins, ...RouterSw.plugins, ...ServerPackage.plugins])
      )

      // 1. Serve traffic with the decision log on.
      const prompts = traffic()
      yield* Effect.scoped(Effect.gen(function*() {
        const config = yield* Config.decode({
          strong: "strong-model",
          weak: "weak-model",
          routers: { random: { uses: "router/random", with: { seed: 3 } } },
          upstreams: { "strong-model": { baseURL: strong.baseURL }, "weak-model": { baseURL: weak.baseURL } },
          decisionLog: { path: "logs/decisions.jsonl", includePrompt: true },
          requestLog: false
        })
        const context = yield* Layer.build(
          Server.Server.layer({ port: 0 }).pipe(
            Layer.provideMerge(Layer.mergeAll(Routing.Routing.layer(config, directory), Metrics.Metrics.layer)),
            Layer.provide(services)
          )
        )
        const server = Context.get(context, Server.Server)
        for (const prompt of prompts) {
          const response = yield* Effect.promise(() =>
            fetch(`${server.url}/v1/chat/completions`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ model: "router-random-0.5", messages: [{ role: "user", content: prompt }] })
            })
          )
          assert.strictEqual(response.status, 200)
          yield* Effect.promise(() => response.arrayBuffer())
        }
      }))
      const log = Path.join(directory, "logs/decisions.jsonl")
      const logged = (yield* Effect.promise(() => Fs.readFile(log, "utf8"))).trim().split("\n").map((line) =>
        JSON.parse(line) as { prompt: string; scores: { random: number } }
      )
      assert.strictEqual(logged.length, prompts.length)

      // 2. The pipeline, pointed at the log and the stand-ins.
      const set = (text: string) => Pipeline.parseOverride(text)!
      const endpoint = (baseURL: string, model: string) => `{ model: ${model}, baseUrl: "${baseURL}", apiKeyEnv: UNUSED_KEY, maxTokens: 64 }`
      const overrides = [
        set(`traffic.log=${log}`),
        set(`held-out-traffic.log=${log}`),
        set(`compare.log=${log}`),
        set(`judged.strong=${endpoint(strong.baseURL, "upstream/strong")}`),
        set(`judged.weak=${endpoint(weak.baseURL, "upstream/weak")}`),
        set(`judged.judge=${endpoint(judge.baseURL, "judge")}`),
        set("judged.limits={ concurrency: 8 }"),
        set(`held-out-judged.strong=${endpoint(strong.baseURL, "upstream/strong")}`),
        set(`held-out-judged.weak=${endpoint(weak.baseURL, "upstream/weak")}`),
        set(`held-out-judged.judge=${endpoint(judge.baseURL, "judge")}`),
        set("held-out-judged.limits={ concurrency: 8 }")
      ]
      const result = yield* Effect.gen(function*() {
        const loaded = yield* Pipeline.load(Path.join(repositoryRoot, "pipelines/from-traffic.yaml"), overrides)
        const { resolved, registry } = yield* Pipeline.resolve(loaded)
        return yield* PipelineRunner.run(resolved, registry, { runDirectory: Path.join(directory, "run"), log: () => {} })
      }).pipe(Effect.provide(Layer.merge(services, Files.layer)))
      const step = (id: string) => result.manifest.steps.find((entry) => entry.id === id)!
      const trainPrompts = step("traffic").summary!.battles as number
      const heldOutPrompts = step("held-out-traffic").summary!.battles as number
      assert.strictEqual(trainPrompts + heldOutPrompts, prompts.length)
      assert.isAbove(heldOutPrompts, 10)
      // Held-out prompts are the seeded-hash split of the prompt hashes, none in training.
      const heldOut = logged.filter((entry) => Traffic.isHeldOut(0, ServerPackage.DecisionLog.promptHash(entry.prompt), 0.2))
      assert.strictEqual(heldOut.length, heldOutPrompts)
      // Every training prompt judged twice (both orders), every answer generated once.
      assert.strictEqual(step("judged").summary!.battles, trainPrompts)
      assert.strictEqual(judge.calls(), 2 * prompts.length)

      const report = step("compare").summary as Record<string, any>
      assert.strictEqual(report.prompts, heldOutPrompts)
      assert.strictEqual(report.serving, "random")
      assert.strictEqual(report.best, "retrained")
      // The serving router's AUC is computed from its logged scores; recompute it independently.
      const proofs = heldOut.filter((entry) => entry.prompt.startsWith("Prove"))
      const greetings = heldOut.filter((entry) => !entry.prompt.startsWith("Prove"))
      let wins = 0
      for (const proof of proofs) {
        for (const greeting of greetings) {
          wins += proof.scores.random > greeting.scores.random
            ? 1
            : proof.scores.random === greeting.scores.random
            ? 0.5
            : 0
        }
      }
      assert.closeTo(report.random.auc, wins / (proofs.length * greetings.length), 1e-12)
      // Retrained on the judged log, the router separates the two kinds of prompt.
      assert.isAbove(report.retrained.auc, 0.9)
      assert.isAbove(report.retrained.meanQuality, report.random.meanQuality)
      const files = yield* Effect.promise(() => Fs.readdir(step("compare").artifact))
      assert.includeMembers(files, ["report.json", "report.md"])
      const markdown = yield* Effect.promise(() => Fs.readFile(Path.join(step("compare").artifact, "report.md"), "utf8"))
      assert.include(markdown, "| retrained | retrained |")
    }).pipe(Effect.provideService(References.MinimumLogLevel, "None"), Effect.provideService(Progress.Reporter, Progress.silent)))
})
