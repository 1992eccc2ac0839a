/**
 * `eval/mf-multi-model`: how well MF routes between N priced models, on a
 * per-prompt outcome table (`benchmark/outcomes` steps in `needs`, whose rows
 * are pooled, e.g. the files of train/routerdc with 7 models or
 * train/llmrouter with 9).
 *
 * The table is split BY PROMPT (a seeded hash of the prompt text, so rows
 * that share a prompt stay on one side); MF trains on golden-label battles of
 * the training prompts (better score wins, equal scores tie) and routes the
 * held-out prompts with both multi-model policies over a sweep of lambda and
 * threshold. Each setting gives a point (mean price of the chosen models,
 * mean recorded quality); the report compares the curve with always-best,
 * always-cheapest, uniform random, the random mix of best and cheapest, every
 * single model and the per-prompt oracle. Writes report.json, report.md and
 * curve.svg.
 */
import { Plot } from "@routellm/benchmarks"
import { Embedder, Errors, Files, Matrix, ModelAliases, Plugin, PluginRegistry, Port, Random, type Records } from "@routellm/core"
import { Effect, Schema } from "effect"
import * as Path from "node:path"
import * as MfRouter from "./MfRouter.ts"
import * as Model from "./Model.ts"
import * as MultiModel from "./MultiModel.ts"
import * as Training from "./Training.ts"

export const id = "eval/mf-multi-model"

const trainingFields = MfRouter.Config.fields

export const Config = Schema.Struct({
  prices: Schema.Record(Schema.String, Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))).annotate({
    description: "Price of each model (e.g. dollars per million tokens); every model of the table needs one"
  }),
  models: Schema.optionalKey(Schema.Array(Schema.String)).annotate({ description: "Models to route between (default: every model of the table)" }),
  testFraction: Schema.Finite.check(Schema.isBetween({ minimum: 0.01, maximum: 0.99 })).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(0.2))
  ).annotate({ description: "Share of prompts held out for evaluation" }),
  splitSeed: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))).annotate({ description: "Seed of the split by prompt" }),
  margin: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))).annotate({
    description: "Scores closer than this tie in the training battles"
  }),
  sweep: Schema.Int.check(Schema.isGreaterThanOrEqualTo(3)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(41))).annotate({
    description: "Settings of lambda and of the threshold in the sweeps"
  }),
  embedder: trainingFields.embedder,
  dimensions: trainingFields.dimensions,
  learningRate: trainingFields.learningRate,
  weightDecay: trainingFields.weightDecay,
  batchSize: trainingFields.batchSize,
  noise: trainingFields.noise,
  epochs: trainingFields.epochs,
  patience: trainingFields.patience,
  validationFraction: trainingFields.validationFraction,
  seed: trainingFields.seed,
  ties: trainingFields.ties
}).annotate({ description: "Multi-model MF routing on an outcome table: quality vs price against simple baselines" })
export type Config = typeof Config.Type

export interface Point {
  readonly setting: number
  readonly price: number
  readonly quality: number
  /** Share of prompts sent to each model. */
  readonly shares: Readonly<Record<string, number>>
}

export interface Report {
  readonly table: string
  readonly models: ReadonlyArray<string>
  readonly prices: ReadonlyArray<number>
  readonly trainPrompts: number
  readonly testPrompts: number
  readonly trainRows: number
  readonly testRows: number
  readonly overlap: number
  readonly battles: number
  readonly training: {
    readonly epochs: number
    readonly bestEpoch: number
    readonly validationAccuracy: number | null
    readonly seconds: number
    readonly battlesPerSecondPerEpoch: number
  }
  readonly single: ReadonlyArray<{ readonly model: string; readonly price: number; readonly quality: number; readonly trainQuality: number }>
  readonly alwaysBest: { readonly model: string; readonly price: number; readonly quality: number }
  readonly alwaysCheapest: { readonly model: string; readonly price: number; readonly quality: number }
  readonly random: { readonly price: number; readonly quality: number }
  readonly oracle: { readonly price: number; readonly quality: number }
  readonly lambdaCurve: ReadonlyArray<Point>
  readonly thresholdCurve: ReadonlyArray<Point>
  readonly summary: {
    /** Best quality any setting of the lambda curve reaches, and its price. */
    readonly bestQuality: number
    readonly bestQualityPrice: number
    /** Least price at which the lambda curve reaches always-best's quality (null if never). */
    readonly priceAtBestQuality: number | null
    /** The random mix of cheapest and best: price for the same quality. */
    readonly randomMixPriceAtBestQuality: number
    /** Quality of the lambda curve at half of always-best's price (interpolated), and of the random mix there. */
    readonly qualityAtHalfPrice: number
    readonly randomMixQualityAtHalfPrice: number
  }
}

