/**
 * Runs a sweep: expands its cells, plans them against the step cache, skips
 * the cells a previous run finished, runs the rest (at most `concurrency` at
 * once, each cell after the cells that compute the uncached steps it shares),
 * and writes the results table, plot and sweep manifest. Every file is
 * written atomically, so a sweep killed at any point is resumed by running it
 * again: finished cells are read back, never recomputed.
 */
import { ArtifactStore, Errors, Hash } from "@routellm/core"
import { Deferred, Effect, Schema, Semaphore } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { type CellResult, CellResult as CellResultSchema, type CellSpec } from "./CellRun.ts"
import * as Cells from "./Cells.ts"
import * as Plan from "./Plan.ts"
import * as Results from "./Results.ts"
import * as SweepFile from "./SweepFile.ts"

/** Runs one cell somewhere: a local worker process, or a cluster workflow. */
export interface Executor {
  readonly concurrency: number
  /** Where a cell's run directory goes (absolute, or relative to the runners' artifact store). */
  readonly runDirectory: (cell: Plan.PlannedCell) => string
  readonly run: (cell: Plan.PlannedCell, spec: CellSpec) => Effect.Effect<CellResult, Plan.CellError>
}

export interface Prepared {
  readonly loaded: SweepFile.Loaded
  readonly cells: ReadonlyArray<Plan.PlannedCell>
  readonly outDirectory: string
  /** Cells a previous run finished with the same step cache keys. */
  readonly finished: ReadonlyMap<string, CellResult>
}

/** Some cells failed; the others' results were written. */
export class SweepFailedError extends Schema.TaggedError<SweepFailedError>()("SweepFailedError", {
  file: Schema.String,
  failed: Schema.Array(Schema.Struct({ cell: Schema.String, reason: Schema.String }))
}) {
  override get message(): string {
    return `${this.file}: ${this.failed.length} cell(s) failed:\n${this.failed.map((entry) => `  ${entry.cell}: ${entry.reason}`).join("\n")}`
  }
}

const decodeResult = Schema.decodeUnknownExit(Schema.fromJsonString(CellResultSchema))
const encodeResult = Schema.encodeUnknownSync(CellResultSchema)

export const cellDirectory = (outDirectory: string, cell: string) => Path.join(outDirectory, "cells", cell)
const resultFile = (outDirectory: string, cell: string) => Path.join(cellDirectory(outDirectory, cell), "result.json")

/** A finished cell's result, when its file exists, reads whole, and has the same step cache keys. */
const readFinished = (outDirectory: string, cell: Plan.PlannedCell) =>
  Effect.promise(async () => {
    try {
      const decoded = decodeResult(await Fs.readFile(resultFile(outDirectory, cell.cell.name), "utf8"))
      return decoded._tag === "Success" && decoded.value.key === cell.key ? decoded.value : undefined
    } catch {
      return undefined
    }
  })

/** Load, expand and plan a sweep; read back the cells a previous run finished. */
export const prepare = Effect.fn("Sweep.prepare")(function*(file: string, options: { readonly out?: string | undefined } = {}) {
  const loaded = yield* SweepFile.load(file)
  const cells = yield* Cells.expand(loaded)
  const planned = yield* Plan.plan(loaded.pipelineFile, cells)
  const outDirectory = Path.resolve(options.out ?? Path.join("runs", "sweeps", loaded.name))
  const finished = new Map<string, CellResult>()
  for (const cell of planned) {
    const result = yield* readFinished(outDirectory, cell)
    if (result !== undefined) finished.set(cell.cell.name, result)
  }
  return { loaded, cells: planned, outDirectory, finished } satisfies Prepared
})

/** `--dry-run`: the cells, whether each is finished, and what each step would do. */
export const describe = (prepared: Prepared): string => {
  const owners = Plan.computedBy(prepared.cells)
  const lines: Array<string> = []
  let cachedSteps = 0
  let toRun = 0
  let shared = 0
  for (const entry of prepared.cells) {
    const done = prepared.finished.has(entry.cell.name)
    lines.push(`${entry.cell.name}${done ? "  (finished: results reused)" : entry.after.length > 0 ? `  (after ${entry.after.join(", ")})` : ""}`)
    for (const step of entry.steps) {
      const owner = owners.get(step.fingerprint)
      const status = step.cached
        ? "cached"
        : owner === entry.cell.name
        ? "runs"
        : `shared: computed by ${owner}`
      if (step.cached) cachedSteps++
      else if (owner === entry.cell.name) toRun++
      else shared++
      lines.push(`  ${step.id.padEnd(24)} ${step.uses.padEnd(24)} ${Hash.short(step.fingerprint)}  ${status}`)
    }
  }
  const left = prepared.cells.filter((entry) => !prepared.finished.has(entry.cell.name)).length
  lines.push(
    "",
    `${prepared.cells.length} cells (${
      prepared.cells.length - left
    } finished, ${left} to run); steps: ${cachedSteps} cached, ${toRun} to compute, ${shared} shared with an earlier cell`,
    `results: ${prepared.outDirectory}`
  )
  return lines.join("\n")
}

