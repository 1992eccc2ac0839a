/**
 * @routellm/augment: golden labels, LLM-as-judge labels, cross-fitted
 * in-domain evaluation, held-out splits and per-source weights of training
 * battles.
 */
import type { Plugin } from "@routellm/core"
import * as CrossFit from "./CrossFit.ts"
import * as GoldenLabels from "./GoldenLabels.ts"
import * as LlmJudge from "./LlmJudge.ts"
import * as Reweight from "./Reweight.ts"
import * as Split from "./Split.ts"

export * as AnswerExtraction from "./AnswerExtraction.ts"
export * as ChatClient from "./ChatClient.ts"
export * as CrossFit from "./CrossFit.ts"
export * as GoldenLabels from "./GoldenLabels.ts"
export * as LlmJudge from "./LlmJudge.ts"
export * as Outcomes from "./Outcomes.ts"
export * as RateLimiter from "./RateLimiter.ts"
export * as Reweight from "./Reweight.ts"
export * as Split from "./Split.ts"

/** The plugins this package contributes, registered by the CLI. */
export const plugins: ReadonlyArray<Plugin.Any> = [GoldenLabels.plugin, LlmJudge.plugin, CrossFit.plugin, Split.plugin, Reweight.plugin]
