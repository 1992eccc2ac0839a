/**
 * Runs one cell: the sweep's pipeline with the cell's overrides, through the
 * pipeline engine and its step cache, into the cell's run directory; then
 * reads the paper's metrics off the run manifest's evaluation steps.
 */
import { ArtifactStore, Errors, Pipeline, PipelineRunner, PluginRegistry } from "@routellm/core"
import { Effect, Schema } from "effect"
import * as Os from "node:os"
import * as Path from "node:path"
import { CellError, resolveCell } from "./Plan.ts"

/** What a worker needs to run a cell: plain data, so it crosses process and network boundaries. */
export const CellSpec = Schema.Struct({
  name: Schema.String,
  pipelineFile: Schema.String,
  overrides: Schema.Array(Schema.Struct({ stepId: Schema.String, path: Schema.Array(Schema.String), value: Schema.Unknown })),
  runDirectory: Schema.String,
  key: Schema.String
})
export type CellSpec = typeof CellSpec.Type

const Metric = Schema.NullOr(Schema.Number)

/** One router's metrics on one evaluation step (a benchmark). */
export const CellMetric = Schema.Struct({
  benchmark: Schema.String,
  router: Schema.String,
  apgr: Metric,
  apgrExact: Metric,
  cpt50: Metric,
  cpt80: Metric
})
export type CellMetric = typeof CellMetric.Type

export const CellResult = Schema.Struct({
  cell: Schema.String,
  key: Schema.String,
  runDirectory: Schema.String,
  manifest: Schema.String,
  startedAt: Schema.String,
  durationMs: Schema.Number,
  host: Schema.String,
  pid: Schema.Number,
  steps: Schema.Array(Schema.Struct({
    id: Schema.String,
    uses: Schema.String,
    fingerprint: Schema.String,
    cached: Schema.Boolean,
    durationMs: Schema.Number
  })),
  metrics: Schema.Array(CellMetric)
})
export type CellResult = typeof CellResult.Type

const finite = (value: unknown): number | null => typeof value === "number" && Number.isFinite(value) ? value : null

/** Metrics of every evaluation step in a run manifest: steps whose summary lists routers with APGR and CPT. */
export const metricsOf = (manifest: PipelineRunner.Manifest): Array<CellMetric> => {
  const metrics: Array<CellMetric> = []
  for (const step of manifest.steps) {
    const routers = step.summary?.routers
    if (typeof routers !== "object" || routers === null) continue
    for (const [router, value] of Object.entries(routers as Record<string, Record<string, unknown>>)) {
      if (typeof value !== "object" || value === null || !("apgr" in value)) continue
      metrics.push({
        benchmark: step.id,
        router,
        apgr: finite(value.apgr),
        apgrExact: finite(value.apgrExact),
        cpt50: finite(value.cpt50),
        cpt80: finite(value.cpt80)
      })
    }
  }
  return metrics
}

/** Run a cell in this process. Needs the plugin registry and the artifact store. */
export const run = Effect.fn("CellRun.run")(function*(spec: CellSpec, options: { readonly versions?: Readonly<Record<string, string>> } = {}) {
  const started = Date.now()
  const store = yield* ArtifactStore.ArtifactStore
  // A relative run directory lives in the artifact store (a cluster's shared directory).
  const runDirectory = Path.resolve(store.root, spec.runDirectory)
  const { resolved, registry } = yield* resolveCell(spec.pipelineFile, { name: spec.name, overrides: spec.overrides as ReadonlyArray<Pipeline.Override> })
  const result = yield* PipelineRunner.run(resolved, registry, {
    runDirectory,
    concurrency: 1,
    log: () => {},
    command: ["sweep", "cell", spec.name],
    ...(options.versions === undefined ? {} : { versions: options.versions })
  }).pipe(
    Effect.provideService(PluginRegistry.PluginRegistry, registry),
    Effect.mapError((error) => new CellError({ cell: spec.name, reason: Errors.format(error) }))
  )
  return {
    cell: spec.name,
    key: spec.key,
    runDirectory: result.runDirectory,
    manifest: result.manifestPath,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    host: Os.hostname(),
    pid: process.pid,
    steps: result.manifest.steps.map((step) => ({
      id: step.id,
      uses: step.uses,
      fingerprint: step.fingerprint,
      cached: step.cached,
      durationMs: step.durationMs
    })),
    metrics: metricsOf(result.manifest)
  } satisfies CellResult
})
