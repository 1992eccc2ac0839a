/**
 * The serve config (`serve.yaml`): the routers to load, the strong and weak
 * models, and the OpenAI-compatible upstream behind every model name. It is
 * checked by a Schema and then for consistency (every model a router can pick
 * has an upstream, every named environment variable is set); each problem
 * names its field.
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
  })
})
export type RouterEntry = typeof RouterEntry.Type

export const Upstream = Schema.Struct({
  baseURL: Schema.String.annotate({ description: "OpenAI-compatible base URL, e.g. https://api.openai.com/v1" }),
  apiKeyEnv: Schema.optionalKey(Schema.String).annotate({
    description: "Environment variable holding the API key (sent as a bearer token; never logged)"
  }),
  model: Schema.optionalKey(Schema.String).annotate({ description: "Model id sent upstream (default: the model name)" }),
  timeoutMs: Schema.optionalKey(PositiveInt).annotate({ description: "Overrides the top-level timeoutMs for this upstream" })
})
export type Upstream = typeof Upstream.Type

export const Retry = Schema.Struct({
  attempts: NonNegativeInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(2))).annotate({
    description: "Retries after the first attempt for 429, 5xx, connection errors and timeouts"
  }),
  initialDelayMs: NonNegativeInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(250))),
  maxDelayMs: NonNegativeInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(4000)))
})
export type Retry = typeof Retry.Type

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
  maxBodyBytes: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(4 * 1024 * 1024))),
  timeoutMs: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(120_000))).annotate({
    description: "Upstream timeout: until the response headers (streaming) or the whole body (non-streaming)"
  }),
  retry: Retry.pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
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

/** The plugin reference of a router entry that names a plugin directly. */
export const referenceOf = (entry: RouterEntry): Plugin.Reference => ({ uses: entry.uses!, with: entry.with ?? {} })

/** Relative artifact paths resolve against the config file's directory. */
export const resolveArtifact = (entry: RouterEntry, baseDirectory: string): string | undefined =>
  entry.artifact === undefined ? undefined : Path.resolve(baseDirectory, entry.artifact)