/** Held out when the seeded hash of the prompt text falls below the test fraction. */
export const isTest = (prompt: string, seed: number, testFraction: number) => Random.hashUniform(seed, prompt) < testFraction

/** Golden-label battles from outcome rows: the better score wins, scores within the margin tie. */
export const battlesFromOutcomes = (rows: ReadonlyArray<Records.OutcomeRow>, models: ReadonlyArray<string>, margin: number) => {
  const battles: Array<Records.Battle> = []
  for (const row of rows) {
    for (let a = 0; a < models.length; a++) {
      for (let b = a + 1; b < models.length; b++) {
        const difference = row.scores[models[a]!]! - row.scores[models[b]!]!
        battles.push({
          prompt: row.prompt,
          model_a: models[a]!,
          model_b: models[b]!,
          winner: Math.abs(difference) <= margin ? "tie" : difference > 0 ? "model_a" : "model_b"
        })
      }
    }
  }
  return battles
}

/** Route every test prompt for one policy: mean price, mean recorded quality and model shares. */
export const simulate = (
  scores: Matrix.Matrix,
  quality: Matrix.Matrix,
  prices: ReadonlyArray<number>,
  models: ReadonlyArray<string>,
  policy: MultiModel.Policy
) => {
  const counts = new Float64Array(models.length)
  let price = 0
  let total = 0
  for (let i = 0; i < scores.rows; i++) {
    const chosen = MultiModel.choose(Matrix.row(scores, i), prices, policy)
    counts[chosen]!++
    price += prices[chosen]!
    total += quality.data[i * quality.columns + chosen]!
  }
  return {
    price: price / scores.rows,
    quality: total / scores.rows,
    shares: Object.fromEntries(models.map((model, index) => [model, counts[index]! / scores.rows]))
  }
}

/** Upper-left frontier of points, by price. */
const frontier = (points: ReadonlyArray<{ readonly price: number; readonly quality: number }>) => {
  const sorted = [...points].sort((a, b) => a.price - b.price || b.quality - a.quality)
  const out: Array<{ price: number; quality: number }> = []
  for (const point of sorted) if (out.length === 0 || point.quality > out.at(-1)!.quality) out.push({ ...point })
  return out
}

/** Quality of a piecewise-linear frontier at a price (flat beyond its ends). */
const qualityAt = (points: ReadonlyArray<{ readonly price: number; readonly quality: number }>, price: number) => {
  if (points.length === 0) return Number.NaN
  if (price <= points[0]!.price) return points[0]!.quality
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!
    const b = points[i]!
    if (price <= b.price) return a.quality + (b.quality - a.quality) * ((price - a.price) / (b.price - a.price || 1))
  }
  return points.at(-1)!.quality
}

/** Least price at which a frontier reaches a quality (null if it never does). */
const priceFor = (points: ReadonlyArray<{ readonly price: number; readonly quality: number }>, target: number) => {
  if (points.length === 0) return null
  if (points[0]!.quality >= target) return points[0]!.price
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!
    const b = points[i]!
    if (b.quality >= target) return a.price + (b.price - a.price) * ((target - a.quality) / (b.quality - a.quality))
  }
  return null
}

export const inputs = {
  tables: Port.many(Port.outcomes, { min: 1, description: "outcome tables (benchmark/outcomes without split); their rows are pooled" })
}

