/**
 * Sweeps on a cluster, on Effect's own cluster and workflow modules with
 * PostgreSQL as message and runner storage. Each cell is a durable workflow
 * (`routellm/SweepCell`) whose one activity runs the cell; the cluster shards
 * cells over the runners, persists every message and reply, and moves the
 * shards of a runner that stops answering (its cells are replayed by the new
 * owner). A finished cell's result is stored as the activity's reply, so
 * submitting the same sweep again returns it without running the cell.
 *
 * Artifacts go to the runners' artifact store (ROUTELLM_CACHE_DIR), which
 * must be one directory every runner reaches (a shared file system), and the
 * pipeline and its data must be at the same paths on every runner.
 */
import { PgClient } from "@effect/sql-pg"
import { Duration, Effect, Layer, Option, Redacted, Schema } from "effect"
import { ClusterWorkflowEngine, RunnerAddress, RunnerHealth, Runners, Sharding, ShardingConfig, SqlMessageStorage, SqlRunnerStorage } from "effect/cluster"
import * as Digest from "effect/crypto/Digest"
import { Activity, Workflow } from "effect/workflow"
import * as Net from "node:net"
import { CellResult, CellSpec } from "./CellRun.ts"
import * as WorkerPool from "./internal/workerPool.ts"
import { CellError } from "./Plan.ts"
import type * as Sweep from "./Sweep.ts"

/** The cell's own failure (its pipeline failed), as stored in the workflow's result. */
export class CellFailed extends Schema.TaggedError<CellFailed>()("CellFailed", {
  cell: Schema.String,
  reason: Schema.String
}) {}

export const CellWorkflow = Workflow.make("routellm/SweepCell", {
  payload: {
    sweep: Schema.String,
    /** Bumped by the submitter to run a cell again after a failed attempt. */
    attempt: Schema.Int,
    spec: CellSpec
  },
  success: CellResult,
  error: CellFailed,
  idempotencyKey: (payload) => `${payload.sweep}/${payload.spec.name}/${payload.spec.key}/${payload.attempt}`
})

/** Sharding timings for minute-long cells: a dead runner's shards move after about 10 s, not the default 35 s. */
const shardingDefaults = {
  shardLockRefreshInterval: Duration.seconds(2),
  shardLockExpiration: Duration.seconds(10),
  runnerHealthCheckInterval: Duration.seconds(3),
  entityMessagePollInterval: Duration.seconds(2),
  // Cells can run for long; entities stay resident while their activity runs.
  entityMaxIdleTime: Duration.minutes(10)
}

const sqlLayer = (url: string) => PgClient.layer({ url: Redacted.make(url) })

/** The URL without a password, for logs and manifests. */
export const redactUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "<unparseable URL>"
  }
}

/**
 * Runners talk only through PostgreSQL: every cell message and reply is
 * persisted there anyway, and each runner polls storage for its shards'
 * messages, so the runners need no RPC transport between them (Effect's socket
 * transport lives in @effect/platform-node, which this project does not ship).
 */
const storageLayers = (url: string) =>
  Layer.mergeAll(SqlMessageStorage.layer.pipe(Layer.provide(Digest.layerWebCrypto)), Layer.orDie(SqlRunnerStorage.layer)).pipe(
    Layer.provideMerge(sqlLayer(url))
  )

/**
 * A runner is alive while its beacon port accepts connections: a killed
 * process stops accepting at once, and its shards move to the others.
 */
const beaconHealth = Layer.succeed(RunnerHealth.RunnerHealth, {
  isAlive: (address: RunnerAddress.RunnerAddress) =>
    Effect.callback<boolean>((resume) => {
      const socket = Net.connect({ host: address.host, port: address.port })
      const done = (alive: boolean) => {
        socket.destroy()
        resume(Effect.succeed(alive))
      }
      socket.setTimeout(3000, () => done(false))
      socket.once("connect", () => done(true))
      socket.once("error", () => done(false))
      return Effect.sync(() => socket.destroy())
    })
})

