import { assert, describe, it } from "@effect/vitest"
import { CalibrateStep, Calibration, Evaluate, Gsm8k, Mmlu, MtBench, Output, Plot, plugins, Report } from "@routellm/benchmarks"
import { ArtifactStore, Files, Pipeline, PipelineRunner, PluginRegistry, Progress, RandomRouter } from "@routellm/core"
import { Effect, Layer, Schema } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { evalDirectory } from "../../../test/support/SharedData.ts"

const temporary = () => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-eval-"))

const services = (root: string) =>
  Layer.mergeAll(ArtifactStore.ArtifactStore.layerAt(root), PluginRegistry.PluginRegistry.layer([RandomRouter.plugin, ...plugins]))

const run = <A, E>(effect: (root: string) => Effect.Effect<A, E, any>) =>
  Effect.gen(function*() {
    const root = yield* Effect.promise(temporary)
    return yield* (effect(root).pipe(
      Effect.scoped,
      Effect.provide(services(root)),
      Effect.provideService(Progress.Reporter, Progress.silent)
    ) as Effect.Effect<A, E>)
  })

const context = { baseDirectory: process.cwd() }

describe("evaluate", () => {
  it.live("GSM8K: random averaged over seeds near APGR 0.5, oracle near optimal, scores cached", () =>
    run((root) =>
      Effect.gen(function*() {
        const benchmark = yield* Gsm8k.make(Schema.decodeUnknownSync(Gsm8k.Config)({ dir: evalDirectory }), context)
        const specs = [{ reference: "random" }, { reference: "router/oracle" }]
        const report = yield* Evaluate.evaluate(benchmark, specs, context, { seeds: 10 })
        assert.strictEqual(report.prompts, 1307)
        assert.strictEqual(report.strongScore.toFixed(2), "85.77")
        assert.strictEqual(report.weakScore.toFixed(2), "63.73")
        // The listed random router is the random baseline; the length baseline is added before the listed routers.
        assert.deepStrictEqual(report.routers.map((router) => router.name), ["length", "random", "oracle"])
        const [length, random, oracle] = report.routers
        assert.isTrue(length!.baseline)
        assert.isUndefined(random!.baseline)
        assert.strictEqual(random!.seeds, 10)
        assert.strictEqual(random!.points.length, 11)
        assert.isTrue(Math.abs(random!.metrics.apgr - 0.5) < 0.03, `random APGR ${random!.metrics.apgr}`)
        assert.isTrue(Math.abs(random!.metrics.cpt50 - 50) < 4, `random CPT(50%) ${random!.metrics.cpt50}`)
        // The oracle recovers the gap with about as few strong calls as the optimal curve.
        assert.isTrue(oracle!.metrics.apgr > 0.9 && oracle!.metrics.apgr <= report.optimal.metrics.apgr + 1e-9)
        assert.isFalse(random!.cached)
        // Every point's strong share and score come from routing the prompts.
        for (const point of random!.points) assert.isTrue(point.score >= report.weakScore - 5 && point.score <= report.strongScore + 5)

        const again = yield* Evaluate.evaluate(benchmark, specs, context, { seeds: 10 })
        assert.isTrue(again.routers.every((router) => router.cached))
        assert.deepStrictEqual(again.routers[1]!.metrics, random!.metrics)
        // 10 random seeds, the oracle and the length router.
        const entries = yield* Effect.promise(() => Fs.readdir(Path.join(root, "artifacts", "router-scores")))
        assert.strictEqual(entries.filter((name) => !name.startsWith(".")).length, 12)

        const json = JSON.parse(Report.json(report))
        for (const key of ["benchmark", "strongModel", "weakModel", "prompts", "strongScore", "weakScore"]) assert.property(json, key)
        for (const key of ["apgr", "apgrExact", "cpt20", "cpt50", "cpt80", "auc"]) assert.property(json.routers[1].metrics, key)
        assert.isArray(json.routers[1].points)
        const table = Report.table(report)
        assert.include(table, "random (10 seeds)")
        assert.include(table, "Optimal")
      })
    ).pipe(Effect.provide(Files.layer)))

  it.live("writes JSON, Markdown, SVG and PNG", () =>
    run((root) =>
      Effect.gen(function*() {
        const benchmark = yield* MtBench.make(Schema.decodeUnknownSync(MtBench.Config)({ dir: evalDirectory }), context)
        const report = yield* Evaluate.evaluate(benchmark, [{ reference: "random" }], context, { seeds: 2 })
        const files = {
          json: Path.join(root, "out/report.json"),
          markdown: Path.join(root, "out/report.md"),
          plots: [Path.join(root, "out/plot.svg"), Path.join(root, "out/plot.png")]
        }
        const written = yield* Output.writeAll(report, files)
        assert.strictEqual(written.length, 4)
        const svg = yield* Effect.promise(() => Fs.readFile(files.plots[0]!, "utf8"))
        assert.include(svg, "<svg")
        assert.include(svg, "stroke-dasharray")
        assert.include(svg, "Strong Model Calls (%)")
        const png = yield* Effect.promise(() => Fs.readFile(files.plots[1]!))
        assert.deepStrictEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
        // 1.5x zoom of the SVG's width, read from the IHDR chunk.
        const width = Number(/width="(\d+)"/.exec(svg)![1])
        assert.strictEqual(png.readUInt32BE(16), Math.round(width * 1.5))
        const markdown = yield* Effect.promise(() => Fs.readFile(files.markdown, "utf8"))
        assert.include(markdown, "| random (2 seeds) |")
        assert.include(markdown, "![MT Bench](plot.svg)")
        const error = yield* Effect.flip(Output.writeAll(report, { plots: [Path.join(root, "plot.pdf")] }))
        assert.include(error.message, ".svg or .png")
      })
    ).pipe(Effect.provide(Files.layer)))
})

