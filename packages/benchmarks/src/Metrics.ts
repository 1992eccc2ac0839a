/**
 * Routing metrics, exactly as RouteLLM's `routellm/evals/evaluate.py` and
 * `benchmarks.py` compute them, plus the extensions the paper only sketches.
 *
 * Reference protocol (what is matched, step by step):
 * - Thresholds: `pd.qcut(win_rates, bins, retbins=True)` edges, i.e.
 *   `Series.quantile(np.linspace(0, 1, bins + 1))`, which pandas computes as
 *   `np.percentile(values, q * 100, method="linear")`: sort, virtual index
 *   `(n - 1) * q`, numpy's `_lerp` (which interpolates from the upper value
 *   when the fraction is at least 0.5). The quantile levels go through the same
 *   `k * (1 / bins) * 100 / 100` floating steps, so edges agree bit for bit.
 *   pandas raises on duplicate edges; RouteLLM's comment says "including
 *   duplicates", and we keep duplicate edges (each yields a point).
 * - Decision at edge i: strong when `winRate >= edge`, except the last edge,
 *   where it is `winRate > edge` (so the last point is 0% strong calls).
 * - Point: (strong calls in %, mean of the chosen model's per-prompt score).
 * - The curve is sorted by strong-call %. CPT(x) = `np.interp(weak + x (strong - weak),
 *   scores, strongPercents)`, reproduced with numpy's own search (it assumes
 *   increasing scores; on non-monotone curves we give numpy's answer).
 * - AUC = `np.trapz(scores, strongPercents / 100)`; APGR = (AUC - weak area) /
 *   (strong area - weak area), the areas being trapezoids of constant lines
 *   over the same x values.
 *
 * Beyond the paper: the exact curve (one point per distinct win rate), the
 * optimal (oracle) curve, the random router's expected line, averaging of
 * random seeds, and dollar costs.
 *
 * All functions are pure and work on typed arrays, for reuse by other packages.
 */

export type Numbers = ArrayLike<number>

/** A quality-versus-strong-calls curve, points sorted by increasing strong-call share. */
export interface Curve {
  /** The threshold that produced each point (NaN for points not made by a threshold). */
  readonly thresholds: Float64Array
  /** Strong-model calls in percent (0..100). */
  readonly strongPercent: Float64Array
  /** Mean score of the routed answers. */
  readonly score: Float64Array
  /** Total cost in dollars of the routed calls, when costs were given. */
  readonly cost?: Float64Array | undefined
  /** Averaged curves (a random router over seeds): the sample standard deviation of `score` across them. */
  readonly scoreStd?: Float64Array | undefined
}

export interface Summary {
  /** CPT(20%), CPT(50%), CPT(80%): strong calls (%) needed for that share of the quality gap. */
  readonly cpt20: number
  readonly cpt50: number
  readonly cpt80: number
  /** Area under the curve over strong-call fraction (0..1). */
  readonly auc: number
  /** Average performance gap recovered. */
  readonly apgr: number
}

// ---------------------------------------------------------------------------
// numpy building blocks

/** numpy's `_lerp`: interpolate from the nearer end for accuracy. */
export const lerp = (a: number, b: number, t: number): number => {
  const difference = b - a
  return t >= 0.5 ? b - difference * (1 - t) : a + difference * t
}

/** `np.quantile(sorted, q, method="linear")` for an already sorted array. */
export const quantileSorted = (sorted: Numbers, q: number): number => {
  const n = sorted.length
  if (n === 0) return Number.NaN
  const virtualIndex = (n - 1) * q
  if (virtualIndex >= n - 1) return sorted[n - 1]!
  if (virtualIndex < 0) return sorted[0]!
  const previous = Math.floor(virtualIndex)
  return lerp(sorted[previous]!, sorted[previous + 1]!, virtualIndex - previous)
}

/** A sorted copy without NaN values. */
export const sortedCopy = (values: Numbers): Float64Array => {
  const copy = Float64Array.from(values).filter((value) => !Number.isNaN(value))
  return copy.sort()
}

/** `np.quantile(values, q)` (linear method). */
export const quantile = (values: Numbers, q: number): number => quantileSorted(sortedCopy(values), q)

