/**
 * `routellm validate` checks every `needs` edge against the plugins' typed
 * ports before anything runs: one test per kind of mismatch, each expecting
 * exit code 1 and an error naming the step, the YAML line, what the step
 * takes and what it was given.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { repositoryRoot } from "./support/SharedData.ts"

const binary = Path.join(repositoryRoot, "packages/cli/bin/routellm.js")

const validate = (text: string) =>
  Effect.gen(function*() {
    const directory = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-validate-")))
    const file = Path.join(directory, "pipeline.yaml")
    yield* Effect.promise(() => Fs.writeFile(file, text))
    const result = yield* Effect.callback<{ code: number | null; stdout: string; stderr: string }>((resume) => {
      // From the repository root, so `plugins:` finds the workspace's test fixture package.
      const child = spawn(process.execPath, [binary, "validate", file], { cwd: repositoryRoot })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk) => (stdout += chunk))
      child.stderr.on("data", (chunk) => (stderr += chunk))
      child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
    })
    return { ...result, file }
  })

/** The 1-based line of the first line of `text` that starts with `prefix` (the expectation, found independently). */
const lineOf = (text: string, prefix: string) => text.split("\n").findIndex((line) => line.startsWith(prefix)) + 1

const battles = "  battles:\n    uses: dataset/alpaca-eval\n    with: { dir: /nowhere }\n"
const mmlu = "  mmlu:\n    uses: benchmark/mmlu\n    with: { dir: /nowhere }\n"

describe("routellm validate: typed step wiring", () => {
  it.live("a step given an output it does not take: a router that trains on battles, given a benchmark", () =>
    Effect.gen(function*() {
      const text = `steps:\n${battles}${mmlu}  train:\n    uses: router/sw\n    needs:\n      - battles\n      - mmlu\n`
      const result = yield* validate(text)
      assert.strictEqual(result.code, 1, result.stdout)
      assert.include(result.stderr, `${result.file}:${lineOf(text, "      - mmlu")}: step "train" (router/sw)`)
      assert.include(result.stderr, `needs "mmlu" (benchmark/mmlu), which gives outcomes`)
      assert.include(result.stderr, "it takes battles (one or more)")
      assert.notInclude(result.stdout, "ok:")
    }))

  it.live("too few inputs: a trainable router with no battle step", () =>
    Effect.gen(function*() {
      const text = `steps:\n${mmlu}  train:\n    uses: router/mf\n    needs: [mmlu]\n`
      const result = yield* validate(text)
      assert.strictEqual(result.code, 1)
      // both mismatches, each on the `needs` line: mmlu is not taken, and no battles are given
      const line = lineOf(text, "    needs: [mmlu]")
      assert.include(result.stderr, `${result.file}:${line}: step "train" (router/mf) needs "mmlu" (benchmark/mmlu), which gives outcomes`)
      assert.include(result.stderr, `${result.file}:${line}: step "train" (router/mf) takes battles (one or more) as battles, but its needs give none`)
    }))

  it.live("too many inputs: a calibration given two routers", () =>
    Effect.gen(function*() {
      const text =
        `steps:\n  a:\n    uses: router/random\n  b:\n    uses: router/random\n    with: { seed: 1 }\n  threshold:\n    uses: calibrate/quantile\n    needs: [a, b]\n    with: { strongFraction: 0.5, prompts: p.jsonl }\n`
      const result = yield* validate(text)
      assert.strictEqual(result.code, 1)
      assert.include(result.stderr, `${result.file}:${lineOf(text, "    needs: [a, b]")}: step "threshold" (calibrate/quantile)`)
      assert.include(result.stderr, `takes a router (at most one) as router, but its needs give 2 ("a", "b")`)
    }))

  it.live("a trained router of another plugin where one plugin's router is required", () =>
    Effect.gen(function*() {
      const text =
        `plugins: ["@routellm-test/plugin-example"]\nsteps:\n${battles}  mf:\n    uses: router/mf\n    needs: battles\n  tiers:\n    uses: test/sw-tiers\n    needs: mf\n`
      const result = yield* validate(text)
      assert.strictEqual(result.code, 1)
      assert.include(
        result.stderr,
        `${result.file}:${lineOf(text, "    needs: mf")}: step "tiers" (test/sw-tiers) needs "mf" (router/mf), which gives a router/mf router`
      )
      assert.include(result.stderr, "but it takes a router/sw router (exactly one)")
      // the right router is accepted
      const ok = yield* validate(
        `plugins: ["@routellm-test/plugin-example"]\nsteps:\n${battles}  sw:\n    uses: router/sw\n    needs: battles\n  tiers:\n    uses: test/sw-tiers\n    needs: sw\n`
      )
      assert.strictEqual(ok.code ?? 0, 0, ok.stderr)
    }))

  it.live("needs on a step that takes no inputs", () =>
    Effect.gen(function*() {
      const text = `steps:\n${mmlu}  battles:\n    uses: dataset/alpaca-eval\n    needs: [mmlu]\n`
      const result = yield* validate(text)
      assert.strictEqual(result.code, 1)
      assert.include(
        result.stderr,
        `${result.file}:${
          lineOf(text, "    needs: [mmlu]")
        }: step "battles" (dataset/alpaca-eval) needs "mmlu" (benchmark/mmlu), which gives outcomes, but it takes no inputs`
      )
    }))
})
