/**
 * Vectorised float32 kernels for training loops, written as WebAssembly SIMD
 * (four lanes per instruction), each with a JavaScript twin that performs
 * the same IEEE single-precision operations in the same order, so both give
 * bit-identical results (the twin runs where WebAssembly SIMD is missing, and
 * checks the kernels in tests).
 *
 * - `adam`: one torch-style Adam step (L2 decay added to the gradient) over
 *   float32 values and moments.
 * - `normals`: standard normal samples, Box-Muller on a four-lane
 *   xorshift128 generator, with float32 polynomial log and sine/cosine
 *   accurate to about one unit in the last place, so the samples are
 *   Gaussian to float32 resolution (tails to 5.7 standard deviations).
 * - `addRows`: out[r] += base[indices[r]], gathering rows of a matrix.
 *
 * The kernels read and write views into one `Arena` (a WebAssembly memory).
 */
import * as Wasm from "./internal/Wasm.ts"

const { op } = Wasm

/** The part of the WebAssembly API used here (Node's @types do not declare it). */
interface WasmApi {
  readonly validate: (bytes: Uint8Array) => boolean
  readonly Module: new(bytes: Uint8Array) => object
  readonly Instance: new(module: object, imports: object) => { readonly exports: Record<string, unknown> }
  readonly Memory: new(descriptor: { readonly initial: number; readonly maximum: number }) => Memory
}
const WebAssemblyApi = (globalThis as unknown as { readonly WebAssembly?: WasmApi }).WebAssembly

/** A WebAssembly memory. */
export interface Memory {
  readonly buffer: ArrayBuffer
}

/** Views of one WebAssembly memory, allocated once (the memory never grows, so views stay valid). */
export interface Arena {
  readonly memory: Memory
  /** A zeroed float32 view whose length is rounded up to a multiple of 8 (32 bytes). */
  readonly float32: (length: number) => Float32Array
  readonly int32: (length: number) => Int32Array
  readonly bytesLeft: () => number
}

/** An arena with room for `bytes` (plus alignment). */
export const arena = (bytes: number): Arena => {
  const pages = Math.max(1, Math.ceil((bytes + 4096) / 65536))
  // Without WebAssembly a plain buffer serves the JavaScript twins.
  const memory: Memory = WebAssemblyApi === undefined
    ? { buffer: new ArrayBuffer(pages * 65536) }
    : new WebAssemblyApi.Memory({ initial: pages, maximum: pages })
  let next = 0
  const take = (byteLength: number) => {
    const start = next
    next = Math.ceil((start + byteLength) / 32) * 32
    if (next > pages * 65536) throw new RangeError(`Simd arena of ${pages * 65536} bytes is full`)
    return start
  }
  return {
    memory,
    float32: (length) => {
      const padded = Math.ceil(length / 8) * 8
      return new Float32Array(memory.buffer, take(padded * 4), padded)
    },
    int32: (length) => new Int32Array(memory.buffer, take(length * 4), length),
    bytesLeft: () => pages * 65536 - next
  }
}

export interface AdamStep {
  /** Multiplies the gradient before the decay term (1: none). */
  readonly gradientScale: number
  readonly weightDecay: number
  readonly beta1: number
  readonly beta2: number
  /** 1 - beta1^t and 1 - beta2^t. */
  readonly correction1: number
  readonly correction2: number
  readonly learningRate: number
  readonly epsilon: number
}

export interface Kernels {
  readonly vectorised: boolean
  /**
   * In place, for every i (lengths equal and a multiple of 4):
   * g = gradient·scale + decay·value; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g·g;
   * value −= (lr / c1)·(m / (sqrt(v)·(1 / sqrt(c2)) + ε)) as torch orders it, with the
   * scalars lr / c1 and 1 / sqrt(c2) computed in float64, every other operation in float32.
   */
  readonly adam: (values: Float32Array, gradients: Float32Array, first: Float32Array, second: Float32Array, step: AdamStep) => void
  /** Fill `out` (length a multiple of 8) with scale · N(0, 1) samples, advancing `state` (from `seedState`). */
  readonly normals: (out: Float32Array, state: Int32Array, scale: number) => void
  /** out[r·columns + j] += base[indices[r]·columns + j] for r < rows, j < columns. */
  readonly addRows: (out: Float32Array, base: Float32Array, indices: Int32Array, rows: number, columns: number) => void
}

