/**
 * The one downloader: a file fetched over Effect's HttpClient is streamed to
 * disk (never held whole in memory), hashed as it arrives, checked against
 * the expected SHA-256 when one is given, and moved into place only when
 * complete, so an interrupted download never looks finished. A `.source.json`
 * beside the file records where it came from, its revision and its hash.
 *
 * The client is the HttpClient in context when there is one (tests, a proxy),
 * else Effect's fetch client.
 */
import { Effect, Option, Schema, Stream } from "effect"
import { FetchHttpClient, HttpClient, HttpClientRequest } from "effect/http"
import { createHash } from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"

export class DownloadError extends Schema.TaggedError<DownloadError>()("DownloadError", {
  url: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `download of ${this.url} failed: ${this.reason}`
  }
}

export interface Request {
  readonly url: string
  /** Where the file goes; its directory is created. */
  readonly target: string
  /** Hex SHA-256 the bytes must have; a mismatch fails and leaves no file. */
  readonly sha256?: string | undefined
  /** The revision the URL pins (a commit or tag), recorded in the source file. */
  readonly revision?: string | undefined
  /** Request headers (an authorization token): sent, never recorded or logged. */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

export interface Downloaded {
  readonly path: string
  readonly sha256: string
  readonly bytes: number
  /** False when the file was already there (and matched the expected hash). */
  readonly fetched: boolean
}

const sourceFile = (target: string) => `${target}.source.json`

const hashFile = (path: string) =>
  Effect.promise(async () => {
    const hash = createHash("sha256")
    const handle = await Fs.open(path, "r")
    try {
      for await (const chunk of handle.createReadStream()) hash.update(chunk as Buffer)
    } finally {
      await handle.close()
    }
    return hash.digest("hex")
  })

/** A Hugging Face file URL pinned to a revision (a commit hash, a tag or a branch). */
export const huggingFaceUrl = (options: {
  readonly repository: string
  readonly file: string
  readonly revision: string
  readonly kind?: "model" | "dataset"
}) =>
  `https://huggingface.co/${options.kind === "dataset" ? "datasets/" : ""}${options.repository}/resolve/${encodeURIComponent(options.revision)}/${
    options.file.split("/").map(encodeURIComponent).join("/")
  }`

/** Download `request.url` to `request.target` unless a complete copy is already there. */
export const download = Effect.fn("Download.download")(function*(request: Request) {
  const fail = (reason: string) => new DownloadError({ url: request.url, reason })
  const existing = yield* Effect.promise(() => Fs.stat(request.target).then((stat) => stat.size, () => undefined))
  if (existing !== undefined) {
    const sha256 = yield* hashFile(request.target)
    if (request.sha256 === undefined || sha256 === request.sha256.toLowerCase()) {
      return { path: request.target, sha256, bytes: existing, fetched: false } satisfies Downloaded
    }
    yield* Effect.logWarning(`${request.target}: sha256 ${sha256} is not the expected ${request.sha256}; downloading again`)
  }
  const provided = yield* Effect.serviceOption(HttpClient.HttpClient)
  // Effect's fetch client holds no state, so its service can outlive the layer that made it.
  const client = Option.isSome(provided) ? provided.value : yield* Effect.provide(
    Effect.gen(function*() {
      return yield* HttpClient.HttpClient
    }),
    FetchHttpClient.layer
  )
  yield* Effect.promise(() => Fs.mkdir(Path.dirname(request.target), { recursive: true }))
  const partial = `${request.target}.${process.pid}.partial`
  const hash = createHash("sha256")
  let bytes = 0
  const transfer = Effect.gen(function*() {
    const http = client.pipe(HttpClient.filterStatusOk)
    const response = yield* http.execute(HttpClientRequest.get(request.url).pipe(HttpClientRequest.setHeaders(request.headers ?? {}))).pipe(
      Effect.mapError((error) => fail(error.message))
    )
    const handle = yield* Effect.acquireRelease(
      Effect.promise(() => Fs.open(partial, "w")),
      (handle) => Effect.promise(() => handle.close())
    )
    yield* response.stream.pipe(
      Stream.mapError((error) => fail(error.message)),
      Stream.runForEach((chunk) =>
        Effect.promise(async () => {
          hash.update(chunk)
          bytes += chunk.length
          await handle.write(chunk)
        })
      )
    )
  }).pipe(Effect.scoped)
  yield* transfer.pipe(
    Effect.onError(() => Effect.promise(() => Fs.rm(partial, { force: true })))
  )
  const sha256 = hash.digest("hex")
  if (request.sha256 !== undefined && sha256 !== request.sha256.toLowerCase()) {
    yield* Effect.promise(() => Fs.rm(partial, { force: true }))
    return yield* fail(`sha256 ${sha256} is not the expected ${request.sha256} (${bytes} bytes); nothing was kept`)
  }
  yield* Effect.promise(async () => {
    await Fs.rename(partial, request.target)
    await Fs.writeFile(
      sourceFile(request.target),
      JSON.stringify({ url: request.url, revision: request.revision ?? null, sha256, bytes, downloadedAt: new Date().toISOString() }, null, 2) + "\n"
    )
  })
  yield* Effect.logInfo(`downloaded ${request.url} (${bytes} bytes, sha256 ${sha256.slice(0, 12)})`)
  return { path: request.target, sha256, bytes, fetched: true } satisfies Downloaded
})
