/**
 * The Augmenter contract: battles in, battles out (decontamination, golden
 * labels, judge labels).
 */
import { Context, type Effect, type Stream } from "effect"
import type { DatasetError } from "./Dataset.ts"
import type { Reason } from "./Errors.ts"
import type { Battle } from "./Records.ts"

export interface AugmentResult {
  readonly records: ReadonlyArray<Battle>
  /** Counts and statistics for the run manifest (dropped rows, cost, agreement). */
  readonly report: Readonly<Record<string, unknown>>
}

export interface AugmenterShape {
  readonly id: string
  readonly augment: (
    records: Stream.Stream<Battle, DatasetError>
  ) => Effect.Effect<AugmentResult, Reason>
}

export class Augmenter extends Context.Service<Augmenter, AugmenterShape>()("@routellm/core/Augmenter") {}
