// A piscina worker holding one onnxruntime session (see OnnxWorkerPool.ts).
// Plain CommonJS, so it runs without a TypeScript loader, from the sources
// in tests and from the bundled binary alike.
"use strict"
const { workerData } = require("piscina")
const ort = require("onnxruntime-node")

const ready = ort.InferenceSession.create(workerData.model, {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: "all",
  logSeverityLevel: 3
})

module.exports = async ({ feeds, output }) => {
  const session = await ready
  const tensors = {}
  for (const [name, feed] of Object.entries(feeds)) tensors[name] = new ort.Tensor(feed.type, feed.data, feed.dims)
  const result = await session.run(tensors)
  return Float32Array.from(result[output].data)
}

// Resolves once this worker's session is loaded (the pool starts every worker this way).
module.exports.ready = async () => {
  await ready
  return true
}
