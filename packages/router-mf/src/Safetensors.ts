/**
 * The safetensors file format, read and written without dependencies:
 * an 8-byte little-endian header length N, N bytes of JSON describing every
 * tensor (`dtype`, `shape`, `data_offsets` relative to the data section) and
 * an optional `__metadata__` map of strings, then the raw little-endian bytes.
 */
import { Errors, Files } from "@routellm/core"
import { Effect, type FileSystem, Schema } from "effect"

/** A tensor as float32 values in row-major order. */
export interface Tensor {
  readonly shape: ReadonlyArray<number>
  readonly data: Float32Array
}

export interface File {
  readonly tensors: ReadonlyMap<string, Tensor>
  readonly metadata: Readonly<Record<string, string>>
}

/** The file is not safetensors, or holds a dtype or layout this reader does not support. */
export class SafetensorsError extends Errors.Reason<SafetensorsError>()("SafetensorsError", {
  file: Schema.String,
  tensor: Schema.optionalKey(Schema.String),
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.file}: ${this.tensor === undefined ? "" : `tensor "${this.tensor}": `}${this.reason}`
  }
}

const bytesPerElement: Readonly<Record<string, number>> = { F32: 4, F64: 8, F16: 2, BF16: 2 }

/** IEEE half precision to float. */
const halfToFloat = (bits: number): number => {
  const sign = bits & 0x8000 ? -1 : 1
  const exponent = (bits >> 10) & 0x1f
  const fraction = bits & 0x3ff
  if (exponent === 0) return sign * fraction * 2 ** -24
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15)
}

const decodeTensor = (
  bytes: Uint8Array,
  dtype: string,
  count: number
): Float32Array => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out = new Float32Array(count)
  switch (dtype) {
    case "F32":
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true)
      break
    case "F64":
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true)
      break
    case "F16":
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true))
      break
    case "BF16": {
      // bfloat16 is the top half of a float32
      const widened = new DataView(new ArrayBuffer(4))
      for (let i = 0; i < count; i++) {
        widened.setUint32(0, view.getUint16(i * 2, true) << 16, true)
        out[i] = widened.getFloat32(0, true)
      }
      break
    }
  }
  return out
}

/** Parse safetensors bytes; `file` names the source in errors. */
export const decode = (bytes: Uint8Array, file: string): Effect.Effect<File, SafetensorsError> =>
  Effect.suspend(() => {
    const fail = (reason: string, tensor?: string) => Effect.fail(new SafetensorsError({ file, reason, ...(tensor === undefined ? {} : { tensor }) }))
    if (bytes.byteLength < 8) return fail(`too short for a safetensors file (${bytes.byteLength} bytes)`)
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const headerLength = Number(view.getBigUint64(0, true))
    if (headerLength > bytes.byteLength - 8) {
      return fail(`header length ${headerLength} exceeds the file size ${bytes.byteLength}: not a safetensors file`)
    }
    let header: Record<string, unknown>
    try {
      header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>
    } catch (error) {
      return fail(`header is not JSON (${error instanceof Error ? error.message : String(error)}): not a safetensors file`)
    }
    if (typeof header !== "object" || header === null || Array.isArray(header)) return fail("header is not a JSON object")
    const dataStart = 8 + headerLength
    const dataLength = bytes.byteLength - dataStart
    const tensors = new Map<string, Tensor>()
    let metadata: Record<string, string> = {}
    for (const [name, entry] of Object.entries(header)) {
      if (name === "__metadata__") {
        metadata = (entry ?? {}) as Record<string, string>
        continue
      }
      const info = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown }
      if (typeof info.dtype !== "string" || !Array.isArray(info.shape) || !Array.isArray(info.data_offsets)) {
        return fail("entry lacks dtype, shape or data_offsets", name)
      }
      const size = bytesPerElement[info.dtype]
      if (size === undefined) return fail(`unsupported dtype ${info.dtype} (supported: F32, F64, F16, BF16)`, name)
      const shape = info.shape as Array<number>
      const count = shape.reduce((product, extent) => product * extent, 1)
      const [begin, end] = info.data_offsets as [number, number]
      if (!(begin >= 0 && end >= begin && end <= dataLength)) {
        return fail(`data_offsets [${begin}, ${end}] fall outside the ${dataLength}-byte data section`, name)
      }
      if (end - begin !== count * size) {
        return fail(`shape [${shape.join(", ")}] of ${info.dtype} needs ${count * size} bytes, data_offsets span ${end - begin}`, name)
      }
      tensors.set(name, { shape, data: decodeTensor(bytes.subarray(dataStart + begin, dataStart + end), info.dtype, count) })
    }
    return Effect.succeed({ tensors, metadata })
  })

/** Serialise float32 tensors (in the given order) with optional string metadata. */
export const encode = (
  tensors: ReadonlyArray<readonly [string, Tensor]>,
  metadata?: Readonly<Record<string, string>>
): Uint8Array => {
  const header: Record<string, unknown> = {}
  if (metadata !== undefined) header.__metadata__ = metadata
  let offset = 0
  for (const [name, tensor] of tensors) {
    const count = tensor.shape.reduce((product, extent) => product * extent, 1)
    if (count !== tensor.data.length) {
      throw new RangeError(`tensor ${name}: shape [${tensor.shape.join(", ")}] does not hold ${tensor.data.length} values`)
    }
    header[name] = { dtype: "F32", shape: tensor.shape, data_offsets: [offset, offset + count * 4] }
    offset += count * 4
  }
  let json = JSON.stringify(header)
  // Pad the header with spaces so the data section starts 8-byte aligned, as the reference writer does.
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8)
  const headerBytes = new TextEncoder().encode(json)
  const out = new Uint8Array(8 + headerBytes.byteLength + offset)
  const view = new DataView(out.buffer)
  view.setBigUint64(0, BigInt(headerBytes.byteLength), true)
  out.set(headerBytes, 8)
  let position = 8 + headerBytes.byteLength
  for (const [, tensor] of tensors) {
    for (let i = 0; i < tensor.data.length; i++) view.setFloat32(position + i * 4, tensor.data[i]!, true)
    position += tensor.data.length * 4
  }
  return out
}

export const read = (path: string): Effect.Effect<File, SafetensorsError, FileSystem.FileSystem> =>
  Files.readBytes(path).pipe(
    Effect.mapError((error) => new SafetensorsError({ file: path, reason: `cannot read: ${error.message}` })),
    Effect.flatMap((bytes) => decode(bytes, path))
  )
