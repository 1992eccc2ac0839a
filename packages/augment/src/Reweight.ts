/**
 * `augment/reweight`: per-source battle weights, so a pipeline decides in
 * YAML how much each training source counts.
 *
 * A battle's family is the part of its `source` before the first `/`
 * (`routerdc/mbpp.json` is of family `routerdc`). In order:
 * 1. sources whose listed weight is 0 are dropped;
 * 2. `balance: family` scales each family so that its battles' total weight is
 *    the same for every family (`source`: the same per source), keeping the
 *    sum over all battles;
 * 3. listed weights multiply (a key is a source name or a glob: `*` any
 *    characters but `/`, `**` any characters, `?` one; the most specific
 *    matching key wins; unlisted sources keep 1).
 * A battle's own `weight` (AlpacaEval's fractional preferences) stays a
 * factor throughout. The report gives each source's total weight before and
 * after, and refuses a key that matches no source (a typo would do nothing).
 */
import { type Dataset, Errors, Plugin, type Records } from "@routellm/core"
import { Effect, Schema, Stream } from "effect"

export const id = "augment/reweight"

export const Balance = Schema.Literals(["none", "source", "family"])
export type Balance = typeof Balance.Type

export const Config = Schema.Struct({
  weights: Schema.Record(Schema.String, Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed({}))
  ).annotate({
    description: "Weight per source name or glob (routerdc/*, **/train.json); unlisted sources 1; 0 drops the source"
  }),
  balance: Balance.pipe(Schema.withDecodingDefaultKey(Effect.succeed("none" as const))).annotate({
    description: "Before the weights: family (the part of source before the first /) or source totals made equal, the overall total kept; none leaves them"
  })
}).annotate({ description: "Per-source battle weights from YAML, optionally balancing families or sources first" })
export type Config = typeof Config.Type

/** The source name battles without one are counted under. */
export const unnamed = "(unnamed)"

export const sourceOf = (battle: Records.Battle): string => battle.source ?? unnamed

/** The family of a source: its part before the first `/`. */
export const familyOf = (source: string): string => {
  const slash = source.indexOf("/")
  return slash < 0 ? source : source.slice(0, slash)
}

const isGlob = (key: string) => /[*?]/.test(key)

/** A glob as a RegExp: `**` any characters, `*` any but `/`, `?` one character but `/`. */
export const globPattern = (glob: string): RegExp => {
  let pattern = ""
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]!
    if (char === "*" && glob[i + 1] === "*") {
      pattern += ".*"
      i++
    } else if (char === "*") pattern += "[^/]*"
    else if (char === "?") pattern += "[^/]"
    else pattern += char.replace(/[.+^${}()|[\]\\]/g, "\\$&")
  }
  return new RegExp(`^${pattern}$`)
}

const literalLength = (glob: string) => glob.replace(/[*?]/g, "").length

/**
 * The listed weight of each source: an exact key, else the matching glob with
 * the most literal characters. Fails on a key that matches nothing and on two
 * equally specific globs that match one source with different weights.
 */
export const resolveWeights = (
  weights: Readonly<Record<string, number>>,
  sources: ReadonlyArray<string>
): Effect.Effect<Map<string, { readonly weight: number; readonly key: string | undefined }>, Errors.PluginError> =>
  Effect.gen(function*() {
    const globs = Object.keys(weights).filter(isGlob).map((key) => ({ key, pattern: globPattern(key), literal: literalLength(key) }))
    const used = new Set<string>()
    const resolved = new Map<string, { readonly weight: number; readonly key: string | undefined }>()
    for (const source of sources) {
      if (Object.hasOwn(weights, source)) {
        used.add(source)
        resolved.set(source, { weight: weights[source]!, key: source })
        continue
      }
      const matching = globs.filter((glob) => glob.pattern.test(source))
      for (const glob of matching) used.add(glob.key)
      if (matching.length === 0) {
        resolved.set(source, { weight: 1, key: undefined })
        continue
      }
      const best = Math.max(...matching.map((glob) => glob.literal))
      const tied = matching.filter((glob) => glob.literal === best)
      if (new Set(tied.map((glob) => weights[glob.key])).size > 1) {
        return yield* new Errors.PluginError({
          pluginId: id,
          reason: `weights: source "${source}" matches ${tied.map((glob) => `"${glob.key}"`).join(" and ")} equally; name it exactly`
        })
      }
      resolved.set(source, { weight: weights[tied[0]!.key]!, key: tied[0]!.key })
    }
    const unused = Object.keys(weights).filter((key) => !used.has(key))
    if (unused.length > 0) {
      return yield* new Errors.PluginError({
        pluginId: id,
        reason: `weights: ${unused.map((key) => `"${key}"`).join(", ")} ${unused.length === 1 ? "matches" : "match"} no source of the input battles; sources: ${
          sources.join(", ")
        }`
      })
    }
    return resolved
  })

