import { assert, describe, it } from "@effect/vitest"
import { ArtifactStore, Files, Pipeline, PipelineRunner, PluginRegistry, Progress, RandomRouter } from "@routellm/core"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"

const temporaryDirectory = () => Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-pipeline-")))

const write = (directory: string, name: string, text: string) =>
  Effect.promise(async () => {
    const file = Path.join(directory, name)
    await Fs.writeFile(file, text)
    return file
  })

const services = (cache: string) => Layer.mergeAll(ArtifactStore.ArtifactStore.layerAt(cache), PluginRegistry.PluginRegistry.layer([RandomRouter.plugin]))

const runPipeline = (file: string, cache: string, options: { force?: boolean; overrides?: Array<string> } = {}) =>
  Effect.gen(function*() {
    const loaded = yield* Pipeline.load(file, (options.overrides ?? []).map((text) => Pipeline.parseOverride(text)!))
    const { resolved, registry } = yield* Pipeline.resolve(loaded)
    const lines: Array<string> = []
    const result = yield* PipelineRunner.run(resolved, registry, {
      runDirectory: Path.join(cache, "runs", String(Math.random()).slice(2)),
      force: options.force ?? false,
      log: (line) => lines.push(line)
    })
    return { ...result, lines }
  }).pipe(Effect.provide(services(cache)), Effect.provideService(Progress.Reporter, Progress.silent))

const diamond = `
name: diamond
plugins: ["@routellm-test/plugin-example"]
steps:
  last:
    uses: test/count
    needs: [left, right]
    with: { n: 1 }
  left:
    uses: test/count
    needs: first
    with: { n: 2 }
  right:
    uses: test/count
    needs: [first]
    with: { n: 3 }
  first:
    uses: test/count
    with: { n: 4 }
  random:
    uses: router/random
`

