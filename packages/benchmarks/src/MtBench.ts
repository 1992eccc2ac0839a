/**
 * `benchmark/mt-bench`: MT Bench as RouteLLM evaluates it. Routers see the
 * first turn only; the chosen model's score is the mean of its GPT-4 grades
 * (1-10) on both turns. 80 questions, 72 after decontamination (a question is
 * dropped when either turn is contaminated).
 */
import { Errors, Files, ModelAliases, Plugin, type Records } from "@routellm/core"
import { Effect, Schema } from "effect"
import * as Path from "node:path"
import { readContaminated, resolvePair, routeLlmFields, type RoutingBenchmark } from "./Benchmarks.ts"
import * as EvalData from "./EvalData.ts"

export const Config = Schema.Struct(routeLlmFields).annotate({
  description: "MT Bench with GPT-4 single-answer grades of GPT-4 and Mixtral (mean grade of both turns)"
})
export type Config = typeof Config.Type

const fingerprint = (config: Config, context: Plugin.MakeContext) =>
  Effect.gen(function*() {
    const root = yield* EvalData.resolveRoot("mt-bench", config.dir, context.baseDirectory)
    return yield* EvalData.fingerprintFiles(root, EvalData.files["mt-bench"], {
      id: "benchmark/mt-bench",
      strong: ModelAliases.canonical(config.strong),
      weak: ModelAliases.canonical(config.weak),
      decontaminate: config.decontaminate
    })
  })

const Question = Schema.Struct({
  question_id: Schema.Int,
  turns: Schema.Array(Schema.String).check(Schema.isMinLength(1))
})

const Judgement = Schema.Struct({
  question_id: Schema.Int,
  model: Schema.String,
  score: Schema.Finite,
  turn: Schema.Int
})

const decodeRows = <A>(schema: Schema.Decoder<A>, rows: ReadonlyArray<Files.Row<unknown>>, file: string) =>
  Effect.forEach(rows, (row) =>
    Schema.decodeUnknownEffect(schema as Schema.Codec<A, unknown>)(row.value).pipe(
      Effect.mapError((error) => new Errors.InputError({ file, line: row.line, reason: error.message }))
    ))

export const make = Effect.fn("MtBench.make")(function*(config: Config, context: Plugin.MakeContext) {
  const root = yield* EvalData.resolveRoot("mt-bench", config.dir, context.baseDirectory)
  const questionFile = Path.join(root, "mt_bench/question.jsonl")
  const judgementFile = Path.join(root, "mt_bench/judgements.jsonl")
  const questions = yield* decodeRows(Question, (yield* Files.readJsonl(questionFile, { field: "dir" })).rows, questionFile)
  const judgements = yield* decodeRows(Judgement, (yield* Files.readJsonl(judgementFile, { field: "dir" })).rows, judgementFile)
  const contaminated = config.decontaminate
    ? yield* readContaminated(Path.join(root, "mt_bench/contaminated_prompts.jsonl"))
    : new Set<string>()

  // question -> model -> grades of its turns (FastChat writes -1 for a grade it could not parse).
  const grades = new Map<number, Map<string, Array<number>>>()
  const modelSet = new Set<string>()
  for (const judgement of judgements) {
    if (judgement.score < 0) continue
    const model = ModelAliases.canonical(judgement.model)
    modelSet.add(model)
    const byModel = grades.get(judgement.question_id) ?? new Map<string, Array<number>>()
    grades.set(judgement.question_id, byModel)
    const list = byModel.get(model) ?? []
    byModel.set(model, list)
    list.push(judgement.score)
  }
  const allModels = [...modelSet]
  const pair = yield* resolvePair(allModels, config.strong, config.weak, judgementFile)

  const kept = questions.filter((question) => !question.turns.some((turn, index) => index < 2 && contaminated.has(turn)))
  const dropped = questions.length - kept.length
  // A model is listed when it has grades on every kept question.
  const models = allModels.filter((model) => kept.every((question) => grades.get(question.question_id)?.has(model)))
  for (const model of [pair.strong, pair.weak]) {
    const missing = kept.find((question) => !grades.get(question.question_id)?.has(model))
    if (missing !== undefined) {
      return yield* new Errors.InputError({
        file: judgementFile,
        field: "score",
        reason: `no grade of ${model} for question ${missing.question_id}`
      })
    }
  }
  const rows: Array<Records.OutcomeRow> = kept.map((question) => {
    const byModel = grades.get(question.question_id)!
    const scores: Record<string, number> = {}
    for (const model of models) {
      const list = byModel.get(model)!
      scores[model] = list.reduce((total, grade) => total + grade, 0) / list.length
    }
    return { prompt: question.turns[0]!, scores, source: `mt-bench/${question.question_id}` }
  })
  const benchmark: RoutingBenchmark = {
    id: "benchmark/mt-bench",
    name: "MT Bench",
    fingerprint: yield* fingerprint(config, context),
    strongModel: pair.strong,
    weakModel: pair.weak,
    models,
    rows,
    scoreLabel: "MT Bench grade (1-10)",
    dropped,
    details: { optimalCalls: "floor", displayScale: 1 }
  }
  return benchmark
})

export const plugin = Plugin.benchmark({
  id: "benchmark/mt-bench",
  version: "1.0.0",
  description: "MT Bench (RouteLLM evaluation set): GPT-4 grades of GPT-4 vs Mixtral, routed on the first turn",
  config: Config,
  fingerprint,
  make
})