export interface SourceReport {
  readonly family: string
  readonly battles: number
  /** Total weight in (a battle without `weight` counts 1). */
  readonly before: number
  /** Total weight out (0 for a dropped source). */
  readonly after: number
  /** The listed weight it got (1 when unlisted) and the key that gave it. */
  readonly weight: number
  readonly key?: string
  /** The balancing factor applied before the listed weight (1 without balance). */
  readonly balanced: number
}

export interface Report {
  readonly balance: Balance
  readonly before: number
  readonly after: number
  readonly droppedBattles: number
  readonly sources: Readonly<Record<string, SourceReport>>
}

/** Reweight battles; the weights of the kept battles and the report. */
export const reweight = (battles: ReadonlyArray<Records.Battle>, config: Config) =>
  Effect.gen(function*() {
    const totals = new Map<string, { battles: number; weight: number }>()
    for (const battle of battles) {
      const source = sourceOf(battle)
      const entry = totals.get(source) ?? { battles: 0, weight: 0 }
      entry.battles++
      entry.weight += battle.weight ?? 1
      totals.set(source, entry)
    }
    const sources = [...totals.keys()].sort()
    const listed = yield* resolveWeights(config.weights, sources)
    const alive = sources.filter((source) => listed.get(source)!.weight > 0)
    // Balance over the sources that stay, so that dropping one does not shrink the others.
    const groupOf = (source: string) => config.balance === "family" ? familyOf(source) : source
    const groupTotals = new Map<string, number>()
    for (const source of alive) groupTotals.set(groupOf(source), (groupTotals.get(groupOf(source)) ?? 0) + totals.get(source)!.weight)
    const overall = [...groupTotals.values()].reduce((sum, value) => sum + value, 0)
    const share = groupTotals.size === 0 ? 0 : overall / groupTotals.size
    const balancedOf = (source: string) => {
      if (config.balance === "none") return 1
      const total = groupTotals.get(groupOf(source)) ?? 0
      return total > 0 ? share / total : 1
    }
    const factor = new Map(sources.map((source) => [source, balancedOf(source) * listed.get(source)!.weight]))
    const kept: Array<Records.Battle> = []
    const after = new Map<string, number>()
    for (const battle of battles) {
      const source = sourceOf(battle)
      const weight = (battle.weight ?? 1) * factor.get(source)!
      if (!(weight > 0)) continue
      after.set(source, (after.get(source) ?? 0) + weight)
      kept.push(weight === 1 && battle.weight === undefined ? battle : { ...battle, weight })
    }
    const sourceReports: Record<string, SourceReport> = {}
    for (const source of sources) {
      const { key, weight } = listed.get(source)!
      sourceReports[source] = {
        family: familyOf(source),
        battles: totals.get(source)!.battles,
        before: totals.get(source)!.weight,
        after: after.get(source) ?? 0,
        weight,
        ...(key === undefined ? {} : { key }),
        balanced: balancedOf(source)
      }
    }
    const report: Report = {
      balance: config.balance,
      before: sources.reduce((sum, source) => sum + totals.get(source)!.weight, 0),
      after: [...after.values()].reduce((sum, value) => sum + value, 0),
      droppedBattles: battles.length - kept.length,
      sources: sourceReports
    }
    return { kept, report }
  })

export const plugin = Plugin.augmenter({
  id,
  version: "1.0.0",
  description: "Per-source battle weights (exact names or globs), after optionally equalising family or source totals; reports weight per source",
  config: Config,
  make: (config) =>
    Effect.succeed({
      id,
      augment: (records: Stream.Stream<Records.Battle, Dataset.DatasetError>) =>
        Effect.flatMap(Stream.runCollect(records), (battles) =>
          Effect.map(reweight(battles, config), (result) => ({ records: result.kept, report: { ...result.report } })))
    })
})