/** The generator state (16 words: four xorshift128 lanes) for a seed, from SplitMix32. */
export const seedState = (seed: number): Int32Array => {
  let state = (seed >>> 0) ^ 0x6a09e667
  const out = new Int32Array(16)
  for (let i = 0; i < 16; i++) {
    state = (state + 0x9e3779b9) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    z ^= z >>> 16
    // xorshift128 needs a nonzero state per lane
    out[i] = z === 0 ? 0x2545f491 : z
  }
  return out
}

// Constants shared by the kernel and its twin (float32 values).
const fround = Math.fround
const c = {
  multiplier: 0x2c9277b5,
  unit: 2 ** -24,
  sqrt2: fround(Math.SQRT2),
  log3: fround(1 / 3),
  log5: fround(1 / 5),
  log7: fround(1 / 7),
  log9: fround(1 / 9),
  // ln 2 split so e·ln2High is exact for |e| <= 2^8
  ln2High: fround(0.693145751953125),
  ln2Low: fround(Math.LN2 - 0.693145751953125),
  halfPi: fround(Math.PI / 2),
  sin3: fround(-1 / 6),
  sin5: fround(1 / 120),
  sin7: fround(-1 / 5040),
  sin9: fround(1 / 362880),
  cos2: fround(-1 / 2),
  cos4: fround(1 / 24),
  cos6: fround(-1 / 720),
  cos8: fround(1 / 40320)
}

// ---------------------------------------------------------------------------
// The kernels in WebAssembly

const loopBytes = (counter: number, end: number, step: number, body: ReadonlyArray<Wasm.Code>): Array<Wasm.Code> => [
  op.block,
  op.loop,
  op.get(counter),
  op.get(end),
  op.i32GeU,
  op.brIf(1),
  ...body,
  op.get(counter),
  op.i32Const(step),
  op.i32Add,
  op.set(counter),
  op.br(0),
  op.end,
  op.end
]

const adamFunction: Wasm.Function = (() => {
  // parameters
  const [values, gradients, first, second, end] = [0, 1, 2, 3, 4]
  const [scale, decay, beta1, oneMinusBeta1, beta2, oneMinusBeta2, stepSize, inverseRoot, epsilon] = [5, 6, 7, 8, 9, 10, 11, 12, 13]
  // locals
  const i = 14
  const splats = 15 // 15..23 hold the splatted scalars 5..13
  const [g, value, m, v] = [24, 25, 26, 27]
  const splat = (scalar: number) => op.get(splats + scalar - scale)
  return {
    name: "adam",
    parameters: [Wasm.i32, Wasm.i32, Wasm.i32, Wasm.i32, Wasm.i32, ...Array(9).fill(Wasm.f32)],
    locals: [[1, Wasm.i32], [13, Wasm.v128]],
    body: [
      Array.from({ length: 9 }, (_, k) => [op.get(scale + k), op.f32x4Splat, op.set(splats + k)]),
      ...loopBytes(i, end, 16, [
        [op.get(values), op.get(i), op.i32Add, op.v128Load(), op.set(value)],
        // g = gradient·scale + decay·value
        [op.get(gradients), op.get(i), op.i32Add, op.v128Load(), splat(scale), op.f32x4Mul],
        [splat(decay), op.get(value), op.f32x4Mul, op.f32x4Add, op.set(g)],
        // m = β1·m + (1−β1)·g
        [op.get(first), op.get(i), op.i32Add],
        [splat(beta1), op.get(first), op.get(i), op.i32Add, op.v128Load(), op.f32x4Mul],
        [splat(oneMinusBeta1), op.get(g), op.f32x4Mul, op.f32x4Add, op.tee(m), op.v128Store()],
        // v = β2·v + ((1−β2)·g)·g
        [op.get(second), op.get(i), op.i32Add],
        [splat(beta2), op.get(second), op.get(i), op.i32Add, op.v128Load(), op.f32x4Mul],
        [splat(oneMinusBeta2), op.get(g), op.f32x4Mul, op.get(g), op.f32x4Mul, op.f32x4Add, op.tee(v), op.v128Store()],
        // value −= (lr / c1)·(m / (sqrt(v)·(1 / sqrt(c2)) + ε)), torch's order with one division
        [op.get(values), op.get(i), op.i32Add],
        op.get(value),
        splat(stepSize),
        op.get(m),
        [op.get(v), op.f32x4Sqrt, splat(inverseRoot), op.f32x4Mul, splat(epsilon), op.f32x4Add],
        op.f32x4Div,
        op.f32x4Mul,
        op.f32x4Sub,
        op.v128Store()
      ])
    ]
  }
})()

