/**
 * Tiny real sweeps for the sweep tests: a shared counting step (the plugin
 * example package), the random router scored on the real GSM8K outcomes, and
 * an optional per-cell step that can be made to pause.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { evalDirectory, repositoryRoot } from "./SharedData.ts"

export const binary = Path.join(repositoryRoot, "packages/cli/bin/routellm.js")

export interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export const routellm = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}): Promise<Result> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [binary, ...args], { cwd: repositoryRoot, env: { ...process.env, ...env } })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

/** A started `routellm` process whose stderr is collected as it comes. */
export const start = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}) => {
  const child: ChildProcess = spawn(process.execPath, [binary, ...args], {
    cwd: repositoryRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  const output = { text: "" }
  child.stdout!.on("data", (chunk) => (output.text += chunk))
  child.stderr!.on("data", (chunk) => (output.text += chunk))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return { child, output, exited }
}

export const temporaryDirectory = () => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-sweep-"))

/** Write the tiny pipeline; `slow: true` adds a per-cell step (test/count n=5) after the evaluation. */
export const writePipeline = async (directory: string, options: { readonly slow?: boolean } = {}) => {
  const file = Path.join(directory, "tiny.yaml")
  await Fs.writeFile(
    file,
    [
      "name: tiny",
      "plugins: [\"@routellm-test/plugin-example\"]",
      "steps:",
      "  prepare: { uses: test/count, with: { n: 3 } }",
      // The evaluation does not consume the counting step's output (its ports would refuse the edge): both are cell steps.
      "  gsm8k:",
      "    uses: eval/benchmark",
      "    with:",
      `      benchmark: { uses: benchmark/gsm8k, with: { dir: ${JSON.stringify(evalDirectory)} } }`,
      "      routers: [{ name: random, uses: router/random, with: { seed: 0 } }]",
      // One router per cell keeps the tables these tests check small.
      "      baselines: []",
      "      png: false",
      ...(options.slow === true ? ["  slow: { uses: test/count, needs: gsm8k, with: { n: 5 } }"] : []),
      ""
    ].join("\n")
  )
  return file
}

export const writeFile = async (directory: string, name: string, text: string) => {
  const file = Path.join(directory, name)
  await Fs.writeFile(file, text)
  return file
}

export const readJson = async (file: string) => JSON.parse(await Fs.readFile(file, "utf8"))

export const waitFor = async <A>(check: () => Promise<A | undefined>, what: string, timeoutMs = 60_000): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const value = await check().catch(() => undefined)
    if (value !== undefined) return value
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

export const exists = (file: string) => Fs.stat(file).then(() => true, () => false)
