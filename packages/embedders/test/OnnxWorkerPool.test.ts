/**
 * The onnxruntime worker pool on real sessions: a worker killed in the middle
 * of a batch fails no other job, its own job is run again elsewhere, and the
 * pool keeps serving with a replacement thread.
 */
import { assert, describe, it } from "@effect/vitest"
import { OnnxModel } from "@routellm/embedders"
import { Effect } from "effect"
import * as OnnxWorkerPool from "../src/internal/OnnxWorkerPool.ts"

const dimensions = 256
const layers = 8

/** y = x W^8 with W = 2I: every output is the input times 256, after enough work to take a few milliseconds. */
const doublingModel = (): Uint8Array => {
  const identityTimesTwo = new Float32Array(dimensions * dimensions)
  for (let index = 0; index < dimensions; index++) identityTimesTwo[index * dimensions + index] = 2
  return OnnxModel.encode({
    name: "doubling",
    nodes: Array.from({ length: layers }, (_, layer) => ({
      op: "MatMul",
      inputs: [layer === 0 ? "x" : `h${layer}`, "w"],
      outputs: [layer === layers - 1 ? "y" : `h${layer + 1}`]
    })),
    initializers: [{ name: "w", dims: [dimensions, dimensions], data: identityTimesTwo }],
    inputs: [{ name: "x", type: OnnxModel.DataType.float, shape: ["rows", dimensions] }],
    outputs: [{ name: "y", type: OnnxModel.DataType.float, shape: ["rows", dimensions] }]
  })
}

const rows = 64
const feedsFor = (job: number) => ({
  x: { type: "float32" as const, data: new Float32Array(rows * dimensions).fill(job + 1), dims: [rows, dimensions] }
})

describe("OnnxWorkerPool", () => {
  it.live("a worker killed mid-batch fails no job: its job reruns, the others finish, a new thread replaces it", () =>
    Effect.promise(async () => {
      const pool = await OnnxWorkerPool.make(doublingModel(), 2)
      try {
        const before = pool.threads().map((thread) => thread.threadId)
        assert.strictEqual(before.length, 2)
        let finished = 0
        const jobs = Array.from({ length: 40 }, (_, job) => pool.run(feedsFor(job), "y").then((data) => (finished++, data)))
        // Kill a worker once the batch is under way.
        while (finished < 3) await new Promise((resolve) => setTimeout(resolve, 1))
        await pool.threads()[0]!.terminate()
        const results = await Promise.all(jobs)
        assert.isTrue(finished === 40)
        results.forEach((data, job) => {
          assert.strictEqual(data.length, rows * dimensions)
          assert.strictEqual(data[0], (job + 1) * 2 ** layers)
          assert.strictEqual(data[data.length - 1], (job + 1) * 2 ** layers)
        })
        // The pool still has two threads, one of them new, and serves the next batch.
        const after = pool.threads().map((thread) => thread.threadId)
        assert.strictEqual(after.length, 2)
        assert.isTrue(after.some((id) => !before.includes(id)), `threads before ${before}, after ${after}`)
        const again = await pool.run(feedsFor(99), "y")
        assert.strictEqual(again[0], 100 * 2 ** layers)
      } finally {
        await pool.close()
      }
    }))
})
