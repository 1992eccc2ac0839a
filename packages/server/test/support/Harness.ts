/**
 * Starting the real routing server in a test: the test router plugin and
 * router/random in the registry, a temporary artifact store, logs off.
 */
import { ArtifactStore, PluginRegistry } from "@routellm/core"
import { Context, Effect, Layer, Logger, References } from "effect"
import * as Os from "node:os"
import * as Path from "node:path"
import OpenAI from "openai"
import * as Config from "../../src/Config.ts"
import { Metrics } from "../../src/Metrics.ts"
import { Routing } from "../../src/Routing.ts"
import { Server } from "../../src/Server.ts"
import * as TestRouter from "./TestRouter.ts"
import * as UpstreamStandIn from "./UpstreamStandIn.ts"

export const environment: NodeJS.ProcessEnv = {
  STRONG_KEY: "sk-strong-secret-1234",
  WEAK_KEY: "sk-weak-secret-5678",
  ROUTELLM_TOKEN: "token-for-clients-9999"
}

export const services = Layer.mergeAll(
  PluginRegistry.PluginRegistry.layer(TestRouter.plugins),
  ArtifactStore.ArtifactStore.layerAt(Path.join(Os.tmpdir(), "routellm-server-test-cache"))
)

export const standIn = (name: string, behaviour: UpstreamStandIn.Behaviour = {}) =>
  Effect.acquireRelease(
    Effect.promise(() => UpstreamStandIn.start(name, behaviour)),
    (upstream) => Effect.promise(() => upstream.close())
  )

/** The usual two upstreams and routers; `extra` overrides top-level fields. */
export const configFor = (
  strong: UpstreamStandIn.StandIn,
  weak: UpstreamStandIn.StandIn,
  extra: Partial<Config.ServeConfigInput> = {}
): Config.ServeConfigInput => ({
  strong: "strong-model",
  weak: "weak-model",
  routers: {
    fixed: { uses: "test/fixed", thresholds: [0.5, 0.8] },
    "fixed-first": { uses: "test/fixed", routeOn: "first" },
    random: { uses: "router/random", with: { seed: 7 } }
  },
  upstreams: {
    "strong-model": { baseURL: strong.baseURL, apiKeyEnv: "STRONG_KEY", model: "upstream/strong-1" },
    "weak-model": { baseURL: weak.baseURL, apiKeyEnv: "WEAK_KEY", model: "upstream/weak-1" }
  },
  retry: { attempts: 2, initialDelayMs: 10, maxDelayMs: 50 },
  timeoutMs: 5000,
  ...extra
})

export const serverLayer = (config: Config.ServeConfig, baseDirectory = process.cwd(), env: NodeJS.ProcessEnv = environment) =>
  Server.layer({ port: 0, host: "127.0.0.1", environment: env }).pipe(
    Layer.provideMerge(Layer.mergeAll(Routing.layer(config, baseDirectory), Metrics.layer)),
    Layer.provide(services)
  )

/** Start the server on a free port for the rest of the test's scope; `logs` collects its log lines (else none are written). */
export const serve = (input: Config.ServeConfigInput, baseDirectory?: string, logs?: Array<string>, env: NodeJS.ProcessEnv = environment) =>
  Effect.gen(function*() {
    const config = yield* Config.decode(input, "test config", env)
    const context = yield* Layer.build(serverLayer(config, baseDirectory, env))
    return { server: Context.get(context, Server), metrics: Context.get(context, Metrics), routing: Context.get(context, Routing) }
  }).pipe(
    logs === undefined
      ? Effect.provideService(References.MinimumLogLevel, "None")
      : Effect.provide(Logger.layer([Logger.make((options) => {
        logs.push((Array.isArray(options.message) ? options.message : [options.message]).map(String).join(" "))
      })]))
  )

export const openai = (url: string, apiKey = "unused") => new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 })

/** The rejection of a promise that must fail. */
export const failure = <A>(promise: () => Promise<A>) =>
  Effect.promise(() => promise().then(() => new Error("expected a failure, got a success"), (error: unknown) => error))
