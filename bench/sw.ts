/**
 * SW router throughput: queries per second of router/sw's sufficient-statistics
 * path against the straightforward implementation of the same maths (per query,
 * a cosine similarity per battle and one weighted logistic regression over all
 * battles, as RouteLLM computes it), on the full offline training set, in the
 * same run; prints the ratio and the largest difference between their win rates.
 *
 *   node --conditions=source --import tsx bench/sw.ts [reference queries (default 3)] [fast queries (default 2000)]
 *
 * Reads ../shared/data (or ROUTELLM_SHARED_DATA); embeddings go through the
 * artifact store (ROUTELLM_CACHE_DIR), so a run after `routellm run
 * pipelines/sw-eval.yaml` embeds nothing new.
 */
import { ArtifactStore, Embedder, Files, Matrix, Plugin, PluginRegistry, type Records } from "@routellm/core"
import { AlpacaEval, OutcomeBattles } from "@routellm/datasets"
import * as Embedders from "@routellm/embedders"
import { Reference, SimilarityWeighted, SwRouter } from "@routellm/router-sw"
import { Effect, Layer, Stream } from "effect"
import * as Path from "node:path"

const sharedData = process.env.ROUTELLM_SHARED_DATA ?? Path.resolve(import.meta.dirname, "../../shared/data")
const referenceQueries = Number(process.argv[2] ?? 3)
const fastQueries = Number(process.argv[3] ?? 2000)

const readBattles = (plugin: Plugin.DatasetPlugin, raw: unknown) =>
  Effect.gen(function*() {
    const config = yield* Plugin.decodeConfig(plugin)(raw)
    const dataset = yield* plugin.make(config, { baseDirectory: sharedData })
    return yield* Stream.runCollect(dataset.records)
  })

const seconds = (start: number) => (performance.now() - start) / 1000

const program = Effect.gen(function*() {
  const battles: Array<Records.Battle> = [
    ...(yield* readBattles(AlpacaEval.plugin, { dir: "." })),
    ...(yield* readBattles(OutcomeBattles.plugin, { dir: ".", sources: ["train/routerbench", "train/routerdc", "train/llmrouter/train.json"] }))
  ]
  const embedder = yield* PluginRegistry.makeEmbedder("embedder/use-lite", { baseDirectory: sharedData })
  const { prompts, promptOf } = SimilarityWeighted.uniquePrompts(battles)
  const embeddings = yield* Embedder.embedAll(embedder, prompts, { label: "training prompts" })
  let start = performance.now()
  const state = SimilarityWeighted.build(battles, embeddings, { numTiers: 10 })
  console.log(
    `training set: ${battles.length} battles, ${prompts.length} unique prompts, ${state.models.length} models; trained in ${seconds(start).toFixed(1)}s`
  )
  const config = yield* Plugin.decodeConfig(SwRouter.plugin)({})
  const found = SwRouter.players(state, config)
  if ("reason" in found) return yield* Effect.die(found.reason)
  const options = { ...found, weighting: SimilarityWeighted.defaultWeighting }

  const gsm8k = yield* Files.readCsv(Path.join(sharedData, "eval/routellm/gsm8k/gsm8k_responses.csv"))
  const mmlu = yield* Files.readCsv(Path.join(sharedData, "eval/routellm/mmlu/responses/mmlu_high_school_physics.csv"))
  const queryTexts = [...gsm8k.rows, ...mmlu.rows].map((row) => row.value.prompt!)
  while (queryTexts.length < fastQueries) queryTexts.push(...queryTexts.slice(0, fastQueries - queryTexts.length))
  const queries = Matrix.normalizeRows(yield* Embedder.embedAll(embedder, queryTexts.slice(0, fastQueries), { label: "queries" }))

  // Fast path, as router/sw runs it: onnxruntime similarity product, per-prompt statistics, Newton on tiers.
  const engine = yield* SwRouter.similarityEngine(state, "onnx")
  start = performance.now()
  const fast = new Float64Array(queries.rows)
  for (let offset = 0; offset < queries.rows; offset += config.batchSize) {
    const end = Math.min(queries.rows, offset + config.batchSize)
    const block = Matrix.make(end - offset, queries.columns, queries.data.subarray(offset * queries.columns, end * queries.columns))
    const similarities = yield* Effect.promise(() => engine.similarities(block))
    fast.set(SimilarityWeighted.winRatesFromSimilarities(state, similarities, options), offset)
  }
  const fastRate = queries.rows / seconds(start)
  start = performance.now()
  const javascriptCount = Math.min(queries.rows, 256)
  const javascript = SimilarityWeighted.winRates(state, Matrix.take(queries, Array.from({ length: javascriptCount }, (_, i) => i)), options)
  const javascriptRate = javascriptCount / seconds(start)

  // Straightforward path: per-battle similarities and one logistic regression over all battles per query.
  const tierPlayer = new Map(state.models.map((model) => [model.name, state.tiers.indexOf(model.tier)]))
  const reference: Reference.Battles = {
    a: Int32Array.from(battles, (battle) => tierPlayer.get(battle.model_a)!),
    b: Int32Array.from(battles, (battle) => tierPlayer.get(battle.model_b)!),
    winner: battles.map((battle) => battle.winner),
    embeddings: Matrix.take(state.embeddings, promptOf),
    players: state.tiers.length
  }
  const design = Reference.design(reference)
  start = performance.now()
  let largestDifference = 0
  for (let query = 0; query < referenceQueries; query++) {
    const value = Reference.winRate(reference, Matrix.row(queries, query), { ...options, design })
    largestDifference = Math.max(largestDifference, Math.abs(value - fast[query]!), Math.abs(value - javascript[query]!))
  }
  const referenceRate = referenceQueries / seconds(start)
  console.log(`straightforward (per-battle weighted logistic regression): ${referenceRate.toFixed(3)} queries/s (${referenceQueries} queries)`)
  console.log(
    `router/sw, JavaScript similarity:  ${javascriptRate.toFixed(1)} queries/s (${javascriptCount} queries), ${(javascriptRate / referenceRate).toFixed(0)}x`
  )
  console.log(`router/sw, onnxruntime similarity: ${fastRate.toFixed(1)} queries/s (${queries.rows} queries), ${(fastRate / referenceRate).toFixed(0)}x`)
  console.log(`largest win-rate difference to the straightforward fit: ${largestDifference.toExponential(2)}`)
  if (!(largestDifference < 1e-6)) return yield* Effect.die(`results disagree by ${largestDifference}`)
})

Effect.runPromise(program.pipe(
  Effect.scoped,
  Effect.provide(Layer.mergeAll(PluginRegistry.PluginRegistry.layer(Embedders.plugins), ArtifactStore.ArtifactStore.layer))
)).catch((error) => {
  console.error(error)
  process.exit(1)
})
