/** `routellm schema`: its flags and help; the work is in ../handlers/Schema.ts, loaded when it runs. */
import { Effect } from "effect"
import { Command } from "effect/cli"

export const flags = {}

export type Flags = Command.Command.Config.Infer<typeof flags>

export const command = Command.make(
  "schema",
  flags,
  (input) => Effect.flatMap(Effect.promise(() => import("../handlers/Schema.ts")), (handler) => handler.handle(input))
).pipe(Command.withDescription("Print the JSON Schema of the pipeline file format (for editor completion)"))