describe("baselines", () => {
  it.live("random and length by default, at the APGRs measured independently in issue #15; replaced or turned off on request", () =>
    run((root) =>
      Effect.gen(function*() {
        const mtBench = yield* MtBench.make(Schema.decodeUnknownSync(MtBench.Config)({ dir: evalDirectory }), context)
        // The registry of these tests does not list router/length: core's baselines resolve anyway.
        const report = yield* Evaluate.evaluate(mtBench, [], context)
        assert.deepStrictEqual(report.routers.map((router) => [router.name, router.baseline]), [["random", true], ["length", true]])
        const [random, length] = report.routers
        assert.strictEqual(random!.seeds, Evaluate.defaultSeeds(mtBench.rows.length))
        assert.isUndefined(length!.seeds)
        // Issue #15: "length alone reaches APGR 0.548 on MT Bench, 0.586 on MMLU" on the exact curve.
        assert.closeTo(length!.metrics.apgrExact, 0.548, 5e-4)
        assert.isTrue(Math.abs(random!.metrics.apgr - 0.5) < 0.02, `random APGR ${random!.metrics.apgr}`)
        const mmlu = yield* Mmlu.make(Schema.decodeUnknownSync(Mmlu.Config)({ dir: evalDirectory }), context)
        const mmluReport = yield* Evaluate.evaluate(mmlu, [], context, { seeds: 1, baselines: [{ reference: "length" }] })
        assert.deepStrictEqual(mmluReport.routers.map((router) => router.name), ["length"])
        assert.closeTo(mmluReport.routers[0]!.metrics.apgrExact, 0.586, 5e-4)

        const table = Report.table(report)
        assert.match(table, /\nlength\s+\d+\.\d+%/)
        const markdown = Report.markdown(report)
        assert.include(markdown, "| length |")
        assert.include(markdown, "## length")
        const svg = Plot.svg(report)
        assert.include(svg, `length  APGR ${length!.metrics.apgr.toFixed(3)}`)

        const none = yield* Evaluate.evaluate(mtBench, [{ reference: "router/oracle" }], context, { baselines: [] })
        assert.deepStrictEqual(none.routers.map((router) => router.name), ["oracle"])
        const pinned = yield* Evaluate.evaluate(mtBench, [], context, {
          baselines: [{ name: "coin", reference: { uses: "router/random", with: { seed: 3 } } }]
        })
        assert.deepStrictEqual(pinned.routers.map((router) => [router.name, router.seeds]), [["coin", undefined]])
        const unknown = yield* Effect.flip(Evaluate.evaluate(mtBench, [], context, { baselines: [{ reference: "router/nope" }] }))
        assert.include(unknown.message, "baselines[0]")
        assert.include(unknown.message, "router/nope")
        assert.isTrue(root.length > 0)
      })
    ).pipe(Effect.provide(Files.layer)))

  it.live("eval/benchmark: baselines without routers; baselines: [] and no routers is an error", () =>
    run((root) =>
      Effect.gen(function*() {
        const directory = Path.join(root, "pipelines")
        yield* Effect.promise(() => Fs.mkdir(directory, { recursive: true }))
        const write = (name: string, step: ReadonlyArray<string>) =>
          Effect.promise(async () => {
            const file = Path.join(directory, name)
            await Fs.writeFile(
              file,
              [
                "steps:",
                "  eval:",
                "    uses: eval/benchmark",
                "    with:",
                `      benchmark: { uses: benchmark/mt-bench, with: { dir: ${Path.relative(directory, evalDirectory)} } }`,
                "      png: false",
                ...step
              ].join("\n")
            )
            return file
          })
        const runFile = (file: string, name: string) =>
          Effect.flatMap(Pipeline.load(file), (loaded) =>
            Effect.flatMap(
              Pipeline.resolve(loaded),
              ({ registry, resolved }) => PipelineRunner.run(resolved, registry, { runDirectory: Path.join(root, name), log: () => {} })
            ))
        const result = yield* runFile(yield* write("default.yaml", ["      seeds: 2"]), "default")
        const step = result.manifest.steps.find((entry) => entry.id === "eval")!
        assert.deepStrictEqual(Object.keys(step.summary!.routers as object), ["random", "length"])
        const markdown = yield* Effect.promise(() => Fs.readFile(Path.join(step.artifact, "report.md"), "utf8"))
        assert.include(markdown, "| length |")
        assert.include(markdown, "| random (2 seeds) |")
        const error = yield* Effect.flip(runFile(yield* write("empty.yaml", ["      baselines: []"]), "empty"))
        assert.include(error.message, "no routers")
      })
    ).pipe(Effect.provide(Files.layer)))
})

