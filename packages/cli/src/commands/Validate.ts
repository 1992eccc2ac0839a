/** `routellm validate`: its flags and help; the work is in ../handlers/Validate.ts, loaded when it runs. */
import { Effect } from "effect"
import { Argument, Command } from "effect/cli"

export const flags = {
  files: Argument.String("pipeline.yaml").pipe(
    Argument.withDescription("Pipeline files to check"),
    Argument.atLeast(1)
  )
}

export type Flags = Command.Command.Config.Infer<typeof flags>

export const command = Command.make(
  "validate",
  flags,
  (input) => Effect.flatMap(Effect.promise(() => import("../handlers/Validate.ts")), (handler) => handler.handle(input))
).pipe(Command.withDescription("Check pipeline files: YAML, plugin ids, each step's config, needs and cycles"))
