/**
 * Expands a sweep into its cells: one pipeline run each, with the overrides of
 * its point on every axis and its seed. A cell's name reads
 * `axis=label,...,seed=N`; cells that differ only in the seed form a group,
 * the unit the results table averages over.
 */
import { Pipeline } from "@routellm/core"
import { Effect } from "effect"
import { type Loaded, SweepFileError } from "./SweepFile.ts"

export interface Cell {
  /** `mix=both,lr=0.01,seed=1`: unique within the sweep, safe as a directory name. */
  readonly name: string
  /** The name without the seed: cells of one group are averaged over seeds. */
  readonly group: string
  readonly seed: number | undefined
  /** The label of this cell's point on each axis, in axis order. */
  readonly point: Readonly<Record<string, string>>
  /** `step.field=value` overrides, the sweep's `set:` first. */
  readonly overrides: ReadonlyArray<Pipeline.Override>
}

interface AxisPoint {
  readonly label: string
  readonly settings: ReadonlyArray<readonly [string, unknown]>
}

/** Labels keep to characters that are safe in file names and shells. */
const safeLabel = (text: string): string => text.replace(/[^A-Za-z0-9._+-]+/g, "_").replace(/^_+|_+$/g, "") || "_"

const labelOf = (value: unknown): string =>
  typeof value === "string" || typeof value === "number" || typeof value === "boolean"
    ? String(value)
    : JSON.stringify(value)

const toOverride = (loaded: Loaded, where: ReadonlyArray<string>, path: string, value: unknown) => {
  const override = Pipeline.parseOverride(`${path}=x`)
  if (override === undefined) {
    const line = loaded.lineOf(where)
    return Effect.fail(
      new SweepFileError({
        file: loaded.file,
        ...(line === undefined ? {} : { line }),
        reason: `"${path}" is not a config path (expected step.field or step.field.sub, as for --set)`
      })
    )
  }
  return Effect.succeed({ ...override, value } satisfies Pipeline.Override)
}

const axisPoints = (loaded: Loaded, name: string): Effect.Effect<Array<AxisPoint>, SweepFileError> => {
  const axis = loaded.sweep.axes![name]!
  const line = loaded.lineOf(["axes", name])
  const fail = (reason: string) =>
    Effect.fail(new SweepFileError({ file: loaded.file, ...(line === undefined ? {} : { line }), reason: `axis "${name}": ${reason}` }))
  if ("set" in axis) {
    if (axis.values.length === 0) return fail("values is empty")
    if (axis.labels !== undefined && axis.labels.length !== axis.values.length) {
      return fail(`labels has ${axis.labels.length} entries for ${axis.values.length} values`)
    }
    const points = axis.values.map((value, index) => ({
      label: safeLabel(axis.labels?.[index] ?? labelOf(value)),
      settings: [[axis.set, value] as const]
    }))
    return Effect.succeed(points)
  }
  const entries = Object.entries(axis.values)
  if (entries.length === 0) return fail("values is empty")
  return Effect.succeed(entries.map(([label, settings]) => ({ label: safeLabel(label), settings: Object.entries(settings) })))
}

/** Every cell of a sweep, in a stable order (axes in file order, seeds innermost). */
export const expand = Effect.fn("Cells.expand")(function*(loaded: Loaded) {
  const sweep = loaded.sweep
  const axisNames = Object.keys(sweep.axes ?? {})
  for (const name of axisNames) {
    if (name === "seed" || safeLabel(name) !== name) {
      const line = loaded.lineOf(["axes", name])
      return yield* new SweepFileError({
        file: loaded.file,
        ...(line === undefined ? {} : { line }),
        reason: name === "seed"
          ? `"seed" is reserved for seeds: (write seeds: { set: ..., count: N })`
          : `axis name "${name}" may only use letters, digits and . _ + -`
      })
    }
  }
  const pointsByAxis: Array<Array<AxisPoint>> = []
  for (const name of axisNames) pointsByAxis.push(yield* axisPoints(loaded, name))

  let combinations: Array<Array<AxisPoint>>
  if (sweep.combine === "zip") {
    const lengths = new Set(pointsByAxis.map((points) => points.length))
    if (lengths.size > 1) {
      const line = loaded.lineOf(["combine"])
      return yield* new SweepFileError({
        file: loaded.file,
        ...(line === undefined ? {} : { line }),
        reason: `combine: zip needs axes of equal length, got ${axisNames.map((name, index) => `${name}: ${pointsByAxis[index]!.length}`).join(", ")}`
      })
    }
    const length = pointsByAxis[0]?.length ?? 1
    combinations = Array.from({ length }, (_, index) => pointsByAxis.map((points) => points[index]!))
  } else {
    combinations = [[]]
    for (const points of pointsByAxis) combinations = combinations.flatMap((prefix) => points.map((point) => [...prefix, point]))
  }

  const seedPaths = sweep.seeds === undefined ? [] : typeof sweep.seeds.set === "string" ? [sweep.seeds.set] : [...sweep.seeds.set]
  const seeds: Array<number | undefined> = sweep.seeds === undefined
    ? [undefined]
    : sweep.seeds.values !== undefined
    ? [...sweep.seeds.values]
    : Array.from({ length: sweep.seeds.count ?? 3 }, (_, index) => index)
  if (new Set(seeds).size !== seeds.length) {
    return yield* new SweepFileError({ file: loaded.file, reason: `seeds repeat: ${seeds.join(", ")}` })
  }

  const fixed: Array<Pipeline.Override> = []
  for (const [path, value] of Object.entries(sweep.set ?? {})) fixed.push(yield* toOverride(loaded, ["set", path], path, value))

  const cells: Array<Cell> = []
  const names = new Set<string>()
  for (const combination of combinations) {
    const axisOverrides: Array<Pipeline.Override> = []
    for (let index = 0; index < combination.length; index++) {
      for (const [path, value] of combination[index]!.settings) {
        axisOverrides.push(yield* toOverride(loaded, ["axes", axisNames[index]!], path, value))
      }
    }
    const point = Object.fromEntries(combination.map((entry, index) => [axisNames[index]!, entry.label]))
    const group = axisNames.length === 0 ? "all" : axisNames.map((name) => `${name}=${point[name]}`).join(",")
    for (const seed of seeds) {
      const seedOverrides: Array<Pipeline.Override> = []
      for (const path of seedPaths) seedOverrides.push(yield* toOverride(loaded, ["seeds", "set"], path, seed))
      const name = seed === undefined ? group : axisNames.length === 0 ? `seed=${seed}` : `${group},seed=${seed}`
      if (names.has(name)) {
        return yield* new SweepFileError({
          file: loaded.file,
          reason: `two cells are both named "${name}": give the axis values distinct labels`
        })
      }
      names.add(name)
      cells.push({ name, group, seed, point, overrides: [...fixed, ...axisOverrides, ...seedOverrides] })
    }
  }
  return cells
})
