/**
 * Start-up of the `routellm` binary as a user runs it (packages/cli/bin, the
 * bundle `npm run build` writes), whole process, against a bare `node -e 0`
 * measured in the same run, interleaved so drift on a shared machine hits
 * both. Targets (issue #14): --help and validate under 0.3 s, route --router
 * random under 0.5 s. On a loaded machine every process waits for a core,
 * so the time above bare node's is printed too: that part is ours.
 *
 *   npm run bench -- startup
 */
import { spawnSync } from "node:child_process"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..")
const binary = Path.join(root, "packages/cli/bin/routellm.js")
const runs = Number(process.env.ROUTELLM_BENCH_RUNS ?? 9)

/** Wall seconds of one whole process, from spawn to exit. */
const measure = (args: ReadonlyArray<string>): number => {
  const start = process.hrtime.bigint()
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: ["ignore", "ignore", "pipe"] })
  const wall = Number(process.hrtime.bigint() - start) / 1e9
  if (result.status !== 0) throw new Error(`${args.join(" ")} exited with ${result.status}: ${result.stderr}`)
  return wall
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((left, right) => left - right)
  return sorted[Math.floor(sorted.length / 2)]!
}

const cases: ReadonlyArray<{ readonly label: string; readonly args: ReadonlyArray<string>; readonly target: number }> = [
  { label: "routellm --help", args: [binary, "--help"], target: 0.3 },
  { label: "routellm validate pipelines/routers.yaml", args: [binary, "validate", "pipelines/routers.yaml"], target: 0.3 },
  { label: "routellm route --router random", args: [binary, "route", "--router", "random", "--prompt", "hello"], target: 0.5 }
]

const baselineArgs = ["-e", "0"]
// Warm the file cache once.
for (const { args } of cases) measure(args)
measure(baselineArgs)

console.log(`start-up, median of ${runs} runs (interleaved with bare node), node ${process.version}`)
for (const { label, args, target } of cases) {
  const own: Array<number> = []
  const bare: Array<number> = []
  const ratios: Array<number> = []
  for (let run = 0; run < runs; run++) {
    const a = measure(args)
    const b = measure(baselineArgs)
    own.push(a)
    bare.push(b)
    ratios.push(a / b)
  }
  const wall = median(own)
  const node = median(bare)
  console.log(
    `${label.padEnd(42)} ${wall.toFixed(3)} s wall (target ${target} s: ${wall <= target ? "met" : "missed"}); ` +
      `bare node ${node.toFixed(3)} s, ${median(ratios).toFixed(2)}x it; above bare node ${(wall - node).toFixed(3)} s`
  )
}
