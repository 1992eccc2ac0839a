import { assert, describe, it } from "@effect/vitest"
import { Adam, Random, Simd } from "@routellm/core"

const sameBits = (a: Float32Array, b: Float32Array, label: string) => {
  assert.strictEqual(a.length, b.length, label)
  let mismatches = 0
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) mismatches++
  assert.strictEqual(mismatches, 0, `${label}: ${mismatches} of ${a.length} values differ`)
}

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 on erf, error < 1.5e-7). */
const normalCdf = (x: number) => {
  const z = Math.abs(x) / Math.SQRT2
  const t = 1 / (1 + 0.3275911 * z)
  const erf = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z)
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf)
}

describe("Simd", () => {
  it("runs the WebAssembly SIMD kernels on Node", () => {
    assert.isTrue(Simd.vectorised())
    assert.isTrue(Simd.kernels(Simd.arena(1024)).vectorised)
  })

  it("draws the same normals in WebAssembly and in its JavaScript twin", () => {
    const arena = Simd.arena(1 << 20)
    const kernels = Simd.kernels(arena)
    const out = arena.float32(4096)
    const state = arena.int32(16)
    state.set(Simd.seedState(12))
    const twinState = Simd.seedState(12)
    const twin = new Float32Array(4096)
    for (let round = 0; round < 3; round++) {
      kernels.normals(out, state, 0.25)
      Simd.twins.normals(twin, twinState, 0.25)
      sameBits(out, twin, `round ${round}`)
    }
    assert.deepStrictEqual(Array.from(state), Array.from(twinState))
  })

  it("draws standard normals: moments and the Kolmogorov-Smirnov distance to the normal CDF", () => {
    const n = 1 << 18
    const samples = new Float32Array(n)
    Simd.twins.normals(samples, Simd.seedState(3), 1)
    let sum = 0
    let squares = 0
    let fourth = 0
    for (const value of samples) {
      sum += value
      squares += value * value
      fourth += value ** 4
    }
    const mean = sum / n
    const variance = squares / n - mean * mean
    // standard errors: 1/sqrt(n) for the mean, sqrt(2/n) for the variance, sqrt(96/n) for the 4th moment
    assert.closeTo(mean, 0, 4 / Math.sqrt(n))
    assert.closeTo(variance, 1, 4 * Math.sqrt(2 / n))
    assert.closeTo(fourth / n, 3, 4 * Math.sqrt(96 / n))
    const sorted = Float64Array.from(samples).sort()
    let distance = 0
    for (let i = 0; i < n; i++) {
      const cdf = normalCdf(sorted[i]!)
      distance = Math.max(distance, Math.abs(cdf - i / n), Math.abs(cdf - (i + 1) / n))
    }
    // 1.63 / sqrt(n) is the 1% critical value
    assert.isBelow(distance, 1.63 / Math.sqrt(n))
    // consecutive samples are uncorrelated
    let lagged = 0
    for (let i = 1; i < n; i++) lagged += samples[i]! * samples[i - 1]!
    assert.closeTo(lagged / n, 0, 4 / Math.sqrt(n))
  })

  it("gives different streams for different seeds", () => {
    const a = new Float32Array(64)
    const b = new Float32Array(64)
    Simd.twins.normals(a, Simd.seedState(1), 1)
    Simd.twins.normals(b, Simd.seedState(2), 1)
    assert.notDeepEqual(Array.from(a), Array.from(b))
  })

  it("gathers rows in WebAssembly as its twin does, for widths that are not a multiple of 4", () => {
    const arena = Simd.arena(1 << 16)
    const kernels = Simd.kernels(arena)
    const columns = 13
    const base = arena.float32(10 * columns)
    for (let i = 0; i < 10 * columns; i++) base[i] = i * 0.5
    const indices = arena.int32(4)
    indices.set([3, 0, 9, 3])
    const out = arena.float32(4 * columns).fill(1)
    kernels.addRows(out, base, indices, 4, columns)
    for (let row = 0; row < 4; row++) {
      for (let j = 0; j < columns; j++) assert.strictEqual(out[row * columns + j], 1 + (indices[row]! * columns + j) * 0.5)
    }
    // nothing past rows x columns is touched
    assert.strictEqual(out[4 * columns], 1)
  })

  it("takes Adam steps in WebAssembly as its twin does, and as the float64 optimiser to float32 precision", () => {
    const arena = Simd.arena(1 << 20)
    const kernels = Simd.kernels(arena)
    const n = 1000
    const generator = Random.make(4)
    const block = { values: arena.float32(n), gradients: arena.float32(n), first: arena.float32(n), second: arena.float32(n) }
    const twin = {
      values: new Float32Array(block.values.length),
      gradients: new Float32Array(block.values.length),
      first: new Float32Array(block.values.length),
      second: new Float32Array(block.values.length)
    }
    const double = { values: new Float64Array(block.values.length), gradients: new Float64Array(block.values.length) }
    for (let i = 0; i < n; i++) twin.values[i] = block.values[i] = double.values[i] = Math.fround(generator.normal())
    const options = { learningRate: 0.01 }
    const vectorised = Adam.float32(block, 1e-3, options, kernels)
    const javascript = Adam.float32(twin, 1e-3, options, Simd.twins)
    const reference = Adam.make([{ ...double, weightDecay: 1e-3 }], options)
    for (let step = 0; step < 20; step++) {
      for (let i = 0; i < n; i++) twin.gradients[i] = block.gradients[i] = double.gradients[i] = Math.fround(generator.normal() * (i % 7 === 0 ? 1e-4 : 1))
      vectorised.step(0.5)
      javascript.step(0.5)
      reference.step(0.5)
    }
    sameBits(block.values, twin.values, "values")
    sameBits(block.second, twin.second, "second moments")
    let largest = 0
    for (let i = 0; i < n; i++) largest = Math.max(largest, Math.abs(block.values[i]! - double.values[i]!))
    assert.isBelow(largest, 1e-5)
    assert.strictEqual(vectorised.steps(), 20)
  })
})

