/** `routellm serve`: its flags and help; the work is in ../handlers/Serve.ts, loaded when it runs. */
import { Effect } from "effect"
import { Command, Flag } from "effect/cli"

export const flags = {
  config: Flag.String("config").pipe(Flag.withDescription("Serve config (YAML): routers, strong/weak models, upstreams")),
  port: Flag.Int("port").pipe(Flag.withDescription("Port to listen on (default: the config's port, then 6060)"), Flag.optional),
  host: Flag.String("host").pipe(Flag.withDescription("Address to bind (default: the config's host, then 127.0.0.1)"), Flag.optional)
}

export type Flags = Command.Command.Config.Infer<typeof flags>

export const command = Command.make(
  "serve",
  flags,
  (input) => Effect.flatMap(Effect.promise(() => import("../handlers/Serve.ts")), (handler) => handler.handle(input))
).pipe(Command.withDescription("Run the OpenAI-compatible routing server: model router-<router>-<threshold> routes each request"))
