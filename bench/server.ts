/**
 * Overhead of the routing server, side by side with direct calls in the same
 * run: every scenario sends the same chat completions straight to a local
 * upstream stand-in and through the router to it, and reports the latency
 * both ways, the router's added latency, and the router process's CPU time
 * per request. The upstream, the router and this load generator each run in
 * their own process, as in a deployment; connections are opened (warm-up)
 * before measuring. Each scenario runs `--runs` times and the medians are
 * printed, since the machine is shared.
 *
 *   node --conditions=source --import tsx bench/server.ts [--runs 3] [--quick] [--only name,...] [--profile DIR]
 *
 * Scenarios (targets of issue #13):
 *   c1          router/random, concurrency 1: added p50 < 1 ms
 *   c256        router/random, concurrency 256: router p99 <= 1.5 x direct p99
 *   stream      router/random, streaming, concurrency 32: time to first byte
 *   embedding   a USE-lite embedding router, concurrency 1 and 32: CPU per request
 *
 * Exit code 1 when any request failed.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    profile: { type: "string" },
    role: { type: "string" },
    upstream: { type: "string" },
    router: { type: "string" }
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
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /URL (\S+)/.exec(output)
      if (match !== null) {
        child.stdout!.off("data", onData)
        resolve({ child, url: match[1]! })
      }
    }
    child.stdout!.on("data", onData)
    child.on("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}`)))
  })

/** Children report their CPU time on SIGUSR2: a per-request cost that a busy machine distorts less than latency. */
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

