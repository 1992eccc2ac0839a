/**
 * A pool of worker processes that run cells, one cell per process at a time.
 * Processes start once and run many cells (start-up costs are paid once); a
 * process that dies mid-cell fails that cell and is replaced.
 */
import { Effect, Queue, Schema, Scope } from "effect"
import { type ChildProcess, fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import { CellResult, type CellSpec } from "../CellRun.ts"
import { CellError } from "../Plan.ts"

export interface Pool {
  readonly size: number
  readonly run: (spec: CellSpec, versions?: Readonly<Record<string, string>>) => Effect.Effect<CellResult, CellError>
}

interface Reply {
  readonly type: "ready" | "done" | "failed"
  readonly result?: unknown
  readonly reason?: string
}

interface Worker {
  readonly child: ChildProcess
  onReply: ((reply: Reply) => void) | undefined
  onExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined
  exited: boolean
}

const decodeResult = Schema.decodeUnknownSync(CellResult)

// From TypeScript sources (tests), the worker runs through tsx with the source export condition.
const fromSources = import.meta.url.endsWith(".ts")
// Resolved through the package's exports, so a caller bundled elsewhere (the CLI binary) still finds it.
const entry = fromSources
  ? fileURLToPath(new URL("./cellWorker.ts", import.meta.url))
  : fileURLToPath(import.meta.resolve("@routellm/sweep/internal/cellWorker"))
const execArgv = fromSources ? ["--conditions=source", "--import", "tsx"] : []

const spawn = (registryModule: string, env: NodeJS.ProcessEnv): Worker => {
  const child = fork(entry, [registryModule], { execArgv, env, stdio: ["ignore", "inherit", "inherit", "ipc"] })
  const worker: Worker = { child, onReply: undefined, onExit: undefined, exited: false }
  child.on("message", (reply: Reply) => {
    if (reply.type !== "ready") worker.onReply?.(reply)
  })
  child.on("exit", (code, signal) => {
    worker.exited = true
    worker.onExit?.(code, signal)
  })
  child.on("error", () => {})
  return worker
}

export const make = Effect.fn("WorkerPool.make")(function*(options: {
  readonly size: number
  readonly registryModule: string
  readonly env?: NodeJS.ProcessEnv
}) {
  const size = Math.max(1, options.size)
  const env = { ...process.env, ...options.env }
  const all = new Set<Worker>()
  const idle = yield* Queue.unbounded<Worker>()
  const start = () => {
    const worker = spawn(options.registryModule, env)
    all.add(worker)
    return worker
  }
  for (let index = 0; index < size; index++) yield* Queue.offer(idle, start())
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      for (const worker of all) if (!worker.exited) worker.child.kill("SIGTERM")
    })
  )

  const runOn = (worker: Worker, spec: CellSpec, versions: Readonly<Record<string, string>> | undefined) =>
    Effect.callback<CellResult, CellError>((resume) => {
      worker.onReply = (reply) => {
        worker.onReply = undefined
        worker.onExit = undefined
        if (reply.type === "done") {
          try {
            resume(Effect.succeed(decodeResult(reply.result)))
          } catch (error) {
            resume(Effect.fail(new CellError({ cell: spec.name, reason: `unreadable result from worker: ${String(error)}` })))
          }
        } else {
          resume(Effect.fail(new CellError({ cell: spec.name, reason: reply.reason ?? "failed" })))
        }
      }
      worker.onExit = (code, signal) => {
        worker.onReply = undefined
        resume(Effect.fail(new CellError({ cell: spec.name, reason: `worker process exited (${signal ?? `code ${code}`}) while running the cell` })))
      }
      if (worker.exited) {
        worker.onExit(worker.child.exitCode, null)
      } else {
        worker.child.send({ spec, ...(versions === undefined ? {} : { versions }) })
      }
      // Interrupted (the sweep stops): stop the computation with the process.
      return Effect.sync(() => {
        worker.onReply = undefined
        worker.onExit = undefined
        worker.child.kill("SIGTERM")
      })
    })

  const run = (spec: CellSpec, versions?: Readonly<Record<string, string>>) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const worker = yield* restore(Queue.take(idle))
        const exit = yield* Effect.exit(restore(runOn(worker, spec, versions)))
        // A worker that died or was stopped is replaced; a healthy one goes back.
        if (worker.exited || exit._tag === "Failure" && worker.child.killed) {
          all.delete(worker)
          yield* Queue.offer(idle, start())
        } else {
          yield* Queue.offer(idle, worker)
        }
        return yield* exit
      })
    )

  return { size, run } satisfies Pool
})

export type MakeRequirements = Scope.Scope
