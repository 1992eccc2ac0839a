/**
 * Load benchmark of the routing server: N chat completions at concurrency C
 * sent through the router (model router-random-0.5) to a local upstream
 * stand-in, against the same requests sent straight to the upstream in the
 * same run. The upstream and the router each run in their own process, as in
 * a deployment; this process only generates load.
 *
 *   node --import tsx bench/server.ts [--requests 2000] [--concurrency 32] [--stream]
 *
 * Prints throughput, p50/p99 latency of each path, the added p50/p99 latency
 * and the error count, which must be 0 (the exit code is 1 otherwise).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "2000" },
    concurrency: { type: "string", default: "32" },
    stream: { type: "boolean", default: false },
    profile: { type: "string" },
    role: { type: "string" },
    upstream: { type: "string" }
  }
})

const self = fileURLToPath(import.meta.url)

/** Run a role in a child process and wait for the URL it prints. */
const startChild = (args: ReadonlyArray<string>, environment: NodeJS.ProcessEnv = {}, nodeFlags: ReadonlyArray<string> = []) =>
  new Promise<{ readonly child: ChildProcess; readonly url: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, ...nodeFlags, self, ...args], {
      env: { ...process.env, ...environment },
      // The child watches its stdin and exits when this process goes away, however it ends.
      stdio: ["pipe", "pipe", "inherit"]
    })
    let output = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString()
      const match = /URL (\S+)/.exec(output)
      if (match !== null) resolve({ child, url: match[1]! })
    })
    child.on("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}`)))
  })

/** Children report their CPU time on SIGUSR2: a per-request cost that a busy machine does not distort as much as latency. */
const reportCpu = () => {
  process.on("SIGUSR2", () => {
    const usage = process.cpuUsage()
    console.log(`CPU ${usage.user + usage.system}`)
  })
  process.stdin.on("end", () => process.exit(0))
  process.stdin.resume()
}

const cpuOf = (child: ChildProcess) =>
  new Promise<number>((resolve) => {
    const onData = (chunk: Buffer) => {
      const match = /CPU (\d+)/.exec(chunk.toString())
      if (match !== null) {
        child.stdout!.off("data", onData)
        resolve(Number(match[1]) / 1e6)
      }
    }
    child.stdout!.on("data", onData)
    child.kill("SIGUSR2")
  })

const runUpstream = async () => {
  reportCpu()
  const { start } = await import("../packages/server/test/support/UpstreamStandIn.ts")
  const upstream = await start("upstream", { tokens: 16 })
  console.log(`URL ${upstream.baseURL}`)
}

const runRouter = async (upstreamURL: string) => {
  // Exit normally on a signal so `node --cpu-prof` can write its profile.
  process.on("SIGINT", () => process.exit(0))
  reportCpu()
  const { ArtifactStore, PluginRegistry, RandomRouter } = await import("@routellm/core")
  const { Config, Metrics, Routing, Server } = await import("@routellm/server")
  const { Context, Effect, Layer, References } = await import("effect")
  const Os = await import("node:os")
  const Path = await import("node:path")
  const program = Effect.gen(function*() {
    const config = yield* Config.decode({
      strong: "strong-model",
      weak: "weak-model",
      routers: { random: { uses: "router/random", with: { seed: 0 } } },
      upstreams: {
        "strong-model": { baseURL: upstreamURL, apiKeyEnv: "BENCH_KEY", model: "upstream/strong" },
        "weak-model": { baseURL: upstreamURL, apiKeyEnv: "BENCH_KEY", model: "upstream/weak" }
      }
    })
    const context = yield* Layer.build(
      Server.Server.layer({ port: 0, host: "127.0.0.1" }).pipe(
        Layer.provide(Layer.mergeAll(Routing.Routing.layer(config, process.cwd()), Metrics.Metrics.layer)),
        Layer.provide(Layer.mergeAll(
          PluginRegistry.PluginRegistry.layer([RandomRouter.plugin]),
          ArtifactStore.ArtifactStore.layerAt(Path.join(Os.tmpdir(), "routellm-bench-cache"))
        ))
      )
    )
    const server = Context.get(context, Server.Server)
    console.log(`URL ${server.url}/v1`)
    return yield* Effect.never
  }).pipe(Effect.scoped, Effect.provideService(References.MinimumLogLevel, "Warn"))
  await Effect.runPromise(program)
}

