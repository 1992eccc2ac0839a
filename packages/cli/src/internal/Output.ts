/**
 * How the command reports a bad invocation: the error first, then one line
 * on where to look, on stderr, instead of the whole help page with the
 * error at its bottom.
 */
import { Console, Effect } from "effect"
import { CliOutput } from "effect/cli"

const helpHint = (commandPath: ReadonlyArray<string>) => `run "${[...commandPath, "--help"].join(" ")}" for its flags and examples`

export const presenter = CliOutput.layerPresenter({
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Effect.gen(function*() {
        for (const error of event.errors) yield* Console.error(`error: ${error.message}`)
        yield* Console.error(helpHint(event.commandPath))
      })
      : CliOutput.defaultPresenter.present(event)
})

/** Global flags of `effect/cli` that take a value (so the word after them is not a command). */
const valueFlags = new Set(["--log-level", "--completions"])

/**
 * The subcommand the arguments name, when it is not one of `names`: effect/cli
 * would print the main help and exit 0 for `routellm frobnicate --help`.
 */
export const unknownCommand = (args: ReadonlyArray<string>, names: ReadonlyArray<string>): string | undefined => {
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!
    if (arg === "--") return undefined
    if (arg.startsWith("-")) {
      if (valueFlags.has(arg)) index++
      continue
    }
    return names.includes(arg) ? undefined : arg
  }
  return undefined
}

export const unknownCommandMessage = (name: string, names: ReadonlyArray<string>) =>
  `error: unknown command "${name}"; the commands are ${names.join(", ")}\nrun "routellm --help" for what each does`
