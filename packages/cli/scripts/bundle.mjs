// Bundle the `routellm` binary into dist/bundle: a tree-shaken entry plus
// chunks that commands import when they run. Node 20 has no compile cache,
// and loading Effect and the plugin packages module by module costs about two
// seconds per start; the bundle starts in a fraction of that. Native and very
// large packages stay external and are imported only where they are used.
//
// shims/ re-export the bundle's own `effect` and `@routellm/*` instances for
// third-party plugin packages (see src/internal/PluginHost.ts).
import * as esbuild from "esbuild"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = Path.dirname(Path.dirname(fileURLToPath(import.meta.url)))
const workspace = Path.resolve(root, "../..")
const outdir = Path.join(root, "dist/bundle")
const require = createRequire(import.meta.url)

// The workspace packages a plugin may import, by directory name.
const packages = Fs.readdirSync(Path.join(workspace, "packages")).filter((name) => name !== "cli")

const barrels = {
  "shims/effect": "export * from \"effect\"",
  ...Object.fromEntries(packages.map((name) => [`shims/routellm-${name}`, `export * from "@routellm/${name}"`]))
}

const shimPlugin = {
  name: "shims",
  setup(build) {
    build.onResolve({ filter: /^shim:/ }, (args) => ({ path: args.path.slice(5), namespace: "shim" }))
    build.onLoad({ filter: /.*/, namespace: "shim" }, (args) => ({ contents: barrels[args.path], resolveDir: root, loader: "js" }))
  }
}

// Our sources import Effect's barrels (`import { Effect } from "effect"`).
// Rewritten to the modules themselves, the bundle keeps only the modules it
// uses, and its main chunk does not share the barrel with shims/effect.
const barrelNamespaces = (specifier) => {
  const text = Fs.readFileSync(require.resolve(specifier), "utf8")
  const names = new Map()
  for (const match of text.matchAll(/export \* as (\w+) from "\.\/(\w+)\.js"/g)) names.set(match[1], `${specifier}/${match[2]}`)
  for (const match of text.matchAll(/export \{([^}]*)\} from "\.\/(\w+)\.js"/g)) {
    for (const name of match[1].split(",").map((part) => part.trim()).filter(Boolean)) names.set(name, `${specifier}/${match[2]}#named`)
  }
  return names
}
const deepImports = new Map()
const rewriteBarrelImports = (source) =>
  source.replace(/^import \{([^}]*)\} from "(effect(?:\/[a-z-]+)?)"\n/gm, (statement, list, specifier) => {
    if (!deepImports.has(specifier)) deepImports.set(specifier, barrelNamespaces(specifier))
    const names = deepImports.get(specifier)
    const lines = []
    for (const entry of list.split(",").map((part) => part.trim()).filter(Boolean)) {
      if (entry.startsWith("type ")) continue
      const [name, alias = name] = entry.split(/\s+as\s+/)
      const target = names.get(name)
      if (target === undefined) return statement
      lines.push(
        target.endsWith("#named")
          ? `import { ${name} as ${alias} } from "${target.slice(0, -6)}"`
          : `import * as ${alias} from "${target}"`
      )
    }
    return lines.map((line) => `${line}\n`).join("")
  })

const deepImportPlugin = {
  name: "deep-imports",
  setup(build) {
    build.onLoad({ filter: /\/packages\/[^/]+\/src\/.*\.ts$/ }, (args) => ({
      contents: rewriteBarrelImports(Fs.readFileSync(args.path, "utf8")),
      loader: "ts"
    }))
  }
}

Fs.rmSync(outdir, { recursive: true, force: true })
const result = await esbuild.build({
  entryPoints: {
    routellm: Path.join(root, "src/main.ts"),
    "plugin-hooks": Path.join(root, "src/internal/PluginHooks.ts"),
    ...Object.fromEntries(Object.keys(barrels).map((name) => [name, `shim:${name}`]))
  },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  conditions: ["source"],
  // piscina starts workers from its own files, so it must stay in node_modules.
  external: ["piscina", "onnxruntime-node", "onnxruntime-common", "@resvg/resvg-js", "@tensorflow/*", "@energetic-ai/*", "@huggingface/tokenizers"],
  plugins: [shimPlugin, deepImportPlugin],
  // Bundled CommonJS dependencies call require().
  banner: { js: "import { createRequire as __createRequire } from \"node:module\"; const require = __createRequire(import.meta.url);" },
  minify: true,
  keepNames: true,
  sourcemap: "linked",
  chunkNames: "chunks/[name]-[hash]",
  logLevel: "warning",
  metafile: true
})
if (process.env.ROUTELLM_BUNDLE_META) Fs.writeFileSync(process.env.ROUTELLM_BUNDLE_META, JSON.stringify(result.metafile))

// One module of a barrel (`effect/Schema`, `@routellm/core/Files`): its
// namespace taken from the bundled barrel, exported name by name.
const writeModuleShim = async (file, barrel, namespace, names) => {
  Fs.mkdirSync(Path.dirname(file), { recursive: true })
  const exports = names.filter((name) => /^[A-Za-z_$][\w$]*$/.test(name))
  Fs.writeFileSync(
    file,
    `import { ${namespace} as namespace } from "${barrel}"\nexport const { ${exports.join(", ")} } = namespace\n`
  )
}

const effect = await import(pathToFileURL(require.resolve("effect")).href)
for (const [namespace, value] of Object.entries(effect)) {
  if (typeof value === "object" && value !== null && /^[A-Z]/.test(namespace)) {
    await writeModuleShim(Path.join(outdir, "shims/effect", `${namespace}.js`), "../effect.js", namespace, Object.keys(value))
  }
}
