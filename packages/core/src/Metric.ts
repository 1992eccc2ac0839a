/**
 * The Metric shape: folds routing outcomes (a router's win rate for each
 * prompt plus the recorded quality of the strong and weak models) into a
 * summary. A plain value, not a service: no plugin kind provides metrics.
 */
import type { Effect } from "effect"
import type { PluginError } from "./Errors.ts"

export interface RoutingOutcome {
  readonly prompt: string
  readonly winRate: number
  readonly strongScore: number
  readonly weakScore: number
}

export type Summary = Readonly<Record<string, number | ReadonlyArray<unknown> | string>>

export interface MetricShape {
  readonly id: string
  readonly summarize: (outcomes: ReadonlyArray<RoutingOutcome>) => Effect.Effect<Summary, PluginError>
}
