import { Config, Metrics, Routing, Server } from "@routellm/server"
import { Effect, Layer, Option } from "effect"
import * as Path from "node:path"
import { layer, reportFailure } from "../Cli.ts"
import type { Flags } from "../commands/Serve.ts"

export const handle = Effect.fn("routellm.serve")(function*({ config, port, host }: Flags) {
  yield* reportFailure(Effect.scoped(Effect.gen(function*() {
    const checked = yield* Config.load(config)
    const server = Server.Server.layer({ port: Option.getOrUndefined(port), host: Option.getOrUndefined(host) }).pipe(
      Layer.provide(Layer.mergeAll(Routing.Routing.layer(checked, Path.dirname(Path.resolve(config))), Metrics.Metrics.layer))
    )
    yield* Layer.build(server)
    // Serve until interrupted (Ctrl-C / SIGTERM); closing the scope shuts down gracefully.
    return yield* Effect.never
  })))
}, Effect.provide(layer))
