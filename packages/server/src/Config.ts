/**
 * The serve config (`serve.yaml`): the routers to load, the strong and weak
 * models, the OpenAI-compatible upstream behind every model name (with its
 * prices), and the production features: retries and fallbacks, the budget
 * governor, escalate-only conversations, the decision log, CORS and client
 * keys. It is checked by a Schema and then for consistency (every model a
 * router can pick has an upstream, every named environment variable is set);
 * each problem names its field.
 */
import { Files, Plugin, Records } from "@routellm/core"
import { Effect, Schema, SchemaIssue } from "effect"
import * as Path from "node:path"
import * as Yaml from "yaml"

/** Which user turns a router scores: the last (default), the first, or all of them joined. */
export const RouteOn = Schema.Literals(["last", "first", "all"])
export type RouteOn = typeof RouteOn.Type

const PositiveInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))
const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

export const Candidate = Schema.Struct({
  price: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)).annotate({
    description: "Cost of the model in any consistent unit (e.g. $ per 1M tokens); orders the candidates from cheap to expensive"
  }),
  scoreName: Schema.optionalKey(Schema.String).annotate({
    description: "The model's name in the router's modelScores (default: the candidate name, matched through ModelAliases)"
  })
})
export type Candidate = typeof Candidate.Type

/** Dollars per million tokens, as providers price them. */
export const Price = Schema.Struct({
  inputPerMillion: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)).annotate({ description: "$ per 1M prompt tokens" }),
  outputPerMillion: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)).annotate({ description: "$ per 1M completion tokens" })
})
export type Price = typeof Price.Type

export const RouterEntry = Schema.Struct({
  uses: Schema.optionalKey(Schema.String).annotate({ description: "Router plugin id (router/random, router/sw, router/mf, ...)" }),
  with: Schema.optionalKey(Schema.Unknown).annotate({ description: "The plugin's config, checked by its Schema" }),
  artifact: Schema.optionalKey(Schema.String).annotate({
    description: "A trained router: the directory of a pipeline training step (holds output.json), e.g. runs/x/steps/train"
  }),
  strong: Schema.optionalKey(Schema.String).annotate({ description: "Strong model for this router (default: the top-level strong)" }),
  weak: Schema.optionalKey(Schema.String).annotate({ description: "Weak model for this router (default: the top-level weak)" }),
  candidates: Schema.optionalKey(Schema.Record(Schema.String, Candidate)).annotate({
    description: "Multi-model routing: the models this router chooses between, with prices (needs a router with modelScores)"
  }),
  routeOn: Schema.optionalKey(RouteOn),
  thresholds: Schema.optionalKey(Schema.Array(Records.Threshold)).annotate({
    description: "Thresholds listed by GET /v1/models as router-<name>-<threshold> (any threshold is accepted)"
  }),
  shares: Schema.optionalKey(Schema.Array(Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 100 })))).annotate({
    description: "Strong-call shares in percent listed by GET /v1/models as router-<name>-s<percent> (any share is accepted)"
  }),
  default: Schema.optionalKey(Schema.String).annotate({
    description: "What `model: router-<name>` (no suffix) means: a threshold such as \"0.42\" or a share such as \"s30\""
  }),
  dollarsPerHour: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThan(0))).annotate({
    description: "Spend target: `model: router-<name>` routes so the strong/weak spend holds this rate (needs prices)"
  })
})
export type RouterEntry = typeof RouterEntry.Type

export const Upstream = Schema.Struct({
  baseURL: Schema.String.annotate({ description: "OpenAI-compatible base URL, e.g. https://api.openai.com/v1" }),
  apiKeyEnv: Schema.optionalKey(Schema.String).annotate({
    description: "Environment variable holding the API key (sent as a bearer token; never logged)"
  }),
  model: Schema.optionalKey(Schema.String).annotate({ description: "Model id sent upstream (default: the model name)" }),
  timeoutMs: Schema.optionalKey(PositiveInt).annotate({ description: "Overrides the top-level timeoutMs for this upstream" }),
  price: Schema.optionalKey(Price).annotate({ description: "Prices for cost accounting, spend targets and the saving against the strong model" }),
  maxSockets: Schema.optionalKey(PositiveInt).annotate({ description: "Most connections open to this upstream at once (default: no limit)" })
})
export type Upstream = typeof Upstream.Type

