import { assert, describe, it } from "@effect/vitest"
import { ArtifactStore, Embedder, Matrix, PluginRegistry, Progress } from "@routellm/core"
import { plugins } from "@routellm/embedders"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs/promises"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

const secret = "sk-test-secret-0123456789"
const keyVariable = "ROUTELLM_TEST_EMBEDDINGS_KEY"

interface Received {
  readonly input: ReadonlyArray<string>
  readonly model: string
  readonly authorization: string | undefined
  readonly status: number
}

/** A text's vector: [length, number of "a"s, 1]. */
const vectorOf = (text: string) => [text.length, text.split("a").length - 1, 1]

/**
 * An OpenAI-compatible /v1/embeddings server on 127.0.0.1. `script` gives the
 * status of each request in order (200 when it runs out); data comes back in
 * reverse order with `index` fields, as the API allows.
 */
const server = (script: ReadonlyArray<number>) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ readonly url: string; readonly received: Array<Received>; readonly close: () => Promise<void> }>((resolve) => {
        const received: Array<Received> = []
        const http = Http.createServer((request, response) => {
          let body = ""
          request.on("data", (chunk) => (body += chunk))
          request.on("end", () => {
            const parsed = JSON.parse(body) as { input: Array<string>; model: string }
            const status = script[received.length] ?? 200
            received.push({ input: parsed.input, model: parsed.model, authorization: request.headers.authorization, status })
            if (request.url !== "/v1/embeddings") {
              response.writeHead(404).end()
            } else if (status !== 200) {
              response.writeHead(status, { "content-type": "application/json", "retry-after-ms": "5" })
              response.end(JSON.stringify({ error: { message: `scripted ${status} for key ${request.headers.authorization}`, type: "test" } }))
            } else {
              const data = parsed.input.map((text, index) => ({ object: "embedding", index, embedding: vectorOf(text) })).reverse()
              response.writeHead(200, { "content-type": "application/json" })
              response.end(JSON.stringify({ object: "list", model: parsed.model, data, usage: { prompt_tokens: 1, total_tokens: 1 } }))
            }
          })
        })
        http.listen(0, "127.0.0.1", () => {
          const { port } = http.address() as AddressInfo
          resolve({
            url: `http://127.0.0.1:${port}/v1`,
            received,
            close: () => new Promise((done) => http.close(() => done()))
          })
        })
      })
    ),
    (running) => Effect.promise(() => running.close())
  )

const withServices = <A, E>(effect: Effect.Effect<A, E, any>) =>
  Effect.gen(function*() {
    const root = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-openai-")))
    process.env[keyVariable] = secret
    return yield* effect.pipe(
      Effect.scoped,
      Effect.provide(Layer.mergeAll(PluginRegistry.PluginRegistry.layer(plugins), ArtifactStore.ArtifactStore.layerAt(root))),
      Effect.provideService(Progress.Reporter, Progress.silent)
    )
  })

describe("embedder/openai against a local OpenAI-compatible server", () => {
  it.live("batches, retries 429 and 5xx with backoff, keeps input order and sends the key from the environment", () =>
    withServices(Effect.gen(function*() {
      // Request 1 -> 429, its retry -> 200; request 3 -> 503, its retry -> 200.
      const api = yield* server([429, 200, 503])
      const embedder = yield* PluginRegistry.makeEmbedder(
        {
          uses: "embedder/openai",
          with: { baseUrl: api.url, apiKeyEnv: keyVariable, model: "text-embedding-3-small", dimensions: 3, batchSize: 3, backoffMs: 1 }
        },
        { baseDirectory: "." }
      )
      const texts = ["a", "banana", "cat", "data", "e", "alpaca", "zebra"]
      const vectors = yield* Embedder.embedAll(embedder, texts)
      assert.deepStrictEqual(api.received.map((request) => request.input.length), [3, 3, 3, 3, 1])
      assert.deepStrictEqual(api.received.map((request) => request.status), [429, 200, 503, 200, 200])
      // The retried request is the same batch.
      assert.deepStrictEqual(api.received[0]!.input, api.received[1]!.input)
      assert.deepStrictEqual(api.received.flatMap((request, index) => index === 0 || index === 2 ? [] : request.input), texts)
      assert.isTrue(api.received.every((request) => request.authorization === `Bearer ${secret}` && request.model === "text-embedding-3-small"))
      texts.forEach((text, row) => assert.deepStrictEqual(Array.from(Matrix.row(vectors, row)), vectorOf(text)))
      // Cached: embedding again sends nothing.
      yield* Embedder.embedAll(embedder, texts)
      assert.strictEqual(api.received.length, 5)
    })))

  it.live("does not retry a 400, gives up after the retry budget, and never shows the key", () =>
    withServices(Effect.gen(function*() {
      const api = yield* server([400, 500, 500, 500])
      const embedder = yield* PluginRegistry.makeEmbedder(
        { uses: "embedder/openai", with: { baseUrl: api.url, apiKeyEnv: keyVariable, dimensions: 3, retries: 2, backoffMs: 1 } },
        { baseDirectory: "." }
      )
      const badRequest = yield* Effect.flip(embedder.embed(["x"]))
      assert.strictEqual(api.received.length, 1)
      assert.include(badRequest.message, "HTTP 400")
      assert.notInclude(badRequest.message, secret)
      const exhausted = yield* Effect.flip(embedder.embed(["y"]))
      assert.strictEqual(api.received.length, 4)
      assert.include(exhausted.message, "after 3 attempts")
      assert.notInclude(exhausted.message, secret)
    })))

  it.live("probes the width of an unknown model and needs the key for api.openai.com", () =>
    withServices(Effect.gen(function*() {
      const api = yield* server([])
      const embedder = yield* PluginRegistry.makeEmbedder(
        { uses: "embedder/openai", with: { baseUrl: api.url, apiKeyEnv: keyVariable, model: "local-model" } },
        { baseDirectory: "." }
      )
      assert.strictEqual(embedder.dimensions, 3)
      const other = yield* PluginRegistry.makeEmbedder(
        { uses: "embedder/openai", with: { baseUrl: api.url, apiKeyEnv: keyVariable, model: "other-model" } },
        { baseDirectory: "." }
      )
      assert.notStrictEqual(other.fingerprint, embedder.fingerprint)
      const missing = yield* Effect.flip(
        PluginRegistry.makeEmbedder({ uses: "embedder/openai", with: { apiKeyEnv: "ROUTELLM_TEST_UNSET_VARIABLE" } }, { baseDirectory: "." })
      )
      assert.include(missing.message, "ROUTELLM_TEST_UNSET_VARIABLE is not set")
    })))
})
