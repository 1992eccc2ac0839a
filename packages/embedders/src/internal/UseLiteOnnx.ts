/**
 * USE-lite on onnxruntime-node: the graph from UseLiteGraph, run by a
 * session per worker thread (onnxruntime-node runs a session on the calling
 * thread, so more cores need more threads), or by one session in-process.
 */
import * as OnnxModel from "../OnnxModel.ts"
import * as Ort from "./Ort.ts"
import type { SequenceRunner } from "./SequenceRunner.ts"
import type { ModelFiles } from "./UseLiteFiles.ts"
import * as UseLiteGraph from "./UseLiteGraph.ts"

const dimensions = 512

/** Pad sequences into (ids, mask) tensors of shape [rows, longest]. */
export const padBatch = (ort: Ort.Ort, sequences: ReadonlyArray<ReadonlyArray<number>>) => {
  const length = Math.max(1, ...sequences.map((sequence) => sequence.length))
  const ids = new BigInt64Array(sequences.length * length)
  const mask = new Float32Array(sequences.length * length)
  sequences.forEach((sequence, row) => {
    for (let column = 0; column < sequence.length; column++) {
      ids[row * length + column] = BigInt(sequence[column]!)
      mask[row * length + column] = 1
    }
  })
  return {
    ids: new ort.Tensor("int64", ids, [sequences.length, length]),
    mask: new ort.Tensor("float32", mask, [sequences.length, length])
  }
}

export const make = async (
  files: ModelFiles,
  options: {
    readonly concurrency: number
    readonly precision?: UseLiteGraph.Precision
    readonly intraOpThreads?: number
    /** Worker threads with a session each (0: one session on this thread). */
    readonly workers?: number
  }
): Promise<SequenceRunner> => {
  const model = OnnxModel.encode(UseLiteGraph.build(files, { precision: options.precision ?? "float32" }))
  const ort = await Ort.load()
  if ((options.workers ?? 0) > 0) {
    // The pool (piscina) loads only when workers are asked for.
    const OnnxWorkerPool = await import("./OnnxWorkerPool.ts")
    const pool = await OnnxWorkerPool.make(model, options.workers!)
    const run = async (sequences: ReadonlyArray<ReadonlyArray<number>>) => {
      const { ids, mask } = padBatch(ort, sequences)
      const data = await pool.run({
        ids: { type: "int64", data: ids.data as BigInt64Array, dims: ids.dims },
        mask: { type: "float32", data: mask.data as Float32Array, dims: mask.dims }
      }, "embedding")
      if (data.length !== sequences.length * dimensions) throw new Error(`onnxruntime returned ${data.length} values`)
      return data
    }
    return { run, paddedTokens: 4096, maxRows: 64, close: pool.close }
  }
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: options.intraOpThreads ?? 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    logSeverityLevel: 3
  })
  // At most `concurrency` runs in flight; the rest wait their turn.
  let active = 0
  const waiting: Array<() => void> = []
  const acquire = () =>
    active < options.concurrency
      ? (active++, Promise.resolve())
      : new Promise<void>((resolve) => waiting.push(() => (active++, resolve())))
  const release = () => {
    active--
    waiting.shift()?.()
  }
  const run = async (sequences: ReadonlyArray<ReadonlyArray<number>>) => {
    await acquire()
    try {
      const output = await session.run(padBatch(ort, sequences))
      const data = output["embedding"]!.data as Float32Array
      if (data.length !== sequences.length * dimensions) throw new Error(`onnxruntime returned ${data.length} values`)
      return data
    } finally {
      release()
    }
  }
  return { run, paddedTokens: 4096, maxRows: 64, close: () => session.release() }
}
