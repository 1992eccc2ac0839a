/**
 * The services `effect/cli` asks of its host, for Node, built from Effect's
 * own constructors. The CLI reads arguments and writes text; commands that
 * touch files get Node's FileSystem from `Cli.layer` (core's ArtifactStore
 * layer), so the file system and process spawner are never reached here.
 *
 * Why not `@effect/platform-node`: its 4.1 release declares Node >= 22.19
 * (npm warns EBADENGINE on the Node 20 we test), and its index loads Redis,
 * undici and WebSocket clients on every start.
 */
import { Effect, FileSystem, Layer, Path, PlatformError, Runtime, Sink, Stdio, Stream, Terminal } from "effect"
import { ChildProcessSpawner } from "effect/process"

const unsupported = (module: string, method: string) =>
  PlatformError.systemError({ module, method, _tag: "Unknown", description: "not available in the routellm command" })

const writeTo = (stream: NodeJS.WriteStream, method: string) => () =>
  Sink.forEach((chunk: string | Uint8Array) =>
    Effect.callback<void, PlatformError.PlatformError>((resume) => {
      stream.write(chunk, (error) => resume(error ? Effect.fail(unsupported("Stdio", method)) : Effect.void))
    })
  )

const stdio = Stdio.make({
  args: Effect.sync(() => process.argv.slice(2)),
  stdinIsTerminal: Effect.sync(() => process.stdin.isTTY === true),
  stdoutIsTerminal: Effect.sync(() => process.stdout.isTTY === true),
  stderrIsTerminal: Effect.sync(() => process.stderr.isTTY === true),
  stdout: writeTo(process.stdout, "stdout"),
  stderr: writeTo(process.stderr, "stderr"),
  stdin: Stream.fail(unsupported("Stdio", "stdin"))
})

const terminal = Terminal.make({
  columns: Effect.sync(() => process.stdout.columns ?? 80),
  rows: Effect.sync(() => process.stdout.rows ?? 24),
  // No command prompts interactively.
  size: Effect.die("routellm: interactive terminal input is not supported"),
  readInput: Effect.die("routellm: interactive terminal input is not supported"),
  readLine: Effect.die("routellm: interactive terminal input is not supported"),
  display: (text) => Effect.sync(() => void process.stdout.write(text))
})

/** Stdio, Terminal and Path for `Command.run`; FileSystem and ChildProcessSpawner refuse. */
export const layer = Layer.mergeAll(
  Layer.succeed(Stdio.Stdio, stdio),
  Layer.succeed(Terminal.Terminal, terminal),
  Path.layer,
  FileSystem.layerNoop({}),
  Layer.succeed(
    ChildProcessSpawner.ChildProcessSpawner,
    ChildProcessSpawner.make(() => Effect.fail(unsupported("ChildProcessSpawner", "spawn")))
  )
)

/**
 * Run the program as the process: SIGINT/SIGTERM interrupt it (so scopes
 * close and finalizers run), and the exit code follows its result.
 */
export const runMain = Runtime.makeRunMain(({ fiber, teardown }) => {
  let receivedSignal = false
  const onSignal = () => {
    receivedSignal = true
    fiber.interruptUnsafe(fiber.id)
  }
  fiber.addObserver((exit) => {
    process.removeListener("SIGINT", onSignal)
    process.removeListener("SIGTERM", onSignal)
    teardown(exit, (code) => {
      if (receivedSignal || code !== 0) process.exit(code)
    })
  })
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
})
