/**
 * Runs a resolved pipeline: independent steps run concurrently, each step's
 * output is cached in the artifact store under a hash of plugin id, version,
 * config and input fingerprints, and reused on the next run. A run that
 * crashed resumes from its last completed step, because completed steps are
 * committed atomically and are cache hits the next time. Every run writes a
 * manifest into its run directory.
 */
import { Deferred, Effect, Layer, Option, Semaphore, Stream } from "effect"
import * as Path from "node:path"
import { ArtifactStore } from "./ArtifactStore.ts"
import { Augmenter } from "./Augmenter.ts"
import * as Battles from "./Battles.ts"
import { Benchmark } from "./Benchmark.ts"
import { Dataset } from "./Dataset.ts"
import * as Errors from "./Errors.ts"
import * as Files from "./Files.ts"
import * as Hash from "./Hash.ts"
import type { Resolved, ResolvedStep } from "./Pipeline.ts"
import * as Plugin from "./Plugin.ts"
import { PluginRegistry, type RegistryShape } from "./PluginRegistry.ts"
import * as Port from "./Port.ts"
import { Settings } from "./Settings.ts"

export interface RunOptions {
  readonly runDirectory: string
  readonly force?: boolean
  /** Steps running at once (default 2). */
  readonly concurrency?: number
  /** Where step status lines go (default stderr). */
  readonly log?: (line: string) => void
  /** Recorded in the manifest. */
  readonly command?: ReadonlyArray<string>
  readonly versions?: Readonly<Record<string, string>>
}

export interface StepRecord {
  readonly id: string
  readonly uses: string
  readonly version: string
  readonly kind: Plugin.Kind
  readonly needs: ReadonlyArray<string>
  readonly config: unknown
  readonly fingerprint: string
  readonly cached: boolean
  readonly status: "done" | "failed"
  readonly durationMs: number
  readonly startedAt: string
  readonly artifact: string
  readonly summary?: Readonly<Record<string, unknown>>
  readonly error?: string
}

export interface Manifest {
  readonly pipeline: { readonly name: string; readonly file: string; readonly sha256: string }
  readonly command: ReadonlyArray<string>
  readonly startedAt: string
  finishedAt?: string
  status: "running" | "done" | "failed"
  readonly settings: { readonly cacheDirectory: string; readonly dataDirectory: string | undefined; readonly force: boolean }
  readonly versions: Readonly<Record<string, string>>
  readonly steps: Array<StepRecord>
}

const outputFile = "output.json"

interface StoredOutput {
  readonly uses: string
  readonly kind: Plugin.Kind
  readonly config: unknown
  readonly value: unknown
  readonly summary?: Readonly<Record<string, unknown>>
}

/** A finished step as later steps see it. */
export interface StepResult extends Plugin.StepInput {
  readonly port: Port.Any
  readonly config: unknown
  readonly summary?: Readonly<Record<string, unknown>> | undefined
}

const readStored = (directory: string) =>
  Files.readJson(Path.join(directory, outputFile)).pipe(
    Effect.map((value) => value as StoredOutput),
    Effect.mapError((error) => new Errors.ArtifactError({ path: directory, reason: `unreadable step output: ${error.message}` }))
  )

/**
 * A finished step read back from its artifact directory (`runs/<name>/<time>/steps/<id>`
 * or the store), as a later step, the server or `routellm route --artifact` sees it.
 */
export const readStep = Effect.fn("PipelineRunner.readStep")(function*(directory: string) {
  const file = Path.join(directory, outputFile)
  const output = yield* Files.readJson(file, { field: "artifact" })
  if (typeof output !== "object" || output === null || typeof (output as StoredOutput).uses !== "string") {
    return yield* new Errors.InputError({ file, field: "uses", reason: "not a pipeline step output (expected { uses, kind, config, value })" })
  }
  const stored = output as StoredOutput
  const resolved = yield* Files.realPath(directory).pipe(Effect.orElseSucceed(() => Path.resolve(directory)))
  const input: Plugin.StepInput = {
    stepId: Path.basename(directory),
    uses: stored.uses,
    kind: stored.kind ?? "router",
    directory: resolved,
    value: stored.value ?? null,
    // Artifacts live under steps/<fingerprint>; the name is the fingerprint.
    fingerprint: Path.basename(resolved)
  }
  return { uses: stored.uses, config: stored.config, input }
})

/** Versions of the plugins a config names (`embedder: embedder/use-lite`, `{ uses: ... }`), by id. */
export const referencedVersions = (config: unknown, registry: RegistryShape): Record<string, string> => {
  const byId = new Map(registry.plugins.map((plugin) => [plugin.id, plugin.version]))
  const found: Record<string, string> = {}
  const visit = (value: unknown): void => {
    if (typeof value === "string") {
      const version = byId.get(value)
      if (version !== undefined) found[value] = version
    } else if (Array.isArray(value)) {
      value.forEach(visit)
    } else if (typeof value === "object" && value !== null) {
      Object.values(value).forEach(visit)
    }
  }
  visit(config)
  return found
}

