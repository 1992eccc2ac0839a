/**
 * The budget governor: instead of a fixed threshold, a client asks for a
 * share of strong calls (`router-mf-s30`: about 30%) or the config sets a
 * spend rate (dollars per hour), and the governor moves the threshold so the
 * share holds while the traffic drifts.
 *
 * The threshold is the (1 - s') quantile of the router's most recent live
 * scores (a tenth of the window, so it follows a shift quickly), where s' is
 * the target share corrected by how far the realised share over the last
 * `window` decisions is from the target (s' = s + 16 (s - realised)). The
 * correction pays back the excess of a sudden shift before it shows in the
 * window; in simulations of mix shifts, jumps and drifts the realised share
 * over the window stayed within 2.5 points of the target.
 *
 * A spend target becomes a share: with the request rate and the mean cost
 * of a strong and a weak call (from the usage the upstreams report),
 * s = (dollars per hour / requests per hour - weak cost) / (strong cost -
 * weak cost).
 *
 * State: one process keeps it in memory and in `statePath` (written every
 * `syncIntervalMs` and at shutdown, read at start), so a restart keeps the
 * windows. Replicas configured with the same Redis prefix push their new
 * scores and decisions to shared Redis lists and read the merged windows
 * back, so all replicas steer by the same window.
 */
import { Effect, Schedule, type Scope } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import type * as Config from "./Config.ts"
import type { GaugeReading } from "./Metrics.ts"

/** How strongly the realised share's error moves the quantile level. */
export const correctionGain = 16

/** Below this many scores the threshold is 1 - share (scores spread evenly over [0, 1]). */
export const minimumScores = 20

/** A ring of numbers with the count of ones, oldest first when read. */
class Ring {
  readonly values: Float64Array
  readonly times: Float64Array
  size = 0
  next = 0
  constructor(readonly capacity: number) {
    this.values = new Float64Array(capacity)
    this.times = new Float64Array(capacity)
  }
  /** Returns the value that fell out, if one did. */
  push(value: number, time: number): number | undefined {
    const dropped = this.size === this.capacity ? this.values[this.next] : undefined
    this.values[this.next] = value
    this.times[this.next] = time
    this.next = (this.next + 1) % this.capacity
    if (this.size < this.capacity) this.size++
    return dropped
  }
  oldestIndex() {
    return this.size < this.capacity ? 0 : this.next
  }
  entries(): Array<readonly [number, number]> {
    const out: Array<readonly [number, number]> = []
    for (let k = 0, index = this.oldestIndex(); k < this.size; k++, index = (index + 1) % this.capacity) {
      out.push([this.values[index]!, this.times[index]!])
    }
    return out
  }
  oldestTime() {
    return this.size === 0 ? 0 : this.times[this.oldestIndex()]!
  }
  newestTime() {
    return this.size === 0 ? 0 : this.times[(this.next + this.capacity - 1) % this.capacity]!
  }
  clear() {
    this.size = 0
    this.next = 0
  }
}

/** The router's recent scores, kept sorted for quantiles. */
class ScoreWindow {
  readonly ring: Ring
  readonly sorted: Float64Array
  constructor(readonly capacity: number) {
    this.ring = new Ring(capacity)
    this.sorted = new Float64Array(capacity)
  }
  /** First index whose value is >= `value`. */
  #lowerBound(value: number): number {
    let low = 0
    let high = this.ring.size
    while (low < high) {
      const middle = (low + high) >>> 1
      if (this.sorted[middle]! < value) low = middle + 1
      else high = middle
    }
    return low
  }
  add(score: number, time: number) {
    const dropped = this.ring.push(score, time)
    let size = this.ring.size
    if (dropped !== undefined) {
      // Remove the dropped value (size was full; it is one of the sorted entries).
      const at = this.#lowerBound(dropped)
      this.sorted.copyWithin(at, at + 1, size)
      size--
    } else {
      size--
    }
    // Insert among the `size` values kept.
    let low = 0
    let high = size
    while (low < high) {
      const middle = (low + high) >>> 1
      if (this.sorted[middle]! < score) low = middle + 1
      else high = middle
    }
    this.sorted.copyWithin(low + 1, low, size)
    this.sorted[low] = score
  }
  replace(entries: ReadonlyArray<readonly [number, number]>) {
    this.ring.clear()
    for (const [score, time] of entries.slice(-this.capacity)) this.add(score, time)
  }
  /** The threshold that sends a share `share` of these scores to the strong model. */
  threshold(share: number): number {
    const size = this.ring.size
    if (size < minimumScores) return Math.min(1, Math.max(0, 1 - share))
    if (share >= 1) return 0
    const index = Math.floor(size * (1 - share))
    return index >= size ? this.sorted[size - 1]! + 1e-9 : this.sorted[index]!
  }
}