export const run = (config: Config, context: Plugin.StepContext<typeof inputs>) =>
  Effect.gen(function*() {
    const tables = context.ports.tables
    if (tables.length === 0) {
      return yield* new Errors.PluginError({
        pluginId: id,
        reason: "needs benchmark steps with per-prompt outcomes (benchmark/outcomes without split); their rows are pooled"
      })
    }
    // The outcome port reads each table step's outcomes.jsonl.
    const rows = (yield* Effect.forEach(tables, (table) => table.read)).flat()
    // models scored in every pooled table
    const present = Object.keys(rows[0]?.scores ?? {}).filter((model) => rows.every((row) => model in row.scores))
    const wanted = config.models ?? present
    const models: Array<string> = []
    for (const name of wanted) {
      const key = ModelAliases.find(present, name)
      if (key === undefined) return yield* new Errors.PluginError({ pluginId: id, reason: `model ${name} is not in the table (${present.join(", ")})` })
      models.push(key)
    }
    const prices: Array<number> = []
    for (const model of models) {
      const key = ModelAliases.find(Object.keys(config.prices), model)
      if (key === undefined) return yield* new Errors.PluginError({ pluginId: id, reason: `prices: no price for ${model}` })
      prices.push(config.prices[key]!)
    }
    const complete = rows.filter((row) => models.every((model) => Number.isFinite(row.scores[model])))
    const trainRows = complete.filter((row) => !isTest(row.prompt, config.splitSeed, config.testFraction))
    const testRows = complete.filter((row) => isTest(row.prompt, config.splitSeed, config.testFraction))
    const trainPrompts = new Set(trainRows.map((row) => row.prompt))
    const testPrompts = new Set(testRows.map((row) => row.prompt))
    const overlap = [...testPrompts].filter((prompt) => trainPrompts.has(prompt)).length

    // Train MF on golden-label battles of the training prompts. Battles carry
    // canonical names; keep a map back to the table's names.
    const battles = battlesFromOutcomes(trainRows, models, config.margin)
    const prepared = Training.prepare(battles, config.ties)
    const embedder = yield* PluginRegistry.makeEmbedder(config.embedder, context, `${id} embedder`).pipe(
      Effect.mapError((error) => new Errors.PluginError({ pluginId: id, reason: Errors.format(error) }))
    )
    const trainEmbeddings = yield* Embedder.embedAll(embedder, prepared.prompts, { label: `${id}: embedding ${prepared.prompts.length} training prompts` })
    const options = MfRouter.trainingOptions(config)
    const trained = yield* Training.train(prepared.modelIds, prepared.examples, trainEmbeddings, options)
    const rowOf = models.map((model) => prepared.modelIds.indexOf(ModelAliases.canonical(model)))

    // Score held-out prompts for the candidates, in table order.
    const testEmbeddings = yield* Embedder.embedAll(embedder, testRows.map((row) => row.prompt), {
      label: `${id}: embedding ${testRows.length} held-out prompts`
    })
    const vectors = Matrix.take(Model.scoringVectors(trained.parameters), rowOf)
    const scores = Model.scores(vectors, testEmbeddings)
    const quality = Matrix.make(testRows.length, models.length)
    testRows.forEach((row, i) => models.forEach((model, m) => (quality.data[i * models.length + m] = row.scores[model]!)))
    const trainQuality = models.map((model) => trainRows.reduce((sum, row) => sum + row.scores[model]!, 0) / Math.max(1, trainRows.length))
    const testQuality = models.map((_, m) => {
      let sum = 0
      for (let i = 0; i < testRows.length; i++) sum += quality.data[i * models.length + m]!
      return sum / Math.max(1, testRows.length)
    })
    const single = models.map((model, m) => ({ model, price: prices[m]!, quality: testQuality[m]!, trainQuality: trainQuality[m]! }))
    // always-best is chosen on the training prompts, as a user would have to
    const bestIndex = trainQuality.reduce((best, value, m) => (value > trainQuality[best]! ? m : best), 0)
    const cheapestIndex = prices.reduce(
      (best, value, m) => (value < prices[best]! || (value === prices[best] && trainQuality[m]! > trainQuality[best]!) ? m : best),
      0
    )
    const alwaysBest = single[bestIndex]!
    const alwaysCheapest = single[cheapestIndex]!
    let oraclePrice = 0
    let oracleQuality = 0
    for (let i = 0; i < testRows.length; i++) {
      let chosen = 0
      for (let m = 1; m < models.length; m++) {
        const q = quality.data[i * models.length + m]!
        const c = quality.data[i * models.length + chosen]!
        if (q > c || (q === c && prices[m]! < prices[chosen]!)) chosen = m
      }
      oraclePrice += prices[chosen]!
      oracleQuality += quality.data[i * models.length + chosen]!
    }
    const positivePrices = prices.filter((price) => price > 0)
    const priceSpan = Math.max(...prices) - Math.min(...prices)
    // lambda from 0 to where price dominates any quality difference (qualities are in [0, 1])
    const smallestGap = Math.min(
      ...prices.flatMap((a) => prices.map((b) => Math.abs(a - b))).filter((gap) => gap > 0),
      positivePrices.length > 0 ? Math.min(...positivePrices) : 1
    )
    const lambdaHigh = 2 / (smallestGap || 1)
    const lambdaLow = 1e-3 / (priceSpan || 1)
    const lambdas = [0, ...Array.from({ length: config.sweep - 1 }, (_, i) => lambdaLow * (lambdaHigh / lambdaLow) ** (i / (config.sweep - 2)))]
    const thresholds = Array.from({ length: config.sweep }, (_, i) => (0.5 * i) / (config.sweep - 1))
    const lambdaCurve = lambdas.map((lambda) => ({
      setting: lambda,
      ...simulate(scores, quality, prices, models, { kind: "quality-minus-price", lambda })
    }))
    const thresholdCurve = thresholds.map((threshold) => ({
      setting: threshold,
      ...simulate(scores, quality, prices, models, { kind: "cheapest-above-threshold", threshold })
    }))
    const mfFrontier = frontier([...lambdaCurve, ...thresholdCurve])
    const mix = [alwaysCheapest, alwaysBest].sort((a, b) => a.price - b.price)
    const bestPoint = mfFrontier.reduce((best, point) => (point.quality > best.quality ? point : best), mfFrontier[0]!)
    const halfPrice = alwaysBest.price / 2
    const report: Report = {
      table: tables.map((table) => table.stepId).join(" + "),
      models,
      prices,
      trainPrompts: trainPrompts.size,
      testPrompts: testPrompts.size,
      trainRows: trainRows.length,
      testRows: testRows.length,
      overlap,
      battles: battles.length,
      training: {
        epochs: trained.history.length,
        bestEpoch: trained.bestEpoch,
        validationAccuracy: trained.history[trained.bestEpoch - 1]?.validationAccuracy ?? null,
        seconds: trained.seconds,
        battlesPerSecondPerEpoch: Math.round(trained.battlesPerSecond)
      },
      single,
      alwaysBest: { model: alwaysBest.model, price: alwaysBest.price, quality: alwaysBest.quality },
      alwaysCheapest: { model: alwaysCheapest.model, price: alwaysCheapest.price, quality: alwaysCheapest.quality },
      random: {
        price: prices.reduce((sum, price) => sum + price, 0) / models.length,
        quality: testQuality.reduce((sum, value) => sum + value, 0) / models.length
      },
      oracle: { price: oraclePrice / Math.max(1, testRows.length), quality: oracleQuality / Math.max(1, testRows.length) },
      lambdaCurve,
      thresholdCurve,
      summary: {
        bestQuality: bestPoint.quality,
        bestQualityPrice: bestPoint.price,
        priceAtBestQuality: priceFor(mfFrontier, alwaysBest.quality),
        randomMixPriceAtBestQuality: alwaysBest.price,
        qualityAtHalfPrice: qualityAt(mfFrontier, halfPrice),
        randomMixQualityAtHalfPrice: qualityAt(mix, halfPrice)
      }
    }
    yield* Files.writeText(Path.join(context.directory, "report.json"), JSON.stringify(report, null, 1))
    yield* Files.writeText(Path.join(context.directory, "report.md"), markdown(report))
    yield* Files.writeText(Path.join(context.directory, "curve.svg"), svg(report))
    const { lambdaCurve: _l, thresholdCurve: _t, ...rest } = report
    return { value: rest, summary: { ...rest.summary, testPrompts: report.testPrompts, overlap, trainingSeconds: trained.seconds } }
  })