/**
 * The cache key of a step: plugin id, version, config, the fingerprints of its
 * inputs, the plugin's own fingerprint of what it reads (files) and the
 * versions of plugins its config names.
 */
export const stepFingerprint = (
  pipeline: Resolved,
  step: ResolvedStep,
  inputFingerprints: ReadonlyArray<string>,
  registry: RegistryShape
): Effect.Effect<string, Plugin.Failure, Plugin.Services> =>
  Effect.gen(function*() {
    const external = step.plugin.fingerprint === undefined
      ? undefined
      : yield* (step.plugin.fingerprint as (config: unknown, context: Plugin.MakeContext) => Effect.Effect<string, Plugin.Failure, Plugin.Services>)(
        step.config,
        { baseDirectory: pipeline.directory }
      )
    return Hash.hashValue({
      uses: step.uses,
      version: step.plugin.version,
      config: step.encodedConfig,
      inputs: inputFingerprints,
      external,
      // A new version of a plugin the config names (an embedder) invalidates the step too.
      referenced: referencedVersions(step.encodedConfig, registry)
    })
  })

/** A step as `plan` sees it before running: its cache key and whether the store already has it. */
export interface PlannedStep {
  readonly id: string
  readonly uses: string
  readonly fingerprint: string
  readonly cached: boolean
}

/** Every step's cache key and cache status, without running anything (`--dry-run`, sweeps). */
export const plan = Effect.fn("PipelineRunner.plan")(function*(pipeline: Resolved, registry: RegistryShape) {
  const store = yield* ArtifactStore
  const fingerprints = new Map<string, string>()
  const steps: Array<PlannedStep> = []
  for (const step of pipeline.steps) {
    const fingerprint = yield* stepFingerprint(pipeline, step, step.needs.map((need) => fingerprints.get(need)!), registry).pipe(
      Effect.provideService(PluginRegistry, registry)
    )
    fingerprints.set(step.id, fingerprint)
    const cached = Option.isSome(yield* store.lookup(`steps/${fingerprint}`))
    steps.push({ id: step.id, uses: step.uses, fingerprint, cached })
  }
  return steps
})

/** What `uses:` a plugin does as a step, by kind. */
const executeStep = (
  step: ResolvedStep,
  // The wiring was checked against the plugin's inputs, so its ports have the declared groups.
  context: Plugin.StepContext<any>
): Effect.Effect<Plugin.StepOutput, Plugin.Failure, Plugin.Services> => {
  const plugin = step.plugin
  switch (plugin.kind) {
    case "step":
      return Effect.scoped(plugin.run(step.config, context))
    case "router":
      return plugin.train === undefined
        ? Effect.succeed({ value: { router: plugin.id } })
        : Effect.scoped(plugin.train(step.config, context))
    case "dataset":
      return Effect.scoped(
        Effect.gen(function*() {
          const dataset = yield* Dataset
          const battles = yield* Stream.runCollect(dataset.records)
          yield* Battles.write(context.directory, battles)
          return {
            value: { battles: battles.length, fingerprint: dataset.fingerprint },
            summary: {
              battles: battles.length,
              skipped: dataset.skipped.length,
              ...(dataset.skipped.length === 0 ? {} : { skippedExamples: dataset.skipped.slice(0, 5) })
            }
          }
        }).pipe(Effect.provide(Plugin.datasetLayer(plugin, step.config, context)))
      )
    case "augmenter":
      return Effect.scoped(
        Effect.gen(function*() {
          const augmenter = yield* Augmenter
          const input = yield* Battles.readAll((context.ports as Port.Grouped<Plugin.TrainingInputs>).battles ?? [])
          const result = yield* augmenter.augment(Battles.stream(input))
          yield* Battles.write(context.directory, result.records)
          return {
            value: { battles: result.records.length, report: result.report },
            summary: { input: input.length, battles: result.records.length, ...result.report }
          }
        }).pipe(Effect.provide(Plugin.augmenterLayer(plugin, step.config, context)))
      )
    case "benchmark":
      return Effect.scoped(
        Effect.gen(function*() {
          const benchmark = yield* Benchmark
          yield* Files.writeJsonl(Path.join(context.directory, Port.outcomesFile), benchmark.rows)
          const value = {
            name: benchmark.name,
            strongModel: benchmark.strongModel,
            weakModel: benchmark.weakModel,
            models: benchmark.models,
            prompts: benchmark.rows.length,
            dropped: benchmark.dropped,
            fingerprint: benchmark.fingerprint
          }
          return { value, summary: value }
        }).pipe(Effect.provide(Plugin.benchmarkLayer(plugin, step.config, context)))
      )
    case "embedder":
      return Effect.fail(
        new Errors.PluginError({ pluginId: plugin.id, reason: "embedders are used inside other steps' config, not as steps" })
      )
  }
}