/** Keeps a TCP port open for as long as the runner lives (its health beacon). */
const beacon = (host: string, port: number) =>
  Layer.effectDiscard(Effect.acquireRelease(
    Effect.callback<Net.Server, Error>((resume) => {
      const server = Net.createServer((socket) => socket.end())
      server.once("error", (error) => resume(Effect.fail(error)))
      server.listen(port, host, () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
  ))

const shardingLayer = (
  options: { readonly url: string; readonly runnerAddress: Option.Option<RunnerAddress.RunnerAddress>; readonly health: Layer.Layer<RunnerHealth.RunnerHealth> }
) =>
  Sharding.layer.pipe(
    Layer.provideMerge(Runners.layerNoop),
    Layer.provide(options.health),
    Layer.provideMerge(storageLayers(options.url)),
    Layer.provide(ShardingConfig.layer({ ...shardingDefaults, runnerAddress: options.runnerAddress }))
  )

/** What a submitter (`routellm sweep --cluster`) needs: a client-only member of the cluster and its workflow engine. */
export const clientLayer = (options: { readonly url: string }) =>
  ClusterWorkflowEngine.layer.pipe(
    Layer.provideMerge(shardingLayer({ url: options.url, runnerAddress: Option.none(), health: RunnerHealth.layerNoop })),
    Layer.orDie
  )

const pollInterval = Duration.seconds(1)

/**
 * An executor that submits each cell as a workflow execution and follows it
 * until it completes. A cell whose earlier attempt failed is submitted again
 * with the next attempt number; a finished one is read back.
 */
export const executor = Effect.fn("Cluster.executor")(function*(prepared: Sweep.Prepared) {
  const sweepId = prepared.loaded.name
  const run = (entry: Parameters<Sweep.Executor["run"]>[0], spec: CellSpec) =>
    Effect.gen(function*() {
      let attempt = 0
      while (true) {
        const payload = { sweep: sweepId, attempt, spec }
        const executionId = yield* CellWorkflow.executionId(payload)
        const existing = yield* CellWorkflow.poll(executionId)
        if (Option.isSome(existing) && existing.value._tag === "Complete" && existing.value.exit._tag === "Failure") {
          attempt++
          continue
        }
        if (Option.isNone(existing)) yield* CellWorkflow.execute(payload, { discard: true })
        while (true) {
          const result = yield* CellWorkflow.poll(executionId)
          if (Option.isSome(result) && result.value._tag === "Complete") {
            const exit = result.value.exit
            if (exit._tag === "Success") return exit.value
            const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
            return yield* new CellError({
              cell: entry.cell.name,
              reason: failure !== undefined && failure._tag === "Fail" ? failure.error.reason : String(exit.cause)
            })
          }
          yield* Effect.sleep(pollInterval)
        }
      }
    })
  const services = yield* Effect.context<Layer.Success<ReturnType<typeof clientLayer>>>()
  return {
    // The runners limit how many cells run at once; the submitter only orders them.
    concurrency: prepared.cells.length,
    runDirectory: (entry) => `sweeps/${sweepId}/${entry.cell.name}`,
    run: (entry, spec) => run(entry, spec).pipe(Effect.provideContext(services))
  } satisfies Sweep.Executor
})

export interface RunnerOptions {
  readonly url: string
  readonly host: string
  readonly port: number
  /** Cells this runner runs at once, one worker process each. */
  readonly workers: number
  readonly registryModule: string
  readonly versions?: Readonly<Record<string, string>>
  readonly log?: (line: string) => void
}

/** A runner: joins the cluster and runs the cells of its shards in worker processes until interrupted. */
export const runRunner = (options: RunnerOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`))
    const pool = yield* WorkerPool.make({ size: options.workers, registryModule: options.registryModule })
    const cells = CellWorkflow.toLayer(Effect.fn(function*(payload) {
      return yield* Activity.make({
        name: "run-cell",
        success: CellResult,
        error: CellFailed,
        execute: Effect.gen(function*() {
          log(`runner ${options.host}:${options.port}: start ${payload.sweep} ${payload.spec.name} (attempt ${payload.attempt})`)
          const result = yield* pool.run(payload.spec, options.versions).pipe(
            Effect.mapError((error) => new CellFailed({ cell: error.cell, reason: error.reason }))
          )
          log(`runner ${options.host}:${options.port}: done ${payload.sweep} ${payload.spec.name} in ${(result.durationMs / 1000).toFixed(1)}s`)
          return result
        })
      })
    }))
    const cluster = shardingLayer({
      url: options.url,
      runnerAddress: Option.some(RunnerAddress.make(options.host, options.port)),
      health: beaconHealth
    })
    yield* Layer.build(beacon(options.host, options.port))
    log(`runner ${options.host}:${options.port}: joining the cluster at ${redactUrl(options.url)} with ${options.workers} worker(s)`)
    log(`Listening on ${options.host}:${options.port}`)
    return yield* Layer.launch(
      cells.pipe(Layer.provide(ClusterWorkflowEngine.layer), Layer.provide(cluster))
    )
  }))
