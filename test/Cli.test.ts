/**
 * The `routellm` binary as a user runs it (built by `tsc -b` before the tests).
 */
import { assert, describe, it } from "@effect/vitest"
import { Random } from "@routellm/core"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { repositoryRoot } from "./support/SharedData.ts"

const binary = Path.join(repositoryRoot, "packages/cli/bin/routellm.js")

interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const routellm = (args: ReadonlyArray<string>, options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) =>
  Effect.callback<Result>((resume) => {
    const child = spawn(process.execPath, [binary, ...args], {
      cwd: options.cwd ?? repositoryRoot,
      env: { ...process.env, ...options.env }
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
  })

const temporaryDirectory = () => Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-cli-")))

const readManifest = (runDirectory: string) => Effect.promise(async () => JSON.parse(await Fs.readFile(Path.join(runDirectory, "manifest.json"), "utf8")))

describe("routellm CLI", () => {
  it.live("lists its commands in --help", () =>
    Effect.gen(function*() {
      const result = yield* routellm(["--help"])
      assert.strictEqual(result.code, 0)
      for (const command of ["run", "validate", "plugins", "schema", "route"]) assert.include(result.stdout, command)
    }))

  it.live("says an unknown command is unknown and exits 1, even with --help", () =>
    Effect.gen(function*() {
      const result = yield* routellm(["frobnicate", "--help"])
      assert.strictEqual(result.code, 1)
      assert.strictEqual(result.stdout, "")
      assert.include(result.stderr, "unknown command \"frobnicate\"")
    }))

  it.live("prints a flag error first, then one line on where to look", () =>
    Effect.gen(function*() {
      const result = yield* routellm(["route", "--prompt", "hi", "--threshold", "abc"])
      assert.strictEqual(result.code, 1)
      assert.strictEqual(result.stdout, "")
      const lines = result.stderr.trim().split("\n")
      assert.deepStrictEqual(lines.length, 2, result.stderr)
      assert.match(lines[0]!, /^error: .*--threshold.*"abc"/)
      assert.strictEqual(lines[1], "run \"routellm route --help\" for its flags and examples")
    }))

  it.live("exports the command's Effect.fn spans over OTLP when ROUTELLM_OTLP_URL is set", () =>
    Effect.scoped(Effect.gen(function*() {
      // An OTLP/HTTP receiver stand-in: it keeps every JSON body posted to /v1/traces.
      const bodies: Array<any> = []
      const server = yield* Effect.acquireRelease(
        Effect.promise(() =>
          new Promise<Http.Server>((resolve) => {
            const server = Http.createServer((request, response) => {
              let text = ""
              request.on("data", (chunk) => (text += chunk))
              request.on("end", () => {
                if (request.method === "POST" && request.url === "/v1/traces") bodies.push(JSON.parse(text))
                response.writeHead(200, { "content-type": "application/json" }).end("{}")
              })
            })
            server.listen(0, "127.0.0.1", () => resolve(server))
          })
        ),
        (server) => Effect.promise(() => new Promise<void>((done) => server.close(() => done())))
      )
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const result = yield* routellm(["route", "--router", "random", "--prompt", "hello"], { env: { ROUTELLM_OTLP_URL: url } })
      assert.strictEqual(result.code ?? 0, 0, result.stderr)
      const spans = bodies.flatMap((body) =>
        body.resourceSpans.flatMap((resource: any) =>
          resource.scopeSpans.flatMap((scope: any) =>
            scope.spans.map((span: any) => ({
              name: span.name,
              service: resource.resource.attributes.find((a: any) => a.key === "service.name")?.value.stringValue
            }))
          )
        )
      )
      const names = spans.map((span) => span.name)
      assert.include(names, "routellm.route")
      assert.include(names, "Router.route")
      assert.isTrue(spans.every((span) => span.service === "routellm"))
      // Without the variable nothing is sent.
      const before = bodies.length
      const quiet = yield* routellm(["route", "--router", "random", "--prompt", "hello"])
      assert.strictEqual(quiet.code ?? 0, 0)
      assert.strictEqual(bodies.length, before)
    })))

  it.live("validates the shipped pipelines", () =>
    Effect.gen(function*() {
      const files = (yield* Effect.promise(() => Fs.readdir(Path.join(repositoryRoot, "pipelines"))))
        .filter((name) => name.endsWith(".yaml"))
        .map((name) => `pipelines/${name}`)
      const result = yield* routellm(["validate", ...files])
      assert.strictEqual(result.code ?? 0, 0, result.stderr)
      assert.strictEqual(result.stdout.split("\n").filter((line) => line.startsWith("ok:")).length, files.length)
    }))

  it.live("exits 1 on an unknown plugin, naming it and listing the available ids", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const file = Path.join(directory, "nope.yaml")
      yield* Effect.promise(() => Fs.writeFile(file, "steps:\n  pick:\n    uses: router/nope\n"))
      const result = yield* routellm(["validate", file])
      assert.strictEqual(result.code, 1)
      assert.include(result.stderr, "router/nope")
      assert.include(result.stderr, "router/random")
    }))

  it.live("exits 1 on a bad with: field, naming the step and the field", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const file = Path.join(directory, "field.yaml")
      yield* Effect.promise(() => Fs.writeFile(file, "steps:\n  coin:\n    uses: router/random\n    with:\n      seed: heads\n"))
      const result = yield* routellm(["validate", file])
      assert.strictEqual(result.code, 1)
      assert.include(result.stderr, "step \"coin\"")
      assert.include(result.stderr, "seed")
    }))

  it.live("prints every plugin's id and config JSON Schema with plugins --json", () =>
    Effect.gen(function*() {
      const result = yield* routellm(["plugins", "--json"])
      assert.strictEqual(result.code ?? 0, 0)
      const plugins = JSON.parse(result.stdout) as Array<{ id: string; config: { type?: string } }>
      assert.isTrue(plugins.length >= 1)
      const random = plugins.find((plugin) => plugin.id === "router/random")!
      assert.strictEqual(random.config.type, "object")
      for (const plugin of plugins) assert.isTrue(typeof plugin.id === "string" && typeof plugin.config === "object")
    }))

  it.live("routes a prompt with the random router", () =>
    Effect.gen(function*() {
      const result = yield* routellm(["route", "--router", "random", "--prompt", "hello", "--threshold", "0.5", "--json"])
      assert.strictEqual(result.code ?? 0, 0, result.stderr)
      const decision = JSON.parse(result.stdout)
      const expected = Random.hashUniform(0, "hello")
      assert.closeTo(decision.winRate, expected, 1e-12)
      assert.strictEqual(decision.strong, expected >= 0.5)
      const bad = yield* routellm(["route", "--router", "random", "--prompt", "hello", "--threshold", "1.5"])
      assert.strictEqual(bad.code, 1)
      assert.include(bad.stderr, "threshold")
    }))

  it.live("routes a prompt with the length router, with and without a config", () =>
    Effect.gen(function*() {
      const prompt = "Explain the difference between a list and a tuple in Python."
      const result = yield* routellm(["route", "--router", "length", "--prompt", prompt, "--threshold", "0.1", "--json"])
      assert.strictEqual(result.code ?? 0, 0, result.stderr)
      const decision = JSON.parse(result.stdout)
      assert.strictEqual(decision.router, "router/length")
      assert.closeTo(decision.winRate, prompt.length / (prompt.length + 500), 1e-12)
      assert.strictEqual(decision.strong, true)
      const directory = yield* temporaryDirectory()
      const config = Path.join(directory, "length.yaml")
      yield* Effect.promise(() => Fs.writeFile(config, "unit: words\nmidpoint: 11\n"))
      const byWords = yield* routellm(["route", "--router", "router/length", "--config", config, "--prompt", prompt, "--json"])
      assert.strictEqual(byWords.code ?? 0, 0, byWords.stderr)
      assert.strictEqual(JSON.parse(byWords.stdout).winRate, 0.5)
    }))

  it.live("eval shows the random and length baselines beside the listed routers; --no-baselines and --baseline change them", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const env = { ROUTELLM_CACHE_DIR: Path.join(directory, "cache") }
      const data = Path.join(repositoryRoot, "../shared/data")
      const names = (file: string) =>
        Effect.promise(async () => (JSON.parse(await Fs.readFile(file, "utf8")) as { routers: Array<{ name: string }> }).routers.map((router) => router.name))
      const common = ["eval", "--benchmark", "mt-bench", "--data-dir", data, "--seeds", "2"]
      const json = Path.join(directory, "default.json")
      const result = yield* routellm([...common, "--router", "oracle", "--json", json], { env })
      assert.strictEqual(result.code ?? 0, 0, result.stderr)
      assert.match(result.stdout, /random \(2 seeds\)\s+\d+\.\d+%/)
      assert.match(result.stdout, /\nlength\s+\d+\.\d+%/)
      assert.deepStrictEqual(yield* names(json), ["random", "length", "oracle"])
      const only = Path.join(directory, "only.json")
      const alone = yield* routellm([...common, "--router", "length", "--no-baselines", "--json", only], { env })
      assert.strictEqual(alone.code ?? 0, 0, alone.stderr)
      assert.deepStrictEqual(yield* names(only), ["length"])
      const replaced = Path.join(directory, "replaced.json")
      const chosen = yield* routellm([...common, "--baseline", "length", "--json", replaced], { env })
      assert.strictEqual(chosen.code ?? 0, 0, chosen.stderr)
      assert.deepStrictEqual(yield* names(replaced), ["length"])
      const nothing = yield* routellm([...common, "--no-baselines"], { env })
      assert.strictEqual(nothing.code, 1)
      assert.include(nothing.stderr, "nothing to evaluate")
    }))

  it.live("routes with a trained router read from a step's artifact directory", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const artifact = Path.join(directory, "steps", "coin")
      yield* Effect.promise(async () => {
        await Fs.mkdir(artifact, { recursive: true })
        await Fs.writeFile(
          Path.join(artifact, "output.json"),
          JSON.stringify({ uses: "router/random", kind: "router", config: { seed: 3 }, value: null })
        )
      })
      const result = yield* routellm(["route", "--artifact", artifact, "--prompt", "hello", "--json"])
      assert.strictEqual(result.code ?? 0, 0, result.stderr)
      assert.closeTo(JSON.parse(result.stdout).winRate, Random.hashUniform(3, "hello"), 1e-12)
      const notAStep = yield* routellm(["route", "--artifact", directory, "--prompt", "hello"])
      assert.strictEqual(notAStep.code, 1)
      assert.include(notAStep.stderr, "output.json")
    }))

  it.live("run prints each evaluation's table and keeps the reports in the run directory, with a latest link", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const pipeline = Path.join(directory, "mt.yaml")
      yield* Effect.promise(() =>
        Fs.writeFile(
          pipeline,
          `name: mt\nsteps:\n  mt-bench:\n    uses: eval/benchmark\n    with:\n      benchmark: { uses: benchmark/mt-bench, with: { dir: ${
            Path.join(repositoryRoot, "../shared/data/eval/routellm")
          } } }\n      routers: [router/random, router/oracle]\n      seeds: 2\n`
        )
      )
      const cache = Path.join(directory, "cache")
      const result = yield* routellm(["run", pipeline], { cwd: directory, env: { ROUTELLM_CACHE_DIR: cache } })
      assert.strictEqual(result.code ?? 0, 0, result.stderr)
      assert.include(result.stdout, "== mt-bench (eval/benchmark)")
      assert.match(result.stdout, /random \(2 seeds\)\s+\d+\.\d+%/)
      assert.match(result.stdout, /oracle\s+\d+\.\d+%/)
      // The reports outlive the cache.
      yield* Effect.promise(() => Fs.rm(cache, { recursive: true, force: true }))
      const latest = Path.join(directory, "runs", "mt", "latest")
      const runs = yield* Effect.promise(() => Fs.readdir(Path.join(directory, "runs", "mt")))
      assert.strictEqual(runs.length, 2)
      assert.strictEqual(yield* Effect.promise(() => Fs.readlink(latest)), runs.find((name) => name !== "latest"))
      const reports = yield* Effect.promise(() => Fs.readdir(Path.join(latest, "reports", "mt-bench")))
      assert.deepStrictEqual(reports.sort(), ["plot.png", "plot.svg", "report.json", "report.md"])
      const markdown = yield* Effect.promise(() => Fs.readFile(Path.join(latest, "reports", "mt-bench", "report.md"), "utf8"))
      assert.include(markdown, "# Router evaluation: MT Bench")
    }))

  it.live("caches a second run and recomputes with --force", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const env = { ROUTELLM_CACHE_DIR: Path.join(directory, "cache") }
      const first = yield* routellm(["run", "pipelines/random-router.yaml", "--run-dir", Path.join(directory, "one")], { env })
      assert.strictEqual(first.code ?? 0, 0, first.stderr)
      const second = yield* routellm(["run", "pipelines/random-router.yaml", "--run-dir", Path.join(directory, "two")], { env })
      assert.strictEqual(second.code ?? 0, 0, second.stderr)
      const forced = yield* routellm(["run", "pipelines/random-router.yaml", "--force", "--run-dir", Path.join(directory, "three")], {
        env
      })
      assert.strictEqual(forced.code ?? 0, 0, forced.stderr)
      const [one, two, three] = [
        yield* readManifest(Path.join(directory, "one")),
        yield* readManifest(Path.join(directory, "two")),
        yield* readManifest(Path.join(directory, "three"))
      ]
      assert.isTrue(one.steps.every((step: { cached: boolean }) => !step.cached))
      assert.isTrue(two.steps.length > 0 && two.steps.every((step: { cached: boolean }) => step.cached))
      assert.isTrue(three.steps.every((step: { cached: boolean }) => !step.cached))
    }))

  it.live("resumes after a crash from the last completed step", () =>
    Effect.gen(function*() {
      const directory = yield* temporaryDirectory()
      const pipeline = Path.join(directory, "resume.yaml")
      yield* Effect.promise(() =>
        Fs.writeFile(
          pipeline,
          "plugins: [\"@routellm-test/plugin-example\"]\nsteps:\n  first:\n    uses: test/count\n    with: { n: 3 }\n  second:\n    uses: test/count\n    needs: first\n    with: { n: 7 }\n"
        )
      )
      const cache = Path.join(directory, "cache")
      const crashedRun = Path.join(directory, "crashed")
      // Start a run whose second step pauses, and kill the process once the first step is committed.
      const child = spawn(process.execPath, [binary, "run", pipeline, "--run-dir", crashedRun], {
        cwd: repositoryRoot,
        env: { ...process.env, ROUTELLM_CACHE_DIR: cache, ROUTELLM_TEST_PAUSE_MS: "60000", ROUTELLM_TEST_PAUSE_N: "7" },
        stdio: "ignore"
      })
      const exited = new Promise((resolve) => child.on("exit", resolve))
      yield* Effect.promise(async () => {
        for (let attempt = 0; attempt < 300; attempt++) {
          try {
            const manifest = JSON.parse(await Fs.readFile(Path.join(crashedRun, "manifest.json"), "utf8"))
            if (manifest.steps.some((step: { id: string }) => step.id === "first")) return
          } catch {
            // not written yet
          }
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
        throw new Error("the first step never completed")
      })
      child.kill("SIGKILL")
      yield* Effect.promise(() => exited)
      const crashed = yield* readManifest(crashedRun)
      assert.strictEqual(crashed.status, "running")
      assert.deepStrictEqual(crashed.steps.map((step: { id: string }) => step.id), ["first"])
      const resumed = yield* routellm(["run", pipeline, "--run-dir", Path.join(directory, "resumed")], {
        env: { ROUTELLM_CACHE_DIR: cache }
      })
      assert.strictEqual(resumed.code ?? 0, 0, resumed.stderr)
      const manifest = yield* readManifest(Path.join(directory, "resumed"))
      assert.deepStrictEqual(
        manifest.steps.map((step: { id: string; cached: boolean }) => [step.id, step.cached]),
        [["first", true], ["second", false]]
      )
      // second = 1..7 (28) + first's total (6)
      assert.strictEqual(manifest.steps[1].summary.total, 34)
    }))
})