/**
 * The StepContext inputs of a step: each finished input decoded by the port
 * that accepts it and grouped as the plugin declared them.
 */
export const receive = (
  pipeline: Pick<Resolved, "file">,
  step: Pick<ResolvedStep, "id" | "uses" | "plugin">,
  inputs: ReadonlyArray<StepResult>
) =>
  Effect.gen(function*() {
    const declared = Plugin.inputsOf(step.plugin)
    const { groups, mismatches } = Port.assign(declared, inputs)
    if (mismatches.length > 0) {
      return yield* new Errors.PortError({
        file: pipeline.file,
        issues: mismatches.map((mismatch) => ({
          stepId: step.id,
          pluginId: step.uses,
          expected: mismatch.expected,
          given: mismatch.given,
          reason: mismatch.reason
        }))
      })
    }
    const decoded: Array<Plugin.StepInput> = [...inputs]
    const ports: Record<string, Array<Port.Received>> = {}
    for (const [name, indices] of Object.entries(groups)) {
      const accepted = declared[name]!.port
      ports[name] = []
      for (const index of indices) {
        const input = inputs[index]!
        // "any output" inputs are read by the producer's own port.
        const port = accepted.kind === "*" ? input.port : accepted
        const value = yield* Port.decodeValue(port, input.value).pipe(
          Effect.mapError((error) =>
            new Errors.PortError({
              file: pipeline.file,
              issues: [{
                stepId: step.id,
                pluginId: step.uses,
                expected: port.id,
                given: `the stored value of "${input.stepId}" (${input.directory})`,
                reason: `cannot read "${input.stepId}" as ${Port.describePort(port)}: ${error.message}`
              }]
            })
          )
        )
        decoded[index] = { ...input, value }
        ports[name].push(Port.receive(port, { ...input, value }))
      }
    }
    return { inputs: decoded, ports }
  })

