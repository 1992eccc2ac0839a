/**
 * Similarities of many query embeddings against a fixed set of embeddings
 * (dot products; cosines for unit rows): one matrix product per batch. onnxruntime's MatMul (MLAS,
 * vectorised, multi-threaded) with the prompt embeddings as a constant, or
 * core's JavaScript product.
 */
import { Matrix } from "@routellm/core"
import * as Ort from "./internal/Ort.ts"
import * as OnnxModel from "./OnnxModel.ts"

export interface Engine {
  /** queries (n x d) times prompts (u x d) transposed: n x u. */
  readonly similarities: (queries: Matrix.Matrix) => Promise<Matrix.Matrix>
  readonly release: () => Promise<void>
}

export const javascript = (prompts: Matrix.Matrix): Engine => ({
  similarities: async (queries) => Matrix.multiplyTransposed(queries, prompts),
  release: async () => {}
})

/** A one-node ONNX graph: MatMul(queries, promptsᵀ) with promptsᵀ stored as an initializer. */
export const onnx = async (prompts: Matrix.Matrix, threads = 0): Promise<Engine> => {
  const transposed = new Float32Array(prompts.rows * prompts.columns)
  for (let row = 0; row < prompts.rows; row++) {
    for (let column = 0; column < prompts.columns; column++) {
      transposed[column * prompts.rows + row] = prompts.data[row * prompts.columns + column]!
    }
  }
  const bytes = OnnxModel.encode({
    name: "similarities",
    nodes: [{ op: "MatMul", inputs: ["queries", "prompts"], outputs: ["similarities"] }],
    initializers: [{ name: "prompts", dims: [prompts.columns, prompts.rows], data: transposed }],
    inputs: [{ name: "queries", type: OnnxModel.DataType.float, shape: ["n", prompts.columns] }],
    outputs: [{ name: "similarities", type: OnnxModel.DataType.float, shape: ["n", prompts.rows] }]
  })
  const ort = await Ort.load()
  const session = await ort.InferenceSession.create(bytes, {
    graphOptimizationLevel: "all",
    logSeverityLevel: 3,
    ...(threads > 0 ? { intraOpNumThreads: threads } : {})
  })
  return {
    similarities: async (queries) => {
      const output = await session.run({ queries: new ort.Tensor("float32", queries.data, [queries.rows, queries.columns]) })
      const result = output.similarities!
      return Matrix.make(queries.rows, prompts.rows, result.data as Float32Array)
    },
    release: () => session.release()
  }
}
