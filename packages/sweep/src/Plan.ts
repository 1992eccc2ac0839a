/**
 * The plan of a sweep before anything runs: every cell's steps with their
 * cache keys and cache status. Steps that several cells share (same cache
 * key) and that are not cached yet are computed by the first cell that needs
 * them; the other cells wait for that cell, so a shared step runs once, and
 * then find it in the cache.
 */
import { ArtifactStore, Errors, Hash, Pipeline, PipelineRunner, PluginRegistry } from "@routellm/core"
import { Effect, Schema } from "effect"
import type { Cell } from "./Cells.ts"

/** A cell's pipeline does not load or resolve with the cell's overrides. */
export class CellError extends Schema.TaggedError<CellError>()("CellError", {
  cell: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cell ${this.cell}: ${this.reason}`
  }
}

export interface PlannedCell {
  readonly cell: Cell
  readonly steps: ReadonlyArray<PipelineRunner.PlannedStep>
  /** Hash of the cell's step cache keys: a finished cell with the same key is not run again. */
  readonly key: string
  /** Cells that compute steps this cell shares and that are not cached yet: this cell runs after them. */
  readonly after: ReadonlyArray<string>
}

/** Load and resolve a cell's pipeline with its overrides. */
export const resolveCell = (pipelineFile: string, cell: Pick<Cell, "name" | "overrides">) =>
  Effect.gen(function*() {
    const loaded = yield* Pipeline.load(pipelineFile, cell.overrides)
    return yield* Pipeline.resolve(loaded)
  }).pipe(Effect.mapError((error) => new CellError({ cell: cell.name, reason: Errors.format(error) })))

/** Plan every cell: step cache keys and status, and which cells wait for which. */
export const plan = Effect.fn("Plan.plan")(function*(pipelineFile: string, cells: ReadonlyArray<Cell>) {
  const planned: Array<Omit<PlannedCell, "after">> = []
  for (const cell of cells) {
    const { resolved, registry } = yield* resolveCell(pipelineFile, cell)
    const steps = yield* PipelineRunner.plan(resolved, registry).pipe(
      Effect.provideService(PluginRegistry.PluginRegistry, registry),
      Effect.mapError((error) => new CellError({ cell: cell.name, reason: Errors.format(error) }))
    )
    planned.push({ cell, steps, key: Hash.hashValue(steps.map((step) => step.fingerprint)) })
  }
  const computedBy = new Map<string, string>()
  return planned.map((entry) => {
    const after = new Set<string>()
    for (const step of entry.steps) {
      if (step.cached) continue
      const owner = computedBy.get(step.fingerprint)
      if (owner === undefined) computedBy.set(step.fingerprint, entry.cell.name)
      else after.add(owner)
    }
    return { ...entry, after: [...after] } satisfies PlannedCell
  })
})

export type PlanRequirements = ArtifactStore.ArtifactStore | PluginRegistry.PluginRegistry

/** Who computes each uncached step: for `--dry-run`. */
export const computedBy = (cells: ReadonlyArray<PlannedCell>): Map<string, string> => {
  const owners = new Map<string, string>()
  for (const entry of cells) {
    for (const step of entry.steps) if (!step.cached && !owners.has(step.fingerprint)) owners.set(step.fingerprint, entry.cell.name)
  }
  return owners
}
