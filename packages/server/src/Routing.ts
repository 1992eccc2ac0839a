/**
 * Routing shared by the server and the in-process client: the routers named
 * in the serve config, built through the plugin registry, and the decision
 * for one chat request. `model: router-<name>-<threshold>` routes with a
 * fixed threshold, `router-<name>-s<percent>` asks the budget governor for a
 * share of strong calls, `router-<name>` uses the router's configured default
 * (a threshold, a share or a spend rate); a plain model name with an upstream
 * passes straight through. With escalate-only conversations, a conversation
 * that went to the strong model stays there.
 *
 * Two-model routers send a prompt to the strong model when its win rate is at
 * least the threshold. Multi-model routers (with `candidates`) read the
 * router's `modelScores` as Bradley-Terry logits, as the matrix factorisation
 * router defines them (P(a beats b) = sigmoid(s_a - s_b)), and pick the
 * cheapest candidate that no pricier candidate beats with probability at
 * least the threshold; with two candidates this is the two-model rule.
 */
import { Errors, ModelAliases, PipelineRunner, PluginRegistry, type Records, type Router } from "@routellm/core"
import { Context, Effect, Layer } from "effect"
import { invalidRequest, InvalidRequestError } from "./ApiError.ts"
import * as Config from "./Config.ts"
import * as Conversations from "./Conversations.ts"
import * as Governor from "./Governor.ts"

export interface CandidateModel {
  readonly name: string
  readonly price: number
  readonly scoreName: string
}

export interface LoadedRouter {
  readonly name: string
  readonly router: Router.RouterShape
  readonly pair: Records.ModelPair
  readonly routeOn: Config.RouteOn
  /** Sorted from the cheapest to the most expensive; undefined for two-model routing. */
  readonly candidates: ReadonlyArray<CandidateModel> | undefined
  readonly thresholds: ReadonlyArray<number>
}

export interface Decision {
  /** The router's name; undefined when the request named an upstream model directly. */
  readonly router: string | undefined
  /** The chosen model: a key of the config's upstreams. */
  readonly model: string
  readonly upstream: Config.Upstream
  readonly strong: boolean | undefined
  readonly winRate: number | undefined
  readonly threshold: number | undefined
  /** What the client asked for: the threshold's text, `s30`, or `spend`. */
  readonly target: string | undefined
  /** Sent to the strong model because an earlier turn of the conversation went there. */
  readonly escalated: boolean
  /** The text the router scored (already cut to maxRouteChars). */
  readonly prompt: string | undefined
  readonly routingSeconds: number
}

export interface RoutingShape {
  readonly config: Config.ServeConfig
  /** Where the config's relative paths resolve (its file's directory). */
  readonly baseDirectory: string
  readonly routers: ReadonlyMap<string, LoadedRouter>
  /** Model ids GET /v1/models lists: `router-<name>-<threshold>` for each listed threshold, then the upstream models. */
  readonly modelIds: ReadonlyArray<string>
  /** Route one chat request: its `model` field and its `messages`. */
  readonly decide: (model: unknown, messages: unknown) => Effect.Effect<Decision, InvalidRequestError | Errors.RouterError>
  /** The strong model's win rate by one router, without deciding (shadow routers). */
  readonly score: (router: string, prompt: string) => Effect.Effect<number, Errors.RouterError>
  /** Tell the governor what an answered routed call cost (spend targets). */
  readonly recordCost: (decision: Decision, dollars: number) => void
  readonly governor: Governor.GovernorShape
}

export class Routing extends Context.Service<Routing, RoutingShape>()("@routellm/server/Routing") {
  /**
   * Build the routers named in the config, the governor and the conversation
   * store (Redis when configured); relative paths resolve against `baseDirectory`.
   */
  static readonly layer = (config: Config.ServeConfig, baseDirectory: string) =>
    Layer.effect(
      Routing,
      Effect.gen(function*() {
        let shared: Governor.SharedStore | undefined
        let marks: Conversations.MarkStore | undefined
        if (config.redis !== undefined) {
          // Loaded only when configured: the Redis client is a large module tree.
          const RedisStore = yield* Effect.promise(() => import("./RedisStore.ts"))
          const stores = yield* RedisStore.make(config.redis).pipe(
            Effect.mapError((cause) =>
              new Config.ServeConfigError({
                where: "redis",
                issues: [{ path: "redis.url", message: `cannot connect to ${config.redis!.url}: ${Errors.format(cause)}` }]
              })
            )
          )
          shared = stores.shared
          marks = stores.marks
        }
        const governor = yield* Governor.make(config, baseDirectory, shared)
        const conversations = config.conversations === undefined || !config.conversations.escalateOnly
          ? undefined
          : Conversations.make(
            config.conversations,
            marks ?? Conversations.memoryStore(config.conversations.maxEntries),
            config.redis?.prefix ?? "routellm"
          )
        return yield* make(config, baseDirectory, governor, conversations)
      })
    )
}

