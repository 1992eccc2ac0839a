import { Pipeline } from "@routellm/core"
import { Console, Effect, Schema } from "effect"
import type { Flags } from "../commands/Schema.ts"

export const handle = Effect.fn("routellm.schema")(function*(_: Flags) {
  yield* Console.log(JSON.stringify(Schema.toJsonSchemaDocument(Pipeline.PipelineFile).schema, null, 2))
})
