/**
 * Runs a sweep's cells on this machine, in a pool of worker processes (one
 * cell per process at a time; the default is one process per core).
 */
import { Effect } from "effect"
import * as Os from "node:os"
import * as Path from "node:path"
import * as WorkerPool from "./internal/workerPool.ts"
import * as Sweep from "./Sweep.ts"

export const defaultWorkers = (): number => Math.max(1, Os.availableParallelism())

/**
 * An executor over `workers` worker processes. `registryModule` is the URL of
 * a module exporting `plugins` (the CLI passes its registry).
 */
export const executor = Effect.fn("Local.executor")(function*(
  outDirectory: string,
  options: {
    readonly workers: number
    readonly registryModule: string
    readonly versions?: Readonly<Record<string, string>>
    readonly env?: NodeJS.ProcessEnv
  }
) {
  const pool = yield* WorkerPool.make({
    size: options.workers,
    registryModule: options.registryModule,
    ...(options.env === undefined ? {} : { env: options.env })
  })
  return {
    concurrency: pool.size,
    runDirectory: (entry) => Path.join(Sweep.cellDirectory(outDirectory, entry.cell.name), "run"),
    run: (_entry, spec) => pool.run(spec, options.versions)
  } satisfies Sweep.Executor
})
