/**
 * Cross-fitted in-domain evaluation: what golden labels on a benchmark's own
 * prompts would buy, measured without letting any prompt's label reach the
 * router that scores it. The prompts are split into K folds (seeded, by
 * prompt text, so repeated prompts share a fold); for each fold the router is
 * trained on the golden-label battles of the other K-1 folds plus any
 * configured training data, and scores the held-out fold. Metrics are
 * computed on the concatenated out-of-fold scores. Works with any trainable
 * router plugin: training reads battles from synthetic step inputs, exactly
 * as a pipeline's training step would.
 */
import { Evaluate } from "@routellm/benchmarks"
import {
  ArtifactStore,
  Battles,
  type Benchmark,
  Errors,
  Files,
  Hash,
  Plugin,
  PluginRegistry,
  Port,
  Progress,
  Random,
  type Records,
  Router
} from "@routellm/core"
import { Effect, Schema } from "effect"
import * as Path from "node:path"
import * as Outcomes from "./Outcomes.ts"

/** Routers score the benchmark's pair, whatever pair their config names. */
const pairOf = (benchmark: Benchmark.BenchmarkShape) => ({ strong: benchmark.strongModel, weak: benchmark.weakModel })

export interface Options {
  /** Number of folds K (at least 2). */
  readonly folds: number
  readonly seed: number
  /** Drop golden-label ties instead of training on them. */
  readonly dropTies: boolean
  /** Drop training-data battles whose prompt is in the held-out fold (default true). */
  readonly excludeHeldOut: boolean
}

export const defaults: Options = { folds: 5, seed: 0, dropTies: false, excludeHeldOut: true }

/**
 * Fold of every row: unique prompt texts are shuffled with the seed and dealt
 * round-robin, so folds differ in size by at most one prompt.
 */
export const assignFolds = (prompts: ReadonlyArray<string>, folds: number, seed: number): Int32Array => {
  const unique = [...new Set(prompts)].sort()
  const shuffled = Random.shuffle(unique, Random.make(seed))
  const foldOf = new Map<string, number>()
  shuffled.forEach((prompt, index) => foldOf.set(prompt, index % folds))
  return Int32Array.from(prompts, (prompt) => foldOf.get(prompt)!)
}

export interface FoldRecord {
  readonly fold: number
  readonly heldOut: number
  readonly goldenBattles: number
  readonly trainingBattles: number
  /** Training-data battles dropped because their prompt is held out. */
  readonly excluded: number
}

export interface Result {
  /** Out-of-fold win rate of every benchmark row, in row order. */
  readonly scores: Float64Array
  readonly folds: Int32Array
  readonly records: ReadonlyArray<FoldRecord>
}

const fail = (pluginId: string, reason: string) => new Errors.PluginError({ pluginId, reason })

const writeBattles = (directory: string, battles: ReadonlyArray<Records.Battle>) =>
  Effect.andThen(Files.makeDirectory(directory), Battles.write(directory, battles))

/**
 * Out-of-fold scores of one router on a benchmark. `training` are step inputs
 * (battle datasets and anything else the router's training reads); the fold's
 * golden labels are added as one more battle input. Routers without a train
 * function have nothing to learn and score every prompt directly.
 */