describe("pipeline steps", () => {
  it.live("eval/benchmark takes routers from config and from router steps in needs; calibrate/quantile reads a router step", () =>
    run((root) =>
      Effect.gen(function*() {
        const directory = Path.join(root, "pipelines")
        yield* Effect.promise(() => Fs.mkdir(directory, { recursive: true }))
        const prompts = Path.join(directory, "prompts.jsonl")
        yield* Effect.promise(() =>
          Fs.writeFile(prompts, Array.from({ length: 400 }, (_, index) => JSON.stringify({ prompt: `question ${index}` })).join("\n"))
        )
        const file = Path.join(directory, "eval.yaml")
        yield* Effect.promise(() =>
          Fs.writeFile(
            file,
            [
              "steps:",
              "  random-seed-5:",
              "    uses: router/random",
              "    with: { seed: 5 }",
              "  eval:",
              "    uses: eval/benchmark",
              "    needs: random-seed-5",
              "    with:",
              `      benchmark: { uses: benchmark/gsm8k, with: { dir: ${Path.relative(directory, evalDirectory)} } }`,
              "      routers: [router/oracle]",
              "      seeds: 3",
              "      png: false",
              "  calibrate:",
              "    uses: calibrate/quantile",
              "    needs: random-seed-5",
              "    with: { prompts: prompts.jsonl, strongFraction: 0.25, resamples: 200 }"
            ].join("\n")
          )
        )
        const loaded = yield* Pipeline.load(file)
        const { resolved, registry } = yield* Pipeline.resolve(loaded)
        const result = yield* PipelineRunner.run(resolved, registry, { runDirectory: Path.join(root, "run"), log: () => {} })
        const evalStep = result.manifest.steps.find((step) => step.id === "eval")!
        const names = Object.keys(evalStep.summary!.routers as object)
        // The random-seed-5 step is a router/random: the random baseline is not added again, the length baseline is.
        assert.deepStrictEqual(names.sort(), ["length", "oracle", "random-seed-5"])
        const files = yield* Effect.promise(() => Fs.readdir(evalStep.artifact))
        assert.includeMembers(files, ["report.json", "report.md", "plot.svg"])
        const report = JSON.parse(yield* Effect.promise(() => Fs.readFile(Path.join(evalStep.artifact, "report.json"), "utf8")))
        // The router step is one router (its own seed), not averaged over seeds.
        assert.isUndefined(report.routers.find((router: { name: string }) => router.name === "random-seed-5").seeds)
        const calibration = result.manifest.steps.find((step) => step.id === "calibrate")!.summary as unknown as Calibration.Calibration
        assert.strictEqual(calibration.prompts, 400)
        assert.isTrue(Math.abs(calibration.sampleShare - 0.25) <= 0.005)
        assert.isTrue(calibration.interval[0] < 0.25 && calibration.interval[1] > 0.25)
        assert.isTrue(calibration.interval[1] - calibration.interval[0] < 0.12)
      })
    ).pipe(Effect.provide(Files.layer)))
})

describe("calibration", () => {
  it.live("reads JSONL, JSON and CSV prompt files", () =>
    Effect.gen(function*() {
      const directory = yield* Effect.promise(temporary)
      const jsonl = Path.join(directory, "p.jsonl")
      const json = Path.join(directory, "p.json")
      const csv = Path.join(directory, "p.csv")
      yield* Effect.promise(async () => {
        await Fs.writeFile(jsonl, [`"plain"`, `{"question":"q"}`, `{"turns":["first","second"]}`, `{"messages":[{"role":"user","content":"m"}]}`].join("\n"))
        await Fs.writeFile(json, JSON.stringify([{ prompt: "a" }, "b"]))
        await Fs.writeFile(csv, `id,prompt\n1,"x, with comma"\n2,y\n`)
      })
      assert.deepStrictEqual(yield* Calibration.readPrompts(jsonl), ["plain", "q", "first", "m"])
      assert.deepStrictEqual(yield* Calibration.readPrompts(json), ["a", "b"])
      assert.deepStrictEqual(yield* Calibration.readPrompts(csv), ["x, with comma", "y"])
      const error = yield* Effect.flip(
        CalibrateStep.loadPrompts({}, { baseDirectory: directory }).pipe(
          Effect.provide(services(directory))
        )
      )
      assert.include(error.message, "exactly one prompt source")
    }).pipe(Effect.provide(Files.layer)))
})