describe("Adam", () => {
  it("takes torch's first two steps (hand-computed)", () => {
    const values = Float64Array.of(1, -2, 0.5)
    const gradients = Float64Array.of(0.2, -0.4, 0)
    const optimizer = Adam.make([{ values, gradients, weightDecay: 0.1 }], { learningRate: 0.01 })
    optimizer.step()
    // g = gradient + 0.1·value = (0.3, -0.6, 0.05); after bias correction m̂ = g, v̂ = g², so each value moves by lr·g/(|g| + ε)
    assert.closeTo(values[0]!, 1 - 0.01 * 0.3 / (0.3 + 1e-8), 1e-15)
    assert.closeTo(values[1]!, -2 + 0.01 * 0.6 / (0.6 + 1e-8), 1e-15)
    assert.closeTo(values[2]!, 0.5 - 0.01 * 0.05 / (0.05 + 1e-8), 1e-15)
    gradients.set([0.2, -0.4, 0])
    optimizer.step()
    // step 2 for the first value: g2 = 0.2 + 0.1·(its value after step 1)
    const g1 = 0.3
    const after1 = 1 - 0.01 * 0.3 / (0.3 + 1e-8)
    const g2 = 0.2 + 0.1 * after1
    const m = (0.9 * 0.1 * g1 + 0.1 * g2) / (1 - 0.81)
    const v = (0.999 * 0.001 * g1 * g1 + 0.001 * g2 * g2) / (1 - 0.999 ** 2)
    assert.closeTo(values[0]!, after1 - 0.01 * m / (Math.sqrt(v) + 1e-8), 1e-14)
  })

  it("scales gradients before the decay and keeps groups apart", () => {
    const a = Float32Array.of(1)
    const b = Float32Array.of(1)
    const optimizer = Adam.make([
      { values: a, gradients: Float32Array.of(-4), weightDecay: 0 },
      { values: b, gradients: Float32Array.of(0), weightDecay: 1 }
    ], { learningRate: 0.5 })
    optimizer.step(0.25)
    // each group moves by lr against its own (scaled, decayed) gradient's sign
    assert.closeTo(a[0]!, 1.5, 1e-6)
    assert.closeTo(b[0]!, 0.5, 1e-6)
  })
})