const normalsFunction: Wasm.Function = (() => {
  const [out, end, statePointer, scale] = [0, 1, 2, 3]
  const i = 4
  const [x, y, z, w, t, o1, o2] = [5, 6, 7, 8, 9, 10, 11] as const
  const [e, m, mask, s, s2, r, phi] = [12, 13, 14, 15, 16, 17, 18] as const
  const [phi2, sine, cosine, q, a, b, scale4] = [19, 20, 21, 22, 23, 24, 25] as const
  const f = op.f32x4Const
  const step = (into: number) => [
    // xorshift128 per lane: t = x ^ (x << 11); x, y, z = y, z, w; w = w ^ (w >>> 19) ^ t ^ (t >>> 8)
    [op.get(x), op.get(x), op.i32Const(11), op.i32x4Shl, op.v128Xor, op.set(t)],
    [op.get(y), op.set(x), op.get(z), op.set(y), op.get(w), op.set(z)],
    [op.get(w), op.get(w), op.i32Const(19), op.i32x4ShrU, op.v128Xor],
    [op.get(t), op.get(t), op.i32Const(8), op.i32x4ShrU, op.v128Xor, op.v128Xor, op.tee(w)],
    [op.i32x4Const(c.multiplier), op.i32x4Mul, op.set(into)]
  ]
  return {
    name: "normals",
    parameters: [Wasm.i32, Wasm.i32, Wasm.i32, Wasm.f32],
    locals: [[1, Wasm.i32], [21, Wasm.v128]],
    body: [
      [op.get(statePointer), op.v128Load(0), op.set(x)],
      [op.get(statePointer), op.v128Load(16), op.set(y)],
      [op.get(statePointer), op.v128Load(32), op.set(z)],
      [op.get(statePointer), op.v128Load(48), op.set(w)],
      [op.get(scale), op.f32x4Splat, op.set(scale4)],
      ...loopBytes(i, end, 32, [
        ...step(o1),
        ...step(o2),
        // u = ((o1 >>> 8) + 1)·2^-24 in (0, 1]; reuse m for u
        [op.get(o1), op.i32Const(8), op.i32x4ShrU, op.f32x4ConvertI32x4S, f(1), op.f32x4Add, f(c.unit), op.f32x4Mul, op.set(m)],
        // u = 2^e · m with m in [sqrt(1/2), sqrt(2))
        [op.get(m), op.i32Const(23), op.i32x4ShrU, op.i32x4Const(127), op.i32x4Sub, op.set(e)],
        [op.get(m), op.i32x4Const(0x7fffff), op.v128And, op.i32x4Const(0x3f800000), op.v128Or, op.set(m)],
        [op.get(m), f(c.sqrt2), op.f32x4Gt, op.set(mask)],
        [op.get(m), f(0.5), op.f32x4Mul, op.get(m), op.get(mask), op.v128Bitselect, op.set(m)],
        [op.get(e), op.get(mask), op.i32x4Sub, op.f32x4ConvertI32x4S, op.set(e)],
        // log m = 2·atanh(s), s = (m − 1)/(m + 1)
        [op.get(m), f(1), op.f32x4Sub, op.get(m), f(1), op.f32x4Add, op.f32x4Div, op.set(s)],
        [op.get(s), op.get(s), op.f32x4Mul, op.set(s2)],
        [op.get(s2), f(c.log9), op.f32x4Mul, f(c.log7), op.f32x4Add, op.get(s2), op.f32x4Mul, f(c.log5), op.f32x4Add],
        [op.get(s2), op.f32x4Mul, f(c.log3), op.f32x4Add, op.get(s2), op.f32x4Mul],
        [op.get(s), op.f32x4Mul, op.get(s), op.f32x4Add, op.set(s)],
        // log u = (2s(1+p) + e·ln2Low) + e·ln2High; r = sqrt(−2 log u)
        [op.get(s), op.get(s), op.f32x4Add, op.get(e), f(c.ln2Low), op.f32x4Mul, op.f32x4Add],
        [op.get(e), f(c.ln2High), op.f32x4Mul, op.f32x4Add],
        [f(-2), op.f32x4Mul, op.f32x4Sqrt, op.get(scale4), op.f32x4Mul, op.set(r)],
        // angle: quadrant q from the top two bits, φ in [−π/4, π/4) from the next 24
        [op.get(o2), op.i32Const(30), op.i32x4ShrU, op.set(q)],
        [op.get(o2), op.i32Const(6), op.i32x4ShrU, op.i32x4Const(0xffffff), op.v128And, op.f32x4ConvertI32x4S, f(c.unit), op.f32x4Mul],
        [f(0.5), op.f32x4Sub, f(c.halfPi), op.f32x4Mul, op.set(phi)],
        [op.get(phi), op.get(phi), op.f32x4Mul, op.set(phi2)],
        [op.get(phi2), f(c.sin9), op.f32x4Mul, f(c.sin7), op.f32x4Add, op.get(phi2), op.f32x4Mul, f(c.sin5), op.f32x4Add],
        [op.get(phi2), op.f32x4Mul, f(c.sin3), op.f32x4Add, op.get(phi), op.get(phi2), op.f32x4Mul, op.f32x4Mul],
        [op.get(phi), op.f32x4Add, op.set(sine)],
        [op.get(phi2), f(c.cos8), op.f32x4Mul, f(c.cos6), op.f32x4Add, op.get(phi2), op.f32x4Mul, f(c.cos4), op.f32x4Add],
        [op.get(phi2), op.f32x4Mul, f(c.cos2), op.f32x4Add, op.get(phi2), op.f32x4Mul, f(1), op.f32x4Add, op.set(cosine)],
        // rotate (cos φ, sin φ) by q quarter turns
        [op.get(q), op.i32x4Const(1), op.v128And, op.i32x4Neg, op.set(mask)],
        [op.get(sine), op.get(cosine), op.get(mask), op.v128Bitselect],
        [op.get(q), op.i32x4Const(1), op.i32x4Add, op.i32x4Const(2), op.v128And, op.i32Const(30), op.i32x4Shl, op.v128Xor, op.set(a)],
        [op.get(cosine), op.get(sine), op.get(mask), op.v128Bitselect],
        [op.get(q), op.i32x4Const(2), op.v128And, op.i32Const(30), op.i32x4Shl, op.v128Xor, op.set(b)],
        [op.get(out), op.get(i), op.i32Add, op.get(r), op.get(a), op.f32x4Mul, op.v128Store(0)],
        op.get(out),
        op.get(i),
        op.i32Add,
        op.get(r),
        op.get(b),
        op.f32x4Mul,
        op.v128Store(16)
      ]),
      [op.get(statePointer), op.get(x), op.v128Store(0)],
      [op.get(statePointer), op.get(y), op.v128Store(16)],
      [op.get(statePointer), op.get(z), op.v128Store(32)],
      op.get(statePointer),
      op.get(w),
      op.v128Store(48)
    ]
  }
})()

