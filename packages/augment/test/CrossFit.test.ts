import { assert, describe, it } from "@effect/vitest"
import { CrossFit } from "@routellm/augment"
import { ArtifactStore, Battles, type Benchmark, Plugin, PluginRegistry, Progress, Random, RandomRouter, type Records } from "@routellm/core"
import { Effect, Schema } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { temporaryDirectory } from "./Support.ts"

/**
 * A router that memorises its training prompts: a seen prompt scores its own
 * label exactly. An unseen prompt scores the mean label of seen prompts of its
 * category ("cat3: ...") when `generalise` is on, else a hash of its text.
 */
const memorising = Plugin.router({
  id: "router/memorise",
  version: "0.0.0",
  description: "test router that memorises training prompts",
  config: Schema.Struct({ generalise: Schema.Boolean }),
  train: (_config, context) =>
    Effect.gen(function*() {
      const battles = yield* Battles.fromInputs(context.inputs)
      const labels: Record<string, number> = {}
      for (const battle of battles) labels[battle.prompt] = battle.winner === "model_a" ? 1 : battle.winner === "model_b" ? 0 : 0.5
      Fs.writeFileSync(Path.join(context.directory, "memory.json"), JSON.stringify(labels))
      return { value: { prompts: Object.keys(labels).length } }
    }),
  make: (config, context) =>
    Effect.sync(() => {
      const labels: Record<string, number> = context.trained === undefined
        ? {}
        : JSON.parse(Fs.readFileSync(Path.join(context.trained.directory, "memory.json"), "utf8"))
      const category = (prompt: string) => prompt.split(":")[0]!
      const sums = new Map<string, { total: number; count: number }>()
      for (const [prompt, label] of Object.entries(labels)) {
        const entry = sums.get(category(prompt)) ?? { total: 0, count: 0 }
        entry.total += label
        entry.count++
        sums.set(category(prompt), entry)
      }
      const winRate = (prompt: string) => {
        const known = labels[prompt]
        if (known !== undefined) return known
        const entry = sums.get(category(prompt))
        return config.generalise && entry !== undefined ? entry.total / entry.count : Random.hashUniform(1, prompt)
      }
      return { id: "router/memorise", winRate: (prompt: string) => Effect.succeed(winRate(prompt)) }
    })
})

const strong = "strong-model"
const weak = "weak-model"

/** 400 prompts in 8 categories; strong beats weak on categories 0-3 most of the time, rarely on 4-7. */
const outcomes = (shuffle: boolean): Array<Records.OutcomeRow> => {
  const generator = Random.make(11)
  const rows = Array.from({ length: 400 }, (_, index) => {
    const category = index % 8
    const strongWins = generator.next() < (category < 4 ? 0.85 : 0.15)
    return { prompt: `cat${category}: question ${index}`, scores: { [strong]: strongWins ? 1 : 0, [weak]: strongWins ? 0 : 1 } }
  })
  if (!shuffle) return rows
  const scores = Random.shuffle(rows.map((row) => row.scores), Random.make(5))
  return rows.map((row, index) => ({ prompt: row.prompt, scores: scores[index]! }))
}

const benchmarkOf = (rows: ReadonlyArray<Records.OutcomeRow>): Benchmark.BenchmarkShape => ({
  id: "benchmark/synthetic",
  name: "synthetic",
  fingerprint: `synthetic-${JSON.stringify(rows[0]!.scores)}`,
  strongModel: strong,
  weakModel: weak,
  models: [strong, weak],
  rows,
  scoreLabel: "accuracy",
  dropped: 0
})

/** Probability that a random strong-wins prompt outscores a random weak-wins prompt (ties count half). */
const auc = (scores: Float64Array, rows: ReadonlyArray<Records.OutcomeRow>) => {
  const positives: Array<number> = []
  const negatives: Array<number> = []
  rows.forEach((row, index) => (row.scores[strong]! > row.scores[weak]! ? positives : negatives).push(scores[index]!))
  let wins = 0
  for (const positive of positives) {
    for (const negative of negatives) wins += positive > negative ? 1 : positive === negative ? 0.5 : 0
  }
  return wins / (positives.length * negatives.length)
}

/** The synthetic benchmark as a plugin, for the eval/crossfit step. */
const syntheticBenchmark = Plugin.benchmark({
  id: "benchmark/synthetic",
  version: "0.0.0",
  description: "test benchmark of 400 synthetic prompts",
  config: Schema.Struct({}),
  make: () => Effect.succeed(benchmarkOf(outcomes(false)))
})

