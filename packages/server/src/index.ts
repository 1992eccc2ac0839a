/**
 * @routellm/server: the OpenAI-compatible routing server (`routellm serve`)
 * and the in-process client (`new RouteLLM({ config })`).
 */
import type { Plugin } from "@routellm/core"
import * as Traffic from "./Traffic.ts"

export * as ApiError from "./ApiError.ts"
export * as Client from "./Client.ts"
export { RouteLLM } from "./Client.ts"
export * as Config from "./Config.ts"
export * as Conversations from "./Conversations.ts"
export * as DecisionLog from "./DecisionLog.ts"
export * as Governor from "./Governor.ts"
export * as Metrics from "./Metrics.ts"
export * as Routing from "./Routing.ts"
export * as Server from "./Server.ts"
export * as Traffic from "./Traffic.ts"
export * as Upstream from "./Upstream.ts"

/** The plugins that learn from the server's decision log (pipelines/from-traffic.yaml). */
export const plugins: ReadonlyArray<Plugin.Any> = Traffic.plugins
