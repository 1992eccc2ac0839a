/**
 * Bradley-Terry maximum-likelihood ratings on RouteLLM's Elo scale
 * (scale 400, base 10, initial rating 1000), fitted by Newton's method on
 * aggregated comparisons.
 *
 * RouteLLM (`compute_elo_mle_with_tie`) fits an unpenalised logistic
 * regression over every battle duplicated: a win counts twice for the winner
 * and a tie once for each side. A battle of a player against itself (two
 * models of one tier, after relabelling) sets a single feature of -ln(10) in
 * its row, which makes it a game against a virtual opponent fixed at rating
 * 1000: won by that opponent when `model_a` won. Those games are kept here as
 * comparisons with the `anchor` player (-1), so the fit is RouteLLM's.
 */

export const scale = 400
export const base = 10
export const initialRating = 1000
const logBase = Math.log(base)

/** The virtual opponent at rating 1000 that self-battles play against. */
export const anchor = -1

/**
 * Weighted directed comparisons among `size` players: comparison k says
 * `winner[k]` beat `loser[k]`, `count[k]` times (weights included).
 */
export interface Comparisons {
  readonly size: number
  readonly winner: Int32Array
  readonly loser: Int32Array
  readonly count: Float64Array
}

export interface FitOptions {
  /** L2 penalty (lambda / 2) * ||coefficients||^2; RouteLLM: 0 (penalty=None). */
  readonly regularization?: number
  /** Starting coefficients (e.g. the unweighted fit), so a refit takes a few steps. */
  readonly initial?: ArrayLike<number> | undefined
  readonly maxIterations?: number
  /** Stop when every gradient component is below this times the total count. */
  readonly tolerance?: number
}

/** log(sigmoid(x)), stable for large |x|. */
const logSigmoid = (x: number): number => (x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x)))
const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)))

const coefficientOf = (coefficients: Float64Array, player: number): number => (player < 0 ? 0 : coefficients[player]!)

/** Whether any comparison involves the anchor; without one (and without a penalty) ratings are defined up to a shift. */
const hasAnchor = (comparisons: Comparisons): boolean => {
  for (let k = 0; k < comparisons.count.length; k++) {
    if ((comparisons.winner[k]! < 0 || comparisons.loser[k]! < 0) && comparisons.count[k]! > 0) return true
  }
  return false
}

/**
 * Negative log-likelihood plus penalties. Without an anchor and a penalty,
 * (1/2)(sum of coefficients)^2 picks the sum-zero solution, where lbfgs from
 * zeros ends as well (every gradient of the unanchored model sums to zero).
 */
const objective = (comparisons: Comparisons, coefficients: Float64Array, regularization: number, gauge: number): number => {
  let value = 0
  for (let k = 0; k < comparisons.count.length; k++) {
    const count = comparisons.count[k]!
    if (count === 0) continue
    const margin = logBase * (coefficientOf(coefficients, comparisons.winner[k]!) - coefficientOf(coefficients, comparisons.loser[k]!))
    value -= count * logSigmoid(margin)
  }
  let squares = 0
  let sum = 0
  for (let i = 0; i < coefficients.length; i++) {
    squares += coefficients[i]! * coefficients[i]!
    sum += coefficients[i]!
  }
  return value + 0.5 * regularization * squares + 0.5 * gauge * sum * sum
}

/** Solve (H) x = b in place for a symmetric positive definite H by Cholesky; a tiny ridge keeps it definite. */
const solve = (hessian: Float64Array, vector: Float64Array, size: number): Float64Array => {
  let largest = 0
  for (let i = 0; i < size; i++) largest = Math.max(largest, hessian[i * size + i]!)
  const ridge = Math.max(largest, 1) * 1e-12
  const factor = new Float64Array(size * size)
  for (let i = 0; i < size; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = hessian[i * size + j]! + (i === j ? ridge : 0)
      for (let k = 0; k < j; k++) sum -= factor[i * size + k]! * factor[j * size + k]!
      if (i === j) factor[i * size + i] = Math.sqrt(Math.max(sum, ridge))
      else factor[i * size + j] = sum / factor[j * size + j]!
    }
  }
  const y = new Float64Array(size)
  for (let i = 0; i < size; i++) {
    let sum = vector[i]!
    for (let k = 0; k < i; k++) sum -= factor[i * size + k]! * y[k]!
    y[i] = sum / factor[i * size + i]!
  }
  const x = new Float64Array(size)
  for (let i = size - 1; i >= 0; i--) {
    let sum = y[i]!
    for (let k = i + 1; k < size; k++) sum -= factor[k * size + i]! * x[k]!
    x[i] = sum / factor[i * size + i]!
  }
  return x
}

/**
 * Maximum-likelihood coefficients (Elo = 400 * coefficient + 1000) by
 * Newton's method with a backtracking line search.
 */
