/**
 * `routellm sweep` as a user runs it: real worker processes, the real step
 * cache, a real benchmark (GSM8K outcomes) and the plugin example package.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { exists, readJson, routellm, start, temporaryDirectory, waitFor, writeFile, writePipeline } from "./support/Sweeps.ts"

interface StepRecord {
  readonly id: string
  readonly fingerprint: string
  readonly cached: boolean
}

const cellsOf = async (out: string) => {
  const names = await Fs.readdir(Path.join(out, "cells"))
  const results = new Map<string, any>()
  for (const name of names) {
    const file = Path.join(out, "cells", name, "result.json")
    if (await exists(file)) results.set(name, await readJson(file))
  }
  return results
}

describe("routellm sweep", () => {
  it.live("runs steps shared between cells once, and averages the seeds in the table", () =>
    Effect.promise(async () => {
      const directory = await temporaryDirectory()
      await writePipeline(directory)
      const sweep = await writeFile(
        directory,
        "sweep.yaml",
        "name: shared\npipeline: tiny.yaml\naxes:\n  bins: { set: gsm8k.bins, values: [5, 10] }\nseeds: { set: gsm8k.routers.0.with.seed, count: 3 }\n"
      )
      const out = Path.join(directory, "out")
      const env = { ROUTELLM_CACHE_DIR: Path.join(directory, "cache") }

      const dry = await routellm(["sweep", sweep, "--out", out, "--dry-run"], env)
      assert.strictEqual(dry.code, 0, dry.stderr)
      assert.include(dry.stdout, "6 cells (0 finished, 6 to run); steps: 0 cached, 7 to compute, 5 shared with an earlier cell")
      assert.include(dry.stdout, "shared: computed by bins=5,seed=0")

      const result = await routellm(["sweep", sweep, "--out", out, "--workers", "2"], env)
      assert.strictEqual(result.code, 0, result.stderr)
      assert.match(result.stderr, /\[6\/6 done, 0 running, 0 left/)

      const cells = await cellsOf(out)
      assert.deepStrictEqual([...cells.keys()].sort(), [
        "bins=10,seed=0",
        "bins=10,seed=1",
        "bins=10,seed=2",
        "bins=5,seed=0",
        "bins=5,seed=1",
        "bins=5,seed=2"
      ])
      // Every cell's run manifest: the shared step was computed in exactly one cell, the evaluation in each.
      const manifests = await Promise.all([...cells.values()].map((cell) => readJson(cell.manifest)))
      const prepare = manifests.map((manifest) => manifest.steps.find((step: StepRecord) => step.id === "prepare") as StepRecord)
      assert.strictEqual(new Set(prepare.map((step) => step.fingerprint)).size, 1)
      assert.strictEqual(prepare.filter((step) => !step.cached).length, 1)
      const evaluations = manifests.map((manifest) => manifest.steps.find((step: StepRecord) => step.id === "gsm8k") as StepRecord)
      assert.isTrue(evaluations.every((step) => !step.cached))
      assert.strictEqual(new Set(evaluations.map((step) => step.fingerprint)).size, 6)

      // Each cell's metrics are its evaluation report's; the table averages the three seeds of each bins value.
      const table = await readJson(Path.join(out, "results.json"))
      for (const bins of [5, 10]) {
        const apgr: Array<number> = []
        for (let seed = 0; seed < 3; seed++) {
          const cell = cells.get(`bins=${bins},seed=${seed}`)
          const report = await readJson(Path.join(cell.runDirectory, "steps", "gsm8k", "report.json"))
          const random = report.routers.find((router: { name: string }) => router.name === "random")
          assert.strictEqual(cell.metrics[0].apgr, random.metrics.apgr)
          apgr.push(random.metrics.apgr)
        }
        const mean = apgr.reduce((sum, value) => sum + value, 0) / 3
        const sd = Math.sqrt(apgr.reduce((sum, value) => sum + (value - mean) ** 2, 0) / 2)
        const row = table.rows.find((entry: { group: string }) => entry.group === `bins=${bins}`)
        assert.strictEqual(row.router, "random")
        assert.closeTo(row.benchmarks.gsm8k.apgr.mean, mean, 1e-12)
        assert.closeTo(row.benchmarks.gsm8k.apgr.halfWidth, 4.303 * sd / Math.sqrt(3), 1e-12)
      }
      const markdown = await Fs.readFile(Path.join(out, "results.md"), "utf8")
      assert.include(markdown, "| bins=5 | random | 3 |")
      const csv = (await Fs.readFile(Path.join(out, "results.csv"), "utf8")).trim().split("\n")
      assert.strictEqual(csv.length, 3)
      assert.isTrue(csv[0]!.startsWith("cell,router,seeds,gsm8k_apgr_mean,gsm8k_apgr_ci95_low"))
      const png = await Fs.readFile(Path.join(out, "results.png"))
      assert.deepStrictEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47])

      const manifest = await readJson(Path.join(out, "sweep-manifest.json"))
      assert.strictEqual(manifest.cells.length, 6)
      assert.isTrue(
        manifest.cells.every((cell: { status: string; runManifest: string }) => cell.status === "done" && cell.runManifest.endsWith("manifest.json"))
      )
      assert.strictEqual(manifest.sweep.text, await Fs.readFile(sweep, "utf8"))
      assert.isString(manifest.versions["@routellm/core"])
      assert.isTrue(manifest.data.some((entry: { step: string }) => entry.step === "gsm8k"))

      // Afterwards every cell is finished and every step cached.
      const again = await routellm(["sweep", sweep, "--out", out, "--dry-run"], env)
      assert.include(again.stdout, "6 cells (6 finished, 0 to run); steps: 12 cached, 0 to compute, 0 shared")
    }))

  it.live("resumes after being killed: finished cells are read back, not recomputed", () =>
    Effect.promise(async () => {
      const directory = await temporaryDirectory()
      await writePipeline(directory)
      const sweep = await writeFile(directory, "sweep.yaml", "name: resume\npipeline: tiny.yaml\naxes:\n  n: { set: prepare.n, values: [1, 2, 4, 6] }\n")
      const out = Path.join(directory, "out")
      const env = { ROUTELLM_CACHE_DIR: Path.join(directory, "cache") }
      // The third cell pauses in its counting step; kill the sweep there.
      const first = start(["sweep", sweep, "--out", out, "--workers", "1"], { ...env, ROUTELLM_TEST_PAUSE_MS: "60000", ROUTELLM_TEST_PAUSE_N: "4" })
      await waitFor(async () => (first.output.text.includes("start n=4") ? true : undefined), "the third cell to start")
      first.child.kill("SIGKILL")
      await first.exited
      const before = await cellsOf(out)
      assert.deepStrictEqual([...before.keys()].sort(), ["n=1", "n=2"])
      const stamps = await Promise.all(["n=1", "n=2"].map((name) => Fs.stat(Path.join(out, "cells", name, "result.json"))))
      assert.isFalse(await exists(Path.join(out, "results.md")))

      const second = await routellm(["sweep", sweep, "--out", out, "--workers", "1"], env)
      assert.strictEqual(second.code, 0, second.stderr)
      assert.include(second.stderr, "2 of 4 cells finished earlier: results reused")
      assert.notInclude(second.stderr, "start n=1")
      assert.notInclude(second.stderr, "start n=2")
      assert.include(second.stderr, "4/4 cells done (2 run now, 2 reused)")
      const after = await Promise.all(["n=1", "n=2"].map((name) => Fs.stat(Path.join(out, "cells", name, "result.json"))))
      assert.deepStrictEqual(after.map((stat) => stat.mtimeMs), stamps.map((stat) => stat.mtimeMs))
      const table = await readJson(Path.join(out, "results.json"))
      assert.deepStrictEqual(table.rows.map((row: { group: string }) => row.group), ["n=1", "n=2", "n=4", "n=6"])
      // The killed cell committed nothing: the rerun computed its step.
      const manifest = await readJson((await cellsOf(out)).get("n=4").manifest)
      assert.isFalse(manifest.steps.find((step: StepRecord) => step.id === "prepare").cached)
    }))

  it.live("fails with the sweep file's line on a bad axis, and names the cell whose pipeline config is wrong", () =>
    Effect.promise(async () => {
      const directory = await temporaryDirectory()
      await writePipeline(directory)
      const env = { ROUTELLM_CACHE_DIR: Path.join(directory, "cache") }
      const badZip = await writeFile(
        directory,
        "zip.yaml",
        "pipeline: tiny.yaml\ncombine: zip\naxes:\n  a: { set: gsm8k.bins, values: [1, 2] }\n  b: { set: prepare.n, values: [1] }\n"
      )
      const zip = await routellm(["sweep", badZip, "--dry-run"], env)
      assert.strictEqual(zip.code, 1)
      assert.include(zip.stderr, "zip.yaml:2")
      const badValue = await writeFile(directory, "value.yaml", "pipeline: tiny.yaml\naxes:\n  n: { set: prepare.n, values: [2, zero] }\n")
      const value = await routellm(["sweep", badValue, "--dry-run"], env)
      assert.strictEqual(value.code, 1)
      assert.include(value.stderr, "cell n=zero")
      assert.include(value.stderr, "step \"prepare\"")
    }))
})