const textOf = (content: unknown): string | undefined => {
  if (typeof content === "string") return content
  if (Array.isArray(content)) {
    const parts = content.flatMap((part) =>
      typeof part === "object" && part !== null && part.type === "text" && typeof part.text === "string" ? [part.text as string] : []
    )
    return parts.join("\n")
  }
  return undefined
}

/** Check that `messages` is a non-empty array of chat messages. */
export const checkMessages = (messages: unknown): Effect.Effect<ReadonlyArray<Record<string, unknown>>, InvalidRequestError> => {
  if (messages === undefined) return Effect.fail(invalidRequest("missing required parameter: messages", "messages", "missing_required_parameter"))
  if (!Array.isArray(messages) || messages.length === 0) {
    return Effect.fail(invalidRequest("messages must be a non-empty array of chat messages", "messages", "invalid_value"))
  }
  for (let index = 0; index < messages.length; index++) {
    const message = messages[index]
    if (typeof message !== "object" || message === null || typeof (message as { role?: unknown }).role !== "string") {
      return Effect.fail(invalidRequest(`messages[${index}] must be an object with a string role`, `messages[${index}]`, "invalid_value"))
    }
  }
  return Effect.succeed(messages as ReadonlyArray<Record<string, unknown>>)
}

/** The text a router scores: the last user turn, the first, or all user turns joined by blank lines. */
export const promptOf = (
  messages: ReadonlyArray<Record<string, unknown>>,
  routeOn: Config.RouteOn
): Effect.Effect<string, InvalidRequestError> => {
  const userTurns = messages.filter((message) => message.role === "user").map((message) => textOf(message.content) ?? "")
  if (userTurns.length === 0) {
    return Effect.fail(invalidRequest("messages has no user message to route on", "messages", "invalid_value"))
  }
  return Effect.succeed(
    routeOn === "first" ? userTurns[0]! : routeOn === "last" ? userTurns[userTurns.length - 1]! : userTurns.join("\n\n")
  )
}

/** Split `router-<name>-<threshold>` against the configured names (names may contain '-'; the longest match wins). */
export const parseRouterModel = (
  model: string,
  names: Iterable<string>
): { readonly name: string; readonly thresholdText: string } | undefined => {
  let best: string | undefined
  for (const name of names) {
    if (model.startsWith(`router-${name}-`) && (best === undefined || name.length > best.length)) best = name
  }
  return best === undefined ? undefined : { name: best, thresholdText: model.slice(`router-${best}-`.length) }
}

const sigmoid = (value: number) => 1 / (1 + Math.exp(-value))

/** Multi-model choice; returns the chosen index and the priciest-over-cheapest win rate. */
export const chooseCandidate = (
  scores: ReadonlyArray<number>,
  threshold: number
): { readonly index: number; readonly winRate: number } => {
  const last = scores.length - 1
  const winRate = sigmoid(scores[last]! - scores[0]!)
  for (let index = 0; index < last; index++) {
    let beaten = false
    for (let pricier = index + 1; pricier <= last; pricier++) {
      if (sigmoid(scores[pricier]! - scores[index]!) >= threshold) {
        beaten = true
        break
      }
    }
    if (!beaten) return { index, winRate }
  }
  return { index: last, winRate }
}

