/**
 * Node module resolve hooks for the bundled binary (see PluginHost.ts):
 * `effect`, `effect/<Module>` and `@routellm/<package>[/<Module>]` imported
 * from outside the bundle resolve to the bundle's shims of them.
 */
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

let bundle = ""

export const initialize = (data: { readonly bundle: string }) => {
  bundle = data.bundle
}

const shimFor = (specifier: string): string | undefined => {
  const match = /^(effect|@routellm\/[a-z0-9-]+)(?:\/([A-Za-z0-9]+))?$/.exec(specifier)
  if (match === null) return undefined
  const name = match[1]!.replace("@routellm/", "routellm-")
  const url = `${bundle}shims/${name}${match[2] === undefined ? "" : `/${match[2]}`}.js`
  return existsSync(fileURLToPath(url)) ? url : undefined
}

export const resolve = async (
  specifier: string,
  context: { readonly parentURL?: string | undefined },
  next: (specifier: string, context: unknown) => Promise<unknown>
) => {
  const parent = context.parentURL
  if (parent !== undefined && !parent.startsWith(bundle)) {
    const url = shimFor(specifier)
    if (url !== undefined) return { url, format: "module", shortCircuit: true }
  }
  return next(specifier, context)
}
