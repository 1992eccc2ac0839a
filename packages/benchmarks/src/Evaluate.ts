/**
 * Evaluate routers on a benchmark: score every prompt with each router
 * (cached in the artifact store, keyed by the router's plugin, version,
 * config, trained state and the benchmark's fingerprint), sweep thresholds
 * and summarize as the paper does, with the optimal and random references.
 */
import { ArtifactStore, type Benchmark, Files, Hash, LengthRouter, Plugin, PluginRegistry, RandomRouter, Router } from "@routellm/core"
import { Effect, Option, Schema, type Scope } from "effect"
import * as Path from "node:path"
import { detailsOf, displayScale } from "./Benchmarks.ts"
import * as Metrics from "./Metrics.ts"
import * as OracleRouter from "./OracleRouter.ts"

/** A router to evaluate: a plugin reference, and the training step's output when it came from one. */
export interface RouterSpec {
  readonly name?: string | undefined
  readonly reference: Plugin.Reference
  readonly trained?: Plugin.StepInput | undefined
}

/**
 * The routers every evaluation shows unless told otherwise: random (the
 * paper's reference) and prompt length (the cheapest signal there is; a
 * learned router below it has learned nothing length did not already say).
 */
export const defaultBaselines: ReadonlyArray<RouterSpec> = [{ reference: RandomRouter.plugin.id }, { reference: LengthRouter.plugin.id }]

/** Core's baseline routers, resolvable even through a registry that does not list them. */
const builtinBaselines: ReadonlyArray<Plugin.Any> = [RandomRouter.plugin, LengthRouter.plugin]

/** The registry, plus core's baseline routers where it lacks them (its own plugins win). */
export const withBuiltinBaselines = (registry: PluginRegistry.RegistryShape): PluginRegistry.RegistryShape =>
  builtinBaselines.every((plugin) => registry.plugins.some((known) => known.id === plugin.id))
    ? registry
    : PluginRegistry.make([...builtinBaselines, ...registry.plugins])

/**
 * The routers an evaluation scores: the baselines whose plugin is not among
 * the listed routers already (a listed `router/random` is the random
 * baseline), then the listed routers, in order.
 */
export const withBaselines = Effect.fn("Evaluate.withBaselines")(function*(
  routers: ReadonlyArray<RouterSpec>,
  baselines: ReadonlyArray<RouterSpec>
) {
  const registry = yield* PluginRegistry.PluginRegistry
  const pluginOf = (spec: RouterSpec, where: string) =>
    Effect.map(registry.getKind(Plugin.normalizeReference(spec.reference).uses, "router", where), (plugin) => plugin.id)
  const listed = new Set<string>()
  for (const spec of routers) listed.add(yield* pluginOf(spec, `router ${spec.name ?? Plugin.normalizeReference(spec.reference).uses}`))
  const added: Array<RouterSpec> = []
  for (const [index, spec] of baselines.entries()) {
    const id = yield* pluginOf(spec, `baselines[${index}]`)
    if (listed.has(id)) continue
    listed.add(id)
    added.push(spec)
  }
  return { specs: [...added, ...routers], baselines: added.length }
})

export const PriceSchema = Schema.Struct({
  input: Schema.Finite.annotate({ description: "Dollars per million input tokens" }),
  output: Schema.Finite.annotate({ description: "Dollars per million output tokens" })
})

/** List prices (dollars per million tokens) used when the config names none; the paper assumes equal input and output tokens. */
export const defaultPrices: Readonly<Record<string, Metrics.Price>> = {
  "gpt-4-1106-preview": { input: 10, output: 30 },
  "mixtral-8x7b-instruct-v0.1": { input: 0.24, output: 0.24 }
}

export const OptionsSchema = Schema.Struct({
  bins: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(10))).annotate({
    description: "Threshold quantile bins (RouteLLM's --num-results)"
  }),
  seeds: Schema.optionalKey(
    Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).annotate({
      description: "Random routers without a pinned seed are averaged over seeds 0..seeds-1 (default: at least 10, and enough that seeds x prompts >= 10,000)"
    })
  ),
  prices: Schema.optionalKey(Schema.Record(Schema.String, PriceSchema)).annotate({
    description: "Per-model prices per million tokens (default: GPT-4 Turbo and Mixtral list prices)"
  })
})
export type Options = typeof OptionsSchema.Type