const loadRouter = Effect.fnUntraced(function*(
  name: string,
  entry: Config.RouterEntry,
  config: Config.ServeConfig,
  baseDirectory: string
) {
  const where = `routers.${name}`
  const artifact = Config.resolveArtifact(entry, baseDirectory)
  let router: Router.RouterShape
  if (artifact !== undefined) {
    const step = yield* PipelineRunner.readStep(artifact)
    const stored = { uses: step.uses, config: step.config, trained: step.input }
    if (entry.uses !== undefined && entry.uses !== stored.uses && `router/${entry.uses}` !== stored.uses) {
      return yield* new Config.ServeConfigError({
        where,
        issues: [{ path: `${where}.uses`, message: `${entry.uses} does not match the artifact's plugin ${stored.uses}` }]
      })
    }
    const raw = entry.with === undefined
      ? stored.config
      : { ...(stored.config as Record<string, unknown> | undefined), ...(entry.with as Record<string, unknown>) }
    router = yield* PluginRegistry.makeRouter(
      { uses: stored.uses, with: raw ?? {} },
      { baseDirectory: artifact, trained: stored.trained },
      where
    )
  } else {
    router = yield* PluginRegistry.makeRouter(Config.referenceOf(entry), { baseDirectory }, where)
  }
  let candidates: Array<CandidateModel> | undefined
  if (entry.candidates !== undefined) {
    if (router.modelScores === undefined) {
      return yield* new Config.ServeConfigError({
        where,
        issues: [{ path: `${where}.candidates`, message: `${router.id} has no modelScores, so it cannot choose among candidates` }]
      })
    }
    candidates = Object.entries(entry.candidates)
      .map(([model, candidate]) => ({ name: model, price: candidate.price, scoreName: candidate.scoreName ?? model }))
      .sort((left, right) => left.price - right.price || left.name.localeCompare(right.name))
  }
  const loaded: LoadedRouter = {
    name,
    router,
    pair: { strong: entry.strong ?? config.strong, weak: entry.weak ?? config.weak },
    routeOn: entry.routeOn ?? config.routeOn,
    candidates,
    thresholds: entry.thresholds ?? [0.5]
  }
  return loaded
})

const goalOf = (target: Config.Target): Governor.Goal | undefined => target._tag === "Share" ? { _tag: "Share", share: target.share } : undefined