const addRowsFunction: Wasm.Function = (() => {
  const [out, base, indices, rows, columns] = [0, 1, 2, 3, 4]
  const [row, destination, source, j, vectorEnd, rowBytes, rowEnd] = [5, 6, 7, 8, 9, 10, 11]
  return {
    name: "addRows",
    parameters: [Wasm.i32, Wasm.i32, Wasm.i32, Wasm.i32, Wasm.i32],
    locals: [[7, Wasm.i32]],
    body: [
      [op.get(columns), op.i32Const(4), op.i32Mul, op.set(rowBytes)],
      [op.get(columns), op.i32Const(-4), op.i32And, op.i32Const(4), op.i32Mul, op.set(vectorEnd)],
      [op.get(rows), op.i32Const(4), op.i32Mul, op.set(rowEnd)],
      ...loopBytes(row, rowEnd, 4, [
        [op.get(out), op.get(row), op.get(columns), op.i32Mul, op.i32Add, op.set(destination)],
        [op.get(base), op.get(indices), op.get(row), op.i32Add, op.i32Load(), op.get(rowBytes), op.i32Mul, op.i32Add, op.set(source)],
        [op.i32Const(0), op.set(j)],
        ...loopBytes(j, vectorEnd, 16, [
          [op.get(destination), op.get(j), op.i32Add],
          [op.get(destination), op.get(j), op.i32Add, op.v128Load()],
          [op.get(source), op.get(j), op.i32Add, op.v128Load()],
          op.f32x4Add,
          op.v128Store()
        ]),
        ...loopBytes(j, rowBytes, 4, [
          [op.get(destination), op.get(j), op.i32Add],
          [op.get(destination), op.get(j), op.i32Add, op.f32Load()],
          [op.get(source), op.get(j), op.i32Add, op.f32Load()],
          op.f32Add,
          op.f32Store()
        ])
      ])
    ]
  }
})()