/** What `evaluate` takes besides the Schema's options. */
export interface EvaluateOptions extends Partial<Options> {
  /** Routers shown beside the listed ones unless their plugin is listed already (default `defaultBaselines`; `[]` for none). */
  readonly baselines?: ReadonlyArray<RouterSpec> | undefined
}

export interface Point {
  readonly threshold: number | null
  readonly strongPercent: number
  readonly score: number
  readonly cost?: number
  /** Routers averaged over seeds: standard deviation of the score across the seeds at this point. */
  readonly scoreStd?: number
}

export interface RouterMetrics {
  readonly apgr: number
  readonly apgrExact: number
  readonly cpt20: number
  readonly cpt50: number
  readonly cpt80: number
  readonly auc: number
  /** Times cheaper than the random router at CPT(50%) / CPT(80%) quality (paper Table 6). */
  readonly costSavings50?: number
  readonly costSavings80?: number
  /** Random routers: spread of APGR over the seeds. */
  readonly apgrStd?: number
}

export interface RouterResult {
  readonly name: string
  readonly uses: string
  readonly config: unknown
  readonly seeds?: number
  /** Added as a baseline (not listed among the routers). */
  readonly baseline?: boolean
  readonly cached: boolean
  readonly points: ReadonlyArray<Point>
  readonly exactPoints: ReadonlyArray<Point>
  readonly metrics: RouterMetrics
}

export interface Report {
  readonly benchmark: string
  readonly benchmarkId: string
  readonly benchmarkFingerprint: string
  readonly scoreLabel: string
  readonly strongModel: string
  readonly weakModel: string
  readonly prompts: number
  readonly dropped: number
  /** `dropped` by reason, when the benchmark counts them apart. */
  readonly droppedReasons?: Readonly<Record<string, number>>
  readonly strongScore: number
  readonly weakScore: number
  readonly bins: number
  /** Total dollars if every prompt went to the strong / weak model (NaN without prices). */
  readonly strongCost: number
  readonly weakCost: number
  readonly routers: ReadonlyArray<RouterResult>
  readonly optimal: { readonly points: ReadonlyArray<Point>; readonly metrics: RouterMetrics }
  readonly random: { readonly points: ReadonlyArray<Point>; readonly metrics: RouterMetrics }
}

/** A curve as report points (the JSON `points`). */
export const toPoints = (curve: Metrics.Curve): Array<Point> =>
  Array.from(curve.strongPercent, (strongPercent, index) => {
    const threshold = curve.thresholds[index]!
    const cost = curve.cost?.[index]
    const scoreStd = curve.scoreStd?.[index]
    return {
      threshold: Number.isFinite(threshold) ? threshold : null,
      strongPercent,
      score: curve.score[index]!,
      ...(cost === undefined || Number.isNaN(cost) ? {} : { cost }),
      ...(scoreStd === undefined ? {} : { scoreStd })
    }
  })

/** Data of a benchmark prepared once for all routers: scaled scores and per-prompt costs. */
export interface Prepared {
  readonly benchmark: Benchmark.BenchmarkShape
  readonly prompts: ReadonlyArray<string>
  readonly strong: Float64Array
  readonly weak: Float64Array
  readonly strongScore: number
  readonly weakScore: number
  readonly costs: Metrics.Costs | undefined
}

export const prepare = (benchmark: Benchmark.BenchmarkShape, prices: Readonly<Record<string, Metrics.Price>> = defaultPrices): Prepared => {
  const scale = displayScale(benchmark)
  const strong = Float64Array.from(benchmark.rows, (row) => row.scores[benchmark.strongModel]! * scale)
  const weak = Float64Array.from(benchmark.rows, (row) => row.scores[benchmark.weakModel]! * scale)
  const prompts = benchmark.rows.map((row) => row.prompt)
  const details = detailsOf(benchmark)
  const inputTokens = Float64Array.from(prompts, Metrics.estimateTokens)
  const costOf = (model: string): Float64Array | undefined => {
    const recorded = details.recordedCosts?.[model]
    if (recorded !== undefined && recorded.every((value) => Number.isFinite(value))) return recorded
    const price = prices[model]
    return price === undefined ? undefined : Metrics.promptCosts(inputTokens, price, details.outputTokens?.[model])
  }
  const strongCosts = costOf(benchmark.strongModel)
  const weakCosts = costOf(benchmark.weakModel)
  return {
    benchmark,
    prompts,
    strong,
    weak,
    strongScore: Metrics.modelScore(strong),
    weakScore: Metrics.modelScore(weak),
    costs: strongCosts === undefined || weakCosts === undefined ? undefined : { strong: strongCosts, weak: weakCosts }
  }
}

