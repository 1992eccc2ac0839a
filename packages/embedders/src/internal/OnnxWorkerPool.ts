/**
 * onnxruntime sessions in worker threads. onnxruntime-node runs a session on
 * the calling thread (its `run` is synchronous underneath the promise), so
 * one session keeps one core busy however many runs are in flight; a session
 * per worker thread is what uses every core.
 */
import { createRequire } from "node:module"
import { Worker } from "node:worker_threads"

export interface Feed {
  readonly type: "int64" | "float32" | "int32"
  readonly data: BigInt64Array | Float32Array | Int32Array
  readonly dims: ReadonlyArray<number>
}

export interface Pool {
  /** Run the model on one worker; resolves with the named output's data. */
  readonly run: (feeds: Readonly<Record<string, Feed>>, output: string) => Promise<Float32Array>
  readonly close: () => Promise<void>
}

// Plain CommonJS so the worker needs no TypeScript loader, in tests and in the built package alike.
const workerSource = `
const { parentPort, workerData } = require("node:worker_threads")
const ort = require(workerData.onnxruntime)
const ready = ort.InferenceSession.create(workerData.model, {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: "all",
  logSeverityLevel: 3
})
ready.then(() => parentPort.postMessage({ ready: true }), (error) => parentPort.postMessage({ ready: false, error: String(error) }))
parentPort.on("message", async (message) => {
  try {
    const session = await ready
    const feeds = {}
    for (const [name, feed] of Object.entries(message.feeds)) feeds[name] = new ort.Tensor(feed.type, feed.data, feed.dims)
    const result = await session.run(feeds)
    const data = Float32Array.from(result[message.output].data)
    parentPort.postMessage({ id: message.id, data }, [data.buffer])
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: String(error && error.message || error) })
  }
})
`

interface Pending {
  readonly resolve: (data: Float32Array) => void
  readonly reject: (error: Error) => void
}

export const make = async (model: Uint8Array, size: number): Promise<Pool> => {
  const onnxruntime = createRequire(import.meta.url).resolve("onnxruntime-node")
  const pending = new Map<number, Pending>()
  let nextId = 0
  const workers = await Promise.all(
    Array.from({ length: Math.max(1, size) }, () =>
      new Promise<Worker>((resolve, reject) => {
        const worker = new Worker(workerSource, { eval: true, workerData: { onnxruntime, model } })
        worker.unref()
        worker.once("message", (message: { ready: boolean; error?: string }) =>
          message.ready ? resolve(worker) : reject(new Error(`onnxruntime worker failed to start: ${message.error}`)))
        worker.once("error", reject)
      }))
  )
  for (const worker of workers) {
    worker.on("message", (message: { id: number; data?: Float32Array; error?: string }) => {
      const waiter = pending.get(message.id)
      if (waiter === undefined) return
      pending.delete(message.id)
      if (message.error !== undefined) waiter.reject(new Error(message.error))
      else waiter.resolve(message.data!)
    })
    worker.on("error", (error) => {
      for (const waiter of pending.values()) waiter.reject(error)
      pending.clear()
    })
  }
  const idle = [...workers]
  const queue: Array<(worker: Worker) => void> = []
  const acquire = () => idle.length > 0 ? Promise.resolve(idle.pop()!) : new Promise<Worker>((resolve) => queue.push(resolve))
  const release = (worker: Worker) => {
    const next = queue.shift()
    if (next) next(worker)
    else idle.push(worker)
  }
  const run = async (feeds: Readonly<Record<string, Feed>>, output: string) => {
    const worker = await acquire()
    try {
      const id = nextId++
      return await new Promise<Float32Array>((resolve, reject) => {
        pending.set(id, { resolve, reject })
        worker.postMessage({ id, feeds, output })
      })
    } finally {
      release(worker)
    }
  }
  return { run, close: () => Promise.all(workers.map((worker) => worker.terminate())).then(() => undefined) }
}
