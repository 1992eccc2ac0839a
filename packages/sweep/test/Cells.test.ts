import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { Cells, Results, SweepFile } from "../src/index.ts"

const writeSweep = (text: string) =>
  Effect.promise(async () => {
    const directory = await Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-cells-"))
    const file = Path.join(directory, "sweep.yaml")
    await Fs.writeFile(file, text)
    return file
  })

const expand = (text: string) =>
  Effect.gen(function*() {
    const loaded = yield* SweepFile.load(yield* writeSweep(text))
    return yield* Cells.expand(loaded)
  })

const settings = (cell: Cells.Cell) => cell.overrides.map((override) => `${override.stepId}.${override.path.join(".")}=${JSON.stringify(override.value)}`)

describe("Cells.expand", () => {
  it.effect("takes the product of the axes, seeds innermost, with readable names", () =>
    Effect.gen(function*() {
      const cells = yield* expand(`
pipeline: p.yaml
set: { mf.epochs: 3 }
axes:
  lr: { set: mf.learningRate, values: [0.001, 0.01] }
  mix:
    values:
      small: { data.sources: [a], data.limit: 10 }
      big: { data.sources: [a, b] }
seeds: { set: [mf.seed, eval.seed], count: 2 }
`)
      assert.deepStrictEqual(cells.map((cell) => cell.name), [
        "lr=0.001,mix=small,seed=0",
        "lr=0.001,mix=small,seed=1",
        "lr=0.001,mix=big,seed=0",
        "lr=0.001,mix=big,seed=1",
        "lr=0.01,mix=small,seed=0",
        "lr=0.01,mix=small,seed=1",
        "lr=0.01,mix=big,seed=0",
        "lr=0.01,mix=big,seed=1"
      ])
      assert.strictEqual(cells[0]!.group, "lr=0.001,mix=small")
      assert.strictEqual(cells[1]!.seed, 1)
      assert.deepStrictEqual(settings(cells[1]!), [
        "mf.epochs=3",
        "mf.learningRate=0.001",
        "data.sources=[\"a\"]",
        "data.limit=10",
        "mf.seed=1",
        "eval.seed=1"
      ])
      assert.deepStrictEqual(settings(cells[6]!), ["mf.epochs=3", "mf.learningRate=0.01", "data.sources=[\"a\",\"b\"]", "mf.seed=0", "eval.seed=0"])
    }))

  it.effect("zips axes of equal length and keeps explicit seeds and labels", () =>
    Effect.gen(function*() {
      const cells = yield* expand(`
pipeline: p.yaml
combine: zip
axes:
  dim: { set: mf.dimensions, values: [64, 128, 256], labels: [s, m, l] }
  lr: { set: mf.learningRate, values: [0.1, 0.01, 0.001] }
seeds: { set: mf.seed, values: [7, 11] }
`)
      assert.deepStrictEqual(cells.map((cell) => cell.name), [
        "dim=s,lr=0.1,seed=7",
        "dim=s,lr=0.1,seed=11",
        "dim=m,lr=0.01,seed=7",
        "dim=m,lr=0.01,seed=11",
        "dim=l,lr=0.001,seed=7",
        "dim=l,lr=0.001,seed=11"
      ])
      assert.deepStrictEqual(settings(cells[3]!), ["mf.dimensions=128", "mf.learningRate=0.01", "mf.seed=11"])
    }))

  it.effect("without axes or seeds a sweep is one cell", () =>
    Effect.gen(function*() {
      const cells = yield* expand("pipeline: p.yaml\n")
      assert.deepStrictEqual(cells.map((cell) => [cell.name, cell.seed]), [["all", undefined]])
    }))

  it.effect("names the line of a zip over axes of different lengths", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(expand(`pipeline: p.yaml
axes:
  a: { set: x.y, values: [1, 2] }
  b: { set: x.z, values: [1, 2, 3] }
combine: zip
`))
      assert.strictEqual(error._tag, "SweepFileError")
      assert.include(error.message, "sweep.yaml:5")
      assert.include(error.message, "a: 2, b: 3")
    }))

  it.effect("rejects a path that is not step.field, naming the axis and its line", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(expand("pipeline: p.yaml\naxes:\n  lr:\n    set: learningRate\n    values: [1]\n"))
      assert.include(error.message, "sweep.yaml:3")
      assert.include(error.message, "\"learningRate\" is not a config path")
    }))

  it.effect("rejects unknown keys with the line", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(expand("pipeline: p.yaml\naxis:\n  lr: { set: a.b, values: [1] }\n"))
      assert.strictEqual(error._tag, "SweepFileError")
      assert.include(error.message, "sweep.yaml:2")
    }))
})

describe("Results.summarize", () => {
  it("gives the mean and the Student-t 95% half-width", () => {
    // values 1, 2, 3: mean 2, sample sd 1, t(0.975, 2) = 4.303, half-width 4.303 / sqrt(3)
    const summary = Results.summarize([1, 2, 3])
    assert.strictEqual(summary.mean, 2)
    assert.closeTo(summary.halfWidth!, 4.303 / Math.sqrt(3), 1e-12)
    assert.closeTo(summary.low!, 2 - 2.48434, 1e-4)
  })

  it("skips missing values and gives a zero-width interval for one seed", () => {
    const summary = Results.summarize([null, 0.5])
    assert.deepStrictEqual([summary.n, summary.mean, summary.halfWidth], [1, 0.5, 0])
    assert.strictEqual(Results.summarize([]).mean, null)
  })
})