const formatDuration = (milliseconds: number): string => {
  const seconds = Math.round(milliseconds / 1000)
  if (seconds < 60) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  return minutes < 60 ? `${minutes}m${String(seconds % 60).padStart(2, "0")}s` : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`
}

export interface RunOptions {
  readonly log?: (line: string) => void
  readonly command?: ReadonlyArray<string>
  readonly versions?: Readonly<Record<string, string>>
  /** Recorded in the sweep manifest: local workers or the cluster's address. */
  readonly execution?: Readonly<Record<string, unknown>>
}

/** Run the unfinished cells with an executor, then write the results and the manifest. */
export const run = Effect.fn("Sweep.run")(function*(prepared: Prepared, executor: Executor, options: RunOptions = {}) {
  const store = yield* ArtifactStore.ArtifactStore
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`))
  const startedAt = new Date().toISOString()
  const results = new Map(prepared.finished)
  const failed: Array<{ cell: string; reason: string }> = []
  const total = prepared.cells.length
  const pending = prepared.cells.filter((entry) => !results.has(entry.cell.name))
  let running = 0
  let computed = 0
  let computedMs = 0
  const began = Date.now()
  if (results.size > 0) log(`${results.size} of ${total} cells finished earlier: results reused`)

  const progress = () => {
    const done = results.size
    const left = total - done - failed.length - running
    const rate = computed === 0 ? undefined : (Date.now() - began) / computed
    const eta = rate === undefined ? "ETA -" : `ETA ${formatDuration(rate * (left + running / 2))}`
    return `[${done}/${total} done, ${running} running, ${left} left${failed.length > 0 ? `, ${failed.length} failed` : ""}, ${eta}]`
  }

  const finishedCells = new Map<string, Deferred.Deferred<void>>()
  for (const entry of prepared.cells) {
    const deferred = yield* Deferred.make<void>()
    if (results.has(entry.cell.name)) yield* Deferred.succeed(deferred, undefined)
    finishedCells.set(entry.cell.name, deferred)
  }
  const semaphore = yield* Semaphore.make(Math.max(1, executor.concurrency))

  const runCell = (entry: Plan.PlannedCell) =>
    Effect.gen(function*() {
      // Wait for the cells that compute the uncached steps this one shares: then they are cache hits.
      for (const name of entry.after) yield* Deferred.await(finishedCells.get(name)!)
      yield* semaphore.withPermits(1)(Effect.gen(function*() {
        running++
        log(`${progress()} start ${entry.cell.name}`)
        const spec: CellSpec = {
          name: entry.cell.name,
          pipelineFile: prepared.loaded.pipelineFile,
          overrides: entry.cell.overrides.map((override) => ({ stepId: override.stepId, path: [...override.path], value: override.value })),
          runDirectory: executor.runDirectory(entry),
          key: entry.key
        }
        const started = Date.now()
        const exit = yield* Effect.exit(executor.run(entry, spec))
        running--
        if (exit._tag === "Success") {
          yield* store.writeFileAtomic(resultFile(prepared.outDirectory, entry.cell.name), JSON.stringify(encodeResult(exit.value), null, 2) + "\n")
          results.set(entry.cell.name, exit.value)
          computed++
          computedMs += Date.now() - started
          const cachedSteps = exit.value.steps.filter((step) => step.cached).length
          log(
            `${progress()} done ${entry.cell.name} in ${formatDuration(Date.now() - started)} (${
              exit.value.steps.length - cachedSteps
            } steps run, ${cachedSteps} cached)`
          )
        } else {
          const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
          const reason = failure !== undefined && failure._tag === "Fail" ? failure.error.reason : String(exit.cause)
          failed.push({ cell: entry.cell.name, reason })
          log(`${progress()} FAILED ${entry.cell.name}: ${reason}`)
        }
      }))
    }).pipe(Effect.ensuring(Deferred.succeed(finishedCells.get(entry.cell.name)!, undefined)))

  yield* Effect.forEach(pending, runCell, { concurrency: "unbounded", discard: true })
  const outputs = yield* writeOutputs(prepared, results, {
    startedAt,
    ...(options.command === undefined ? {} : { command: options.command }),
    ...(options.versions === undefined ? {} : { versions: options.versions }),
    ...(options.execution === undefined ? {} : { execution: options.execution }),
    failed
  })
  log(
    `sweep ${prepared.loaded.name}: ${results.size}/${total} cells done (${computed} run now, ${prepared.finished.size} reused) in ${
      formatDuration(Date.now() - began)
    } -> ${outputs.markdown}`
  )
  if (failed.length > 0) return yield* new SweepFailedError({ file: prepared.loaded.file, failed })
  return { ...outputs, results, computed, computedMs }
})

