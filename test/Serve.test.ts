/**
 * `routellm serve` as a supervisor runs it: started from a config file,
 * serving, then stopped with SIGTERM, which must be a clean shutdown that
 * exits 0 (issue #13, defect 7).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as UpstreamStandIn from "../packages/server/test/support/UpstreamStandIn.ts"
import { repositoryRoot } from "./support/SharedData.ts"

const binary = Path.join(repositoryRoot, "packages/cli/bin/routellm.js")

describe("routellm serve", () => {
  it.live("serves, and on SIGTERM finishes in-flight work and exits 0", () =>
    Effect.gen(function*() {
      const upstream = yield* Effect.acquireRelease(
        Effect.promise(() => UpstreamStandIn.start("upstream", { tokens: 20, streamDelayMs: 10 })),
        (standIn) => Effect.promise(() => standIn.close())
      )
      const directory = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-serve-")))
      const config = Path.join(directory, "serve.yaml")
      yield* Effect.promise(() =>
        Fs.writeFile(
          config,
          [
            "strong: strong-model",
            "weak: weak-model",
            "routers:",
            "  random: { uses: router/random }",
            "upstreams:",
            `  strong-model: { baseURL: "${upstream.baseURL}" }`,
            `  weak-model: { baseURL: "${upstream.baseURL}" }`,
            ""
          ].join("\n")
        )
      )
      const result = yield* Effect.promise(() =>
        new Promise<{ code: number | null; signal: string | null; output: string; streamed: string }>((resolve, reject) => {
          const child = spawn(process.execPath, [binary, "serve", "--config", config, "--port", "0"], { cwd: directory })
          let output = ""
          let streamed = ""
          let started = false
          const onOutput = (chunk: Buffer) => {
            output += chunk.toString()
            const match = /listening on (http:\/\/\S+)/.exec(output)
            if (match === null || started) return
            started = true
            const url = match[1]!
            void (async () => {
              // A stream in flight when SIGTERM arrives is finished, not cut.
              const response = await fetch(`${url}/v1/chat/completions`, {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: JSON.stringify({ model: "router-random-0.5", messages: [{ role: "user", content: "hi" }], stream: true })
              })
              const reader = response.body!.getReader()
              const first = await reader.read()
              streamed += new TextDecoder().decode(first.value)
              child.kill("SIGTERM")
              for (let next = await reader.read(); !next.done; next = await reader.read()) streamed += new TextDecoder().decode(next.value)
            })().catch(reject)
          }
          child.stdout.on("data", onOutput)
          child.stderr.on("data", onOutput)
          child.on("close", (code, signal) => resolve({ code, signal, output, streamed }))
        })
      )
      assert.strictEqual(result.code, 0, result.output)
      assert.include(result.output, "SIGTERM")
      assert.isTrue(result.streamed.endsWith("data: [DONE]\n\n"), result.streamed.slice(-200))
    }))
})