export const Retry = Schema.Struct({
  attempts: NonNegativeInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(2))).annotate({
    description: "Retries after the first attempt for 429, 5xx, connection errors and timeouts"
  }),
  initialDelayMs: NonNegativeInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(250))),
  maxDelayMs: NonNegativeInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(4000))).annotate({
    description: "Cap on the backoff between retries"
  }),
  retryAfterLimitMs: NonNegativeInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(5000))).annotate({
    description: "Longest upstream Retry-After the server waits for; a longer one is answered at once (429 with the Retry-After)"
  })
})
export type Retry = typeof Retry.Type

export const Governor = Schema.Struct({
  window: Schema.Int.check(Schema.isGreaterThanOrEqualTo(10)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(1000))).annotate({
    description: "Decisions per router (and per share or spend target) the governor keeps to set thresholds and measure shares"
  }),
  statePath: Schema.optionalKey(Schema.String).annotate({
    description: "File (relative to the config) that keeps the governor's windows across restarts; Redis replaces it when configured"
  }),
  syncIntervalMs: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(1000))).annotate({
    description: "How often the state is written to statePath or exchanged with Redis"
  }),
  initialShare: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 })).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(0.5))
  ).annotate({ description: "Strong share of a spend target until enough calls have been costed" })
})
export type Governor = typeof Governor.Type

export const Redis = Schema.Struct({
  url: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("redis://127.0.0.1:6379"))),
  prefix: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("routellm"))).annotate({
    description: "Key prefix: replicas with the same prefix share governor state and conversations"
  })
})
export type Redis = typeof Redis.Type

export const Conversations = Schema.Struct({
  escalateOnly: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))).annotate({
    description: "Once a conversation went to the strong model, its later turns stay there"
  }),
  maxEntries: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(100_000))),
  ttlSeconds: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(86_400)))
})
export type Conversations = typeof Conversations.Type

export const DecisionLog = Schema.Struct({
  path: Schema.String.annotate({ description: "JSONL file the decisions are appended to (relative to the config)" }),
  includePrompt: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(false))).annotate({
    description: "Write the routed prompt text (needed by pipelines/from-traffic.yaml); otherwise only its hash"
  }),
  shadowRouters: Schema.Array(Schema.String).pipe(Schema.withDecodingDefaultKey(Effect.succeed([]))).annotate({
    description: "Routers that score every routed prompt for the log but are never obeyed"
  })
})
export type DecisionLog = typeof DecisionLog.Type

export const Cors = Schema.Struct({
  origins: Schema.Array(Schema.String).annotate({ description: "Browser origins allowed to call the server, e.g. http://localhost:3000" })
})
export type Cors = typeof Cors.Type

export const ServeConfig = Schema.Struct({
  strong: Schema.String.annotate({ description: "The strong (expensive) model: a key of upstreams" }),
  weak: Schema.String.annotate({ description: "The weak (cheap) model: a key of upstreams" }),
  routers: Schema.Record(Schema.String, RouterEntry).annotate({
    description: "Routers by name; `model: router-<name>-<threshold>` selects one"
  }),
  upstreams: Schema.Record(Schema.String, Upstream),
  routeOn: RouteOn.pipe(Schema.withDecodingDefaultKey(Effect.succeed("last" as const))),
  host: Schema.optionalKey(Schema.String),
  port: Schema.optionalKey(NonNegativeInt),
  authTokenEnv: Schema.optionalKey(Schema.String).annotate({
    description: "When set, clients must send `Authorization: Bearer <token>` with the token in this environment variable"
  }),
  clientKeys: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)).annotate({
    description: "Named client API keys (name: environment variable); costs are counted per name. Any key set turns auth on"
  }),
  maxBodyBytes: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(4 * 1024 * 1024))),
  maxRouteChars: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(32_768))).annotate({
    description: "The text a router scores is cut to this many characters (routers read a few hundred tokens at most)"
  }),
  timeoutMs: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(120_000))).annotate({
    description: "Upstream timeout: until the response headers (streaming) or the whole body (non-streaming)"
  }),
  streamIdleTimeoutMs: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(60_000))).annotate({
    description: "A stream whose upstream sends nothing for this long ends with an error event"
  }),
  streamUsage: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))).annotate({
    description: "Ask streaming upstreams for token usage (stream_options.include_usage) for cost accounting"
  }),
  retry: Retry.pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
  fallbacks: Schema.optionalKey(Schema.Record(Schema.String, Schema.Array(Schema.String))).annotate({
    description: "Per model, the models tried in turn after its retries fail (e.g. strong-model: [weak-model])"
  }),
  governor: Governor.pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
  redis: Schema.optionalKey(Redis).annotate({ description: "Share governor state and conversations between replicas" }),
  conversations: Schema.optionalKey(Conversations),
  decisionLog: Schema.optionalKey(DecisionLog),
  cors: Schema.optionalKey(Cors).annotate({ description: "Off by default: browsers cannot call the server" }),
  requestLog: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))).annotate({
    description: "Log one line per request"
  }),
  shutdownTimeoutMs: NonNegativeInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(10_000))).annotate({
    description: "On shutdown, how long in-flight requests may take to finish"
  })
})
export type ServeConfig = typeof ServeConfig.Type
export type ServeConfigInput = typeof ServeConfig.Encoded

