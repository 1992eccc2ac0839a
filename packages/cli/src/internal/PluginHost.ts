/**
 * Third-party plugin packages import `effect` and `@routellm/*` themselves.
 * The shipped binary bundles both (scripts/bundle.mjs), so a package loaded
 * from node_modules would get second copies whose Schemas and Effects do not
 * mix with the bundle's. Before the first plugin package is imported, this
 * registers resolve hooks (dist/bundle/plugin-hooks.js) that point those
 * imports at re-exports of the bundle's own instances. Unbundled runs (tests
 * on the sources) import plugins as they are.
 */
import { register } from "node:module"

const marker = "/dist/bundle/"

let registered = false

const ensureHooks = () => {
  if (registered) return
  registered = true
  const here = import.meta.url
  const at = here.lastIndexOf(marker)
  if (at < 0) return
  const bundle = here.slice(0, at + marker.length)
  register(new URL("plugin-hooks.js", bundle), { data: { bundle } })
}

export const importPackage = (url: string): Promise<Record<string, unknown>> => {
  ensureHooks()
  return import(url)
}
