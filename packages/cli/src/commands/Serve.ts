import { Config, Metrics, Routing, Server } from "@routellm/server"
import { Effect, Layer, Option } from "effect"
import { Command, Flag } from "effect/cli"
import * as Path from "node:path"
import { reportFailure } from "../Cli.ts"

export const command = Command.make(
  "serve",
  {
    config: Flag.String("config").pipe(Flag.withDescription("Serve config (YAML): routers, strong/weak models, upstreams")),
    port: Flag.Int("port").pipe(Flag.withDescription("Port to listen on (default: the config's port, then 6060)"), Flag.optional),
    host: Flag.String("host").pipe(Flag.withDescription("Address to bind (default: the config's host, then 127.0.0.1)"), Flag.optional)
  },
  Effect.fn(function*({ config, port, host }) {
    yield* reportFailure(Effect.scoped(Effect.gen(function*() {
      const checked = yield* Config.load(config)
      const layer = Server.Server.layer({ port: Option.getOrUndefined(port), host: Option.getOrUndefined(host) }).pipe(
        Layer.provide(Layer.mergeAll(Routing.Routing.layer(checked, Path.dirname(Path.resolve(config))), Metrics.Metrics.layer))
      )
      yield* Layer.build(layer)
      // Serve until interrupted (Ctrl-C / SIGTERM); closing the scope shuts down gracefully.
      return yield* Effect.never
    })))
  })
).pipe(Command.withDescription("Run the OpenAI-compatible routing server: model router-<router>-<threshold> routes each request"))