export interface Issue {
  readonly path: string
  readonly message: string
}

/** The serve config is invalid; each issue names its field. */
export class ServeConfigError extends Schema.TaggedError<ServeConfigError>()("ServeConfigError", {
  where: Schema.String,
  issues: Schema.Array(Schema.Struct({ path: Schema.String, message: Schema.String }))
}) {
  override get message(): string {
    return `${this.where}: invalid serve config:\n${
      this.issues.map((issue) => `  - ${issue.path === "" ? "(config)" : issue.path}: ${issue.message}`).join("\n")
    }`
  }
}

const standardFormatter = SchemaIssue.makeFormatterStandardSchemaV1()

const pathOf = (segments: ReadonlyArray<unknown>) =>
  segments.map((segment) => typeof segment === "object" && segment !== null && "key" in segment ? String(segment.key) : String(segment)).join(".")

/** The cross-field checks the Schema cannot express. */
const consistencyIssues = (config: ServeConfig, environment: NodeJS.ProcessEnv): Array<Issue> => {
  const issues: Array<Issue> = []
  const upstreamNames = Object.keys(config.upstreams)
  const requireUpstream = (path: string, model: string) => {
    if (config.upstreams[model] === undefined) {
      issues.push({ path, message: `"${model}" has no upstream; configured upstreams: ${upstreamNames.join(", ") || "(none)"}` })
    }
  }
  requireUpstream("strong", config.strong)
  requireUpstream("weak", config.weak)
  for (const [name, entry] of Object.entries(config.routers)) {
    const at = `routers.${name}`
    if (!/^[A-Za-z0-9_.]+(-[A-Za-z0-9_.]+)*$/.test(name)) {
      issues.push({ path: at, message: "router names use letters, digits, '_', '.' and single '-' between them" })
    }
    if (entry.uses === undefined && entry.artifact === undefined) {
      issues.push({ path: at, message: "needs `uses` (a router plugin id) or `artifact` (a trained router directory)" })
    }
    if (entry.strong !== undefined) requireUpstream(`${at}.strong`, entry.strong)
    if (entry.weak !== undefined) requireUpstream(`${at}.weak`, entry.weak)
    if (entry.candidates !== undefined) {
      const names = Object.keys(entry.candidates)
      if (names.length < 2) issues.push({ path: `${at}.candidates`, message: "name at least two candidate models" })
      for (const candidate of names) requireUpstream(`${at}.candidates.${candidate}`, candidate)
    }
    if (entry.default !== undefined && parseTarget(entry.default) === undefined) {
      issues.push({ path: `${at}.default`, message: `"${entry.default}" is neither a threshold in [0, 1] nor a share s0..s100` })
    }
    if (entry.dollarsPerHour !== undefined) {
      if (entry.default !== undefined) issues.push({ path: `${at}.dollarsPerHour`, message: "set either default or dollarsPerHour" })
      if (entry.candidates !== undefined) issues.push({ path: `${at}.dollarsPerHour`, message: "spend targets route between two models" })
      for (const model of [entry.strong ?? config.strong, entry.weak ?? config.weak]) {
        if (config.upstreams[model] !== undefined && config.upstreams[model]!.price === undefined) {
          issues.push({ path: `${at}.dollarsPerHour`, message: `needs a price for ${model} (upstreams.${model}.price)` })
        }
      }
    }
  }
  for (const [model, chain] of Object.entries(config.fallbacks ?? {})) {
    requireUpstream(`fallbacks.${model}`, model)
    chain.forEach((next, index) => {
      requireUpstream(`fallbacks.${model}.${index}`, next)
      if (next === model) issues.push({ path: `fallbacks.${model}.${index}`, message: "a model cannot fall back to itself" })
    })
  }
  for (const [index, name] of (config.decisionLog?.shadowRouters ?? []).entries()) {
    if (config.routers[name] === undefined) {
      issues.push({ path: `decisionLog.shadowRouters.${index}`, message: `no router "${name}"; routers: ${Object.keys(config.routers).join(", ")}` })
    }
  }
  for (const [name, variable] of Object.entries(config.clientKeys ?? {})) {
    if (!environment[variable]) issues.push({ path: `clientKeys.${name}`, message: `environment variable ${variable} is not set` })
  }
  if (config.redis !== undefined && !/^rediss?:\/\//.test(config.redis.url)) {
    issues.push({ path: "redis.url", message: `not a redis:// URL: ${config.redis.url}` })
  }
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    try {
      const url = new URL(upstream.baseURL)
      if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("not http(s)")
    } catch {
      issues.push({ path: `upstreams.${name}.baseURL`, message: `not an http(s) URL: ${upstream.baseURL}` })
    }
    if (upstream.apiKeyEnv !== undefined && !environment[upstream.apiKeyEnv]) {
      issues.push({ path: `upstreams.${name}.apiKeyEnv`, message: `environment variable ${upstream.apiKeyEnv} is not set` })
    }
  }
  if (config.authTokenEnv !== undefined && !environment[config.authTokenEnv]) {
    issues.push({ path: "authTokenEnv", message: `environment variable ${config.authTokenEnv} is not set` })
  }
  return issues
}

