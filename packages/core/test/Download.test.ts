/**
 * The downloader against a real HTTP server on 127.0.0.1.
 */
import { assert, describe, it } from "@effect/vitest"
import { Download } from "@routellm/core"
import { Effect, Exit } from "effect"
import { createHash } from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

const half = 2 * 1024 * 1024
// Two halves of distinct bytes, so a reordered or truncated file cannot pass.
const body = Buffer.concat([Buffer.alloc(half, 7), Buffer.from(Array.from({ length: half }, (_, index) => index % 251))])
const bodySha = createHash("sha256").update(body).digest("hex")

/** Serves `body` at /file.bin: the first half, then (once the client has it on disk) the second half. */
const serve = (partialDirectory: string) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ url: string; requests: () => number; sawPartial: () => boolean; close: () => Promise<void> }>((resolve) => {
        let requests = 0
        let sawPartial = false
        const server = Http.createServer(async (request, response) => {
          requests++
          if (request.url !== "/file.bin") {
            response.writeHead(404).end("no such file")
            return
          }
          response.writeHead(200, { "content-type": "application/octet-stream" })
          response.write(body.subarray(0, half))
          // A client that held the body in memory would write nothing before the end.
          for (let wait = 0; wait < 200 && !sawPartial; wait++) {
            const names = await Fs.readdir(partialDirectory).catch(() => [] as Array<string>)
            for (const name of names.filter((entry) => entry.endsWith(".partial"))) {
              if ((await Fs.stat(Path.join(partialDirectory, name))).size >= half) sawPartial = true
            }
            if (!sawPartial) await new Promise((done) => setTimeout(done, 25))
          }
          response.end(body.subarray(half))
        })
        server.listen(0, "127.0.0.1", () =>
          resolve({
            url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
            requests: () => requests,
            sawPartial: () => sawPartial,
            close: () => new Promise((done) => server.close(() => done()))
          }))
      })
    ),
    (server) => Effect.promise(server.close)
  )

const temporary = Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-download-")))

describe("Download", () => {
  it.live("streams to disk, checks the hash, records the revision, and reuses a complete copy", () =>
    Effect.scoped(Effect.gen(function*() {
      const directory = yield* temporary
      const server = yield* serve(directory)
      const target = Path.join(directory, "file.bin")
      const first = yield* Download.download({ url: `${server.url}/file.bin`, target, sha256: bodySha.toUpperCase(), revision: "abc123" })
      assert.isTrue(server.sawPartial(), "the first half was on disk before the second was sent")
      assert.deepStrictEqual({ ...first, path: Path.basename(first.path) }, { path: "file.bin", sha256: bodySha, bytes: body.length, fetched: true })
      assert.isTrue((yield* Effect.promise(() => Fs.readFile(target))).equals(body))
      const source = JSON.parse(yield* Effect.promise(() => Fs.readFile(`${target}.source.json`, "utf8")))
      assert.deepInclude(source, { url: `${server.url}/file.bin`, revision: "abc123", sha256: bodySha, bytes: body.length })
      assert.deepStrictEqual((yield* Effect.promise(() => Fs.readdir(directory))).sort(), ["file.bin", "file.bin.source.json"])

      const second = yield* Download.download({ url: `${server.url}/file.bin`, target, sha256: bodySha })
      assert.isFalse(second.fetched)
      assert.strictEqual(server.requests(), 1)
    })))

  it.live("a hash mismatch fails naming both hashes and keeps nothing; an HTTP error names the status", () =>
    Effect.scoped(Effect.gen(function*() {
      const directory = yield* temporary
      const server = yield* serve(directory)
      const target = Path.join(directory, "file.bin")
      const wrong = "0".repeat(64)
      const mismatch = yield* Effect.exit(Download.download({ url: `${server.url}/file.bin`, target, sha256: wrong }))
      assert.isTrue(Exit.isFailure(mismatch))
      const error = yield* Effect.flip(Download.download({ url: `${server.url}/file.bin`, target, sha256: wrong }))
      assert.strictEqual(error._tag, "DownloadError")
      assert.include(error.message, bodySha)
      assert.include(error.message, wrong)
      assert.deepStrictEqual(yield* Effect.promise(() => Fs.readdir(directory)), [])

      const missing = yield* Effect.flip(Download.download({ url: `${server.url}/nope.bin`, target }))
      assert.include(missing.message, "404")
      assert.deepStrictEqual(yield* Effect.promise(() => Fs.readdir(directory)), [])
    })))

  it("pins Hugging Face URLs to a revision", () => {
    assert.strictEqual(
      Download.huggingFaceUrl({ repository: "lmsys/arena", file: "data/train.csv", revision: "v1.0", kind: "dataset" }),
      "https://huggingface.co/datasets/lmsys/arena/resolve/v1.0/data/train.csv"
    )
    assert.strictEqual(
      Download.huggingFaceUrl({ repository: "routellm/mf", file: "model.safetensors", revision: "0123abc" }),
      "https://huggingface.co/routellm/mf/resolve/0123abc/model.safetensors"
    )
  })
})