const sum = (values: Metrics.Numbers | undefined) => {
  if (values === undefined) return Number.NaN
  let total = 0
  for (let i = 0; i < values.length; i++) total += values[i]!
  return total
}

const metricsOf = (prepared: Prepared, curve: Metrics.Curve, apgrExact: number): RouterMetrics => {
  const summary = Metrics.summarize(curve, prepared.strongScore, prepared.weakScore)
  const strongCost = sum(prepared.costs?.strong)
  const weakCost = sum(prepared.costs?.weak)
  return {
    apgr: summary.apgr,
    apgrExact,
    cpt20: summary.cpt20,
    cpt50: summary.cpt50,
    cpt80: summary.cpt80,
    auc: summary.auc,
    ...(Number.isFinite(strongCost) && Number.isFinite(weakCost)
      ? {
        costSavings50: Metrics.costSavings(summary.cpt50, 0.5, strongCost, weakCost),
        costSavings80: Metrics.costSavings(summary.cpt80, 0.8, strongCost, weakCost)
      }
      : {})
  }
}

/** Evaluate win rates already computed (one array per seed) against a prepared benchmark. */
export const evaluateScores = (
  prepared: Prepared,
  scores: ReadonlyArray<Float64Array>,
  bins = 10
): { readonly curve: Metrics.Curve; readonly exact: Metrics.Curve; readonly metrics: RouterMetrics } => {
  const curves = scores.map((winRates) => Metrics.sweep(winRates, prepared.strong, prepared.weak, { bins, costs: prepared.costs }))
  const exacts = scores.map((winRates) => Metrics.exactCurve(winRates, prepared.strong, prepared.weak, prepared.costs))
  const curve = curves.length === 1 ? curves[0]! : Metrics.averageCurves(curves)
  const apgrs = curves.map((one) => Metrics.apgr(one, prepared.strongScore, prepared.weakScore))
  const apgrExact = exacts.reduce((total, exact) => total + Metrics.apgr(exact, prepared.strongScore, prepared.weakScore), 0) /
    exacts.length
  const metrics = metricsOf(prepared, curve, apgrExact)
  if (scores.length === 1) return { curve, exact: exacts[0]!, metrics }
  const average = apgrs.reduce((total, value) => total + value, 0) / apgrs.length
  const std = Math.sqrt(apgrs.reduce((total, value) => total + (value - average) ** 2, 0) / (apgrs.length - 1))
  return { curve, exact: exacts[0]!, metrics: { ...metrics, apgrStd: std } }
}

// ---------------------------------------------------------------------------
// Scoring with the artifact store as cache

const scoresFile = "scores.f64"

const readScores = (directory: string, expected: number) =>
  Effect.map(Files.readBytes(Path.join(directory, scoresFile)), (bytes) => {
    const scores = new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
    return scores.length === expected ? Option.some(scores) : Option.none<Float64Array>()
  })

/** Score the prompts with a router once per cache key; later calls read the stored scores. */
export const cachedScores = Effect.fn("Evaluate.cachedScores")(function*(
  key: string,
  prompts: ReadonlyArray<string>,
  build: Effect.Effect<Router.RouterShape, Plugin.Failure, Plugin.Services | Scope.Scope>,
  label: string
) {
  const store = yield* ArtifactStore.ArtifactStore
  const artifact = `router-scores/${key}`
  const existing = yield* store.lookup(artifact)
  if (Option.isSome(existing)) {
    const scores = yield* readScores(existing.value, prompts.length)
    if (Option.isSome(scores)) return { scores: scores.value, cached: true }
  }
  const router = yield* build
  const scores = yield* Router.scoreAll(router, prompts, { label })
  yield* store.commit(artifact, (directory) =>
    Effect.andThen(
      Files.writeBytes(Path.join(directory, scoresFile), new Uint8Array(scores.buffer, scores.byteOffset, scores.byteLength)),
      Files.writeJson(Path.join(directory, "meta.json"), { router: router.id, prompts: prompts.length, label })
    ))
  return { scores, cached: false }
})