describe("Pipeline", () => {
  it.live("runs steps after their needs and passes outputs along (third-party plugin loaded by name)", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const file = yield* write(directory, "diamond.yaml", diamond)
      const { manifest } = yield* runPipeline(file, directory)
      const position = (id: string) => manifest.steps.findIndex((step) => step.id === id)
      assert.isTrue(position("first") < position("left") && position("first") < position("right"))
      assert.isTrue(position("left") < position("last") && position("right") < position("last"))
      const summary = (id: string) => manifest.steps.find((step) => step.id === id)!.summary as { total: number }
      // first: 1+2+3+4 = 10; left: 1+2 + 10 = 13; right: 1+2+3 + 10 = 16; last: 1 + 13 + 16 = 30
      assert.strictEqual(summary("first").total, 10)
      assert.strictEqual(summary("left").total, 13)
      assert.strictEqual(summary("right").total, 16)
      assert.strictEqual(summary("last").total, 30)
      assert.strictEqual(manifest.status, "done")
      assert.isTrue(manifest.steps.every((step) => !step.cached))
    }))

  it.live("caches step outputs: a second run hits every step, --force none, an override only its step and dependents", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const file = yield* write(directory, "diamond.yaml", diamond)
      yield* runPipeline(file, directory)
      const second = yield* runPipeline(file, directory)
      assert.isTrue(second.manifest.steps.every((step) => step.cached))
      const forced = yield* runPipeline(file, directory, { force: true })
      assert.isTrue(forced.manifest.steps.every((step) => !step.cached))
      const changed = yield* runPipeline(file, directory, { overrides: ["left.n=5"] })
      const cached = Object.fromEntries(changed.manifest.steps.map((step) => [step.id, step.cached]))
      assert.deepStrictEqual(cached, { first: true, right: true, random: true, left: false, last: false })
      const manifestOnDisk = JSON.parse(yield* Effect.promise(() => Fs.readFile(changed.manifestPath, "utf8")))
      assert.strictEqual(manifestOnDisk.steps.length, 5)
      assert.strictEqual(manifestOnDisk.versions["test/count"], "1.0.0")
    }))

  it.live("reports a YAML syntax error with its line", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const file = yield* write(directory, "bad.yaml", "steps:\n  a:\n    uses: router/random\n    with: { seed: 1\n")
      const error = yield* Effect.flip(runPipeline(file, directory))
      assert.strictEqual(error._tag, "PipelineFileError")
      assert.match(error.message, /bad\.yaml:\d+/)
      assert.match(error.message, /YAML syntax error/)
    }))

  it.live("names an unknown plugin, the step and the available ids", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const file = yield* write(directory, "nope.yaml", "steps:\n  first:\n    uses: router/random\n  pick:\n    uses: router/nope\n")
      const error = yield* Effect.flip(runPipeline(file, directory))
      assert.strictEqual(error._tag, "UnknownPluginError")
      assert.include(error.message, "router/nope")
      assert.include(error.message, "router/random")
      assert.include(error.message, "step \"pick\"")
      assert.include(error.message, "nope.yaml:4")
    }))

  it.live("names the step, field and line of a config that fails the plugin's Schema", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const file = yield* write(directory, "config.yaml", "steps:\n  random:\n    uses: router/random\n    with:\n      seed: 1.5\n")
      const error = yield* Effect.flip(runPipeline(file, directory))
      assert.strictEqual(error._tag, "ConfigError")
      assert.include(error.message, "step \"random\"")
      assert.include(error.message, "seed")
      assert.include(error.message, "line 5")
      const extra = yield* write(directory, "extra.yaml", "steps:\n  random:\n    uses: router/random\n    with:\n      sed: 1\n")
      const excess = yield* Effect.flip(runPipeline(extra, directory))
      assert.strictEqual(excess._tag, "ConfigError")
      assert.include(excess.message, "sed")
    }))

  it.live("names a mistyped key and its line, and nothing else", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const step = yield* write(directory, "typo.yaml", "name: typo\nsteps:\n  r:\n    uses: router/random\n    wiht: { seed: 1 }\n")
      const loadError = (file: string) => Effect.flip(Pipeline.load(file)).pipe(Effect.provide(Files.layer))
      const stepError = yield* loadError(step)
      assert.strictEqual(stepError.message, `${step}:5: step "r": unknown key "wiht" (a step has uses, with and needs)`)
      const top = yield* write(directory, "top.yaml", "nmae: typo\nsteps:\n  r:\n    uses: router/random\n")
      const topError = yield* loadError(top)
      assert.strictEqual(topError.message, `${top}:1: the pipeline: unknown key "nmae" (a pipeline has name, plugins and steps)`)
      const wrongType = yield* write(directory, "type.yaml", "steps:\n  r:\n    uses: 3\n")
      const typeError = yield* loadError(wrongType)
      assert.match(typeError.message, new RegExp(`^${wrongType.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3: step "r": uses: Expected string`))
    }))

  it.live("rejects missing needs and cycles", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const missing = yield* write(directory, "missing.yaml", "steps:\n  a:\n    uses: router/random\n    needs: [ghost]\n")
      const missingError = yield* Effect.flip(runPipeline(missing, directory))
      assert.strictEqual(missingError._tag, "DependencyError")
      assert.include(missingError.message, "ghost")
      const cycle = yield* write(
        directory,
        "cycle.yaml",
        "steps:\n  a:\n    uses: router/random\n    needs: [c]\n  b:\n    uses: router/random\n    needs: [a]\n  c:\n    uses: router/random\n    needs: [b]\n"
      )
      const cycleError = yield* Effect.flip(runPipeline(cycle, directory))
      assert.strictEqual(cycleError._tag, "DependencyError")
      assert.match(cycleError.message, /cycle: (a -> c -> b -> a|b -> a -> c -> b|c -> b -> a -> c)/)
    }))

  it.live("reports a missing pipeline file and an unloadable plugin package", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const error = yield* Effect.flip(runPipeline(Path.join(directory, "absent.yaml"), directory))
      assert.strictEqual(error._tag, "MissingInputError")
      assert.include(error.message, "absent.yaml")
      const file = yield* write(directory, "package.yaml", "plugins: [\"@routellm-test/not-installed\"]\nsteps:\n  a:\n    uses: router/random\n")
      const loadError = yield* Effect.flip(runPipeline(file, directory))
      assert.strictEqual(loadError._tag, "PluginLoadError")
      assert.include(loadError.message, "@routellm-test/not-installed")
    }))

  it.live("fails a step with its id and plugin, records it in the manifest, and keeps earlier results cached", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const file = yield* write(
        directory,
        "fail.yaml",
        "plugins: [\"@routellm-test/plugin-example\"]\nsteps:\n  ok:\n    uses: test/count\n    with: { n: 2 }\n  broken:\n    uses: test/count\n    needs: ok\n    with: { n: 1, fail: disk on fire }\n"
      )
      const error = yield* Effect.flip(runPipeline(file, directory))
      if (error._tag !== "RouteLlmError") return assert.fail(`expected a RouteLlmError, got ${error._tag}`)
      assert.strictEqual(error.stepId, "broken")
      assert.strictEqual(error.pluginId, "test/count")
      // A third-party plugin's own failure travels as the cause of a PluginError reason.
      assert.strictEqual(error.reason._tag, "PluginError")
      assert.include(error.message, "step \"broken\" (test/count) failed")
      assert.include(error.message, "disk on fire")
      const runs = yield* Effect.promise(() => Fs.readdir(Path.join(directory, "runs")))
      const manifest = JSON.parse(
        yield* Effect.promise(() => Fs.readFile(Path.join(directory, "runs", runs[0]!, "manifest.json"), "utf8"))
      )
      assert.strictEqual(manifest.status, "failed")
      assert.deepStrictEqual(manifest.steps.map((step: { id: string; status: string }) => [step.id, step.status]), [
        ["ok", "done"],
        ["broken", "failed"]
      ])
      // The completed step was committed: a pipeline with the same step reuses it.
      const okOnly = yield* write(
        directory,
        "ok.yaml",
        "plugins: [\"@routellm-test/plugin-example\"]\nsteps:\n  ok:\n    uses: test/count\n    with: { n: 2 }\n"
      )
      const rerun = yield* runPipeline(okOnly, directory)
      assert.isTrue(rerun.manifest.steps[0]!.cached)
    }))
})

describe("PipelineRunner.referencedVersions", () => {
  it.effect("collects the versions of plugins a config names, at any depth", () =>
    Effect.sync(() => {
      const registry = PluginRegistry.make([RandomRouter.plugin, { ...RandomRouter.plugin, id: "embedder/x", version: "2.1.0" }])
      assert.deepStrictEqual(
        PipelineRunner.referencedVersions(
          { embedder: "embedder/x", routers: [{ uses: "router/random", with: { name: "embedder/y" } }], n: 3 },
          registry
        ),
        { "embedder/x": "2.1.0", "router/random": "1.0.0" }
      )
    }))
})
