/**
 * A sweep on the cluster: three `routellm runner` processes on the real
 * PostgreSQL (a fresh database per run), one killed with SIGKILL while it
 * runs a cell. Every cell must finish with the metrics of the single-process
 * run, and submitting the sweep again must run nothing.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import * as Net from "node:net"
import * as Path from "node:path"
import { readJson, routellm, start, temporaryDirectory, waitFor, writeFile, writePipeline } from "./support/Sweeps.ts"

const host = process.env.ROUTELLM_TEST_PG_HOST ?? "127.0.0.1"
const port = Number(process.env.ROUTELLM_TEST_PG_PORT ?? 5432)
const user = process.env.ROUTELLM_TEST_PG_USER ?? "postgres"

const reachable = await new Promise<boolean>((resolve) => {
  const socket = Net.connect({ host, port })
  socket.setTimeout(2000)
  socket.once("connect", () => (socket.destroy(), resolve(true)))
  socket.once("error", () => resolve(false))
  socket.once("timeout", () => (socket.destroy(), resolve(false)))
})
const unreachable = `PostgreSQL is not reachable at ${host}:${port} (the cluster sweep test needs it; set ROUTELLM_TEST_PG_HOST/PORT/USER)`
if (!reachable && process.env.CI === "true") throw new Error(unreachable)
if (!reachable) console.warn(`skipping the cluster sweep test: ${unreachable}`)

const admin = (statement: string) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe(statement)
    }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(`postgres://${user}@${host}:${port}/postgres`) })))
  )

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = Net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as Net.AddressInfo
      server.close(() => resolve(address.port))
    })
  })

const metricsByCell = (results: Map<string, any>) => Object.fromEntries([...results].map(([name, result]) => [name, result.metrics]))

describe.skipIf(!reachable)("routellm sweep --cluster", () => {
  it.live("survives a runner killed mid-sweep: every cell finishes once, with the single-process metrics", () =>
    Effect.promise(async () => {
      const directory = await temporaryDirectory()
      await writePipeline(directory, { slow: true })
      const sweep = await writeFile(
        directory,
        "sweep.yaml",
        "name: cluster\npipeline: tiny.yaml\naxes:\n  bins: { set: gsm8k.bins, values: [5, 10] }\nseeds: { set: gsm8k.routers.0.with.seed, count: 3 }\n"
      )
      const database = `routellm_sweep_${process.pid}_${Date.now()}`
      await admin(`CREATE DATABASE ${database}`)
      const url = `postgres://${user}@${host}:${port}/${database}`
      const store = Path.join(directory, "shared-store")
      // Each cell's last step pauses 2 s on the runners, so a kill lands inside a cell.
      const runnerEnv = { ROUTELLM_CACHE_DIR: store, ROUTELLM_TEST_PAUSE_MS: "2000", ROUTELLM_TEST_PAUSE_N: "5" }
      const runners = await Promise.all([0, 1, 2].map(async () => {
        const runnerPort = await freePort()
        return { port: runnerPort, ...start(["runner", "--cluster", url, "--port", String(runnerPort)], runnerEnv) }
      }))
      try {
        for (const runner of runners) await waitFor(async () => runner.output.text.includes("Listening on") ? true : undefined, "a runner to listen")
        const submitter = start(["sweep", sweep, "--cluster", url, "--out", Path.join(directory, "cluster-out")], { ROUTELLM_CACHE_DIR: store })
        const victim = await waitFor(
          async () => runners.find((runner) => runner.output.text.includes("start cluster")),
          "a runner to start a cell"
        )
        await new Promise((resolve) => setTimeout(resolve, 500))
        victim.child.kill("SIGKILL")
        await victim.exited
        const code = await submitter.exited
        assert.strictEqual(code, 0, submitter.output.text)
        const clusterTable = await readJson(Path.join(directory, "cluster-out", "results.json"))

        // Each cell finished exactly once: one "done" across all runners' logs, and never on the killed runner after it died.
        const logs = runners.map((runner) => runner.output.text).join("\n")
        const done = [...logs.matchAll(/done cluster (\S+) in/g)].map((match) => match[1]!)
        assert.deepStrictEqual([...done].sort(), ["bins=10,seed=0", "bins=10,seed=1", "bins=10,seed=2", "bins=5,seed=0", "bins=5,seed=1", "bins=5,seed=2"])
        const killedCells = [...victim.output.text.matchAll(/start cluster (\S+) /g)].map((match) => match[1]!)
        const killedDone = [...victim.output.text.matchAll(/done cluster (\S+) in/g)].map((match) => match[1]!)
        const takenOver = killedCells.filter((cell) => !killedDone.includes(cell))
        assert.isAbove(takenOver.length, 0, "the killed runner was inside a cell")
        const survivors = runners.filter((runner) => runner !== victim).map((runner) => runner.output.text).join("\n")
        for (const cell of takenOver) assert.include(survivors, `done cluster ${cell} in`)

        // Submitting again: every cell's stored result comes back and no runner starts anything.
        const startsBefore = (survivors.match(/start cluster/g) ?? []).length
        const again = await routellm(["sweep", sweep, "--cluster", url, "--out", Path.join(directory, "cluster-again")], { ROUTELLM_CACHE_DIR: store })
        assert.strictEqual(again.code, 0, again.stderr)
        const survivorsAfter = runners.filter((runner) => runner !== victim).map((runner) => runner.output.text).join("\n")
        assert.strictEqual((survivorsAfter.match(/start cluster/g) ?? []).length, startsBefore)
        assert.deepStrictEqual((await readJson(Path.join(directory, "cluster-again", "results.json"))).rows, clusterTable.rows)

        // The same sweep in one local process, with its own cache and without pauses: the same metrics per cell.
        const local = await routellm(["sweep", sweep, "--workers", "1", "--out", Path.join(directory, "local-out")], {
          ROUTELLM_CACHE_DIR: Path.join(directory, "local-cache")
        })
        assert.strictEqual(local.code, 0, local.stderr)
        const read = async (out: string) => {
          const manifest = await readJson(Path.join(out, "sweep-manifest.json"))
          const results = new Map<string, any>()
          for (const cell of manifest.cells) results.set(cell.name, await readJson(cell.result))
          return results
        }
        assert.deepStrictEqual(metricsByCell(await read(Path.join(directory, "cluster-out"))), metricsByCell(await read(Path.join(directory, "local-out"))))
        assert.deepStrictEqual((await readJson(Path.join(directory, "local-out", "results.json"))).rows, clusterTable.rows)
      } finally {
        for (const runner of runners) runner.child.kill("SIGTERM")
        await Promise.all(runners.map((runner) => runner.exited))
        await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined)
      }
    }), 120_000)
})
