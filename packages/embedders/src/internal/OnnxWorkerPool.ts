/**
 * onnxruntime sessions in worker threads. onnxruntime-node runs a session on
 * the calling thread (its `run` is synchronous underneath the promise), so
 * one session keeps one core busy however many runs are in flight; a session
 * per worker thread is what uses every core.
 *
 * The pool is piscina: each job is tracked with the worker that runs it, a
 * worker that dies fails only its own job and is replaced, and the queue
 * keeps going. A job whose worker died is tried once more on another worker
 * (the model is the same everywhere; a job that kills workers twice fails).
 */
import { fileURLToPath } from "node:url"
import { Piscina } from "piscina"

export interface Feed {
  readonly type: "int64" | "float32" | "int32"
  readonly data: BigInt64Array | Float32Array | Int32Array
  readonly dims: ReadonlyArray<number>
}

export interface Pool {
  /** Run the model on one worker; resolves with the named output's data. */
  readonly run: (feeds: Readonly<Record<string, Feed>>, output: string) => Promise<Float32Array>
  /** The worker threads now in the pool (tests kill one). */
  readonly threads: () => ReadonlyArray<{ readonly threadId: number; readonly terminate: () => Promise<number> }>
  readonly close: () => Promise<void>
}

const workerFile = fileURLToPath(import.meta.resolve("@routellm/embedders/onnx-worker"))

export const make = async (model: Uint8Array, size: number): Promise<Pool> => {
  const threads = Math.max(1, size)
  const pool = new Piscina({
    filename: workerFile,
    workerData: { model },
    minThreads: threads,
    maxThreads: threads,
    // One job per worker at a time: a session runs one batch on its thread anyway.
    concurrentTasksPerWorker: 1,
    idleTimeout: Number.POSITIVE_INFINITY
  })
  const once = (feeds: Readonly<Record<string, Feed>>, output: string) => pool.run({ feeds, output }) as Promise<Float32Array>
  const run = (feeds: Readonly<Record<string, Feed>>, output: string) => once(feeds, output).catch(() => once(feeds, output))
  // Start every worker now, so the first batch does not wait for sessions to load.
  await Promise.all(Array.from({ length: threads }, () => pool.run(null, { name: "ready" })))
  return {
    run,
    threads: () => pool.threads,
    close: () => pool.destroy()
  }
}
