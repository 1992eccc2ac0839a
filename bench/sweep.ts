/**
 * Local sweep throughput: cells per minute of `routellm sweep` with 1 and with
 * 2 worker processes, on the same sweep (the random router over N seeds on the
 * real MMLU and GSM8K outcomes: independent cells), each from an empty cache,
 * in the same run; prints both rates and their ratio. Times the whole command,
 * worker start-up included.
 *
 *   node --conditions=source --import tsx bench/sweep.ts [cells (default 8)]
 *
 * Reads ../shared/data (or ROUTELLM_SHARED_DATA).
 */
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..")
const sharedData = process.env.ROUTELLM_SHARED_DATA ?? Path.resolve(root, "../shared/data")
const evalDirectory = Path.join(sharedData, "eval", "routellm")
const cells = Number(process.argv[2] ?? 8)

const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "routellm-bench-sweep-"))
Fs.writeFileSync(
  Path.join(directory, "pipeline.yaml"),
  [
    "name: bench-sweep",
    "steps:",
    ...["mmlu", "gsm8k"].flatMap((benchmark) => [
      `  ${benchmark}:`,
      "    uses: eval/benchmark",
      "    with:",
      `      benchmark: { uses: benchmark/${benchmark}, with: { dir: ${JSON.stringify(evalDirectory)} } }`,
      "      routers: [{ name: random, uses: router/random, with: { seed: 0 } }]",
      "      png: false"
    ]),
    ""
  ].join("\n")
)
Fs.writeFileSync(
  Path.join(directory, "sweep.yaml"),
  `name: bench\npipeline: pipeline.yaml\nseeds: { set: [mmlu.routers.0.with.seed, gsm8k.routers.0.with.seed], count: ${cells} }\n`
)

const measure = (workers: number) => {
  const out = Path.join(directory, `out-${workers}`)
  const started = process.hrtime.bigint()
  const result = spawnSync(
    process.execPath,
    [
      "--conditions=source",
      "--import",
      "tsx",
      Path.join(root, "packages/cli/src/main.ts"),
      "sweep",
      Path.join(directory, "sweep.yaml"),
      "--workers",
      String(workers),
      "--out",
      out
    ],
    { cwd: root, env: { ...process.env, ROUTELLM_CACHE_DIR: Path.join(directory, `cache-${workers}`) }, encoding: "utf8" }
  )
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (result.status !== 0) throw new Error(`sweep with ${workers} worker(s) failed:\n${result.stderr}`)
  const perMinute = (cells / seconds) * 60
  process.stdout.write(`${workers} worker(s): ${cells} cells in ${seconds.toFixed(1)}s = ${perMinute.toFixed(1)} cells/min\n`)
  return { perMinute, table: Fs.readFileSync(Path.join(out, "results.json"), "utf8") }
}

const one = measure(1)
const two = measure(2)
process.stdout.write(
  `2 workers / 1 worker: ${(two.perMinute / one.perMinute).toFixed(2)}x (${Os.availableParallelism()} cores; same table: ${one.table === two.table})\n`
)
Fs.rmSync(directory, { recursive: true, force: true })
