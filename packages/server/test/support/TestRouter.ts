/**
 * A router whose answers the test controls: the prompt carries its win rate
 * (`winrate=0.7`) and, for multi-model routing, its model scores
 * (`scores=cheap:0,mid:1`). A trained artifact may add `offset` to the win rate.
 */
import { Errors, Plugin, PluginRegistry, RandomRouter } from "@routellm/core"
import { Effect, Schema } from "effect"

export const plugin = Plugin.router({
  id: "test/fixed",
  version: "1.0.0",
  description: "Test router: the win rate and model scores are written in the prompt",
  config: Schema.Struct({ fallback: Schema.optionalKey(Schema.Finite) }),
  make: (config, context) =>
    Effect.sync(() => {
      const trained = context.trained?.value as { readonly offset?: number } | undefined
      const offset = trained?.offset ?? 0
      return {
        id: "test/fixed",
        winRate: (prompt: string) =>
          Effect.sync(() => {
            const match = /winrate=([0-9.]+)/.exec(prompt)
            return (match === null ? config.fallback ?? 0.5 : Number(match[1])) + offset
          }),
        modelScores: (prompt: string) =>
          Effect.sync(() => {
            const match = /scores=([^\s]+)/.exec(prompt)
            const scores = new Map<string, number>()
            for (const pair of (match?.[1] ?? "").split(",")) {
              const [model, score] = pair.split(":")
              if (model !== undefined && score !== undefined) scores.set(model, Number(score))
            }
            return scores as ReadonlyMap<string, number>
          })
      }
    })
})

export const plugins = [RandomRouter.plugin, plugin]

/** The lengths of the prompts `test/embedding` scored, for tests that check what reaches a router. */
export const embeddedPromptLengths: Array<number> = []

/**
 * A router on a real embedder: the win rate is a squashed first component of
 * the prompt's embedding (any fixed function of the embedding would do).
 */
export const embeddingPlugin = Plugin.router({
  id: "test/embedding",
  version: "1.0.0",
  description: "Test router: scores a prompt through a real embedder",
  config: Schema.Struct({ embedder: Plugin.Reference }),
  make: (config, context) =>
    Effect.gen(function*() {
      const embedder = yield* PluginRegistry.makeEmbedder(config.embedder, context).pipe(
        Effect.mapError((error) => new Errors.PluginError({ pluginId: "test/embedding", reason: error.message }))
      )
      return {
        id: "test/embedding",
        winRate: (prompt: string) =>
          Effect.gen(function*() {
            embeddedPromptLengths.push(prompt.length)
            const matrix = yield* embedder.embed([prompt]).pipe(
              Effect.mapError((error) => new Errors.RouterError({ routerId: "test/embedding", reason: error.message }))
            )
            return 1 / (1 + Math.exp(-10 * matrix.data[0]!))
          })
      }
    })
})