/**
 * Score a benchmark with one router spec: resolves the plugin, derives the
 * cache key, repeats random routers over seeds and builds the oracle from the
 * benchmark itself when no benchmark is configured for it.
 */
export const scoreRouter = Effect.fn("Evaluate.scoreRouter")(function*(
  spec: RouterSpec,
  prompts: ReadonlyArray<string>,
  context: Plugin.MakeContext,
  target: {
    /** Fingerprint of the prompts (a benchmark's fingerprint, or a hash of a prompt file). */
    readonly fingerprint: string
    readonly name: string
    /** Random routers run this many seeds (default 1). */
    readonly seeds?: number
    /** The benchmark an oracle without its own benchmark config reads. */
    readonly benchmark?: Benchmark.BenchmarkShape
  }
) {
  const registry = yield* PluginRegistry.PluginRegistry
  const { uses, with: raw } = Plugin.normalizeReference(spec.reference)
  const where = `router ${spec.name ?? uses}`
  const plugin = yield* registry.getKind(uses, "router", where)
  const config = yield* PluginRegistry.decodeConfig(plugin, raw, where)
  let encoded: unknown = config
  try {
    encoded = Schema.encodeUnknownSync(plugin.config as Schema.Codec<unknown, unknown>)(config)
  } catch {
    // Configs that do not encode are hashed as decoded.
  }
  const external = plugin.fingerprint === undefined ? undefined : yield* plugin.fingerprint(config, context)
  // A random router without a pinned seed stands for the random baseline: average it over seeds.
  const isRandom = plugin.id === "router/random" &&
    !(typeof raw === "object" && raw !== null && "seed" in raw)
  const oracleBenchmark = plugin.id === OracleRouter.plugin.id && (config as OracleRouter.Config).benchmark === undefined
    ? target.benchmark
    : undefined
  const runs = isRandom ? target.seeds ?? 1 : 1
  // Routers that know many models score the benchmark's pair (an MF trained on 100 models evaluated on any two of them).
  const pair = target.benchmark === undefined
    ? undefined
    : { strong: target.benchmark.strongModel, weak: target.benchmark.weakModel }
  const scores: Array<Float64Array> = []
  let allCached = true
  for (let run = 0; run < runs; run++) {
    const runConfig = isRandom ? { ...(config as { seed: number }), seed: (config as { seed: number }).seed + run } : config
    const runEncoded = isRandom ? { ...(encoded as object), seed: (runConfig as { seed: number }).seed } : encoded
    const key = Hash.hashValue({
      uses: plugin.id,
      version: plugin.version,
      config: runEncoded,
      ...(pair === undefined ? {} : { pair }),
      external,
      trained: spec.trained?.fingerprint,
      // Without a fingerprint of its inputs, relative paths in the config mean different files per directory.
      base: plugin.fingerprint === undefined && spec.trained === undefined ? context.baseDirectory : undefined,
      prompts: target.fingerprint
    })
    const build: Effect.Effect<Router.RouterShape, Plugin.Failure, Plugin.Services | Scope.Scope> = oracleBenchmark !== undefined
      ? Effect.succeed(OracleRouter.fromBenchmark(oracleBenchmark))
      : plugin.make(runConfig, { ...context, trained: spec.trained, pair })
    const result = yield* cachedScores(key, prompts, build, `${spec.name ?? plugin.id}${runs > 1 ? ` seed ${run}` : ""} on ${target.name}`)
    allCached &&= result.cached
    scores.push(result.scores)
  }
  return { plugin, config: encoded, scores, cached: allCached, seeds: runs }
})

const displayName = (spec: RouterSpec) => {
  if (spec.name !== undefined) return spec.name
  const uses = Plugin.normalizeReference(spec.reference).uses
  return uses.startsWith("router/") ? uses.slice("router/".length) : uses
}

/**
 * Seeds a random baseline is averaged over: RouteLLM's 10, or more on small
 * benchmarks, where one seed's curve is noisy (on MT Bench's 72 prompts one
 * seed's APGR has a standard deviation near 0.07), so that the average covers
 * at least 10,000 routing decisions.
 */
