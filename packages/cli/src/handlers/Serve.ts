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
    // SIGTERM is the normal way a supervisor stops a server: shut down
    // gracefully (closing the scope) and exit 0. The runtime's own handler
    // would interrupt the command and exit 130, so it is replaced here;
    // Ctrl-C (SIGINT) still interrupts as usual.
    yield* Effect.callback<void>((resume) => {
      const onTerm = () => resume(Effect.logInfo("SIGTERM: shutting down"))
      process.removeAllListeners("SIGTERM")
      process.once("SIGTERM", onTerm)
      return Effect.sync(() => process.off("SIGTERM", onTerm))
    })
  })))
}, Effect.provide(layer))