const moduleBytes = Wasm.encode([adamFunction, normalsFunction, addRowsFunction])
let compiled: object | undefined | null

/** Whether this runtime runs the WebAssembly SIMD kernels. */
export const vectorised = (): boolean => {
  if (compiled === undefined) {
    try {
      compiled = WebAssemblyApi !== undefined && WebAssemblyApi.validate(moduleBytes) ? new WebAssemblyApi.Module(moduleBytes) : null
    } catch {
      compiled = null
    }
  }
  return compiled !== null
}

// ---------------------------------------------------------------------------
// The JavaScript twins: the same float32 operations, one lane at a time

const adamTwin: Kernels["adam"] = (values, gradients, first, second, step) => {
  const scale = fround(step.gradientScale)
  const decay = fround(step.weightDecay)
  const beta1 = fround(step.beta1)
  const beta2 = fround(step.beta2)
  const oneMinusBeta1 = fround(1 - step.beta1)
  const oneMinusBeta2 = fround(1 - step.beta2)
  const stepSize = fround(step.learningRate / step.correction1)
  const inverseRoot = fround(1 / Math.sqrt(step.correction2))
  const epsilon = fround(step.epsilon)
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!
    const g = fround(fround(gradients[i]! * scale) + fround(decay * value))
    const m = fround(fround(beta1 * first[i]!) + fround(oneMinusBeta1 * g))
    const v = fround(fround(beta2 * second[i]!) + fround(fround(oneMinusBeta2 * g) * g))
    first[i] = m
    second[i] = v
    const denominator = fround(fround(fround(Math.sqrt(v)) * inverseRoot) + epsilon)
    values[i] = fround(value - fround(stepSize * fround(m / denominator)))
  }
}

const normalsTwin: Kernels["normals"] = (out, state, scale) => {
  if (out.length % 8 !== 0) throw new RangeError(`normals: length ${out.length} is not a multiple of 8`)
  const scale32 = fround(scale)
  const word = new Int32Array(1)
  const asFloat = new Float32Array(word.buffer)
  const bits = (value: number) => {
    asFloat[0] = value
    return word[0]!
  }
  const float = (value: number) => {
    word[0] = value
    return asFloat[0]!
  }
  const o1 = new Int32Array(4)
  const o2 = new Int32Array(4)
  const advance = (into: Int32Array) => {
    for (let lane = 0; lane < 4; lane++) {
      const x = state[lane]!
      const w = state[12 + lane]!
      const t = x ^ (x << 11)
      state[lane] = state[4 + lane]!
      state[4 + lane] = state[8 + lane]!
      state[8 + lane] = w
      const next = w ^ (w >>> 19) ^ (t ^ (t >>> 8))
      state[12 + lane] = next
      into[lane] = Math.imul(next, c.multiplier)
    }
  }
  for (let i = 0; i < out.length; i += 8) {
    advance(o1)
    advance(o2)
    for (let lane = 0; lane < 4; lane++) {
      const u = fround(fround((o1[lane]! >>> 8) + 1) * c.unit)
      let e = (bits(u) >>> 23) - 127
      let m = float((bits(u) & 0x7fffff) | 0x3f800000)
      if (m > c.sqrt2) {
        m = fround(m * 0.5)
        e += 1
      }
      const s = fround(fround(m - 1) / fround(m + 1))
      const s2 = fround(s * s)
      let p = fround(fround(s2 * c.log9) + c.log7)
      p = fround(fround(p * s2) + c.log5)
      p = fround(fround(p * s2) + c.log3)
      p = fround(p * s2)
      const half = fround(fround(p * s) + s)
      const logU = fround(fround(fround(half + half) + fround(e * c.ln2Low)) + fround(e * c.ln2High))
      const r = fround(fround(Math.sqrt(fround(logU * -2))) * scale32)
      const q = o2[lane]! >>> 30
      const phi = fround(fround(fround(((o2[lane]! >>> 6) & 0xffffff) * c.unit) - 0.5) * c.halfPi)
      const phi2 = fround(phi * phi)
      let sp = fround(fround(phi2 * c.sin9) + c.sin7)
      sp = fround(fround(sp * phi2) + c.sin5)
      sp = fround(fround(sp * phi2) + c.sin3)
      const sine = fround(fround(sp * fround(phi * phi2)) + phi)
      let cp = fround(fround(phi2 * c.cos8) + c.cos6)
      cp = fround(fround(cp * phi2) + c.cos4)
      cp = fround(fround(cp * phi2) + c.cos2)
      const cosine = fround(fround(cp * phi2) + 1)
      const swap = (q & 1) !== 0
      let a = swap ? sine : cosine
      let b = swap ? cosine : sine
      if (((q + 1) & 2) !== 0) a = -a
      if ((q & 2) !== 0) b = -b
      out[i + lane] = fround(r * a)
      out[i + 4 + lane] = fround(r * b)
    }
  }
}