export const defaultSeeds = (prompts: number): number => Math.min(1000, Math.max(10, Math.ceil(10_000 / Math.max(1, prompts))))

/** Evaluate routers, and the baselines not among them, on a benchmark and build the report. */
export const evaluate = Effect.fn("Evaluate.evaluate")(function*(
  benchmark: Benchmark.BenchmarkShape,
  routers: ReadonlyArray<RouterSpec>,
  context: Plugin.MakeContext,
  options: EvaluateOptions = {}
) {
  const registry = withBuiltinBaselines(yield* PluginRegistry.PluginRegistry)
  return yield* evaluateAll(benchmark, routers, context, options).pipe(Effect.provideService(PluginRegistry.PluginRegistry, registry))
})

const evaluateAll = Effect.fnUntraced(function*(
  benchmark: Benchmark.BenchmarkShape,
  routers: ReadonlyArray<RouterSpec>,
  context: Plugin.MakeContext,
  options: EvaluateOptions
) {
  const bins = options.bins ?? 10
  const seeds = options.seeds ?? defaultSeeds(benchmark.rows.length)
  const prepared = prepare(benchmark, { ...defaultPrices, ...options.prices })
  const { specs, baselines } = yield* withBaselines(routers, options.baselines ?? defaultBaselines)
  const results: Array<RouterResult> = []
  for (const [index, spec] of specs.entries()) {
    const scored = yield* scoreRouter(spec, prepared.prompts, context, {
      fingerprint: benchmark.fingerprint,
      name: benchmark.name,
      seeds,
      benchmark
    })
    const evaluated = evaluateScores(prepared, scored.scores, bins)
    results.push({
      name: displayName(spec),
      uses: scored.plugin.id,
      config: scored.config,
      ...(scored.seeds > 1 ? { seeds: scored.seeds } : {}),
      ...(index < baselines ? { baseline: true } : {}),
      cached: scored.cached,
      points: toPoints(evaluated.curve),
      exactPoints: toPoints(thin(evaluated.exact, 201)),
      metrics: evaluated.metrics
    })
  }
  const details = detailsOf(benchmark)
  const optimalCurve = Metrics.optimalCurve(prepared.strong, prepared.weak, { calls: details.optimalCalls ?? "fractional" })
  const fineOptimal = Metrics.optimalCurve(prepared.strong, prepared.weak, {
    calls: details.optimalCalls ?? "fractional",
    percents: Array.from({ length: 1001 }, (_, index) => index / 10)
  })
  const randomCurve = Metrics.randomCurve(prepared.strongScore, prepared.weakScore, prepared.costs)
  return {
    benchmark: benchmark.name,
    benchmarkId: benchmark.id,
    benchmarkFingerprint: benchmark.fingerprint,
    scoreLabel: benchmark.scoreLabel,
    strongModel: benchmark.strongModel,
    weakModel: benchmark.weakModel,
    prompts: benchmark.rows.length,
    dropped: benchmark.dropped,
    ...(details.droppedReasons === undefined ? {} : { droppedReasons: details.droppedReasons }),
    strongScore: prepared.strongScore,
    weakScore: prepared.weakScore,
    bins,
    strongCost: sum(prepared.costs?.strong),
    weakCost: sum(prepared.costs?.weak),
    routers: results,
    optimal: {
      points: toPoints(optimalCurve),
      metrics: metricsOf(prepared, optimalCurve, Metrics.apgr(fineOptimal, prepared.strongScore, prepared.weakScore))
    },
    random: {
      points: toPoints(randomCurve),
      metrics: metricsOf(prepared, randomCurve, 0.5)
    }
  } satisfies Report
})

/** At most `limit` points of a long curve (for reports), always keeping both ends. */
export const thin = (curve: Metrics.Curve, limit: number): Metrics.Curve => {
  const length = curve.strongPercent.length
  if (length <= limit) return curve
  const indices = Array.from({ length: limit }, (_, index) => Math.round((index * (length - 1)) / (limit - 1)))
  const pick = (values: Float64Array) => Float64Array.from(indices, (index) => values[index]!)
  return {
    thresholds: pick(curve.thresholds),
    strongPercent: pick(curve.strongPercent),
    score: pick(curve.score),
    cost: curve.cost === undefined ? undefined : pick(curve.cost)
  }
}
