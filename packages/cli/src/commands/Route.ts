/** `routellm route`: its flags and help; the work is in ../handlers/Route.ts, loaded when it runs. */
import { Effect } from "effect"
import { Command, Flag } from "effect/cli"

export const flags = {
  router: Flag.String("router").pipe(
    Flag.withDescription("Router plugin id (random, router/sw, ...); optional with --artifact"),
    Flag.optional
  ),
  artifact: Flag.String("artifact").pipe(
    Flag.withDescription("A trained router: a pipeline step's output directory (runs/<name>/<time>/steps/<step>)"),
    Flag.optional
  ),
  config: Flag.String("config").pipe(Flag.withDescription("YAML/JSON file with the router's config"), Flag.optional),
  prompt: Flag.String("prompt").pipe(Flag.withDescription("The prompt to route")),
  threshold: Flag.Finite("threshold").pipe(
    Flag.withDescription("Route to the strong model when the win rate is at least this"),
    Flag.withDefault(0.5)
  ),
  strong: Flag.String("strong").pipe(Flag.withDescription("Strong model name"), Flag.withDefault("gpt-4-1106-preview")),
  weak: Flag.String("weak").pipe(Flag.withDescription("Weak model name"), Flag.withDefault("mixtral-8x7b-instruct-v0.1")),
  json: Flag.Boolean("json").pipe(Flag.withDescription("Print the result as JSON"), Flag.withDefault(false))
}

export type Flags = Command.Command.Config.Infer<typeof flags>

export const command = Command.make(
  "route",
  flags,
  (input) => Effect.flatMap(Effect.promise(() => import("../handlers/Route.ts")), (handler) => handler.handle(input))
).pipe(Command.withDescription("Score one prompt with a router and print the strong win rate and the decision"))
