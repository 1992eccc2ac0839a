import { Pipeline } from "@routellm/core"
import { Console, Effect } from "effect"
import { layer, reportFailure } from "../Cli.ts"
import type { Flags } from "../commands/Validate.ts"

export const handle = Effect.fn("routellm.validate")(function*({ files }: Flags) {
  for (const file of files) {
    yield* reportFailure(Effect.gen(function*() {
      const loaded = yield* Pipeline.load(file)
      const { resolved } = yield* Pipeline.resolve(loaded)
      yield* Console.log(`ok: ${file} (${resolved.steps.length} steps: ${resolved.steps.map((step) => step.id).join(" -> ")})`)
    }))
  }
}, Effect.provide(layer))
