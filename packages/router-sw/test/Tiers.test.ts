import { assert, describe, it } from "@effect/vitest"
import { Random } from "@routellm/core"
import { Tiers } from "@routellm/router-sw"

/** RouteLLM's compute_tiers, translated line by line (3-D table, O(m n^3)), as the reference. */
const routeLlmTiers = (ratings: ReadonlyArray<number>, m: number): Array<number> => {
  const n = ratings.length
  const variance = (values: ReadonlyArray<number>) => {
    const mean = values.reduce((sum, value) => sum + value, 0) / values.length
    return values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / values.length
  }
  const dp = Array.from({ length: n }, () => Array.from({ length: n }, () => new Array<number>(m).fill(0)))
  const dpSplit = Array.from({ length: n }, () => Array.from({ length: n }, () => new Array<number>(m).fill(0)))
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) dp[i]![j]![0] = variance(ratings.slice(i, j + 1))
  for (let tier = 1; tier < m; tier++) {
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        dp[i]![j]![tier] = 1000000000
        for (let l = i; l < j; l++) {
          if (dp[i]![j]![tier]! > dp[i]![l]![tier - 1]! + dp[l + 1]![j]![0]!) {
            dpSplit[i]![j]![tier] = l
            dp[i]![j]![tier] = dp[i]![l]![tier - 1]! + dp[l + 1]![j]![0]!
          }
        }
      }
    }
  }
  let current = n
  const splits: Array<number> = []
  for (let tier = m - 1; tier > 0; tier--) {
    const split = dpSplit[0]![current - 1]![tier]!
    splits.push(split)
    current = split + 1
  }
  const ends = [...splits.reverse(), n - 1]
  const tiers = new Array<number>(n)
  let start = 0
  ends.forEach((end, tier) => {
    for (let j = start; j <= end; j++) tiers[j] = tier
    start = end + 1
  })
  return tiers
}

/** Every contiguous partition RouteLLM's recurrence admits: exactly m tiers, or fewer with the best model alone first. */
const bruteForceCost = (ratings: ReadonlyArray<number>, m: number): number => {
  const n = ratings.length
  let best = Number.POSITIVE_INFINITY
  for (let mask = 0; mask < 1 << (n - 1); mask++) {
    const tiers = new Array<number>(n).fill(0)
    let tier = 0
    for (let i = 1; i < n; i++) {
      if (mask & (1 << (i - 1))) tier++
      tiers[i] = tier
    }
    const count = tier + 1
    const firstAlone = n === 1 || tiers[1] !== tiers[0]
    if (count > m || (count < m && !firstAlone)) continue
    best = Math.min(best, Tiers.cost(ratings, tiers))
  }
  return best
}

describe("tiers", () => {
  it("groups hand-checked ratings", () => {
    assert.deepStrictEqual([...Tiers.partition([1300, 1290, 1100, 1090, 900], 3)], [0, 0, 1, 1, 2])
    assert.deepStrictEqual([...Tiers.partition([1300, 1290, 1100, 1090, 900], 1)], [0, 0, 0, 0, 0])
    // Fewer models than tiers: every model alone, tier numbers as RouteLLM leaves them (gaps stay empty).
    assert.deepStrictEqual([...Tiers.partition([1200, 1100], 4)], routeLlmTiers([1200, 1100], 4))
    const named = Tiers.assign(new Map([["b", 1000], ["a", 1300], ["c", 1290]]), 2)
    assert.deepStrictEqual([...named.entries()], [["a", 0], ["c", 0], ["b", 1]])
  })

  it("matches brute force and RouteLLM's own recurrence on small random inputs", () => {
    const random = Random.make(7)
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + random.int(9)
      const m = 1 + random.int(5)
      const ratings = Array.from({ length: n }, () => 800 + 600 * random.next()).sort((a, b) => b - a)
      // Clusters make ties in cost unlikely but splits meaningful.
      if (trial % 3 === 0) { for (let i = 0; i < n; i++) ratings[i] = Math.round(ratings[i]! / 150) * 150 + random.next() }
      ratings.sort((a, b) => b - a)
      const tiers = [...Tiers.partition(ratings, m)]
      assert.deepStrictEqual(tiers, routeLlmTiers(ratings, m), `ratings ${ratings.join(", ")}, ${m} tiers`)
      const expected = bruteForceCost(ratings, m)
      assert.isTrue(Math.abs(Tiers.cost(ratings, tiers) - expected) <= 1e-6 * Math.max(1, expected), `trial ${trial}`)
    }
  })
})