const fixed = (value: number | null, digits = 4) => (value === null || !Number.isFinite(value) ? "n/a" : value.toFixed(digits))

export const markdown = (report: Report): string => {
  const lines = [
    `# MF multi-model routing on ${report.table}`,
    "",
    `${report.models.length} models; split by prompt: ${report.trainPrompts} training prompts (${report.trainRows} rows, ${report.battles} battles), ${report.testPrompts} held-out prompts (${report.testRows} rows), ${report.overlap} prompts on both sides.`,
    `Training: ${report.training.epochs} epochs (best ${report.training.bestEpoch}), validation accuracy ${fixed(report.training.validationAccuracy)}, ${
      report.training.seconds.toFixed(1)
    } s, ${report.training.battlesPerSecondPerEpoch} battles/s/epoch.`,
    "",
    "| policy | mean price | mean quality |",
    "|---|---:|---:|",
    `| always-best (${report.alwaysBest.model}) | ${fixed(report.alwaysBest.price)} | ${fixed(report.alwaysBest.quality)} |`,
    `| always-cheapest (${report.alwaysCheapest.model}) | ${fixed(report.alwaysCheapest.price)} | ${fixed(report.alwaysCheapest.quality)} |`,
    `| random (uniform over models) | ${fixed(report.random.price)} | ${fixed(report.random.quality)} |`,
    `| oracle (per-prompt best, cheapest on ties) | ${fixed(report.oracle.price)} | ${fixed(report.oracle.quality)} |`,
    `| MF best setting | ${fixed(report.summary.bestQualityPrice)} | ${fixed(report.summary.bestQuality)} |`,
    "",
    `MF reaches always-best's quality at price ${fixed(report.summary.priceAtBestQuality)} (always-best: ${
      fixed(report.summary.randomMixPriceAtBestQuality)
    }).`,
    `At half of always-best's price: MF ${fixed(report.summary.qualityAtHalfPrice)} vs random mix of best and cheapest ${
      fixed(report.summary.randomMixQualityAtHalfPrice)
    }.`,
    "",
    "| model | price | held-out quality | training quality |",
    "|---|---:|---:|---:|",
    ...report.single.map((model) => `| ${model.model} | ${fixed(model.price)} | ${fixed(model.quality)} | ${fixed(model.trainQuality)} |`),
    "",
    "Lambda sweep (quality − lambda · price):",
    "",
    "| lambda | mean price | mean quality |",
    "|---:|---:|---:|",
    ...report.lambdaCurve.map((point) => `| ${point.setting.toPrecision(3)} | ${fixed(point.price)} | ${fixed(point.quality)} |`),
    ""
  ]
  return lines.join("\n")
}