export const make = Effect.fn("Routing.make")(function*(
  config: Config.ServeConfig,
  baseDirectory: string,
  governorOrMemory?: Governor.GovernorShape,
  conversations?: Conversations.ConversationsShape
) {
  const governor: Governor.GovernorShape = governorOrMemory ??
    { state: new Governor.State(config.governor.window, config.governor.initialShare), sync: Effect.void }
  const routers = new Map<string, LoadedRouter>()
  for (const [name, entry] of Object.entries(config.routers)) {
    routers.set(name, yield* loadRouter(name, entry, config, baseDirectory))
  }
  const upstreamOf = (model: string): Config.Upstream => config.upstreams[model]!
  const modelIds = [
    ...Object.entries(config.routers).flatMap(([name, entry]) => [
      ...(entry.default !== undefined || entry.dollarsPerHour !== undefined ? [`router-${name}`] : []),
      ...routers.get(name)!.thresholds.map((threshold) => `router-${name}-${threshold}`),
      ...(entry.shares ?? []).map((share) => `router-${name}-s${share}`)
    ]),
    ...Object.keys(config.upstreams)
  ]
  const state = governor.state

  const scoreCandidates = Effect.fnUntraced(function*(loaded: LoadedRouter, prompt: string) {
    const scores = yield* loaded.router.modelScores!(prompt)
    return yield* Effect.forEach(loaded.candidates!, (candidate) => {
      const key = scores.has(candidate.scoreName) ? candidate.scoreName : ModelAliases.find(scores.keys(), candidate.scoreName)
      return key === undefined
        ? Effect.fail(
          new Errors.RouterError({
            routerId: loaded.router.id,
            reason: `no score for candidate ${candidate.scoreName} (routers.${loaded.name}.candidates); it scores: ${[...scores.keys()].join(", ")}`
          })
        )
        : Effect.succeed(scores.get(key)!)
    })
  })

  // Untraced: this runs on every request.
  const decide = Effect.fnUntraced(function*(model: unknown, messages: unknown) {
    if (model === undefined) return yield* invalidRequest("missing required parameter: model", "model", "missing_required_parameter")
    if (typeof model !== "string") return yield* invalidRequest("model must be a string", "model", "invalid_value")
    const checked = yield* checkMessages(messages)
    if (!model.startsWith("router-")) {
      if (config.upstreams[model] === undefined) {
        return yield* invalidRequest(
          `unknown model "${model}"; use router-<router>-<threshold> (routers: ${[...routers.keys()].join(", ")}) or an upstream model (${
            Object.keys(config.upstreams).join(", ")
          })`,
          "model",
          "model_not_found"
        )
      }
      const passThrough: Decision = {
        router: undefined,
        model,
        upstream: upstreamOf(model),
        strong: undefined,
        winRate: undefined,
        threshold: undefined,
        target: undefined,
        escalated: false,
        prompt: undefined,
        routingSeconds: 0
      }
      return passThrough
    }
    // `router-<name>` exactly: the router's configured default.
    const exact = model.slice("router-".length)
    const parsed = routers.has(exact) ? { name: exact, thresholdText: undefined } : parseRouterModel(model, routers.keys())
    if (parsed === undefined) {
      return yield* invalidRequest(
        `unknown router in "${model}"; expected router-<router>-<threshold> or router-<router>-s<percent> with a router among: ${
          [...routers.keys()].join(", ")
        }`,
        "model",
        "router_not_found"
      )
    }
    const entry = config.routers[parsed.name]!
    const loaded = routers.get(parsed.name)!
    let target: Config.Target | undefined
    let goal: Governor.Goal | undefined
    let targetText: string
    if (parsed.thresholdText === undefined) {
      if (entry.dollarsPerHour !== undefined) {
        goal = { _tag: "Spend", dollarsPerHour: entry.dollarsPerHour }
        targetText = "spend"
      } else if (entry.default !== undefined) {
        target = Config.parseTarget(entry.default)!
        targetText = entry.default
      } else {
        return yield* invalidRequest(
          `"${model}" names no threshold and routers.${parsed.name} sets no default: use router-${parsed.name}-<threshold> (e.g. router-${parsed.name}-0.5) or router-${parsed.name}-s<percent> (e.g. router-${parsed.name}-s30)`,
          "model",
          "missing_threshold"
        )
      }
    } else {
      target = Config.parseTarget(parsed.thresholdText)
      targetText = parsed.thresholdText
      if (target === undefined) {
        return yield* invalidRequest(
          `threshold "${parsed.thresholdText}" in "${model}" must be a number in [0, 1] written as a plain decimal (e.g. 0.5), or a share s0..s100 (e.g. s30)`,
          "model",
          "invalid_threshold"
        )
      }
    }
    if (target !== undefined) goal = goalOf(target)
    if (goal !== undefined && loaded.candidates !== undefined) {
      return yield* invalidRequest(
        `"${model}": share and spend targets route between two models; routers.${parsed.name} chooses among candidates, so give it a threshold`,
        "model",
        "invalid_threshold"
      )
    }
    const full = yield* promptOf(checked, loaded.routeOn)
    const prompt = full.length > config.maxRouteChars ? full.slice(0, config.maxRouteChars) : full
    const started = performance.now()
    if (loaded.candidates !== undefined) {
      const threshold = (target as { readonly threshold: number }).threshold
      const scores = yield* scoreCandidates(loaded, prompt)
      const choice = chooseCandidate(scores, threshold)
      const chosen = loaded.candidates[choice.index]!
      const decision: Decision = {
        router: loaded.name,
        model: chosen.name,
        upstream: upstreamOf(chosen.name),
        strong: choice.index === loaded.candidates.length - 1,
        winRate: choice.winRate,
        threshold,
        target: targetText,
        escalated: false,
        prompt,
        routingSeconds: (performance.now() - started) / 1000
      }
      return decision
    }
    const winRate = yield* loaded.router.winRate(prompt)
    const threshold = goal === undefined ? (target as { readonly threshold: number }).threshold : state.threshold(loaded.name, goal)
    let strong = winRate >= threshold
    let escalated = false
    if (conversations !== undefined) {
      if (!strong && (yield* conversations.escalated(checked))) {
        strong = true
        escalated = true
      }
      if (strong && !escalated) yield* conversations.markStrong(checked)
    }
    state.record(loaded.name, winRate, goal, strong, Date.now())
    const chosen = strong ? loaded.pair.strong : loaded.pair.weak
    const decision: Decision = {
      router: loaded.name,
      model: chosen,
      upstream: upstreamOf(chosen),
      strong,
      winRate,
      threshold,
      target: goal === undefined ? targetText : Governor.goalKey(goal),
      escalated,
      prompt,
      routingSeconds: (performance.now() - started) / 1000
    }
    return decision
  })

  const score = (name: string, prompt: string) => routers.get(name)!.router.winRate(prompt.slice(0, config.maxRouteChars))

  const recordCost = (decision: Decision, dollars: number) => {
    if (decision.router !== undefined && decision.strong !== undefined) state.recordCost(decision.router, decision.strong, dollars)
  }

  return Routing.of({ config, baseDirectory, routers, modelIds, decide, score, recordCost, governor })
})

export { InvalidRequestError }