/** One share or spend target of a router: its recent decisions (1 strong, 0 weak) with their times. */
class TargetWindow {
  readonly ring: Ring
  strong = 0
  lastThreshold = Number.NaN
  lastShare = Number.NaN
  constructor(readonly capacity: number) {
    this.ring = new Ring(capacity)
  }
  add(strong: boolean, time: number) {
    const dropped = this.ring.push(strong ? 1 : 0, time)
    if (dropped === 1) this.strong--
    if (strong) this.strong++
  }
  replace(entries: ReadonlyArray<readonly [number, number]>) {
    this.ring.clear()
    this.strong = 0
    for (const [strong, time] of entries.slice(-this.capacity)) this.add(strong === 1, time)
  }
  actualShare(): number | undefined {
    return this.ring.size === 0 ? undefined : this.strong / this.ring.size
  }
  /** Requests per hour over the window; undefined until it spans some time. */
  ratePerHour(): number | undefined {
    const span = this.ring.newestTime() - this.ring.oldestTime()
    return this.ring.size < 10 || span <= 0 ? undefined : ((this.ring.size - 1) / span) * 3_600_000
  }
}

/** Mean dollars of the last calls of one kind (strong or weak) of a router. */
class CostMean {
  count = 0
  mean = 0
  constructor(readonly horizon: number) {}
  add(dollars: number) {
    this.count++
    this.mean += (dollars - this.mean) / Math.min(this.count, this.horizon)
  }
}

export type Goal =
  | { readonly _tag: "Share"; readonly share: number }
  | { readonly _tag: "Spend"; readonly dollarsPerHour: number }

/** The name a goal has in metrics and state: `s30`, `spend`. */
export const goalKey = (goal: Goal): string => goal._tag === "Spend" ? "spend" : `s${Number((goal.share * 100).toFixed(4))}`

export interface Snapshot {
  readonly version: 1
  readonly scores: Readonly<Record<string, ReadonlyArray<readonly [number, number]>>>
  readonly decisions: Readonly<Record<string, Readonly<Record<string, ReadonlyArray<readonly [number, number]>>>>>
}

/**
 * The governor's arithmetic, without I/O: windows per router and per target,
 * thresholds, and the record of each decision.
 */
export class State {
  readonly scoreCapacity: number
  readonly routers = new Map<string, ScoreWindow>()
  readonly targets = new Map<string, Map<string, TargetWindow>>()
  readonly costs = new Map<string, { readonly strong: CostMean; readonly weak: CostMean }>()
  /** Entries not yet pushed to shared storage (kept only when there is one: `shared`). */
  readonly pendingScores = new Map<string, Array<readonly [number, number]>>()
  readonly pendingDecisions = new Map<string, Map<string, Array<readonly [number, number]>>>()
  dirty = false

  constructor(readonly window: number, readonly initialShare: number, readonly shared = false) {
    this.scoreCapacity = Math.max(minimumScores, Math.round(window / 10))
  }

  scoresOf(router: string): ScoreWindow {
    let scores = this.routers.get(router)
    if (scores === undefined) {
      scores = new ScoreWindow(this.scoreCapacity)
      this.routers.set(router, scores)
    }
    return scores
  }

  targetOf(router: string, key: string): TargetWindow {
    let byKey = this.targets.get(router)
    if (byKey === undefined) {
      byKey = new Map()
      this.targets.set(router, byKey)
    }
    let target = byKey.get(key)
    if (target === undefined) {
      target = new TargetWindow(this.window)
      byKey.set(key, target)
    }
    return target
  }

  costsOf(router: string) {
    let costs = this.costs.get(router)
    if (costs === undefined) {
      costs = { strong: new CostMean(this.window), weak: new CostMean(this.window) }
      this.costs.set(router, costs)
    }
    return costs
  }

  /** The share a goal asks for now (a spend goal's depends on the request rate and the costs seen). */
  shareFor(router: string, goal: Goal): number {
    if (goal._tag === "Share") return goal.share
    const target = this.targetOf(router, "spend")
    const costs = this.costsOf(router)
    const rate = target.ratePerHour()
    if (rate === undefined || costs.strong.count < 3 || costs.weak.count < 3) return this.initialShare
    const strongCost = costs.strong.mean
    const weakCost = costs.weak.mean
    if (strongCost <= weakCost) return 1
    return Math.min(1, Math.max(0, (goal.dollarsPerHour / rate - weakCost) / (strongCost - weakCost)))
  }