export const fit = (comparisons: Comparisons, options: FitOptions = {}): Float64Array => {
  const size = comparisons.size
  const regularization = options.regularization ?? 0
  const maxIterations = options.maxIterations ?? 100
  const tolerance = options.tolerance ?? 1e-12
  const gauge = regularization === 0 && !hasAnchor(comparisons) ? 1 : 0
  let total = 0
  for (let k = 0; k < comparisons.count.length; k++) total += comparisons.count[k]!
  let coefficients: Float64Array = new Float64Array(size)
  if (options.initial !== undefined) coefficients.set(Array.from(options.initial).slice(0, size))
  if (size === 0) return coefficients
  let value = objective(comparisons, coefficients, regularization, gauge)
  const gradient = new Float64Array(size)
  const hessian = new Float64Array(size * size)
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    gradient.fill(0)
    hessian.fill(0)
    for (let k = 0; k < comparisons.count.length; k++) {
      const count = comparisons.count[k]!
      if (count === 0) continue
      const winner = comparisons.winner[k]!
      const loser = comparisons.loser[k]!
      const margin = logBase * (coefficientOf(coefficients, winner) - coefficientOf(coefficients, loser))
      const probability = sigmoid(margin)
      // d(-count * log sigmoid(margin)) / d margin = -count * (1 - p); d margin / d winner = ln 10.
      const slope = -count * (1 - probability) * logBase
      const curvature = count * probability * (1 - probability) * logBase * logBase
      if (winner >= 0) {
        gradient[winner]! += slope
        hessian[winner * size + winner]! += curvature
      }
      if (loser >= 0) {
        gradient[loser]! -= slope
        hessian[loser * size + loser]! += curvature
      }
      if (winner >= 0 && loser >= 0) {
        hessian[winner * size + loser]! -= curvature
        hessian[loser * size + winner]! -= curvature
      }
    }
    let sum = 0
    for (let i = 0; i < size; i++) sum += coefficients[i]!
    let largest = 0
    for (let i = 0; i < size; i++) {
      gradient[i]! += regularization * coefficients[i]! + gauge * sum
      hessian[i * size + i]! += regularization
      for (let j = 0; j < size; j++) hessian[i * size + j]! += gauge
      largest = Math.max(largest, Math.abs(gradient[i]!))
    }
    if (largest <= tolerance * Math.max(total, 1)) break
    const negative = gradient.map((value) => -value)
    const step = solve(hessian, negative, size)
    let slopeAlongStep = 0
    for (let i = 0; i < size; i++) slopeAlongStep += gradient[i]! * step[i]!
    let length = 1
    let accepted: Float64Array | undefined
    let acceptedValue = value
    while (length > 1e-12) {
      const candidate = coefficients.map((value, i) => value + length * step[i]!)
      const candidateValue = objective(comparisons, candidate, regularization, gauge)
      if (candidateValue <= value + 1e-4 * length * slopeAlongStep) {
        accepted = candidate
        acceptedValue = candidateValue
        break
      }
      length /= 2
    }
    if (accepted === undefined) break
    let moved = 0
    for (let i = 0; i < size; i++) moved = Math.max(moved, Math.abs(accepted[i]! - coefficients[i]!))
    coefficients = accepted
    value = acceptedValue
    if (moved < 1e-13) break
  }
  return coefficients
}

/** Elo ratings from coefficients. */
export const toElo = (coefficients: ArrayLike<number>): Float64Array => Float64Array.from(coefficients, (coefficient) => scale * coefficient + initialRating)

/** The probability that a player rated `strong` beats one rated `weak` (Elo). */
export const winProbability = (strong: number, weak: number): number => 1 - 1 / (1 + Math.pow(base, (strong - weak) / scale))

/** RouteLLM calibrates llama-2-70b-chat to 1082 when present; a shift that leaves every win rate unchanged. */
export const calibrationModel = "llama-2-70b-chat"
export const calibrationRating = 1082

/** A battle as the fit sees it: two player indices, the outcome and a weight. */
export interface IndexedBattle {
  readonly a: number
  readonly b: number
  readonly winner: "model_a" | "model_b" | "tie"
  readonly weight: number
}

/**
 * Add one battle to directed win counts, as RouteLLM's duplication does: a win
 * counts 2 for the winner, a tie 1 each way; a self-battle is a game against
 * the anchor, won by the anchor when model_a won.
 */
export const addBattle = (add: (winner: number, loser: number, count: number) => void, battle: IndexedBattle): void => {
  const { a, b, weight } = battle
  if (a === b) {
    if (battle.winner === "model_a") add(anchor, a, 2 * weight)
    else if (battle.winner === "model_b") add(a, anchor, 2 * weight)
    else {
      add(anchor, a, weight)
      add(a, anchor, weight)
    }
    return
  }
  if (battle.winner === "model_a") add(a, b, 2 * weight)
  else if (battle.winner === "model_b") add(b, a, 2 * weight)
  else {
    add(a, b, weight)
    add(b, a, weight)
  }
}

/** Aggregate battles among `size` players into comparisons (one entry per directed pair that occurs). */
export const comparisonsOf = (size: number, battles: Iterable<IndexedBattle>): Comparisons => {
  const counts = new Map<number, number>()
  const key = (winner: number, loser: number) => (winner + 1) * (size + 1) + (loser + 1)
  for (const battle of battles) {
    addBattle((winner, loser, count) => counts.set(key(winner, loser), (counts.get(key(winner, loser)) ?? 0) + count), battle)
  }
  const keys = [...counts.keys()].sort((left, right) => left - right)
  return {
    size,
    winner: Int32Array.from(keys, (value) => Math.floor(value / (size + 1)) - 1),
    loser: Int32Array.from(keys, (value) => (value % (size + 1)) - 1),
    count: Float64Array.from(keys, (value) => counts.get(value)!)
  }
}
