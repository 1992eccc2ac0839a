/**
 * The loop golden labels and the LLM judge share: run one unit of paid work
 * per item, concurrently, with a progress line; an item the spending cap no
 * longer covers is counted and left out (a later run with a larger cap picks
 * it up from the response cache), any other failure fails the loop.
 */
import { Progress } from "@routellm/core"
import { Effect } from "effect"
import type { BudgetExhaustedError } from "../ChatClient.ts"

export const forEach = <A, B, E, R>(
  label: string,
  items: ReadonlyArray<A>,
  concurrency: number,
  work: (item: A, index: number) => Effect.Effect<B, E | BudgetExhaustedError, R>
) =>
  Effect.gen(function*() {
    const progress = yield* Progress.start(label, items.length)
    const results: Array<B | undefined> = new Array(items.length)
    let overBudget = 0
    yield* Effect.forEach(
      items,
      (item, index) =>
        work(item, index).pipe(
          Effect.map((result) => void (results[index] = result)),
          Effect.catchIf(
            (error): error is BudgetExhaustedError => (error as { readonly _tag?: unknown })?._tag === "BudgetExhaustedError",
            () => Effect.sync(() => void overBudget++)
          ),
          Effect.tap(() => progress.advance(1))
        ),
      { concurrency: Math.max(2, concurrency), discard: true }
    )
    yield* progress.done
    return { results, overBudget }
  })