/**
 * Check a config value (parsed YAML or an object literal). `where` names the
 * source in errors; `environment` is where API keys and the auth token live.
 */
export const decode = (
  raw: unknown,
  where = "serve config",
  environment: NodeJS.ProcessEnv = process.env
): Effect.Effect<ServeConfig, ServeConfigError> =>
  Schema.decodeUnknownEffect(ServeConfig)(raw, { errors: "all", onExcessProperty: "error" }).pipe(
    Effect.mapError((error) =>
      new ServeConfigError({
        where,
        issues: standardFormatter(error.issue).issues.map((issue) => ({
          path: pathOf(issue.path ?? []),
          message: issue.message
        }))
      })
    ),
    Effect.flatMap((config) => {
      const issues = consistencyIssues(config, environment)
      return issues.length === 0 ? Effect.succeed(config) : Effect.fail(new ServeConfigError({ where, issues }))
    })
  )

/** Read and check a YAML or JSON serve config file. */
export const load = (file: string, environment: NodeJS.ProcessEnv = process.env) =>
  Effect.gen(function*() {
    const text = yield* Files.readText(file, "--config")
    const raw = yield* Effect.try({
      try: () => Yaml.parse(text) as unknown,
      catch: (error) =>
        new ServeConfigError({
          where: file,
          issues: [{ path: "", message: `not YAML: ${error instanceof Error ? error.message : String(error)}` }]
        })
    })
    return yield* decode(raw, file, environment)
  })

/** What a client asks of a router: a fixed threshold, or a share of strong calls the governor holds. */
export type Target =
  | { readonly _tag: "Threshold"; readonly threshold: number }
  | { readonly _tag: "Share"; readonly share: number }

/**
 * Read a threshold (`0.5`, `1`, `0.11593`: plain decimals in [0, 1]) or a
 * share in percent (`s30`, `s12.5`). Hexadecimal, exponents, signs and
 * spaces are refused, so `0x1`, `1e-1` and ` 0.5` are not thresholds.
 */
export const parseTarget = (text: string): Target | undefined => {
  const share = /^s(\d{1,3}(?:\.\d+)?)$/.exec(text)
  if (share !== null) {
    const percent = Number(share[1])
    return percent <= 100 ? { _tag: "Share", share: percent / 100 } : undefined
  }
  if (!/^\d+(?:\.\d+)?$/.test(text)) return undefined
  const threshold = Number(text)
  return threshold <= 1 ? { _tag: "Threshold", threshold } : undefined
}

/** The plugin reference of a router entry that names a plugin directly. */
export const referenceOf = (entry: RouterEntry): Plugin.Reference => ({ uses: entry.uses!, with: entry.with ?? {} })

/** Relative artifact paths resolve against the config file's directory. */
export const resolveArtifact = (entry: RouterEntry, baseDirectory: string): string | undefined =>
  entry.artifact === undefined ? undefined : Path.resolve(baseDirectory, entry.artifact)

/** Dollars of one call from its token counts; undefined without a price. */
export const dollarsOf = (price: Price | undefined, promptTokens: number, completionTokens: number): number | undefined =>
  price === undefined ? undefined : (promptTokens * price.inputPerMillion + completionTokens * price.outputPerMillion) / 1e6
