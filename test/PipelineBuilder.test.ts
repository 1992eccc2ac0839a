/**
 * Pipelines built in TypeScript: the compiler checks `needs` against the
 * plugins' ports and `with` against their config Schemas (the
 * `@ts-expect-error` lines below fail the type check if a miswiring compiles),
 * and the built pipeline runs to the same report as its YAML form.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Benchmarks from "@routellm/benchmarks"
import { ArtifactStore, Files, Pipeline, PipelineBuilder, PipelineRunner, PluginRegistry, Progress, RandomRouter } from "@routellm/core"
import * as Datasets from "@routellm/datasets"
import { SwRouter } from "@routellm/router-sw"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { sharedData } from "./support/SharedData.ts"

const evalData = Path.join(sharedData, "eval", "routellm")

const pipeline = PipelineBuilder.make("built", { directory: sharedData })
  .step("golden", Datasets.OutcomeBattles.plugin, { with: { dir: ".", sources: ["train/routerbench"] } })
  .step("coin", RandomRouter.plugin, { with: { seed: 7 } })
  .step("mt-bench", Benchmarks.EvalStep.plugin, {
    with: { benchmark: { uses: "benchmark/mt-bench", with: { dir: evalData } }, baselines: [], png: false },
    needs: ["coin"]
  })

// What the compiler refuses; `tsc -b` type-checks this file.
export const miswired = () => {
  const base = PipelineBuilder.make("miswired").step("golden", Datasets.OutcomeBattles.plugin)
    .step("report", Benchmarks.EvalStep.plugin, { with: { benchmark: "benchmark/mmlu" } })
  // @ts-expect-error a router that trains on battles cannot need an evaluation report
  base.step("sw", SwRouter.plugin, { needs: ["report"] })
  // @ts-expect-error eval/benchmark takes router steps, not battles
  base.step("again", Benchmarks.EvalStep.plugin, { with: { benchmark: "benchmark/mmlu" }, needs: ["golden"] })
  // @ts-expect-error `needs` names only earlier steps
  base.step("sw", SwRouter.plugin, { needs: ["later"] })
  // @ts-expect-error step ids are unique
  base.step("golden", Datasets.OutcomeBattles.plugin)
  // @ts-expect-error numTiers is a number in router/sw's config
  base.step("sw", SwRouter.plugin, { with: { numTiers: "ten" }, needs: ["golden"] })
  // The right wiring compiles.
  return base.step("sw", SwRouter.plugin, { with: { numTiers: 4 }, needs: ["golden"] })
}

const services = (root: string) =>
  Layer.mergeAll(
    ArtifactStore.ArtifactStore.layerAt(Path.join(root, "cache")),
    PluginRegistry.PluginRegistry.layer([RandomRouter.plugin, ...Datasets.plugins, ...Benchmarks.plugins])
  )

const mtBenchRouters = (report: unknown) =>
  (report as { readonly routers: ReadonlyArray<{ readonly name: string; readonly metrics: Record<string, number> }> }).routers.map((
    router
  ) => [router.name, router.metrics.apgr, router.metrics.cpt50])

describe("PipelineBuilder", () => {
  it.live("runs a TypeScript-built pipeline to the same report as its YAML form", () =>
    Effect.gen(function*() {
      const root = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-builder-")))
      const both = Effect.gen(function*() {
        const built = yield* PipelineBuilder.run(pipeline, { runDirectory: Path.join(root, "built"), log: () => {} })
        // The YAML it prints is a pipeline file that loads, validates and runs, hitting the built run's cache.
        const yaml = PipelineBuilder.toYaml(pipeline, { schema: "../schema/pipeline.schema.json" })
        assert.isTrue(yaml.startsWith("# yaml-language-server: $schema=../schema/pipeline.schema.json\n"))
        yield* Effect.promise(() => Fs.writeFile(Path.join(root, "pipeline.yaml"), yaml))
        const loaded = yield* Pipeline.load(Path.join(root, "pipeline.yaml"))
        // Relative paths resolve against the built pipeline's directory, as against a YAML file's.
        const { resolved, registry } = yield* Pipeline.resolve({ ...loaded, directory: sharedData })
        const fromYaml = yield* PipelineRunner.run(resolved, registry, { runDirectory: Path.join(root, "yaml"), log: () => {} })
        return { built: built.manifest, fromYaml: fromYaml.manifest }
      }).pipe(Effect.provide(services(root)), Effect.provideService(Progress.Reporter, Progress.silent))
      const { built, fromYaml } = yield* both
      assert.isTrue(fromYaml.steps.every((step) => step.cached), "the YAML form hits every step the built one stored")
      // Steps finish in any order (independent ones run concurrently): compare by id.
      const keys = (manifest: typeof built) => Object.fromEntries(manifest.steps.map((step) => [step.id, step.fingerprint]))
      assert.deepStrictEqual(keys(fromYaml), keys(built))
      const reportOf = (manifest: typeof built) =>
        Effect.promise(async () =>
          JSON.parse(await Fs.readFile(Path.join(manifest.steps.find((step) => step.id === "mt-bench")!.artifact, "report.json"), "utf8"))
        )
      const report = yield* reportOf(built)
      assert.deepStrictEqual(mtBenchRouters(yield* reportOf(fromYaml)), mtBenchRouters(report))
      // MT Bench after decontamination, scored by the seeded random router step
      assert.strictEqual(report.prompts, 72)
      assert.deepStrictEqual(report.routers.map((router: { name: string }) => router.name), ["coin"])
    }).pipe(Effect.provide(Files.layer)))

  it.effect("checks port counts the compiler cannot see when it resolves", () =>
    Effect.gen(function*() {
      // router/sw's needs are typed, but how many it gets is checked at resolution: none is too few.
      const untrained = PipelineBuilder.make("untrained").step("sw", SwRouter.plugin)
      const error = yield* Effect.flip(PipelineBuilder.resolved(untrained))
      assert.strictEqual(error._tag, "PortError")
      assert.include(error.message, "step \"sw\" (router/sw) takes battles (one or more) as battles, but its needs give none")
    }).pipe(Effect.provide(services(Os.tmpdir()))))
})
