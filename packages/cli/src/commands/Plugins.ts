/** `routellm plugins`: its flags and help; the work is in ../handlers/Plugins.ts, loaded when it runs. */
import { Effect } from "effect"
import { Command, Flag } from "effect/cli"

export const flags = {
  json: Flag.Boolean("json").pipe(Flag.withDescription("Print a JSON array: id, version, kind and the config's JSON Schema"), Flag.withDefault(false))
}

export type Flags = Command.Command.Config.Infer<typeof flags>

export const command = Command.make(
  "plugins",
  flags,
  (input) => Effect.flatMap(Effect.promise(() => import("../handlers/Plugins.ts")), (handler) => handler.handle(input))
).pipe(Command.withDescription("List the available plugins (ids, versions, config schemas with --json)"))
