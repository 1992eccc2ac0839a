/**
 * The opt-in decision log: one JSON line per routed request with the time,
 * the prompt's hash (and the prompt when `includePrompt`), every router
 * score (the serving router's and the shadow routers', which are scored but
 * never obeyed), the chosen and the answering model, latency, tokens and
 * cost. `pipelines/from-traffic.yaml` turns it into battles and a retrained
 * router.
 *
 * Lines are appended through one write stream; a full disk or a missing
 * directory is reported once as a warning and never fails a request.
 */
import { Effect, Schema, type Scope } from "effect"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type * as Config from "./Config.ts"

export const Entry = Schema.Struct({
  time: Schema.String,
  promptHash: Schema.String,
  prompt: Schema.optionalKey(Schema.String),
  router: Schema.String,
  /** What the client asked for: a threshold, `s30` or `spend`. */
  target: Schema.String,
  threshold: Schema.Number,
  /** Win rate of the strong model by router name; the serving router first. */
  scores: Schema.Record(Schema.String, Schema.Number),
  strong: Schema.Boolean,
  /** The model the router chose, and the one that answered (differs after a fallback). */
  model: Schema.String,
  answeredBy: Schema.optionalKey(Schema.String),
  escalated: Schema.Boolean,
  status: Schema.Number,
  latencyMs: Schema.Number,
  routingMs: Schema.Number,
  promptTokens: Schema.optionalKey(Schema.Number),
  completionTokens: Schema.optionalKey(Schema.Number),
  dollars: Schema.optionalKey(Schema.Number),
  apiKey: Schema.String
})
export type Entry = typeof Entry.Type

export const promptHash = (prompt: string): string => createHash("sha256").update(prompt).digest("hex").slice(0, 32)

export interface DecisionLogShape {
  readonly config: Config.DecisionLog
  readonly write: (entry: Entry) => void
}

/** Open the log for appending for the rest of the scope. */
export const open = (config: Config.DecisionLog, baseDirectory: string): Effect.Effect<DecisionLogShape, never, Scope.Scope> =>
  Effect.gen(function*() {
    const file = Path.resolve(baseDirectory, config.path)
    yield* Effect.promise(() => Fs.promises.mkdir(Path.dirname(file), { recursive: true }).catch(() => undefined))
    const stream = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.createWriteStream(file, { flags: "a" })),
      (stream) => Effect.callback<void>((resume) => void stream.end(() => resume(Effect.void)))
    )
    let warned = false
    const runFork = Effect.runForkWith(yield* Effect.context<never>())
    stream.on("error", (error) => {
      if (warned) return
      warned = true
      runFork(Effect.logWarning(`decision log ${file}: ${error.message}; decisions are not being logged`))
    })
    yield* Effect.logInfo(`decision log: appending to ${file}${config.includePrompt ? " (with prompts)" : ""}`)
    return {
      config,
      write: (entry) => {
        if (!stream.destroyed) stream.write(`${JSON.stringify(entry)}\n`)
      }
    }
  })
