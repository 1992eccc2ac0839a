/**
 * A dense row-major float32 matrix: how embeddings travel between plugins,
 * contiguous so that hot paths (similarity, scoring) run over one typed array.
 */
export interface Matrix {
  readonly rows: number
  readonly columns: number
  readonly data: Float32Array
}

export const make = (rows: number, columns: number, data?: Float32Array): Matrix => {
  const buffer = data ?? new Float32Array(rows * columns)
  if (buffer.length !== rows * columns) {
    throw new RangeError(`matrix data has ${buffer.length} values, expected ${rows} x ${columns}`)
  }
  return { rows, columns, data: buffer }
}

/** A view of row `index` (no copy). */
export const row = (matrix: Matrix, index: number): Float32Array => matrix.data.subarray(index * matrix.columns, (index + 1) * matrix.columns)

export const fromRows = (rows: ReadonlyArray<ArrayLike<number>>, columns?: number): Matrix => {
  const width = columns ?? (rows[0]?.length ?? 0)
  const result = make(rows.length, width)
  rows.forEach((values, index) => {
    if (values.length !== width) throw new RangeError(`row ${index} has ${values.length} values, expected ${width}`)
    result.data.set(values, index * width)
  })
  return result
}

/** Stack matrices with the same number of columns. */
export const concatRows = (parts: ReadonlyArray<Matrix>, columns?: number): Matrix => {
  const width = columns ?? parts[0]?.columns ?? 0
  const rows = parts.reduce((sum, part) => sum + part.rows, 0)
  const result = make(rows, width)
  let offset = 0
  for (const part of parts) {
    if (part.columns !== width) throw new RangeError(`cannot stack ${part.columns} columns onto ${width}`)
    result.data.set(part.data, offset)
    offset += part.data.length
  }
  return result
}

/** Pick rows by index into a new matrix. */
export const take = (matrix: Matrix, indices: ArrayLike<number>): Matrix => {
  const result = make(indices.length, matrix.columns)
  for (let i = 0; i < indices.length; i++) result.data.set(row(matrix, indices[i]!), i * matrix.columns)
  return result
}

/** Scale every row to unit L2 norm in place (zero rows stay zero). */
export const normalizeRows = (matrix: Matrix): Matrix => {
  const { columns, data } = matrix
  for (let r = 0; r < matrix.rows; r++) {
    const offset = r * columns
    let sum = 0
    for (let c = 0; c < columns; c++) sum += data[offset + c]! * data[offset + c]!
    if (sum > 0) {
      const scale = 1 / Math.sqrt(sum)
      for (let c = 0; c < columns; c++) data[offset + c]! *= scale
    }
  }
  return matrix
}

/**
 * left (n x d) times right (m x d) transposed: an n x m matrix of dot products,
 * computed in row blocks so the right operand stays in cache.
 */
export const multiplyTransposed = (left: Matrix, right: Matrix): Matrix => {
  if (left.columns !== right.columns) {
    throw new RangeError(`cannot multiply ${left.rows}x${left.columns} by (${right.rows}x${right.columns})^T`)
  }
  const d = left.columns
  const out = make(left.rows, right.rows)
  const a = left.data
  const b = right.data
  const o = out.data
  const block = 64
  for (let j0 = 0; j0 < right.rows; j0 += block) {
    const j1 = Math.min(j0 + block, right.rows)
    for (let i = 0; i < left.rows; i++) {
      const ai = i * d
      const oi = i * right.rows
      for (let j = j0; j < j1; j++) {
        const bj = j * d
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0
        let k = 0
        for (; k + 3 < d; k += 4) {
          s0 += a[ai + k]! * b[bj + k]!
          s1 += a[ai + k + 1]! * b[bj + k + 1]!
          s2 += a[ai + k + 2]! * b[bj + k + 2]!
          s3 += a[ai + k + 3]! * b[bj + k + 3]!
        }
        for (; k < d; k++) s0 += a[ai + k]! * b[bj + k]!
        o[oi + j] = s0 + s1 + s2 + s3
      }
    }
  }
  return out
}