/** Fingerprints of the data a cell read: dataset and benchmark steps' own fingerprints, from their outputs. */
const dataFingerprints = (result: CellResult) =>
  Effect.promise(async () => {
    const found: Array<{ step: string; uses: string; fingerprint: string }> = []
    let manifest: { steps?: ReadonlyArray<{ id: string; uses: string; kind: string; artifact: string }> }
    try {
      manifest = JSON.parse(await Fs.readFile(result.manifest, "utf8"))
    } catch {
      return found
    }
    for (const step of manifest.steps ?? []) {
      try {
        const output = JSON.parse(await Fs.readFile(Path.join(step.artifact, "output.json"), "utf8")) as { value?: Record<string, unknown> }
        const fingerprint = output.value?.fingerprint ?? output.value?.benchmarkFingerprint
        if (typeof fingerprint === "string") found.push({ step: step.id, uses: step.uses, fingerprint })
      } catch {
        // A step output that moved away is simply not listed.
      }
    }
    return found
  })

/** Write results.{md,json,csv,svg,png} and sweep-manifest.json into the sweep's directory. */
export const writeOutputs = Effect.fn("Sweep.writeOutputs")(function*(
  prepared: Prepared,
  results: ReadonlyMap<string, CellResult>,
  options: {
    readonly startedAt: string
    readonly command?: ReadonlyArray<string>
    readonly versions?: Readonly<Record<string, string>>
    readonly execution?: Readonly<Record<string, unknown>>
    readonly failed?: ReadonlyArray<{ readonly cell: string; readonly reason: string }>
  }
) {
  const store = yield* ArtifactStore.ArtifactStore
  const directory = prepared.outDirectory
  const report = prepared.loaded.sweep.report
  const table = Results.table(prepared.loaded.name, prepared.cells.map((entry) => entry.cell), results, { routers: report?.routers })
  const files = {
    markdown: Path.join(directory, "results.md"),
    json: Path.join(directory, "results.json"),
    csv: Path.join(directory, "results.csv"),
    svg: Path.join(directory, "results.svg"),
    png: Path.join(directory, "results.png"),
    manifest: Path.join(directory, "sweep-manifest.json")
  }
  const svg = Results.svg(table, report?.metric ?? "apgr")
  yield* store.writeFileAtomic(files.markdown, Results.markdown(table))
  yield* store.writeFileAtomic(files.json, Results.json(table))
  yield* store.writeFileAtomic(files.csv, Results.csv(table))
  yield* store.writeFileAtomic(files.svg, svg)
  const png = yield* Results.png(svg).pipe(Effect.mapError((error) => new Errors.ArtifactError({ path: files.png, reason: error.message })))
  yield* store.writeFileAtomic(files.png, png)

  const pipelineText = yield* Effect.promise(() => Fs.readFile(prepared.loaded.pipelineFile, "utf8").catch(() => ""))
  const data = new Map<string, { step: string; uses: string; fingerprint: string }>()
  const cells: Array<Record<string, unknown>> = []
  for (const entry of prepared.cells) {
    const result = results.get(entry.cell.name)
    if (result !== undefined) { for (const item of yield* dataFingerprints(result)) data.set(`${item.step}:${item.fingerprint}`, item) }
    const failure = options.failed?.find((item) => item.cell === entry.cell.name)
    cells.push({
      name: entry.cell.name,
      group: entry.cell.group,
      seed: entry.cell.seed ?? null,
      point: entry.cell.point,
      overrides: entry.cell.overrides.map((override) => ({ set: `${override.stepId}.${override.path.join(".")}`, value: override.value })),
      key: entry.key,
      steps: entry.steps.map((step) => ({ id: step.id, uses: step.uses, fingerprint: step.fingerprint })),
      status: result !== undefined ? "done" : failure !== undefined ? "failed" : "not run",
      ...(result === undefined ? {} : {
        runManifest: result.manifest,
        runDirectory: result.runDirectory,
        host: result.host,
        durationMs: result.durationMs,
        result: resultFile(directory, entry.cell.name)
      }),
      ...(failure === undefined ? {} : { error: failure.reason })
    })
  }
  const manifest = {
    sweep: {
      name: prepared.loaded.name,
      file: Path.resolve(prepared.loaded.file),
      sha256: Hash.sha256(prepared.loaded.text),
      text: prepared.loaded.text
    },
    pipeline: { file: prepared.loaded.pipelineFile, sha256: Hash.sha256(pipelineText) },
    command: options.command ?? [],
    startedAt: options.startedAt,
    finishedAt: new Date().toISOString(),
    versions: { node: process.version, ...options.versions },
    execution: options.execution ?? {},
    cacheDirectory: store.root,
    data: [...data.values()],
    cells,
    outputs: files
  }
  yield* store.writeFileAtomic(files.manifest, JSON.stringify(manifest, null, 2) + "\n")
  return { ...files, table }
})