const quantile = (sorted: Float64Array, q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))]!

interface Result {
  readonly seconds: number
  readonly latencies: Float64Array
  readonly errors: number
}

/** `requests` chat completions at `concurrency`; latency is until the last byte of the answer. */
const load = async (baseURL: string, model: string, requests: number, concurrency: number, stream: boolean): Promise<Result> => {
  const latencies = new Float64Array(requests)
  let next = 0
  let errors = 0
  const started = performance.now()
  const worker = async () => {
    for (let index = next++; index < requests; index = next++) {
      const begin = performance.now()
      try {
        const response = await fetch(`${baseURL}/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: "Bearer unused" },
          body: JSON.stringify({ model, stream, messages: [{ role: "user", content: `question ${index}: what is ${index} squared?` }] })
        })
        const text = await response.text()
        if (response.status !== 200 || (stream ? !text.endsWith("data: [DONE]\n\n") : !text.includes("upstream-t15"))) {
          if (errors++ === 0) console.error(`first error: ${response.status} ${text.slice(0, 300)}`)
        }
      } catch (error) {
        if (errors++ === 0) console.error(`first error: ${error instanceof Error ? `${error.message} ${String(error.cause ?? "")}` : String(error)}`)
      }
      latencies[index] = (performance.now() - begin) / 1000
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { seconds: (performance.now() - started) / 1000, latencies: latencies.sort(), errors }
}

const main = async () => {
  const requests = Number(values.requests)
  const concurrency = Number(values.concurrency)
  const stream = values.stream === true
  const upstream = await startChild(["--role", "upstream"])
  const router = await startChild(
    ["--role", "router", "--upstream", upstream.url],
    { BENCH_KEY: "sk-bench-key" },
    values.profile === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", values.profile]
  )
  try {
    // Warm both paths (connections, JIT) before measuring.
    await load(upstream.url, "upstream/strong", 200, concurrency, stream)
    await load(router.url, "router-random-0.5", 200, concurrency, stream)
    const upstreamCpu0 = await cpuOf(upstream.child)
    const direct = await load(upstream.url, "upstream/strong", requests, concurrency, stream)
    const upstreamCpu1 = await cpuOf(upstream.child)
    const routerCpu0 = await cpuOf(router.child)
    const routed = await load(router.url, "router-random-0.5", requests, concurrency, stream)
    const routerCpu1 = await cpuOf(router.child)
    const ms = (seconds: number) => `${(seconds * 1000).toFixed(2)} ms`
    const row = (name: string, result: Result) =>
      `${name.padEnd(8)} ${(requests / result.seconds).toFixed(0).padStart(7)} req/s   p50 ${ms(quantile(result.latencies, 0.5)).padStart(9)}   p99 ${
        ms(quantile(result.latencies, 0.99)).padStart(9)
      }   errors ${result.errors}`
    console.log(`server bench: ${requests} requests at concurrency ${concurrency}, ${stream ? "streaming" : "non-streaming"}, node ${process.version}`)
    console.log(row("direct", direct))
    console.log(row("router", routed))
    console.log(
      `added latency: p50 ${ms(quantile(routed.latencies, 0.5) - quantile(direct.latencies, 0.5))}, p99 ${
        ms(quantile(routed.latencies, 0.99) - quantile(direct.latencies, 0.99))
      }; throughput ratio router/direct ${(direct.seconds / routed.seconds).toFixed(2)}`
    )
    console.log(
      `CPU per request: upstream ${ms((upstreamCpu1 - upstreamCpu0) / requests)}, router process ${ms((routerCpu1 - routerCpu0) / requests)}`
    )
    const errors = direct.errors + routed.errors
    console.log(`errors: ${errors}`)
    if (errors > 0) process.exitCode = 1
  } finally {
    upstream.child.kill()
    // SIGINT lets the router exit normally, so --cpu-prof writes its profile.
    router.child.kill("SIGINT")
  }
}

if (values.role === "upstream") await runUpstream()
else if (values.role === "router") await runRouter(values.upstream!)
else await main()
