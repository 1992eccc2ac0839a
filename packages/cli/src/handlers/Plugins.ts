import { Plugin, PluginRegistry } from "@routellm/core"
import { Console, Effect } from "effect"
import { layer } from "../Cli.ts"
import type { Flags } from "../commands/Plugins.ts"

export const handle = Effect.fn("routellm.plugins")(function*({ json }: Flags) {
  const registry = yield* PluginRegistry.PluginRegistry
  const plugins = [...registry.plugins].sort((left, right) => left.id.localeCompare(right.id))
  if (json) {
    yield* Console.log(JSON.stringify(plugins.map(Plugin.describe), null, 2))
    return
  }
  const width = Math.max(...plugins.map((plugin) => plugin.id.length))
  for (const plugin of plugins) {
    yield* Console.log(`${plugin.id.padEnd(width)}  ${plugin.version.padEnd(7)} ${plugin.kind.padEnd(9)} ${plugin.description}`)
  }
}, Effect.provide(layer))
