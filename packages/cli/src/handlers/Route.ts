import { PipelineRunner, PluginRegistry, Router } from "@routellm/core"
import { Console, Effect, Option } from "effect"
import { baseContext, layer, readConfigFile, reportFailure, routerReference } from "../Cli.ts"
import type { Flags } from "../commands/Route.ts"

export const handle = Effect.fn("routellm.route")(function*({ router, artifact, config, prompt, threshold, strong, weak, json }: Flags) {
  yield* reportFailure(Effect.scoped(Effect.gen(function*() {
    if (!(threshold >= 0 && threshold <= 1)) {
      return yield* Effect.fail(new Error(`--threshold must be in [0, 1], got ${threshold}`))
    }
    const raw = Option.isSome(config) ? yield* readConfigFile(config.value) : undefined
    const instance = Option.isSome(artifact)
      ? yield* Effect.gen(function*() {
        // The trained step's own config, with --config fields on top.
        const step = yield* PipelineRunner.readStep(artifact.value)
        const merged = { ...(step.config as object | undefined), ...(raw as object | undefined) }
        return yield* PluginRegistry.makeRouter(
          { uses: step.uses, with: merged },
          { baseDirectory: step.input.directory, trained: step.input },
          `--artifact ${artifact.value}`
        )
      })
      : Option.isSome(router)
      ? yield* PluginRegistry.makeRouter(routerReference(router.value, raw), baseContext(), `--router ${router.value}`)
      : yield* Effect.fail(new Error("name a router with --router, or a trained one with --artifact"))
    const decision = yield* Router.route(instance, prompt, threshold, { strong, weak })
    if (json) {
      yield* Console.log(JSON.stringify({ router: instance.id, ...decision }))
    } else {
      yield* Console.log(`win rate: ${decision.winRate.toFixed(4)}`)
      yield* Console.log(`decision: ${decision.strong ? "strong" : "weak"} (${decision.model}) at threshold ${threshold}`)
    }
  })))
}, Effect.provide(layer))
