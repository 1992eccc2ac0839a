/**
 * A minimal WebAssembly binary writer: one imported memory, functions of
 * i32 / f32 / v128 values, exports. Just enough to write the few SIMD
 * kernels of Simd.ts by hand without a toolchain.
 */

export const i32 = 0x7f
export const f32 = 0x7d
export const v128 = 0x7b
export type ValueType = typeof i32 | typeof f32 | typeof v128

export const unsigned = (value: number): Array<number> => {
  const out: Array<number> = []
  let rest = value >>> 0
  do {
    let byte = rest & 0x7f
    rest >>>= 7
    if (rest !== 0) byte |= 0x80
    out.push(byte)
  } while (rest !== 0)
  return out
}

export const signed = (value: number): Array<number> => {
  const out: Array<number> = []
  let rest = value | 0
  for (;;) {
    const byte = rest & 0x7f
    rest >>= 7
    if ((rest === 0 && (byte & 0x40) === 0) || (rest === -1 && (byte & 0x40) !== 0)) {
      out.push(byte)
      return out
    }
    out.push(byte | 0x80)
  }
}

const vector = (items: ReadonlyArray<ReadonlyArray<number>>) => [...unsigned(items.length), ...items.flat()]
const name = (text: string) => [...unsigned(text.length), ...Array.from(text, (char) => char.charCodeAt(0))]
const section = (id: number, body: ReadonlyArray<number>) => [id, ...unsigned(body.length), ...body]

/** Instructions used by the kernels (https://webassembly.github.io/spec/core/binary/instructions.html). */
export const op = {
  get: (index: number) => [0x20, ...unsigned(index)],
  set: (index: number) => [0x21, ...unsigned(index)],
  tee: (index: number) => [0x22, ...unsigned(index)],
  i32Const: (value: number) => [0x41, ...signed(value)],
  f32Const: (value: number) => [0x43, ...new Uint8Array(Float32Array.of(value).buffer)],
  i32x4Const: (value: number) => [0xfd, ...unsigned(0x0c), ...new Uint8Array(Int32Array.of(value, value, value, value).buffer)],
  f32x4Const: (value: number) => [0xfd, ...unsigned(0x0c), ...new Uint8Array(Float32Array.of(value, value, value, value).buffer)],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...unsigned(depth)],
  brIf: (depth: number) => [0x0d, ...unsigned(depth)],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  i32Shl: [0x74],
  i32And: [0x71],
  i32LtU: [0x49],
  i32GeU: [0x4f],
  i32Load: (offset = 0) => [0x28, 2, ...unsigned(offset)],
  f32Load: (offset = 0) => [0x2a, 2, ...unsigned(offset)],
  f32Store: (offset = 0) => [0x38, 2, ...unsigned(offset)],
  f32Add: [0x92],
  f32Sub: [0x93],
  v128Load: (offset = 0) => [0xfd, ...unsigned(0x00), 4, ...unsigned(offset)],
  v128Store: (offset = 0) => [0xfd, ...unsigned(0x0b), 4, ...unsigned(offset)],
  i32x4Splat: [0xfd, ...unsigned(0x11)],
  f32x4Splat: [0xfd, ...unsigned(0x13)],
  v128And: [0xfd, ...unsigned(0x4e)],
  v128Or: [0xfd, ...unsigned(0x50)],
  v128Xor: [0xfd, ...unsigned(0x51)],
  v128Bitselect: [0xfd, ...unsigned(0x52)],
  f32x4Gt: [0xfd, ...unsigned(0x44)],
  i32x4Neg: [0xfd, ...unsigned(0xa1)],
  i32x4Shl: [0xfd, ...unsigned(0xab)],
  i32x4ShrU: [0xfd, ...unsigned(0xad)],
  i32x4Add: [0xfd, ...unsigned(0xae)],
  i32x4Sub: [0xfd, ...unsigned(0xb1)],
  i32x4Mul: [0xfd, ...unsigned(0xb5)],
  f32x4Sqrt: [0xfd, ...unsigned(0xe3)],
  f32x4Add: [0xfd, ...unsigned(0xe4)],
  f32x4Sub: [0xfd, ...unsigned(0xe5)],
  f32x4Mul: [0xfd, ...unsigned(0xe6)],
  f32x4Div: [0xfd, ...unsigned(0xe7)],
  f32x4ConvertI32x4S: [0xfd, ...unsigned(0xfa)]
} as const

/** Instructions as nested arrays of bytes (flattened when encoded), so code can be grouped by line. */
export type Code = number | ReadonlyArray<Code>

const flatten = (code: Code, out: Array<number>): Array<number> => {
  if (typeof code === "number") out.push(code)
  else for (const part of code) flatten(part, out)
  return out
}

export interface Function {
  readonly name: string
  readonly parameters: ReadonlyArray<ValueType>
  /** Extra locals after the parameters, as [count, type] runs. */
  readonly locals: ReadonlyArray<readonly [number, ValueType]>
  /** The body without its final `end`. */
  readonly body: ReadonlyArray<Code>
}

/** A module importing `env.memory` and exporting the functions (no results). */
export const encode = (functions: ReadonlyArray<Function>): Uint8Array => {
  const types = functions.map((fn) => [0x60, ...vector(fn.parameters.map((type) => [type])), 0])
  const bodies = functions.map((fn) => {
    const code = [...vector(fn.locals.map(([count, type]) => [...unsigned(count), type])), ...flatten(fn.body, []), ...op.end]
    return [...unsigned(code.length), ...code]
  })
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vector(types)),
    ...section(2, vector([[...name("env"), ...name("memory"), 0x02, 0x00, ...unsigned(1)]])),
    ...section(3, vector(functions.map((_, index) => unsigned(index)))),
    ...section(7, vector(functions.map((fn, index) => [...name(fn.name), 0x00, ...unsigned(index)]))),
    ...section(10, vector(bodies))
  ])
}
