/**
 * The README's commands, run as a user would type them: every ```sh block,
 * line by line, in order, from the repository root, except the blocks marked
 * `<!-- readme-test: skip: <why> -->` (the install and the suite itself, the
 * server, the cluster). `npx routellm` is the built binary.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Yaml from "yaml"
import { repositoryRoot } from "./support/SharedData.ts"

interface Block {
  readonly line: number
  readonly language: string
  readonly text: string
  readonly skip: string | undefined
}

/** Fenced blocks with the line they start on and the skip marker right above them. */
export const blocks = (markdown: string): Array<Block> => {
  const lines = markdown.split("\n")
  const found: Array<Block> = []
  for (let index = 0; index < lines.length; index++) {
    const fence = /^```(\w*)\s*$/.exec(lines[index]!)
    if (fence === null) continue
    const end = lines.findIndex((line, at) => at > index && line.startsWith("```"))
    const marker = /^<!-- readme-test: skip: (.+) -->$/.exec(lines[index - 1] ?? "")
    found.push({ line: index + 1, language: fence[1]!, text: lines.slice(index + 1, end).join("\n"), skip: marker?.[1] })
    index = end
  }
  return found
}

/** The commands of a shell block: continuation lines joined, comment-only lines dropped. */
export const commands = (text: string): Array<string> =>
  text.replace(/\s*\\\n\s*/g, " ").split("\n").map((line) => line.trim()).filter((line) => line !== "" && !line.startsWith("#"))

const shell = (command: string, env: NodeJS.ProcessEnv) =>
  Effect.callback<{ code: number | null; output: string }>((resume) => {
    // npx routellm would resolve this checkout's bin as well; calling it directly spares npx's own start-up.
    const child = spawn("bash", ["-c", command.replace(/^npx routellm /, "node packages/cli/bin/routellm.js ")], {
      cwd: repositoryRoot,
      env: { ...process.env, ...env }
    })
    let output = ""
    child.stdout.on("data", (chunk) => (output += chunk))
    child.stderr.on("data", (chunk) => (output += chunk))
    child.on("close", (code) => resume(Effect.succeed({ code, output })))
  })

describe("README", () => {
  it.live("every shell block that needs no API key or cluster runs as written", () =>
    Effect.gen(function*() {
      const readme = yield* Effect.promise(() => Fs.readFile(Path.join(repositoryRoot, "README.md"), "utf8"))
      const shellBlocks = blocks(readme).filter((block) => block.language === "sh")
      // The skipped blocks say why, and the rest is most of the README's commands.
      assert.isTrue(shellBlocks.some((block) => block.skip === undefined))
      const cache = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-readme-")))
      const env = { ROUTELLM_CACHE_DIR: cache }
      let ran = 0
      for (const block of shellBlocks.filter((block) => block.skip === undefined)) {
        for (const command of commands(block.text)) {
          const result = yield* shell(command, env)
          assert.strictEqual(result.code, 0, `README.md:${block.line}: ${command}\n${result.output}`)
          ran++
        }
      }
      assert.isAtLeast(ran, 10)
    }), 300_000)

  it("ships the serve config it shows", () =>
    Effect.gen(function*() {
      const readme = yield* Effect.promise(() => Fs.readFile(Path.join(repositoryRoot, "README.md"), "utf8"))
      const shown = blocks(readme).find((block) => block.language === "yaml" && block.text.startsWith("# examples/serve.yaml"))
      assert.isDefined(shown)
      const file = yield* Effect.promise(() => Fs.readFile(Path.join(repositoryRoot, "examples/serve.yaml"), "utf8"))
      assert.strictEqual(file.trim(), shown!.text.trim())
      assert.containsAllKeys(Yaml.parse(file), ["strong", "weak", "routers", "upstreams"])
    }))

  it("reads blocks, skip markers and continued lines", () => {
    const parsed = blocks("text\n<!-- readme-test: skip: slow -->\n```sh\na\n```\n```sh\nb \\\n  --c\n# note\n```\n")
    assert.deepStrictEqual(parsed.map((block) => [block.line, block.skip]), [[3, "slow"], [6, undefined]])
    assert.deepStrictEqual(commands(parsed[1]!.text), ["b --c"])
  })
})