export const scores = Effect.fn("CrossFit.scores")(function*(
  plugin: Plugin.RouterPlugin,
  config: unknown,
  benchmark: Benchmark.BenchmarkShape,
  training: ReadonlyArray<Plugin.StepInput>,
  context: { readonly directory: string; readonly baseDirectory: string; readonly runDirectory: string },
  options: Options = defaults
) {
  const prompts = benchmark.rows.map((row) => row.prompt)
  const result = new Float64Array(prompts.length)
  if (plugin.train === undefined) {
    const router = yield* Effect.scoped(plugin.make(config, { baseDirectory: context.baseDirectory, pair: pairOf(benchmark) }))
    result.set(yield* Router.scoreAll(router, prompts, { label: `${plugin.id} on ${benchmark.name}` }))
    return { scores: result, folds: new Int32Array(prompts.length), records: [] } satisfies Result
  }
  if (!Number.isInteger(options.folds) || options.folds < 2 || options.folds > new Set(prompts).size) {
    return yield* fail(plugin.id, `cross-fitting needs 2 <= folds <= ${new Set(prompts).size} prompts, got ${options.folds}`)
  }
  const train = plugin.train
  const folds = assignFolds(prompts, options.folds, options.seed)
  const pair = { strong: benchmark.strongModel, weak: benchmark.weakModel }
  const golden = benchmark.rows.map((row) =>
    Outcomes.battle(row.prompt, row.scores[pair.strong]!, row.scores[pair.weak]!, pair, {
      dropTies: options.dropTies,
      source: "crossfit-golden-labels"
    })
  )
  const battleInputs = training.filter(Battles.isBattleInput)
  const external = yield* Battles.fromInputs(battleInputs)
  const records: Array<FoldRecord> = []
  const progress = yield* Progress.start(`cross-fitting ${plugin.id} on ${benchmark.name}`, options.folds)
  for (let fold = 0; fold < options.folds; fold++) {
    const heldOutRows: Array<number> = []
    const heldOut = new Set<string>()
    const labels: Array<Records.Battle> = []
    folds.forEach((rowFold, row) => {
      if (rowFold === fold) {
        heldOutRows.push(row)
        heldOut.add(prompts[row]!)
      } else if (golden[row] !== undefined) labels.push(golden[row]!)
    })
    const kept = options.excludeHeldOut ? external.filter((battle) => !heldOut.has(battle.prompt)) : external
    const directory = Path.join(context.directory, `fold-${fold}`)
    const labelsDirectory = Path.join(directory, "labels")
    const trainedDirectory = Path.join(directory, "trained")
    const battles = [...kept, ...labels]
    yield* writeBattles(labelsDirectory, battles)
    yield* Files.makeDirectory(trainedDirectory)
    const labelsInput: Plugin.StepInput = {
      stepId: `crossfit-labels-${fold}`,
      uses: "augment/golden-labels",
      kind: "augmenter",
      directory: labelsDirectory,
      value: { battles: battles.length },
      fingerprint: Hash.hashValue({ benchmark: benchmark.fingerprint, fold, options, external: battleInputs.map((input) => input.fingerprint) })
    }
    const stepId = `crossfit-train-${fold}`
    const foldScores = yield* Effect.scoped(Effect.gen(function*() {
      const output = yield* train(config, {
        stepId,
        directory: trainedDirectory,
        inputs: [labelsInput],
        ports: { battles: [Port.receive(Port.battles, labelsInput)] },
        runDirectory: context.runDirectory,
        baseDirectory: context.baseDirectory
      })
      yield* Files.writeText(Path.join(trainedDirectory, "output.json"), JSON.stringify({ uses: plugin.id, kind: "router", value: output.value ?? null }))
      const trained: Plugin.StepInput = {
        stepId,
        uses: plugin.id,
        kind: "router",
        directory: trainedDirectory,
        value: output.value ?? null,
        fingerprint: Hash.hashValue({ plugin: plugin.id, version: plugin.version, labels: labelsInput.fingerprint })
      }
      const router = yield* plugin.make(config, { baseDirectory: context.baseDirectory, trained, pair: pairOf(benchmark) })
      return yield* Router.scoreAll(router, heldOutRows.map((row) => prompts[row]!))
    }))
    heldOutRows.forEach((row, index) => {
      result[row] = foldScores[index]!
    })
    records.push({
      fold,
      heldOut: heldOutRows.length,
      goldenBattles: labels.length,
      trainingBattles: kept.length,
      excluded: external.length - kept.length
    })
    yield* progress.advance(1)
  }
  yield* progress.done
  return { scores: result, folds, records } satisfies Result
})