const addRowsTwin: Kernels["addRows"] = (out, base, indices, rows, columns) => {
  for (let row = 0; row < rows; row++) {
    const destination = row * columns
    const source = indices[row]! * columns
    for (let j = 0; j < columns; j++) out[destination + j] = fround(out[destination + j]! + base[source + j]!)
  }
}

/** The JavaScript twins: any arrays, same results as the WebAssembly kernels. */
export const twins: Kernels = { vectorised: false, adam: adamTwin, normals: normalsTwin, addRows: addRowsTwin }

/** The WebAssembly kernels over an arena's memory (the twins where SIMD is unavailable). */
export const kernels = (target: Arena): Kernels => {
  if (!vectorised()) return twins
  const instance = new WebAssemblyApi!.Instance(compiled!, { env: { memory: target.memory } })
  const exports = instance.exports as unknown as {
    readonly adam: (...args: ReadonlyArray<number>) => void
    readonly normals: (out: number, end: number, state: number, scale: number) => void
    readonly addRows: (out: number, base: number, indices: number, rows: number, columns: number) => void
  }
  const buffer = target.memory.buffer
  const at = (view: Float32Array | Int32Array, name: string) => {
    if (view.buffer !== buffer) throw new RangeError(`Simd: ${name} is not a view of this arena`)
    return view.byteOffset
  }
  return {
    vectorised: true,
    adam: (values, gradients, first, second, step) => {
      const length = values.length
      if (length % 4 !== 0 || gradients.length !== length || first.length !== length || second.length !== length) {
        throw new RangeError(`Simd.adam: lengths ${length}, ${gradients.length}, ${first.length}, ${second.length} must be equal multiples of 4`)
      }
      exports.adam(
        at(values, "values"),
        at(gradients, "gradients"),
        at(first, "first"),
        at(second, "second"),
        length * 4,
        step.gradientScale,
        step.weightDecay,
        step.beta1,
        fround(1 - step.beta1),
        step.beta2,
        fround(1 - step.beta2),
        step.learningRate / step.correction1,
        1 / Math.sqrt(step.correction2),
        step.epsilon
      )
    },
    normals: (out, state, scale) => {
      if (out.length % 8 !== 0) throw new RangeError(`Simd.normals: length ${out.length} is not a multiple of 8`)
      if (state.length !== 16) throw new RangeError("Simd.normals: the state has 16 words")
      exports.normals(at(out, "out"), out.length * 4, at(state, "state"), scale)
    },
    addRows: (out, base, indices, rows, columns) => {
      if (rows * columns > out.length || rows > indices.length) throw new RangeError("Simd.addRows: out or indices too short")
      exports.addRows(at(out, "out"), at(base, "base"), at(indices, "indices"), rows, columns)
    }
  }
}
