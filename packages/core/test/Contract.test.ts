/**
 * The versioned plugin contract: plugins carry the contract version, the
 * registry refuses mismatches naming both versions, the contract imports
 * without the engine, and a plugin's own error reasons travel whole.
 */
import { assert, describe, it } from "@effect/vitest"
import { ArtifactStore, ContractVersion, Errors, Files, Pipeline, PipelineRunner, Plugin, PluginRegistry, Port, Progress, RandomRouter } from "@routellm/core"
import { Effect, Layer, Schema } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const temporaryDirectory = () => Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-contract-")))

class QuotaError extends Errors.Reason<QuotaError>()("QuotaError", { limit: Schema.Number, used: Schema.Number }) {
  override get message(): string {
    return `quota of ${this.limit} exceeded (${this.used} used)`
  }
}

const quota = Plugin.step({
  id: "test/quota",
  version: "1.0.0",
  description: "Fails with a reason of its own",
  config: Schema.Struct({ limit: Schema.Number }),
  inputs: {},
  output: Port.value,
  run: (config) => Effect.fail(new QuotaError({ limit: config.limit, used: config.limit + 1 }))
})

describe("ContractVersion", () => {
  it("accepts the same major version with a minor no higher than the core's", () => {
    assert.isTrue(ContractVersion.isCompatible("1.0.0", "1.0.0"))
    assert.isTrue(ContractVersion.isCompatible("1.0.7", "1.2.0"))
    assert.isTrue(ContractVersion.isCompatible("1.2.0", "1.2.0"))
    assert.isFalse(ContractVersion.isCompatible("1.3.0", "1.2.0"))
    assert.isFalse(ContractVersion.isCompatible("2.0.0", "1.2.0"))
    assert.isFalse(ContractVersion.isCompatible("0.9.0", "1.0.0"))
    assert.isFalse(ContractVersion.isCompatible("one", "1.0.0"))
  })

  it("is filled in by the plugin constructors", () => {
    assert.strictEqual(RandomRouter.plugin.contract, ContractVersion.version)
    assert.strictEqual(quota.contract, ContractVersion.version)
  })

  it.effect("the registry refuses a plugin of another contract version, naming both versions", () =>
    Effect.gen(function*() {
      const future = { ...RandomRouter.plugin, id: "router/future", contract: "2.0.0" }
      const error = yield* Effect.flip(
        Effect.provide(PluginRegistry.PluginRegistry.useSync((registry) => registry), PluginRegistry.PluginRegistry.layer([RandomRouter.plugin, future]))
      )
      assert.strictEqual(error._tag, "ContractVersionError")
      assert.include(error.message, "router/future")
      assert.include(error.message, "2.0.0")
      assert.include(error.message, ContractVersion.version)
      const undeclared = { ...RandomRouter.plugin, id: "router/old", contract: undefined as unknown as string }
      const missing = yield* Effect.flip(
        Effect.provide(PluginRegistry.PluginRegistry.useSync((registry) => registry), PluginRegistry.PluginRegistry.layer([undeclared]))
      )
      assert.include(missing.message, "declares no plugin contract version")
    }))

  it.live("a pipeline refuses a third-party package whose plugins implement another contract", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const packageDirectory = Path.join(directory, "node_modules", "@acme", "future-plugins")
      yield* Effect.promise(async () => {
        await Fs.mkdir(packageDirectory, { recursive: true })
        await Fs.writeFile(
          Path.join(packageDirectory, "package.json"),
          JSON.stringify({ name: "@acme/future-plugins", type: "module", exports: { ".": "./index.js" } })
        )
        await Fs.writeFile(
          Path.join(packageDirectory, "index.js"),
          "export const plugins = [{ id: 'step/future', kind: 'step', version: '1.0.0', contract: '3.1.0', config: {}, run: () => null }]\n"
        )
        await Fs.writeFile(Path.join(directory, "p.yaml"), "plugins: [\"@acme/future-plugins\"]\nsteps:\n  a:\n    uses: step/future\n")
      })
      const error = yield* Effect.flip(
        Pipeline.load(Path.join(directory, "p.yaml")).pipe(
          Effect.flatMap(Pipeline.resolve),
          Effect.provide(Layer.mergeAll(ArtifactStore.ArtifactStore.layerAt(directory), PluginRegistry.PluginRegistry.layer([])))
        )
      )
      assert.strictEqual(error._tag, "ContractVersionError")
      assert.include(error.message, "step/future")
      assert.include(error.message, "@acme/future-plugins")
      assert.include(error.message, "3.1.0")
      assert.include(error.message, ContractVersion.version)
    }))
})

