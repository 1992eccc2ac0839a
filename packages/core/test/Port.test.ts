/**
 * Typed ports at run time: a step receives its inputs grouped as it declared
 * them, decoded by the producing port's Schema and readable through the port;
 * a step whose value does not fit its output port fails naming the port.
 */
import { assert, describe, it } from "@effect/vitest"
import { ArtifactStore, Files, Pipeline, PipelineRunner, Plugin, PluginRegistry, Port, Progress } from "@routellm/core"
import { Effect, Layer, Schema } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"

/** A port of this test: a count, its numbers in numbers.txt. */
const counted = Port.make({
  id: "test-count",
  kind: "test-count",
  description: "a count",
  schema: Schema.Struct({ total: Schema.NumberFromString }),
  read: (directory: string) => Effect.map(Files.readText(Path.join(directory, "numbers.txt")), (text) => text.split("\n").map(Number))
})

const count = Plugin.step({
  id: "test/count-to",
  version: "1.0.0",
  description: "Writes 1..n",
  config: Schema.Struct({ n: Schema.Int }),
  inputs: {},
  output: counted,
  run: (config, context) =>
    Effect.gen(function*() {
      const numbers = Array.from({ length: config.n }, (_, index) => index + 1)
      yield* Files.writeText(Path.join(context.directory, "numbers.txt"), numbers.join("\n"))
      // `note` is not in the port's Schema and travels along.
      return { value: { total: numbers.reduce((sum, value) => sum + value, 0), note: `1..${config.n}` } }
    })
})

const sum = Plugin.step({
  id: "test/sum",
  version: "1.0.0",
  description: "Adds the totals of its count inputs",
  config: Schema.Struct({}),
  inputs: { counts: Port.many(counted, { min: 1 }) },
  output: Port.value,
  run: (_config, context) =>
    Effect.gen(function*() {
      const totals = context.ports.counts.map((input) => input.value.total)
      const numbers = yield* Effect.forEach(context.ports.counts, (input) => input.read)
      const notes = context.ports.counts.map((input) => (input.value as { readonly note?: string }).note)
      return { value: { totals, numbers, notes, types: totals.map((total) => typeof total) } }
    })
})

const wrong = Plugin.step({
  id: "test/wrong",
  version: "1.0.0",
  description: "Claims a calibration but returns something else",
  config: Schema.Struct({}),
  inputs: {},
  output: Port.calibration,
  run: () => Effect.succeed({ value: { router: 3 } as never })
})

const runYaml = (text: string) =>
  Effect.gen(function*() {
    const directory = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "routellm-port-")))
    const file = Path.join(directory, "p.yaml")
    yield* Effect.promise(() => Fs.writeFile(file, text))
    return yield* Effect.gen(function*() {
      const { resolved, registry } = yield* Pipeline.resolve(yield* Pipeline.load(file))
      return yield* PipelineRunner.run(resolved, registry, { runDirectory: Path.join(directory, "run"), log: () => {} })
    }).pipe(
      Effect.provide(Layer.mergeAll(ArtifactStore.ArtifactStore.layerAt(directory), PluginRegistry.PluginRegistry.layer([count, sum, wrong]))),
      Effect.provideService(Progress.Reporter, Progress.silent)
    )
  })

describe("Port", () => {
  it.live("hands a step its inputs decoded by the producing port, grouped as declared, readable through the port", () =>
    Effect.gen(function*() {
      const result = yield* runYaml(
        "steps:\n  three:\n    uses: test/count-to\n    with: { n: 3 }\n  four:\n    uses: test/count-to\n    with: { n: 4 }\n  total:\n    uses: test/sum\n    needs: [three, four]\n"
      )
      const total = result.manifest.steps.find((step) => step.id === "total")!
      const stored = JSON.parse(yield* Effect.promise(() => Fs.readFile(Path.join(total.artifact, "output.json"), "utf8")))
      // Stored encoded ("6"), handed decoded (6): the Schema is NumberFromString.
      const three = result.manifest.steps.find((step) => step.id === "three")!
      assert.deepStrictEqual(JSON.parse(yield* Effect.promise(() => Fs.readFile(Path.join(three.artifact, "output.json"), "utf8"))).value, {
        total: "6",
        note: "1..3"
      })
      assert.deepStrictEqual(stored.value, {
        totals: [6, 10],
        numbers: [[1, 2, 3], [1, 2, 3, 4]],
        notes: ["1..3", "1..4"],
        types: ["number", "number"]
      })
    }).pipe(Effect.provide(Files.layer)))

  it.live("fails a step whose value does not fit its output port, naming the port", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(runYaml("steps:\n  bad:\n    uses: test/wrong\n"))
      if (error._tag !== "RouteLlmError") return assert.fail(`expected a RouteLlmError, got ${error._tag}`)
      assert.strictEqual(error.reason._tag, "PortError")
      assert.include(error.message, "step \"bad\" (test/wrong) produced a value that is not calibration")
    }).pipe(Effect.provide(Files.layer)))

  it("assigns needs to the first group that accepts them and counts each group", () => {
    const inputs = { battles: Port.many(Port.battles, { min: 1 }), routers: Port.optional(Port.router("router/sw")) }
    const given = (stepId: string, port: Port.Any) => ({ stepId, uses: `x/${stepId}`, port })
    const ok = Port.assign(inputs, [given("a", Port.battles), given("sw", Port.router("router/sw")), given("b", Port.battles)])
    assert.deepStrictEqual(ok.groups, { battles: [0, 2], routers: [1] })
    assert.deepStrictEqual(ok.mismatches, [])
    const bad = Port.assign(inputs, [given("mf", Port.router("router/mf")), given("s1", Port.router("router/sw")), given("s2", Port.router("router/sw"))])
    assert.deepStrictEqual(bad.mismatches.map((mismatch) => [mismatch.need, mismatch.expected, mismatch.given]), [
      [0, "battles (one or more), or a router/sw router (at most one)", "a router/mf router from \"mf\" (x/mf)"],
      [undefined, "battles (one or more)", "none"],
      [2, "a router/sw router (at most one)", "2 (\"s1\", \"s2\")"]
    ])
  })
})