/** Run a resolved pipeline and return its manifest; fails with the first failing step. */
export const run = Effect.fn("PipelineRunner.run")(function*(
  pipeline: Resolved,
  registry: RegistryShape,
  options: RunOptions
) {
  const store = yield* ArtifactStore
  const settings = yield* Settings
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`))
  const runDirectory = Path.resolve(options.runDirectory)
  const pipelineText = pipeline.text ?? (yield* Files.readText(Path.resolve(pipeline.file), "pipeline"))
  yield* Files.makeDirectory(Path.join(runDirectory, "steps"))
  const manifest: Manifest = {
    pipeline: { name: pipeline.name, file: Path.resolve(pipeline.file), sha256: Hash.sha256(pipelineText) },
    command: options.command ?? [],
    startedAt: new Date().toISOString(),
    status: "running",
    settings: { cacheDirectory: store.root, dataDirectory: settings.dataDirectory, force: options.force === true },
    versions: { node: process.version, ...options.versions, ...Object.fromEntries(pipeline.steps.map((step) => [step.uses, step.plugin.version])) },
    steps: []
  }
  const manifestPath = Path.join(runDirectory, "manifest.json")
  const writeManifest = Effect.suspend(() => store.writeFileAtomic(manifestPath, JSON.stringify(manifest, null, 2) + "\n"))
  yield* writeManifest

  const results = new Map<string, Deferred.Deferred<StepResult, Errors.RouteLlmError>>()
  for (const step of pipeline.steps) results.set(step.id, yield* Deferred.make<StepResult, Errors.RouteLlmError>())
  const semaphore = yield* Semaphore.make(Math.max(1, options.concurrency ?? 2))
  const registryLayer = Layer.succeed(PluginRegistry, registry)

  const runStep = (step: ResolvedStep) =>
    Effect.gen(function*() {
      const inputs: Array<StepResult> = []
      for (const need of step.needs) inputs.push(yield* Deferred.await(results.get(need)!))
      return yield* semaphore.withPermits(1)(Effect.gen(function*() {
        const started = Date.now()
        const startedAt = new Date(started).toISOString()
        // The plugin's reason travels whole; a third-party plugin failing with something else keeps it as the cause.
        const fail = (error: unknown) =>
          new Errors.RouteLlmError({
            reason: Errors.toReason(step.uses, error),
            file: pipeline.file,
            stepId: step.id,
            pluginId: step.uses
          })
        const fingerprint = yield* stepFingerprint(pipeline, step, inputs.map((input) => input.fingerprint), registry).pipe(
          Effect.mapError(fail)
        )
        const key = `steps/${fingerprint}`
        const existing = options.force === true ? Option.none() : yield* store.lookup(key).pipe(Effect.mapError(fail))
        let directory: string
        let stored: StoredOutput
        let cached: boolean
        if (Option.isSome(existing)) {
          directory = existing.value
          stored = yield* readStored(directory).pipe(Effect.mapError(fail))
          cached = true
          log(`[${step.id}] cached (${step.uses}, ${Hash.short(fingerprint)})`)
        } else {
          log(`[${step.id}] running ${step.uses}`)
          const committed = yield* store.commit(key, (temporary) =>
            Effect.gen(function*() {
              const received = yield* receive(pipeline, step, inputs)
              const executed = yield* executeStep(step, {
                stepId: step.id,
                directory: temporary,
                inputs: received.inputs,
                ports: received.ports,
                runDirectory,
                baseDirectory: pipeline.directory
              })
              const outputPort = Plugin.outputOf(step.plugin)
              const value = yield* Port.encodeValue(outputPort, executed.value ?? null).pipe(
                Effect.mapError((error) =>
                  new Errors.PortError({
                    file: pipeline.file,
                    issues: [{
                      stepId: step.id,
                      pluginId: step.uses,
                      expected: outputPort.id,
                      given: "its output value",
                      reason: `produced a value that is not ${Port.describePort(outputPort)}: ${error.message}`
                    }]
                  })
                )
              )
              const record: StoredOutput = {
                uses: step.uses,
                kind: step.plugin.kind,
                config: step.encodedConfig,
                value,
                ...(executed.summary === undefined ? {} : { summary: executed.summary })
              }
              yield* Files.writeText(Path.join(temporary, outputFile), JSON.stringify(record, null, 2))
              return record
            })).pipe(Effect.provide(registryLayer), Effect.mapError(fail))
          directory = committed.directory
          stored = committed.value
          cached = false
          log(`[${step.id}] done in ${((Date.now() - started) / 1000).toFixed(1)}s`)
        }
        // A step's warnings (text cut by an embedder, a pair it could not rate) are shown as well as kept in the manifest.
        const warnings = (stored.summary as { readonly warnings?: unknown } | undefined)?.warnings
        if (Array.isArray(warnings)) { for (const warning of warnings) log(`[${step.id}] warning: ${String(warning)}`) }
        const link = Path.join(runDirectory, "steps", step.id)
        yield* Files.replaceSymlink(directory, link).pipe(Effect.mapError(fail))
        manifest.steps.push({
          id: step.id,
          uses: step.uses,
          version: step.plugin.version,
          kind: step.plugin.kind,
          needs: step.needs,
          config: step.encodedConfig,
          fingerprint,
          cached,
          status: "done",
          durationMs: Date.now() - started,
          startedAt,
          artifact: directory,
          ...(stored.summary === undefined ? {} : { summary: stored.summary })
        })
        yield* writeManifest.pipe(Effect.mapError(fail))
        return {
          stepId: step.id,
          uses: step.uses,
          kind: step.plugin.kind,
          port: Plugin.outputOf(step.plugin),
          directory,
          value: stored.value,
          config: stored.config,
          summary: stored.summary,
          fingerprint
        } satisfies StepResult
      }))
    }).pipe(
      Effect.tapError((error) =>
        Effect.suspend(() => {
          if (!manifest.steps.some((record) => record.id === step.id) && error.stepId === step.id) {
            manifest.steps.push({
              id: step.id,
              uses: step.uses,
              version: step.plugin.version,
              kind: step.plugin.kind,
              needs: step.needs,
              config: step.encodedConfig,
              fingerprint: "",
              cached: false,
              status: "failed",
              durationMs: 0,
              startedAt: new Date().toISOString(),
              artifact: "",
              error: error.message
            })
          }
          return Effect.void
        })
      ),
      Effect.onExit((exit) => Deferred.done(results.get(step.id)!, exit))
    )

  const outcome = yield* Effect.exit(Effect.forEach(pipeline.steps, runStep, { concurrency: "unbounded", discard: true }))
  manifest.finishedAt = new Date().toISOString()
  manifest.status = outcome._tag === "Success" ? "done" : "failed"
  yield* writeManifest
  if (outcome._tag === "Failure") return yield* Effect.failCause(outcome.cause)
  return { manifest, runDirectory, manifestPath }
}, (effect, pipeline) =>
  // Failures outside a step (the run directory, the manifest) are reported against the pipeline file.
  Effect.mapError(effect, (error) => error._tag === "RouteLlmError" ? error : new Errors.RouteLlmError({ reason: error, file: pipeline.file })))