describe("Contract", () => {
  // Walk the runtime imports (not `import type`) of src/Contract.ts: the engine must stay out.
  it.effect("imports none of the pipeline engine or the YAML parser", () =>
    Effect.promise(async () => {
      const source = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../src")
      const seen = new Set<string>()
      const packages = new Set<string>()
      const visit = async (file: string) => {
        if (seen.has(file)) return
        seen.add(file)
        const text = await Fs.readFile(Path.join(source, file), "utf8")
        for (const match of text.matchAll(/^(?:import|export)(?!\s+type\b)[^"']*?from\s+["']([^"']+)["']/gm)) {
          const target = match[1]!
          if (target.startsWith("./")) await visit(target.slice(2))
          else packages.add(target)
        }
      }
      await visit("Contract.ts")
      assert.isTrue(seen.has("Plugin.ts") && seen.has("Errors.ts") && seen.has("Router.ts"))
      for (const engine of ["Pipeline.ts", "PipelineRunner.ts"]) assert.isFalse(seen.has(engine), `${engine} is imported`)
      assert.isFalse(packages.has("yaml"), "the YAML parser is imported")
    }))
})

describe("Errors", () => {
  it.live("a plugin's own reason reaches the caller whole, wrapped with the step, plugin and file", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const file = Path.join(directory, "quota.yaml")
      yield* Effect.promise(() => Fs.writeFile(file, "steps:\n  spend:\n    uses: test/quota\n    with: { limit: 3 }\n"))
      const error = yield* Effect.flip(
        Effect.gen(function*() {
          const { resolved, registry } = yield* Pipeline.resolve(yield* Pipeline.load(file))
          return yield* PipelineRunner.run(resolved, registry, { runDirectory: Path.join(directory, "run"), log: () => {} })
        }).pipe(
          Effect.provide(Layer.mergeAll(ArtifactStore.ArtifactStore.layerAt(directory), PluginRegistry.PluginRegistry.layer([quota]))),
          Effect.provideService(Progress.Reporter, Progress.silent)
        )
      )
      assert.instanceOf(error, Errors.RouteLlmError)
      assert.strictEqual(error.stepId, "spend")
      assert.strictEqual(error.pluginId, "test/quota")
      assert.strictEqual(error.file, file)
      assert.instanceOf(error.reason, QuotaError)
      assert.deepStrictEqual([(error.reason as QuotaError).limit, (error.reason as QuotaError).used], [3, 4])
      assert.strictEqual(error.message, `${file}: step "spend" (test/quota) failed: quota of 3 exceeded (4 used)`)
      assert.isTrue(Errors.isReason(error.reason))
    }))

  it.live("file I/O fails with typed errors naming the path instead of defects", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const blocked = Path.join(directory, "a-file")
      yield* Effect.promise(() => Fs.writeFile(blocked, "x"))
      // A path under a regular file can be neither written nor made.
      const write = yield* Effect.flip(Files.writeText(Path.join(blocked, "out.json"), "{}"))
      assert.strictEqual(write._tag, "FileError")
      assert.include(write.message, Path.join(blocked, "out.json"))
      const mkdir = yield* Effect.flip(Files.makeDirectory(Path.join(blocked, "sub")))
      assert.strictEqual(mkdir._tag, "FileError")
      const read = yield* Effect.flip(Files.readText(Path.join(directory, "absent.txt"), "prompts"))
      assert.strictEqual(read._tag, "MissingInputError")
      assert.include(read.message, "(prompts)")
      const store = yield* Effect.flip(
        ArtifactStore.ArtifactStore.use((artifacts) => artifacts.writeFileAtomic(Path.join(blocked, "x"), "y")).pipe(
          Effect.provide(ArtifactStore.ArtifactStore.layerAt(directory))
        )
      )
      assert.strictEqual(store._tag, "ArtifactError")
    }).pipe(Effect.provide(Files.layer)))
})