const run = <A, E>(effect: Effect.Effect<A, E, any>, root: string) =>
  effect.pipe(
    Effect.provide(ArtifactStore.ArtifactStore.layerAt(root)),
    Effect.provide(PluginRegistry.PluginRegistry.layer([memorising, RandomRouter.plugin, syntheticBenchmark])),
    Effect.provideService(Progress.Reporter, Progress.silent)
  ) as Effect.Effect<A, E>

const battleInput = (directory: string, battles: ReadonlyArray<Records.Battle>): Plugin.StepInput => {
  Fs.mkdirSync(directory, { recursive: true })
  Fs.writeFileSync(Path.join(directory, "battles.jsonl"), battles.map((battle) => JSON.stringify(battle)).join("\n") + "\n")
  return { stepId: "external", uses: "dataset/test", kind: "dataset", directory, value: null, fingerprint: directory }
}

describe("cross-fitting", () => {
  it("assigns seeded, balanced folds by prompt text", () => {
    const prompts = Array.from({ length: 103 }, (_, index) => `p${index % 101}`)
    const folds = CrossFit.assignFolds(prompts, 5, 3)
    const sizes = [0, 0, 0, 0, 0]
    const unique = new Map<string, number>()
    prompts.forEach((prompt, index) => {
      if (!unique.has(prompt)) sizes[folds[index]!]!++
      // a repeated prompt always lands in the same fold
      assert.strictEqual(unique.get(prompt) ?? folds[index], folds[index])
      unique.set(prompt, folds[index]!)
    })
    assert.isAtMost(Math.max(...sizes) - Math.min(...sizes), 1)
    assert.deepStrictEqual([...CrossFit.assignFolds(prompts, 5, 3)], [...folds])
    assert.notDeepEqual([...CrossFit.assignFolds(prompts, 5, 4)], [...folds])
  })

  it.live("a memorising router scores held-out prompts at chance on shuffled labels: no label leaks", () =>
    Effect.scoped(Effect.gen(function*() {
      const root = yield* temporaryDirectory("crossfit")
      const shuffled = outcomes(true)
      const benchmark = benchmarkOf(shuffled)
      const context = (name: string) => ({ directory: Path.join(root, name), baseDirectory: root, runDirectory: root })

      // Leak control: trained on every label (no cross-fitting) it looks perfect.
      const leaked = yield* run(
        Effect.scoped(Effect.gen(function*() {
          const all = shuffled.map((row) => ({
            prompt: row.prompt,
            model_a: strong,
            model_b: weak,
            winner: row.scores[strong]! > row.scores[weak]! ? "model_a" as const : "model_b" as const
          }))
          const directory = Path.join(root, "leak")
          const input = battleInput(Path.join(directory, "labels"), all)
          Fs.mkdirSync(Path.join(directory, "trained"))
          const output = yield* memorising.train!(
            { generalise: true },
            Plugin.stepContext(memorising, {
              stepId: "leak",
              directory: Path.join(directory, "trained"),
              inputs: [input],
              runDirectory: root,
              baseDirectory: root
            })
          )
          const router = yield* memorising.make({ generalise: true }, {
            baseDirectory: root,
            trained: {
              stepId: "leak",
              uses: memorising.id,
              kind: "router",
              directory: Path.join(directory, "trained"),
              value: output.value,
              fingerprint: "leak"
            }
          })
          return yield* Effect.forEach(shuffled, (row) => router.winRate(row.prompt))
        })),
        root
      )
      assert.strictEqual(auc(Float64Array.from(leaked), shuffled), 1)

      for (const generalise of [false, true]) {
        const result = yield* run(
          CrossFit.scores(memorising, { generalise }, benchmark, [], context(`cf-${generalise}`), { ...CrossFit.defaults, folds: 5, seed: 7 }),
          root
        )
        const value = auc(result.scores, shuffled)
        // 400 prompts: the AUC of uninformative scores has a standard deviation near 0.03.
        assert.isTrue(Math.abs(value - 0.5) < 0.1, `generalise=${generalise}: out-of-fold AUC ${value} on shuffled labels`)
        // The files each fold trained on hold none of its held-out prompts.
        for (let fold = 0; fold < 5; fold++) {
          const trainedOn = Fs.readFileSync(Path.join(root, `cf-${generalise}`, `fold-${fold}`, "labels", "battles.jsonl"), "utf8")
            .trim().split("\n").map((line) => (JSON.parse(line) as Records.Battle).prompt)
          const heldOut = shuffled.filter((_, index) => result.folds[index] === fold).map((row) => row.prompt)
          assert.strictEqual(trainedOn.length + heldOut.length, 400)
          const seen = new Set(trainedOn)
          assert.isFalse(heldOut.some((prompt) => seen.has(prompt)))
        }
        assert.deepStrictEqual(result.records.map((record) => record.heldOut), [80, 80, 80, 80, 80])
      }

      // Positive control: with real structure, cross-fitting still learns what generalises.
      const structured = outcomes(false)
      const learned = yield* run(
        CrossFit.scores(memorising, { generalise: true }, benchmarkOf(structured), [], context("cf-structured"), CrossFit.defaults),
        root
      )
      // Category alone can reach 0.85 here (0.85 x 0.85 + 0.5 x 2 x 0.85 x 0.15); chance is 0.5.
      assert.isAbove(auc(learned.scores, structured), 0.7)

      // Configured training data that holds benchmark prompts with their labels is a leak too, unless held-out prompts are dropped.
      const leakyData = shuffled.map((row) => ({
        prompt: row.prompt,
        model_a: strong,
        model_b: weak,
        winner: row.scores[strong]! > row.scores[weak]! ? "model_a" as const : "model_b" as const
      }))
      const input = battleInput(Path.join(root, "external"), leakyData)
      const dropped = yield* run(CrossFit.scores(memorising, { generalise: false }, benchmark, [input], context("cf-external"), CrossFit.defaults), root)
      assert.isTrue(Math.abs(auc(dropped.scores, shuffled) - 0.5) < 0.1)
      assert.strictEqual(dropped.records[0]!.excluded, 80)
      const kept = yield* run(
        CrossFit.scores(memorising, { generalise: false }, benchmark, [input], context("cf-external-kept"), { ...CrossFit.defaults, excludeHeldOut: false }),
        root
      )
      assert.strictEqual(auc(kept.scores, shuffled), 1)
    })))

  it.live("routellm eval --crossfit: trainable routers are cross-fitted, others scored as usual, in one report", () =>
    Effect.scoped(Effect.gen(function*() {
      const root = yield* temporaryDirectory("crossfit-report")
      const structured = outcomes(false)
      const report = yield* run(
        CrossFit.evaluateReport(
          benchmarkOf(structured),
          [
            { reference: "router/random" },
            { name: "memorise", reference: { uses: "router/memorise", with: { generalise: true } } }
          ],
          { baseDirectory: root },
          { folds: 5, seeds: 3 }
        ),
        root
      )
      // The length baseline comes first; the listed random router is the random baseline, not added twice.
      assert.deepStrictEqual(report.routers.map((router) => router.name), ["length", "random", "memorise (cross-fitted, K=5)"])
      assert.deepStrictEqual(report.routers.map((router) => router.baseline === true), [true, false, false])
      const random = report.routers[1]!.metrics.apgr
      const learned = report.routers[2]!.metrics.apgr
      // The category signal is learnable from other folds; random stays near 0.5.
      assert.isAbove(learned, 0.6)
      assert.isTrue(Math.abs(random - 0.5) < 0.1, `random APGR ${random}`)
      assert.strictEqual(report.prompts, 400)
    })))

  it.live("eval/crossfit shows the length baseline beside the cross-fitted routers unless told otherwise", () =>
    Effect.scoped(Effect.gen(function*() {
      const root = yield* temporaryDirectory("crossfit-baselines")
      const evaluate = (config: unknown, name: string) =>
        run(
          Effect.flatMap(
            Schema.decodeUnknownEffect(CrossFit.Config)(config),
            (decoded) => CrossFit.evaluate(decoded, [], { directory: Path.join(root, name), baseDirectory: root, runDirectory: root })
          ),
          root
        )
      const memorise = { uses: "router/memorise", with: { generalise: true } }
      const report = yield* evaluate({ benchmark: "benchmark/synthetic", routers: [memorise] }, "default")
      assert.deepStrictEqual(report.routers.map((router) => [router.name, router.baseline === true, router.trained]), [
        ["length", true, false],
        ["memorise", false, true]
      ])
      // The length router on these prompts: win rate L / (L + 500) of "catN: question I", by hand, ranked against the labels.
      const rows = outcomes(false)
      const byHand = Float64Array.from(rows, (row) => row.prompt.length / (row.prompt.length + 500))
      const bytes = Fs.readFileSync(Path.join(root, "default", "router-0-length", "scores.f64"))
      const lengthScores = new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
      assert.deepStrictEqual([...lengthScores], [...byHand])
      assert.isTrue(Math.abs(auc(lengthScores, rows) - 0.5) < 0.1)
      assert.isAbove(report.routers[1]!.metrics.apgr, 0.6)
      const none = yield* evaluate({ benchmark: "benchmark/synthetic", routers: [memorise], baselines: [] }, "none")
      assert.deepStrictEqual(none.routers.map((router) => router.name), ["memorise"])
      const listed = yield* evaluate(
        { benchmark: "benchmark/synthetic", routers: [{ name: "words", uses: "router/length", with: { unit: "words" } }] },
        "listed"
      )
      assert.deepStrictEqual(listed.routers.map((router) => router.name), ["words"])
    })))
})