// ---------------------------------------------------------------------------
// `eval/crossfit`: the pipeline step

const RouterEntry = Schema.Struct({
  name: Schema.optionalKey(Schema.String),
  uses: Schema.String,
  with: Schema.optionalKey(Schema.Unknown)
})

export const Config = Schema.Struct({
  benchmark: Plugin.Reference.annotate({ description: "The benchmark whose outcomes give the in-domain golden labels" }),
  routers: Schema.Array(Schema.Union([Schema.String, RouterEntry])).annotate({
    description: "Routers to cross-fit (trainable ones are trained per fold; others, like random, score directly)"
  }),
  baselines: Schema.Array(Schema.Union([Schema.String, RouterEntry])).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(["router/length"]))
  ).annotate({
    description:
      "Routers shown beside the cross-fitted ones without being listed (default [router/length]; the random router's expected metrics are always in random); one whose plugin is listed in routers is not added again"
  }),
  folds: Schema.Int.check(Schema.isGreaterThanOrEqualTo(2)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(5))),
  seed: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))),
  dropTies: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(false))),
  excludeHeldOut: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))).annotate({
    description: "Drop training-data battles whose prompt is held out"
  }),
  inDomain: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))).annotate({
    description: "Train on the other folds' golden labels; false trains on the step's inputs only (the out-of-domain baseline)"
  }),
  bins: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(10)))
}).annotate({
  description: "Cross-fitted evaluation: K folds of a benchmark's prompts, router trained on the other folds' golden labels (+ the step's training inputs)"
})
export type Config = typeof Config.Type

export interface RouterReport {
  readonly name: string
  readonly uses: string
  readonly trained: boolean
  /** Added from `baselines` (not listed among the routers). */
  readonly baseline?: boolean
  readonly metrics: Evaluate.RouterMetrics
  readonly folds: ReadonlyArray<FoldRecord>
}

const entryOf = (entry: string | typeof RouterEntry.Type) =>
  typeof entry === "string" ? { name: undefined, uses: entry, with: {} } : { name: entry.name, uses: entry.uses, with: entry.with ?? {} }