/** The quantile levels `np.linspace(0, 1, bins + 1)` as pandas passes them to `np.percentile` (x100, /100). */
export const quantileLevels = (bins: number): Float64Array => {
  const levels = new Float64Array(bins + 1)
  const step = 1 / bins
  for (let k = 0; k <= bins; k++) levels[k] = ((k === bins ? 1 : k * step) * 100) / 100
  return levels
}

/** The bin edges of `pd.qcut(values, bins, retbins=True)`, duplicates kept. */
export const quantileEdges = (values: Numbers, bins = 10): Float64Array => {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins must be a positive integer, got ${bins}`)
  const sorted = sortedCopy(values)
  return quantileLevels(bins).map((level) => quantileSorted(sorted, level))
}

/**
 * numpy's `binary_search_with_guess` (compiled_base.c): the index j with
 * xp[j] <= key < xp[j + 1], -1 below the range, len above it.
 */
const searchWithGuess = (key: number, xp: Numbers, guessIn: number): number => {
  const length = xp.length
  let low = 0
  let high = length
  if (key > xp[length - 1]!) return length
  if (key < xp[0]!) return -1
  if (length <= 4) {
    let i = 1
    while (i < length && key >= xp[i]!) i++
    return i - 1
  }
  let guess = guessIn
  if (guess > length - 3) guess = length - 3
  if (guess < 1) guess = 1
  const likelyInCache = 8
  if (key < xp[guess]!) {
    if (key < xp[guess - 1]!) {
      high = guess - 1
      if (guess > likelyInCache && key >= xp[guess - likelyInCache]!) low = guess - likelyInCache
    } else {
      return guess - 1
    }
  } else {
    if (key < xp[guess + 1]!) return guess
    if (key < xp[guess + 2]!) return guess + 1
    low = guess + 2
    if (guess < length - likelyInCache - 1 && key < xp[guess + likelyInCache]!) high = guess + likelyInCache
  }
  while (low < high) {
    const middle = low + ((high - low) >> 1)
    if (key >= xp[middle]!) low = middle + 1
    else high = middle
  }
  return low - 1
}

/** `np.interp(x, xp, fp)` for one x, including its behaviour on unsorted xp. */
export const interp = (x: number, xp: Numbers, fp: Numbers): number => {
  const length = xp.length
  if (length === 0) return Number.NaN
  if (Number.isNaN(x)) return x
  if (length === 1) return fp[0]!
  const j = searchWithGuess(x, xp, 0)
  if (j === -1) return fp[0]!
  if (j === length) return fp[length - 1]!
  if (j === length - 1) return fp[j]!
  if (xp[j] === x) return fp[j]!
  const slope = (fp[j + 1]! - fp[j]!) / (xp[j + 1]! - xp[j]!)
  let result = slope * (x - xp[j]!) + fp[j]!
  if (Number.isNaN(result)) {
    result = slope * (x - xp[j + 1]!) + fp[j + 1]!
    if (Number.isNaN(result) && fp[j] === fp[j + 1]) result = fp[j]!
  }
  return result
}

/** `np.trapz(y, x)`. */
export const trapezoid = (y: Numbers, x: Numbers): number => {
  let total = 0
  for (let i = 1; i < x.length; i++) total += ((x[i]! - x[i - 1]!) * (y[i]! + y[i - 1]!)) / 2
  return total
}

// ---------------------------------------------------------------------------
// Curves

const mean = (values: Numbers): number => {
  let total = 0
  for (let i = 0; i < values.length; i++) total += values[i]!
  return values.length === 0 ? Number.NaN : total / values.length
}

/** Mean score of a model over the prompts (its quality on the benchmark). */
export const modelScore = mean

const checkLengths = (winRates: Numbers, strongScores: Numbers, weakScores: Numbers) => {
  if (winRates.length !== strongScores.length || winRates.length !== weakScores.length) {
    throw new RangeError(
      `win rates (${winRates.length}), strong scores (${strongScores.length}) and weak scores (${weakScores.length}) differ in length`
    )
  }
  if (winRates.length === 0) throw new RangeError("no prompts to evaluate")
}

/** Sort the points of a curve by strong-call share (stable: equal shares keep threshold order). */
export const sortCurve = (curve: Curve): Curve => {
  const order = Array.from(curve.strongPercent, (_, index) => index)
  order.sort((left, right) => curve.strongPercent[left]! - curve.strongPercent[right]! || left - right)
  const pick = (values: Float64Array) => Float64Array.from(order, (index) => values[index]!)
  return {
    thresholds: pick(curve.thresholds),
    strongPercent: pick(curve.strongPercent),
    score: pick(curve.score),
    cost: curve.cost === undefined ? undefined : pick(curve.cost)
  }
}

export interface Costs {
  /** Dollars for answering each prompt with the strong model. */
  readonly strong: Numbers
  /** Dollars for answering each prompt with the weak model. */
  readonly weak: Numbers
}

/**
 * Prompts ranked by win rate (highest first) with running sums of the scores
 * and costs in that order, so routing at any threshold is a binary search and
 * two lookups. Sums of 0/1 correctness and half-point grades are exact, so the
 * means equal RouteLLM's `sum(results) / len(results)`.
 */
export interface Ranked {
  readonly size: number
  /** Win rates sorted from highest to lowest (NaN ranks last, as never strong). */
  readonly sorted: Float64Array
  /** prefix[k]: total over the k highest-ranked prompts. */
  readonly strongPrefix: Float64Array
  readonly weakPrefix: Float64Array
  readonly strongCostPrefix?: Float64Array | undefined
  readonly weakCostPrefix?: Float64Array | undefined
}

/**
 * Indices ordering `keys` from highest to lowest, ties in index order: a
 * bottom-up merge sort on typed arrays (several times faster than a
 * comparator sort of an index array in V8).
 */
export const argsortDescending = (keys: Float64Array): Uint32Array => {
  const n = keys.length
  let order = new Uint32Array(n)
  let buffer = new Uint32Array(n)
  for (let i = 0; i < n; i++) order[i] = i
  // Insertion sort of small runs first.
  const run = 16
  for (let start = 0; start < n; start += run) {
    const end = Math.min(start + run, n)
    for (let i = start + 1; i < end; i++) {
      const index = order[i]!
      const key = keys[index]!
      let j = i - 1
      while (j >= start && keys[order[j]!]! < key) {
        order[j + 1] = order[j]!
        j--
      }
      order[j + 1] = index
    }
  }
  for (let width = run; width < n; width *= 2) {
    for (let left = 0; left < n; left += 2 * width) {
      const middle = Math.min(left + width, n)
      const right = Math.min(left + 2 * width, n)
      let i = left
      let j = middle
      let k = left
      while (i < middle && j < right) buffer[k++] = keys[order[j]!]! > keys[order[i]!]! ? order[j++]! : order[i++]!
      while (i < middle) buffer[k++] = order[i++]!
      while (j < right) buffer[k++] = order[j++]!
    }
    const swap = order
    order = buffer
    buffer = swap
  }
  return order
}

export const rank = (winRates: Numbers, strongScores: Numbers, weakScores: Numbers, costs?: Costs): Ranked => {
  checkLengths(winRates, strongScores, weakScores)
  const n = winRates.length
  const keys = Float64Array.from(winRates, (value) => (Number.isNaN(value) ? Number.NEGATIVE_INFINITY : value))
  const order = argsortDescending(keys)
  const prefix = (values: Numbers) => {
    const result = new Float64Array(n + 1)
    for (let k = 0; k < n; k++) result[k + 1] = result[k]! + values[order[k]!]!
    return result
  }
  return {
    size: n,
    sorted: Float64Array.from(order, (index) => keys[index]!),
    strongPrefix: prefix(strongScores),
    weakPrefix: prefix(weakScores),
    strongCostPrefix: costs === undefined ? undefined : prefix(costs.strong),
    weakCostPrefix: costs === undefined ? undefined : prefix(costs.weak)
  }
}

/** How many ranked prompts have a win rate >= threshold (or > threshold when `strict`). */
export const countStrong = (ranked: Ranked, threshold: number, strict = false): number => {
  let low = 0
  let high = ranked.size
  while (low < high) {
    const middle = (low + high) >>> 1
    const value = ranked.sorted[middle]!
    if (strict ? value > threshold : value >= threshold) low = middle + 1
    else high = middle
  }
  return low
}

const pointAt = (ranked: Ranked, strongCalls: number) => {
  const n = ranked.size
  const weakTotal = ranked.weakPrefix[n]!
  const score = (ranked.strongPrefix[strongCalls]! + weakTotal - ranked.weakPrefix[strongCalls]!) / n
  const cost = ranked.strongCostPrefix === undefined || ranked.weakCostPrefix === undefined
    ? Number.NaN
    : ranked.strongCostPrefix[strongCalls]! + ranked.weakCostPrefix[n]! - ranked.weakCostPrefix[strongCalls]!
  return { strongPercent: (strongCalls / n) * 100, score, cost }
}

/** Route every prompt at each of the given thresholds (RouteLLM's rule: `>=`, `>` at the last one). */
export const curveAt = (
  winRates: Numbers,
  strongScores: Numbers,
  weakScores: Numbers,
  thresholds: Numbers,
  costs?: Costs
): Curve => {
  checkLengths(winRates, strongScores, weakScores)
  // One pass per threshold over typed copies: cheaper than ranking for a handful of thresholds.
  const rates = Float64Array.from(winRates)
  const strong = Float64Array.from(strongScores)
  const weak = Float64Array.from(weakScores)
  const strongCost = costs === undefined ? undefined : Float64Array.from(costs.strong)
  const weakCost = costs === undefined ? undefined : Float64Array.from(costs.weak)
  const n = rates.length
  const count = thresholds.length
  const strongPercent = new Float64Array(count)
  const score = new Float64Array(count)
  const cost = strongCost === undefined ? undefined : new Float64Array(count)
  for (let i = 0; i < count; i++) {
    const threshold = thresholds[i]!
    const strict = i === count - 1
    let strongCalls = 0
    let total = 0
    let dollars = 0
    for (let p = 0; p < n; p++) {
      const rate = rates[p]!
      if (strict ? rate > threshold : rate >= threshold) {
        strongCalls++
        total += strong[p]!
        if (strongCost !== undefined) dollars += strongCost[p]!
      } else {
        total += weak[p]!
        if (weakCost !== undefined) dollars += weakCost[p]!
      }
    }
    strongPercent[i] = (strongCalls / n) * 100
    score[i] = total / n
    if (cost !== undefined) cost[i] = dollars
  }
  return sortCurve({ thresholds: Float64Array.from(thresholds), strongPercent, score, cost })
}

export const curveOfRanked = (ranked: Ranked, thresholds: Numbers): Curve => {
  const count = thresholds.length
  const strongPercent = new Float64Array(count)
  const score = new Float64Array(count)
  const cost = ranked.strongCostPrefix === undefined ? undefined : new Float64Array(count)
  for (let i = 0; i < count; i++) {
    const point = pointAt(ranked, countStrong(ranked, thresholds[i]!, i === count - 1))
    strongPercent[i] = point.strongPercent
    score[i] = point.score
    if (cost) cost[i] = point.cost
  }
  return sortCurve({ thresholds: Float64Array.from(thresholds), strongPercent, score, cost })
}

/** The paper's curve: thresholds at the `bins` quantile edges of the win rates. */
export const sweep = (
  winRates: Numbers,
  strongScores: Numbers,
  weakScores: Numbers,
  options: { readonly bins?: number; readonly costs?: Costs } = {}
): Curve => curveAt(winRates, strongScores, weakScores, quantileEdges(winRates, options.bins ?? 10), options.costs)

/**
 * The exact curve: a point for every distinct win rate (strong when the win
 * rate is at least it) plus the 0% point, so no quantile binning.
 */
export const exactCurve = (winRates: Numbers, strongScores: Numbers, weakScores: Numbers, costs?: Costs): Curve =>
  exactOfRanked(rank(winRates, strongScores, weakScores, costs))

export const exactOfRanked = (ranked: Ranked): Curve => {
  const n = ranked.size
  // Group ends: after the last prompt of each run of equal win rates.
  const ends: Array<number> = [0]
  for (let k = 1; k <= n; k++) if (k === n || ranked.sorted[k] !== ranked.sorted[k - 1]) ends.push(k)
  const thresholds = Float64Array.from(ends, (end) => (end === 0 ? Number.POSITIVE_INFINITY : ranked.sorted[end - 1]!))
  const strongPercent = new Float64Array(ends.length)
  const score = new Float64Array(ends.length)
  const cost = ranked.strongCostPrefix === undefined ? undefined : new Float64Array(ends.length)
  ends.forEach((end, index) => {
    const point = pointAt(ranked, end)
    strongPercent[index] = point.strongPercent
    score[index] = point.score
    if (cost) cost[index] = point.cost
  })
  return { thresholds, strongPercent, score, cost }
}

/** The random router's expected curve: the straight line from (0, weak) to (100, strong). */
export const randomCurve = (strongScore: number, weakScore: number, costs?: Costs): Curve => ({
  thresholds: Float64Array.of(Number.NaN, Number.NaN),
  strongPercent: Float64Array.of(0, 100),
  score: Float64Array.of(weakScore, strongScore),
  cost: costs === undefined ? undefined : Float64Array.of(sum(costs.weak), sum(costs.strong))
})

const sum = (values: Numbers): number => {
  let total = 0
  for (let i = 0; i < values.length; i++) total += values[i]!
  return total
}

/**
 * The best score any router can reach with `fraction` of the calls going to
 * the strong model: the weak model everywhere, upgraded on the prompts where
 * the strong model gains most. `strongCalls` is `fraction * n` ("fractional",
 * RouteLLM's MMLU/GSM8K formula `weak + min(calls, gains)`) or its floor
 * ("floor", RouteLLM's MT Bench formula).
 */
export const optimalScore = (
  strongScores: Numbers,
  weakScores: Numbers,
  fraction: number,
  calls: "fractional" | "floor" = "fractional"
): number => optimalScorer(strongScores, weakScores, calls)(fraction)

/** `optimalScore` for many fractions, sorting the gains once. */
export const optimalScorer = (
  strongScores: Numbers,
  weakScores: Numbers,
  calls: "fractional" | "floor" = "fractional"
): (fraction: number) => number => {
  const n = strongScores.length
  const gains = new Float64Array(n)
  let weakTotal = 0
  for (let p = 0; p < n; p++) {
    gains[p] = strongScores[p]! - weakScores[p]!
    weakTotal += weakScores[p]!
  }
  // Positive gains, largest first, with their running sums.
  const positive = gains.filter((gain) => gain > 0).sort().reverse()
  const prefix = new Float64Array(positive.length + 1)
  for (let i = 0; i < positive.length; i++) prefix[i + 1] = prefix[i]! + positive[i]!
  return (fraction) => {
    const strongCalls = calls === "floor" ? Math.floor(n * fraction) : n * fraction
    const whole = Math.min(Math.floor(strongCalls), positive.length)
    let bonus = prefix[whole]!
    if (whole < positive.length) bonus += (strongCalls - whole) * positive[whole]!
    return (weakTotal + bonus) / n
  }
}

/** The optimal curve at the given strong-call percents (RouteLLM plots 0, 10, ..., 100). */
export const optimalCurve = (
  strongScores: Numbers,
  weakScores: Numbers,
  options: { readonly percents?: Numbers; readonly calls?: "fractional" | "floor" } = {}
): Curve => {
  const percents = Float64Array.from(options.percents ?? Array.from({ length: 11 }, (_, index) => index * 10))
  const scorer = optimalScorer(strongScores, weakScores, options.calls)
  return {
    thresholds: percents.map(() => Number.NaN),
    strongPercent: percents,
    score: percents.map((percent) => scorer(percent / 100))
  }
}

/** Average curves of equal length point by point (random routers over seeds). */
export const averageCurves = (curves: ReadonlyArray<Curve>): Curve => {
  if (curves.length === 0) throw new RangeError("no curves to average")
  const length = curves[0]!.strongPercent.length
  if (curves.some((curve) => curve.strongPercent.length !== length)) {
    throw new RangeError("curves to average must have the same number of points")
  }
  const average = (pick: (curve: Curve) => Float64Array | undefined) => {
    const result = new Float64Array(length)
    for (const curve of curves) {
      const values = pick(curve)!
      for (let i = 0; i < length; i++) result[i] = result[i]! + values[i]! / curves.length
    }
    return result
  }
  const score = average((curve) => curve.score)
  const scoreStd = new Float64Array(length)
  if (curves.length > 1) {
    for (const curve of curves) {
      for (let i = 0; i < length; i++) scoreStd[i] = scoreStd[i]! + (curve.score[i]! - score[i]!) ** 2 / (curves.length - 1)
    }
    for (let i = 0; i < length; i++) scoreStd[i] = Math.sqrt(scoreStd[i]!)
  }
  return {
    thresholds: average((curve) => curve.thresholds),
    strongPercent: average((curve) => curve.strongPercent),
    score,
    cost: curves.every((curve) => curve.cost !== undefined) ? average((curve) => curve.cost) : undefined,
    ...(curves.length > 1 ? { scoreStd } : {})
  }
}

// ---------------------------------------------------------------------------
// Summaries

/** CPT(x): strong calls (%) needed to reach `weak + fraction * (strong - weak)`. */
export const cpt = (curve: Curve, strongScore: number, weakScore: number, fraction: number): number =>
  interp(fraction * (strongScore - weakScore) + weakScore, curve.score, curve.strongPercent)

/** Area under the curve over strong-call fraction, by the trapezoid rule. */
export const auc = (curve: Curve): number => trapezoid(curve.score, curve.strongPercent.map((percent) => percent / 100))

/** Average performance gap recovered. */
export const apgr = (curve: Curve, strongScore: number, weakScore: number): number => {
  const x = curve.strongPercent.map((percent) => percent / 100)
  const weakArea = trapezoid(x.map(() => weakScore), x)
  const strongArea = trapezoid(x.map(() => strongScore), x)
  return (trapezoid(curve.score, x) - weakArea) / (strongArea - weakArea)
}

export const summarize = (curve: Curve, strongScore: number, weakScore: number): Summary => ({
  cpt20: cpt(curve, strongScore, weakScore, 0.2),
  cpt50: cpt(curve, strongScore, weakScore, 0.5),
  cpt80: cpt(curve, strongScore, weakScore, 0.8),
  auc: auc(curve),
  apgr: apgr(curve, strongScore, weakScore)
})

// ---------------------------------------------------------------------------
// Cost

/** Dollars per million tokens. */
export interface Price {
  readonly input: number
  readonly output: number
}

/** Tokens of a text when no tokenizer count is recorded: about 4 characters per token. */
export const estimateTokens = (text: string): number => Math.ceil(text.length / 4)

/**
 * Dollars per prompt for one model. Output tokens default to the input tokens
 * (the paper's cost analysis assumes as many output as input tokens).
 */
export const promptCosts = (
  inputTokens: Numbers,
  price: Price,
  outputTokens?: Numbers
): Float64Array => {
  const costs = new Float64Array(inputTokens.length)
  for (let p = 0; p < inputTokens.length; p++) {
    const output = outputTokens === undefined || Number.isNaN(outputTokens[p]!) ? inputTokens[p]! : outputTokens[p]!
    costs[p] = (inputTokens[p]! * price.input + output * price.output) / 1e6
  }
  return costs
}

/** Dollars of a router's calls at a strong-call share, interpolated along its curve. */
export const costAt = (curve: Curve, strongPercent: number): number =>
  curve.cost === undefined ? Number.NaN : interp(strongPercent, curve.strongPercent, curve.cost)

/**
 * The paper's Table 6: how many times cheaper the router is than the random
 * router at the same quality (x = 0.5 for CPT(50%), 0.8 for CPT(80%)). The
 * random router needs x * 100% strong calls; costs are linear in strong calls.
 */
export const costSavings = (
  routerCpt: number,
  fraction: number,
  totalStrongCost: number,
  totalWeakCost: number
): number => {
  const costOf = (percent: number) => (percent / 100) * totalStrongCost + (1 - percent / 100) * totalWeakCost
  return costOf(fraction * 100) / costOf(routerCpt)
}

// ---------------------------------------------------------------------------
// Calibration

/**
 * RouteLLM's `calibrate_threshold.py`: the threshold is the (1 - fraction)
 * quantile of the win rates, so about `fraction` of prompts score at least it.
 */
export const thresholdForStrongFraction = (winRates: Numbers, fraction: number): number => quantile(winRates, 1 - fraction)

/** Share of prompts routed to the strong model at a threshold (`>=`). */
export const strongShare = (winRates: Numbers, threshold: number): number => {
  let strong = 0
  for (let p = 0; p < winRates.length; p++) if (winRates[p]! >= threshold) strong++
  return winRates.length === 0 ? Number.NaN : strong / winRates.length
}