const runRouter = async (upstreamURL: string, kind: string) => {
  // Exit normally on a signal so `node --cpu-prof` can write its profile.
  process.on("SIGINT", () => process.exit(0))
  reportCpu()
  const { ArtifactStore, PluginRegistry } = await import("@routellm/core")
  const { Config, Metrics, Routing, Server } = await import("@routellm/server")
  const TestRouter = await import("../packages/server/test/support/TestRouter.ts")
  const embedders = kind === "embedding" ? (await import("@routellm/embedders")).plugins : []
  const { Context, Effect, Layer, References } = await import("effect")
  const Os = await import("node:os")
  const Path = await import("node:path")
  const program = Effect.gen(function*() {
    const config = yield* Config.decode({
      strong: "strong-model",
      weak: "weak-model",
      routers: {
        random: { uses: "router/random", with: { seed: 0 } },
        ...(kind === "embedding" ? { embedding: { uses: "test/embedding", with: { embedder: "embedder/use-lite" } } } : {})
      },
      upstreams: {
        "strong-model": { baseURL: upstreamURL, apiKeyEnv: "BENCH_KEY", model: "upstream/strong" },
        "weak-model": { baseURL: upstreamURL, apiKeyEnv: "BENCH_KEY", model: "upstream/weak" }
      },
      requestLog: false
    })
    const context = yield* Layer.build(
      Server.Server.layer({ port: 0, host: "127.0.0.1" }).pipe(
        Layer.provide(Layer.mergeAll(Routing.Routing.layer(config, process.cwd()), Metrics.Metrics.layer)),
        Layer.provide(Layer.mergeAll(
          PluginRegistry.PluginRegistry.layer([...TestRouter.plugins, TestRouter.embeddingPlugin, ...embedders]),
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
  /** Until the last byte, sorted. */
  readonly latencies: Float64Array
  /** Until the first byte of the body, sorted. */
  readonly firstBytes: Float64Array
  readonly errors: number
}

/** `requests` chat completions at `concurrency`; each prompt is distinct, as in real traffic. */
const load = async (baseURL: string, model: string, requests: number, concurrency: number, stream: boolean, offset: number): Promise<Result> => {
  const latencies = new Float64Array(requests)
  const firstBytes = new Float64Array(requests)
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
          body: JSON.stringify({ model, stream, messages: [{ role: "user", content: `question ${offset + index}: what is ${index} squared?` }] })
        })
        const reader = response.body!.getReader()
        const decoder = new TextDecoder()
        let text = ""
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
          if (text === "") firstBytes[index] = (performance.now() - begin) / 1000
          text += decoder.decode(chunk.value, { stream: true })
        }
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
  return { seconds: (performance.now() - started) / 1000, latencies: latencies.sort(), firstBytes: firstBytes.sort(), errors }
}

interface Scenario {
  readonly name: string
  readonly router: "random" | "embedding"
  readonly concurrency: number
  readonly requests: number
  readonly stream: boolean
}

interface Measured {
  readonly direct: Result
  readonly routed: Result
  /** CPU seconds of the router process per request. */
  readonly routerCpu: number
  readonly upstreamCpu: number
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((left, right) => left - right)
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}

const main = async () => {
  const runs = Math.max(1, Number(values.runs))
  const scale = values.quick ? 0.25 : 1
  const scenarios: ReadonlyArray<Scenario> = [
    { name: "c1", router: "random", concurrency: 1, requests: Math.round(2000 * scale), stream: false },
    { name: "c256", router: "random", concurrency: 256, requests: Math.round(6000 * scale), stream: false },
    { name: "stream", router: "random", concurrency: 32, requests: Math.round(3000 * scale), stream: true },
    { name: "embedding-c1", router: "embedding", concurrency: 1, requests: Math.round(1000 * scale), stream: false },
    { name: "embedding-c32", router: "embedding", concurrency: 32, requests: Math.round(2000 * scale), stream: false }
  ]
  const only = values.only?.split(",")
  const chosen = scenarios.filter((scenario) => only === undefined || only.some((name) => scenario.name.startsWith(name)))
  const upstream = await startChild(["--role", "upstream"])
  const routers = new Map<string, { readonly child: ChildProcess; readonly url: string }>()
  const rows: Array<string> = []
  let failures = 0
  let offset = 0
  try {
    for (const scenario of chosen) {
      let router = routers.get(scenario.router)
      if (router === undefined) {
        router = await startChild(
          ["--role", "router", "--upstream", upstream.url, "--router", scenario.router],
          { BENCH_KEY: "sk-bench-key" },
          values.profile === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", values.profile]
        )
        routers.set(scenario.router, router)
      }
      const model = `router-${scenario.router}-0.5`
      // Enough for the JIT to settle and every connection to be open.
      const warm = Math.max(1000, 2 * scenario.concurrency)
      await load(upstream.url, "upstream/strong", warm, scenario.concurrency, scenario.stream, offset += warm)
      await load(router.url, model, warm, scenario.concurrency, scenario.stream, offset += warm)
      const measured: Array<Measured> = []
      for (let run = 0; run < runs; run++) {
        const upstreamBefore = await cpuOf(upstream.child)
        const direct = await load(upstream.url, "upstream/strong", scenario.requests, scenario.concurrency, scenario.stream, offset += scenario.requests)
        const upstreamAfter = await cpuOf(upstream.child)
        const routerBefore = await cpuOf(router.child)
        const routed = await load(router.url, model, scenario.requests, scenario.concurrency, scenario.stream, offset += scenario.requests)
        const routerAfter = await cpuOf(router.child)
        failures += direct.errors + routed.errors
        measured.push({
          direct,
          routed,
          routerCpu: (routerAfter - routerBefore) / scenario.requests,
          upstreamCpu: (upstreamAfter - upstreamBefore) / scenario.requests
        })
      }
      const of = (pick: (item: Measured) => number) => median(measured.map(pick))
      const ms = (seconds: number) => (seconds * 1000).toFixed(2)
      const latency = (result: Result, q: number) => quantile(scenario.stream ? result.firstBytes : result.latencies, q)
      const directP50 = of((item) => latency(item.direct, 0.5))
      const routedP50 = of((item) => latency(item.routed, 0.5))
      const directP99 = of((item) => latency(item.direct, 0.99))
      const routedP99 = of((item) => latency(item.routed, 0.99))
      const what = scenario.stream ? "TTFB" : "latency"
      rows.push(
        `| ${scenario.name} | ${scenario.router} | ${scenario.concurrency} | ${scenario.stream ? "yes" : "no"} | ${what} | ${ms(directP50)} / ${
          ms(routedP50)
        } | ${ms(routedP50 - directP50)} | ${ms(directP99)} / ${ms(routedP99)} | ${(routedP99 / directP99).toFixed(2)} | ${
          of((item) => scenario.requests / item.direct.seconds).toFixed(0)
        } / ${of((item) => scenario.requests / item.routed.seconds).toFixed(0)} | ${ms(of((item) => item.routerCpu))} |`
      )
      console.log(`${scenario.name}: done (${runs} runs of ${scenario.requests} requests)`)
    }
  } finally {
    upstream.child.kill()
    // SIGINT lets the routers exit normally, so --cpu-prof writes their profiles.
    for (const router of routers.values()) router.child.kill("SIGINT")
  }
  console.log(`\nserver bench: medians of ${runs} runs; node ${process.version}; times in ms (direct / router)\n`)
  console.log("| scenario | router | concurrency | stream | measured | p50 | added p50 | p99 | p99 ratio | req/s | router CPU per request |")
  console.log("|---|---|---|---|---|---|---|---|---|---|---|")
  for (const row of rows) console.log(row)
  console.log(`\nerrors: ${failures}`)
  if (failures > 0) process.exitCode = 1
}

if (values.role === "upstream") await runUpstream()
else if (values.role === "router") await runRouter(values.upstream!, values.router ?? "random")
else await main()