/** Cross-fit every router of a config on one benchmark and evaluate the out-of-fold scores. */
export const evaluate = Effect.fn("CrossFit.evaluate")(function*(
  config: Config,
  training: ReadonlyArray<Plugin.StepInput>,
  context: { readonly directory: string; readonly baseDirectory: string; readonly runDirectory: string }
) {
  const registry = Evaluate.withBuiltinBaselines(yield* PluginRegistry.PluginRegistry)
  const benchmark = yield* Effect.scoped(PluginRegistry.makeBenchmark(config.benchmark, context, "benchmark"))
  const prepared = Evaluate.prepare(benchmark)
  const reports: Array<RouterReport> = []
  const listed = new Set<string>()
  for (const [index, raw] of config.routers.entries()) listed.add((yield* registry.getKind(entryOf(raw).uses, "router", `routers[${index}]`)).id)
  const entries: Array<{ readonly raw: string | typeof RouterEntry.Type; readonly where: string; readonly baseline: boolean }> = []
  for (const [index, raw] of config.baselines.entries()) {
    const id = (yield* registry.getKind(entryOf(raw).uses, "router", `baselines[${index}]`)).id
    if (listed.has(id)) continue
    listed.add(id)
    entries.push({ raw, where: `baselines[${index}]`, baseline: true })
  }
  for (const [index, raw] of config.routers.entries()) entries.push({ raw, where: `routers[${index}]`, baseline: false })
  for (const [index, { baseline, raw, where }] of entries.entries()) {
    const entry = entryOf(raw)
    const plugin = yield* registry.getKind(entry.uses, "router", where)
    const pluginConfig = yield* PluginRegistry.decodeConfig(plugin, entry.with, where)
    const name = entry.name ?? plugin.id.replace(/^router\//, "")
    const directory = Path.join(context.directory, `router-${index}-${name.replace(/[^A-Za-z0-9._-]+/g, "_")}`)
    const result = config.inDomain
      ? yield* scores(plugin, pluginConfig, benchmark, training, { ...context, directory }, config)
      : yield* outOfDomainScores(plugin, pluginConfig, benchmark, training, { ...context, directory })
    yield* Files.makeDirectory(directory)
    yield* Files.writeBytes(Path.join(directory, "scores.f64"), new Uint8Array(result.scores.buffer))
    const evaluated = Evaluate.evaluateScores(prepared, [result.scores], config.bins)
    reports.push({
      name,
      uses: plugin.id,
      trained: plugin.train !== undefined,
      ...(baseline ? { baseline } : {}),
      metrics: evaluated.metrics,
      folds: result.records
    })
  }
  const random = Evaluate.evaluateScores(
    prepared,
    Array.from({ length: 10 }, (_, seed) => Float64Array.from(prepared.prompts, (prompt) => Random.hashUniform(seed, prompt))),
    config.bins
  )
  return {
    benchmark: benchmark.name,
    prompts: benchmark.rows.length,
    strongScore: prepared.strongScore,
    weakScore: prepared.weakScore,
    folds: config.inDomain ? config.folds : 0,
    routers: reports,
    random: random.metrics
  }
})

/** The baseline: train once on the training inputs alone (no in-domain label) and score every prompt. */
const outOfDomainScores = Effect.fn("CrossFit.outOfDomainScores")(function*(
  plugin: Plugin.RouterPlugin,
  config: unknown,
  benchmark: Benchmark.BenchmarkShape,
  training: ReadonlyArray<Plugin.StepInput>,
  context: { readonly directory: string; readonly baseDirectory: string; readonly runDirectory: string }
) {
  const prompts = benchmark.rows.map((row) => row.prompt)
  const train = plugin.train
  const router = yield* Effect.scoped(Effect.gen(function*() {
    if (train === undefined) return yield* plugin.make(config, { baseDirectory: context.baseDirectory, pair: pairOf(benchmark) })
    const directory = Path.join(context.directory, "trained")
    yield* Files.makeDirectory(directory)
    const output = yield* train(config, {
      stepId: "crossfit-train",
      directory,
      inputs: training,
      ports: { battles: training.filter(Battles.isBattleInput).map((input) => Port.receive(Port.battles, input)) },
      runDirectory: context.runDirectory,
      baseDirectory: context.baseDirectory
    })
    return yield* plugin.make(config, {
      baseDirectory: context.baseDirectory,
      pair: pairOf(benchmark),
      trained: {
        stepId: "crossfit-train",
        uses: plugin.id,
        kind: "router",
        directory,
        value: output.value ?? null,
        fingerprint: Hash.hashValue({ plugin: plugin.id, inputs: training.map((input) => input.fingerprint) })
      }
    })
  }))
  return { scores: yield* Router.scoreAll(router, prompts), folds: new Int32Array(prompts.length), records: [] } satisfies Result
})

export const plugin = Plugin.step({
  id: "eval/crossfit",
  version: "1.2.0",
  description:
    "Cross-fitted in-domain evaluation: K folds by prompt, train on the other folds' golden labels (+ training inputs), metrics on out-of-fold scores",
  config: Config,
  inputs: { battles: Port.many(Port.battles, { description: "training battles added to every fold's golden labels" }) },
  output: Port.report,
  run: (config, context) =>
    Effect.gen(function*() {
      const report = yield* evaluate(config, context.inputs, context)
      yield* Files.writeJson(Path.join(context.directory, "report.json"), report)
      const summary: Record<string, unknown> = { benchmark: report.benchmark, prompts: report.prompts, folds: report.folds }
      for (const router of report.routers) {
        summary[`${router.name}.apgr`] = router.metrics.apgr
        summary[`${router.name}.cpt50`] = router.metrics.cpt50
        summary[`${router.name}.cpt80`] = router.metrics.cpt80
      }
      summary["random.apgr"] = report.random.apgr
      return { value: report, summary }
    })
})

// ---------------------------------------------------------------------------
// `routellm eval --crossfit K`: the same report as a plain evaluation

/** Battle files or directories given on the command line, as dataset step inputs. */
export const battleInputs = (paths: ReadonlyArray<string>): Array<Plugin.StepInput> =>
  paths.map((path, index) => {
    const resolved = Path.resolve(path)
    const directory = resolved.endsWith(".jsonl") ? Path.dirname(resolved) : resolved
    return { stepId: `train-${index}`, uses: "dataset/file", kind: "dataset", directory, value: null, fingerprint: Hash.sha256(resolved) }
  })

/**
 * Evaluate router specs on a benchmark with trainable routers cross-fitted
 * (K folds) and the others (random, oracle) scored as usual; the report has
 * the shape of `Evaluate.evaluate`'s.
 */
export const evaluateReport = Effect.fn("CrossFit.evaluateReport")(function*(
  benchmark: Benchmark.BenchmarkShape,
  specs: ReadonlyArray<Evaluate.RouterSpec>,
  context: Plugin.MakeContext,
  options: Evaluate.EvaluateOptions & { readonly folds: number; readonly seed?: number; readonly training?: ReadonlyArray<Plugin.StepInput> }
) {
  const registry = yield* PluginRegistry.PluginRegistry
  const store = yield* ArtifactStore.ArtifactStore
  const resolved: Array<{ readonly spec: Evaluate.RouterSpec; readonly plugin: Plugin.RouterPlugin; readonly config: unknown }> = []
  for (const spec of specs) {
    const { uses, with: raw } = Plugin.normalizeReference(spec.reference)
    const plugin = yield* registry.getKind(uses, "router", `router ${uses}`)
    resolved.push({ spec, plugin, config: yield* PluginRegistry.decodeConfig(plugin, raw, `router ${uses}`) })
  }
  const plain = resolved.filter((entry) => entry.plugin.train === undefined).map((entry) => entry.spec)
  const base = yield* Evaluate.evaluate(benchmark, plain, context, options)
  const prepared = Evaluate.prepare(benchmark, { ...Evaluate.defaultPrices, ...options.prices })
  const crossFitOptions: Options = { ...defaults, folds: options.folds, seed: options.seed ?? 0 }
  // The baselines the evaluation added come first, as in a plain evaluation.
  const routers: Array<Evaluate.RouterResult> = base.routers.slice(0, base.routers.length - plain.length)
  let plainIndex = routers.length
  for (const entry of resolved) {
    if (entry.plugin.train === undefined) {
      routers.push(base.routers[plainIndex++]!)
      continue
    }
    const key = Hash.hashValue({
      plugin: entry.plugin.id,
      version: entry.plugin.version,
      config: entry.config,
      benchmark: benchmark.fingerprint,
      crossFitOptions
    })
    const { value: result } = yield* store.commit(`crossfit/${key}`, (directory) =>
      scores(entry.plugin, entry.config, benchmark, options.training ?? [], {
        directory,
        baseDirectory: context.baseDirectory,
        runDirectory: directory
      }, crossFitOptions))
    const evaluated = Evaluate.evaluateScores(prepared, [result.scores], options.bins ?? 10)
    routers.push({
      name: `${entry.spec.name ?? entry.plugin.id.replace(/^router\//, "")} (cross-fitted, K=${options.folds})`,
      uses: entry.plugin.id,
      config: entry.config,
      cached: false,
      points: Evaluate.toPoints(evaluated.curve),
      exactPoints: Evaluate.toPoints(Evaluate.thin(evaluated.exact, 201)),
      metrics: evaluated.metrics
    })
  }
  return { ...base, routers } satisfies Evaluate.Report
})
