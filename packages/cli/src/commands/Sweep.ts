/**
 * `routellm sweep` and `routellm runner`. The sweep package (and the cluster
 * and PostgreSQL modules behind it) load only when one of these runs.
 */
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { layer, reportFailure } from "../Cli.ts"
import { versions } from "../Versions.ts"

const loadSweep = Effect.promise(() => import("@routellm/sweep"))

// The worker processes load the plugins from the CLI's registry module.
// Resolved through the package's exports: this module may run from the bundle.
const registryModule = import.meta.resolve("@routellm/cli/Registry")

/** Versions of every package a cell's result depends on, and the code's git commit when there is one. */
const sweepVersions = (): Record<string, string> => {
  const result: Record<string, string> = { ...versions() }
  const cliRoot = Path.resolve(Path.dirname(fileURLToPath(import.meta.resolve("@routellm/cli/Registry"))), "..")
  const packages = Path.resolve(cliRoot, "..")
  for (
    const name of ["core", "cli", "benchmarks", "embedders", "datasets", "router-sw", "router-mf", "router-bert", "router-causal", "augment", "server", "sweep"]
  ) {
    try {
      result[`@routellm/${name}`] = JSON.parse(readFileSync(Path.join(packages, name, "package.json"), "utf8")).version
    } catch {
      // Not installed beside the CLI.
    }
  }
  for (const name of ["@effect/platform-node", "@effect/sql-pg", "onnxruntime-node", "yaml"]) {
    try {
      const file = fileURLToPath(import.meta.resolve(`${name}/package.json`))
      result[name] = JSON.parse(readFileSync(file, "utf8")).version
    } catch {
      // Packages whose exports hide package.json are simply not listed.
    }
  }
  try {
    const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: cliRoot, stdio: ["ignore", "pipe", "ignore"] }).toString().trim()
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: cliRoot, stdio: ["ignore", "pipe", "ignore"] })
      .toString().trim() !== ""
    result.git = dirty ? `${commit}+dirty` : commit
  } catch {
    // Not a git checkout (an installed package).
  }
  return result
}

const clusterFlag = Flag.String("cluster").pipe(
  Flag.withDescription("PostgreSQL URL of the cluster's message and runner storage, e.g. postgres://user@host:5432/db"),
  Flag.optional
)

export const sweepCommand = Command.make(
  "sweep",
  {
    file: Argument.String("sweep.yaml").pipe(Argument.withDescription("The sweep file: a pipeline and axes over its config paths")),
    workers: Flag.Int("workers").pipe(
      Flag.withDescription("Cells to run at once in worker processes on this machine (default: the number of cores)"),
      Flag.optional
    ),
    dryRun: Flag.Boolean("dry-run").pipe(
      Flag.withDescription("Print the cells and which of their steps are cached; run nothing"),
      Flag.withDefault(false)
    ),
    out: Flag.String("out").pipe(
      Flag.withDescription("The sweep's directory: results, manifest, finished cells (default runs/sweeps/<name>)"),
      Flag.optional
    ),
    cluster: clusterFlag
  },
  Effect.fn(function*({ file, workers, dryRun, out, cluster }) {
    yield* reportFailure(
      Effect.gen(function*() {
        const { Cluster, Local, Sweep } = yield* loadSweep
        const prepared = yield* Sweep.prepare(file, { out: Option.getOrUndefined(out) })
        if (dryRun) {
          yield* Console.log(Sweep.describe(prepared))
          return
        }
        const command = process.argv.slice(2)
        const allVersions = sweepVersions()
        const result = Option.isSome(cluster)
          ? yield* Effect.scoped(
            Effect.gen(function*() {
              const executor = yield* Cluster.executor(prepared)
              return yield* Sweep.run(prepared, executor, {
                command,
                versions: allVersions,
                execution: { cluster: Cluster.redactUrl(cluster.value) }
              })
            }).pipe(Effect.provide(Cluster.clientLayer({ url: cluster.value })))
          )
          : yield* Effect.scoped(Effect.gen(function*() {
            const count = Option.getOrElse(workers, Local.defaultWorkers)
            const executor = yield* Local.executor(prepared.outDirectory, { workers: count, registryModule, versions: allVersions })
            return yield* Sweep.run(prepared, executor, { command, versions: allVersions, execution: { workers: count } })
          }))
        yield* Console.log(`results: ${result.markdown}\nmanifest: ${result.manifest}\nplot: ${result.png}`)
      }).pipe(Effect.provide(layer))
    )
  })
).pipe(
  Command.withDescription(
    "Run a sweep: every cell of a pipeline's axes and seeds, shared steps once (step cache), results table and plot; resumable"
  ),
  Command.withExamples([
    { command: "routellm sweep pipelines/sweeps/routers-mixes.yaml --dry-run", description: "List the cells and their cached steps" },
    { command: "routellm sweep pipelines/sweeps/routers-mixes.yaml --workers 2", description: "Run on this machine in 2 processes" },
    { command: "routellm sweep pipelines/sweeps/routers-mixes.yaml --cluster postgres://localhost/routellm", description: "Submit to a cluster and follow it" }
  ])
)

export const runnerCommand = Command.make(
  "runner",
  {
    cluster: Flag.String("cluster").pipe(
      Flag.withDescription("PostgreSQL URL of the cluster's message and runner storage, e.g. postgres://user@host:5432/db")
    ),
    host: Flag.String("host").pipe(Flag.withDescription("Address other runners reach this one at"), Flag.withDefault("127.0.0.1")),
    port: Flag.Int("port").pipe(Flag.withDescription("Port this runner listens on"), Flag.withDefault(34431)),
    workers: Flag.Int("workers").pipe(
      Flag.withDescription("Cells this runner runs at once, each in a worker process (default 1)"),
      Flag.withDefault(1)
    )
  },
  Effect.fn(function*({ cluster, host, port, workers }) {
    yield* reportFailure(Effect.gen(function*() {
      const { Cluster } = yield* loadSweep
      yield* Cluster.runRunner({ url: cluster, host, port, workers, registryModule, versions: sweepVersions() })
    }))
  })
).pipe(
  Command.withDescription(
    "Run sweep cells for a cluster: joins the runners sharing a PostgreSQL database and runs the cells they are assigned until stopped"
  ),
  Command.withExamples([
    { command: "routellm runner --cluster postgres://localhost/routellm --host 10.0.0.5 --port 34431", description: "Join a cluster" }
  ])
)