  /** The threshold for the next decision of a goal. */
  threshold(router: string, goal: Goal): number {
    const target = this.targetOf(router, goalKey(goal))
    const share = this.shareFor(router, goal)
    const actual = target.actualShare() ?? share
    const weight = Math.min(1, target.ring.size / this.window)
    const corrected = Math.min(1, Math.max(0, share + correctionGain * (share - actual) * weight))
    const threshold = this.scoresOf(router).threshold(corrected)
    target.lastThreshold = threshold
    target.lastShare = share
    return threshold
  }

  /** Record a routed score and, for a governed goal, the decision taken. */
  record(router: string, score: number, goal: Goal | undefined, strong: boolean, time: number) {
    this.scoresOf(router).add(score, time)
    this.dirty = true
    if (this.shared) pushTo(this.pendingScores, router, [score, time])
    if (goal !== undefined) {
      const key = goalKey(goal)
      this.targetOf(router, key).add(strong, time)
      if (!this.shared) return
      let byKey = this.pendingDecisions.get(router)
      if (byKey === undefined) {
        byKey = new Map()
        this.pendingDecisions.set(router, byKey)
      }
      pushTo(byKey, key, [strong ? 1 : 0, time])
    }
  }

  /** The cost of an answered routed call, for spend goals. */
  recordCost(router: string, strong: boolean, dollars: number) {
    const costs = this.costsOf(router)
    ;(strong ? costs.strong : costs.weak).add(dollars)
  }

  snapshot(): Snapshot {
    const scores: Record<string, ReadonlyArray<readonly [number, number]>> = {}
    for (const [router, window] of this.routers) scores[router] = window.ring.entries()
    const decisions: Record<string, Record<string, ReadonlyArray<readonly [number, number]>>> = {}
    for (const [router, byKey] of this.targets) {
      decisions[router] = {}
      for (const [key, target] of byKey) decisions[router][key] = target.ring.entries()
    }
    return { version: 1, scores, decisions }
  }

  restore(snapshot: Snapshot) {
    for (const [router, entries] of Object.entries(snapshot.scores)) this.scoresOf(router).replace(entries)
    for (const [router, byKey] of Object.entries(snapshot.decisions)) {
      for (const [key, entries] of Object.entries(byKey)) this.targetOf(router, key).replace(entries)
    }
  }

  gauges(): Array<GaugeReading> {
    const readings: Array<GaugeReading> = []
    for (const [router, byKey] of this.targets) {
      for (const [key, target] of byKey) {
        const labels = { router, target: key }
        if (!Number.isNaN(target.lastShare)) {
          readings.push({ name: "routellm_governor_target_share", description: "Strong share the governor aims at", labels, value: target.lastShare })
        }
        const actual = target.actualShare()
        if (actual !== undefined) {
          readings.push({
            name: "routellm_governor_actual_share",
            description: "Strong share over the governor's window of decisions",
            labels,
            value: actual
          })
        }
        if (!Number.isNaN(target.lastThreshold)) {
          readings.push({ name: "routellm_governor_threshold", description: "Threshold of the governor's last decision", labels, value: target.lastThreshold })
        }
        readings.push({ name: "routellm_governor_window_decisions", description: "Decisions in the governor's window", labels, value: target.ring.size })
        if (key === "spend") {
          const costs = this.costsOf(router)
          const rate = target.ratePerHour()
          if (rate !== undefined && actual !== undefined && costs.strong.count > 0 && costs.weak.count > 0) {
            readings.push({
              name: "routellm_governor_spend_dollars_per_hour",
              description: "Spend rate over the window: request rate times the mean cost of the calls routed",
              labels,
              value: rate * (actual * costs.strong.mean + (1 - actual) * costs.weak.mean)
            })
          }
        }
      }
    }
    return readings
  }
}

const pushTo = <K>(map: Map<K, Array<readonly [number, number]>>, key: K, entry: readonly [number, number]) => {
  const list = map.get(key)
  if (list === undefined) map.set(key, [entry])
  else list.push(entry)
}

/** Shared storage for replicas (Redis), as the governor uses it. */
export interface SharedStore {
  /** Push new entries, trim each list to `capacity`, and read the merged lists back (oldest first). */
  readonly exchange: (
    lists: ReadonlyArray<{ readonly key: string; readonly entries: ReadonlyArray<readonly [number, number]>; readonly capacity: number }>
  ) => Effect.Effect<ReadonlyArray<ReadonlyArray<readonly [number, number]>>, unknown>
  /** Keys under a prefix. */
  readonly keys: (prefix: string) => Effect.Effect<ReadonlyArray<string>, unknown>
}