export const svg = (report: Report): string =>
  Plot.chart({
    title: `MF routing among ${report.models.length} models (${report.table}, ${report.testPrompts} held-out prompts)`,
    xLabel: "mean price of the chosen model",
    yLabel: "mean quality (held-out prompts)",
    series: [
      { label: "MF: quality − λ·price", color: "#1f77b4", points: report.lambdaCurve.map((point) => [point.price, point.quality] as const) },
      {
        label: "MF: cheapest ≥ threshold",
        color: "#ff7f0e",
        dash: "4 3",
        points: [...report.thresholdCurve].sort((a, b) => a.price - b.price).map((point) => [point.price, point.quality] as const)
      },
      {
        label: "random mix best/cheapest",
        color: "#7f7f7f",
        dash: "6 4",
        points: [[report.alwaysCheapest.price, report.alwaysCheapest.quality], [report.alwaysBest.price, report.alwaysBest.quality]]
      },
      {
        label: "single models",
        color: "#2ca02c",
        pointsOnly: true,
        points: report.single.map((model) => [model.price, model.quality] as const),
        labelPoints: report.single.map((model) => model.model.split("/").at(-1)!)
      },
      { label: "random (uniform)", color: "#9467bd", pointsOnly: true, points: [[report.random.price, report.random.quality]] },
      { label: "oracle", color: "#d62728", pointsOnly: true, points: [[report.oracle.price, report.oracle.quality]] }
    ]
  })

export const plugin = Plugin.step({
  id,
  version: "1.0.0",
  description: "Train MF on the training prompts of an outcome table and route its held-out prompts among N priced models",
  config: Config,
  inputs,
  output: Port.report,
  run
})
