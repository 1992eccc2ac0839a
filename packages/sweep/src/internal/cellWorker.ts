/**
 * A worker process of a local sweep (forked by the worker pool): runs cells
 * sent over IPC one at a time and answers with their results. The plugins
 * come from the module named on the command line (the CLI's registry), so
 * this package does not depend on every plugin package. It exits when its
 * parent goes away, so a killed sweep or runner leaves no orphans computing.
 */
import { ArtifactStore, Errors, type Plugin, PluginRegistry } from "@routellm/core"
import { Effect, Layer, Schema } from "effect"
import * as CellRun from "../CellRun.ts"

interface Request {
  readonly spec: CellRun.CellSpec
  readonly versions?: Record<string, string>
}

const registryModule = process.argv[2]
if (registryModule === undefined || process.send === undefined) {
  process.stderr.write("cellWorker: expected to be forked with the registry module as its argument\n")
  process.exit(2)
}

process.on("disconnect", () => process.exit(0))

const { plugins } = (await import(registryModule)) as { plugins: ReadonlyArray<Plugin.Any> }
const layer = Layer.mergeAll(ArtifactStore.ArtifactStore.layer, PluginRegistry.PluginRegistry.layer(plugins))
const encode = Schema.encodeUnknownSync(CellRun.CellResult)

let queue: Promise<void> = Promise.resolve()
process.on("message", (message: Request) => {
  queue = queue.then(async () => {
    const exit = await Effect.runPromiseExit(
      CellRun.run(message.spec, message.versions === undefined ? {} : { versions: message.versions }).pipe(Effect.provide(layer))
    )
    if (exit._tag === "Success") {
      process.send!({ type: "done", result: encode(exit.value) })
    } else {
      const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
      const reason = failure !== undefined && failure._tag === "Fail" ? Errors.format(failure.error) : String(exit.cause)
      process.send!({ type: "failed", reason })
    }
  })
})
process.send!({ type: "ready" })