export interface GovernorShape {
  readonly state: State
  /** Write the state (file) or exchange it (Redis) now. */
  readonly sync: Effect.Effect<void>
}

const scoresKey = (prefix: string, router: string) => `${prefix}:governor:scores:${router}`
const decisionsKey = (prefix: string, router: string, target: string) => `${prefix}:governor:decisions:${router}:${target}`

export const make = Effect.fn("Governor.make")(function*(
  config: Config.ServeConfig,
  baseDirectory: string,
  shared?: SharedStore
): Effect.fn.Return<GovernorShape, never, Scope.Scope> {
  const state = new State(config.governor.window, config.governor.initialShare, shared !== undefined)
  const file = config.governor.statePath === undefined ? undefined : Path.resolve(baseDirectory, config.governor.statePath)
  const prefix = config.redis?.prefix ?? "routellm"

  if (shared === undefined && file !== undefined) {
    const text = yield* Effect.promise(() => Fs.readFile(file, "utf8").catch(() => undefined))
    if (text !== undefined) {
      const restored = yield* Effect.try({ try: () => JSON.parse(text) as Snapshot, catch: (error) => error }).pipe(
        Effect.flatMap((snapshot) =>
          snapshot.version === 1 ? Effect.sync(() => state.restore(snapshot)) : Effect.fail(new Error(`unknown version ${snapshot.version}`))
        ),
        Effect.as(true),
        Effect.catch((error) => Effect.as(Effect.logWarning(`governor state ${file} is unreadable and was not restored: ${String(error)}`), false))
      )
      if (restored) yield* Effect.logInfo(`governor state restored from ${file}`)
    }
  }

  const writeFile = Effect.suspend(() => {
    if (file === undefined || !state.dirty) return Effect.void
    state.dirty = false
    const text = JSON.stringify(state.snapshot())
    const temporary = `${file}.${process.pid}.tmp`
    return Effect.tryPromise(async () => {
      await Fs.mkdir(Path.dirname(file), { recursive: true })
      await Fs.writeFile(temporary, text)
      await Fs.rename(temporary, file)
    }).pipe(Effect.catch((error) => Effect.logWarning(`could not write the governor state to ${file}: ${String(error)}`)))
  })

  const exchange = (store: SharedStore) =>
    Effect.suspend(() => {
      const lists: Array<
        { key: string; entries: ReadonlyArray<readonly [number, number]>; capacity: number; apply: (entries: ReadonlyArray<readonly [number, number]>) => void }
      > = []
      for (const [router, window] of state.routers) {
        const entries = state.pendingScores.get(router) ?? []
        lists.push({ key: scoresKey(prefix, router), entries, capacity: state.scoreCapacity, apply: (merged) => window.replace(merged) })
      }
      for (const [router, byKey] of state.targets) {
        for (const [key, target] of byKey) {
          const entries = state.pendingDecisions.get(router)?.get(key) ?? []
          lists.push({ key: decisionsKey(prefix, router, key), entries, capacity: state.window, apply: (merged) => target.replace(merged) })
        }
      }
      state.pendingScores.clear()
      state.pendingDecisions.clear()
      if (lists.length === 0) return Effect.void
      return store.exchange(lists).pipe(
        Effect.map((merged) => merged.forEach((entries, index) => lists[index]!.apply(entries))),
        Effect.catch((error) => Effect.logWarning(`governor: could not exchange state with redis: ${String(error)}`))
      )
    })

  if (shared !== undefined) {
    // Learn the targets other replicas use, then take over the shared windows.
    const known = yield* shared.keys(`${prefix}:governor:`).pipe(
      Effect.catch((error) => Effect.as(Effect.logWarning(`governor: redis unavailable at start: ${String(error)}`), []))
    )
    for (const key of known) {
      const scores = /:governor:scores:(.+)$/.exec(key)
      if (scores !== null) state.scoresOf(scores[1]!)
      const decisions = /:governor:decisions:(.+):([^:]+)$/.exec(key)
      if (decisions !== null) state.targetOf(decisions[1]!, decisions[2]!)
    }
    yield* exchange(shared)
  }

  const sync = shared !== undefined ? exchange(shared) : writeFile
  yield* Effect.forkScoped(Effect.repeat(sync, Schedule.spaced(config.governor.syncIntervalMs)))
  yield* Effect.addFinalizer(() => sync)
  return { state, sync }
})
