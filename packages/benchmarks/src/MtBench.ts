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

export const Config = Schema.Struct({
  ...routeLlmFields,
  questions: Schema.optionalKey(Schema.String).annotate({
    description:
      "A FastChat question file (question.jsonl: question_id as a number or a string, turns as strings or { content }) instead of the RouteLLM MT Bench set; relative to the pipeline's directory"
  }),
  judgements: Schema.optionalKey(Schema.Union([Schema.String, Schema.Array(Schema.String)])).annotate({
    description: "FastChat single-answer grade files (model_judgment/*_single.jsonl) for `questions`; a grade of -1 is missing"
  }),
  contaminated: Schema.optionalKey(Schema.String).annotate({
    description: "With `questions`: a contaminated_prompts.jsonl whose eval_prompt values are dropped"
  }),
  judge: Schema.optionalKey(Schema.String).annotate({
    description: "Keep only grades of this judge model (the first element of FastChat's judge field), when a file has several"
  }),
  name: Schema.optionalKey(Schema.String).annotate({ description: "Display name (default MT Bench, or the question file's folder)" })
}).annotate({
  description:
    "MT Bench with GPT-4 single-answer grades of GPT-4 and Mixtral (mean grade of both turns), or any FastChat question set with single-answer grades"
})
export type Config = typeof Config.Type

/** The files a config reads: FastChat files it names, else the RouteLLM MT Bench layout. */
const sourceFiles = (config: Config, context: Plugin.MakeContext) =>
  Effect.gen(function*() {
    if (config.questions === undefined) {
      if (config.judgements !== undefined) {
        return yield* new Errors.InputError({ file: "(config)", field: "judgements", reason: "judgements: needs questions: (a FastChat question file)" })
      }
      const root = yield* EvalData.resolveRoot("mt-bench", config.dir, context.baseDirectory)
      return {
        questions: Path.join(root, "mt_bench/question.jsonl"),
        judgements: [Path.join(root, "mt_bench/judgements.jsonl")],
        contaminated: config.decontaminate ? Path.join(root, "mt_bench/contaminated_prompts.jsonl") : undefined
      }
    }
    if (config.judgements === undefined) {
      return yield* new Errors.InputError({
        file: "(config)",
        field: "judgements",
        reason: "questions: needs judgements: (FastChat single-answer grade files)"
      })
    }
    const resolve = (file: string) => Path.resolve(context.baseDirectory, file)
    return {
      questions: resolve(config.questions),
      judgements: (typeof config.judgements === "string" ? [config.judgements] : config.judgements).map(resolve),
      contaminated: config.contaminated !== undefined && config.decontaminate ? resolve(config.contaminated) : undefined
    }
  })

const fingerprint = (config: Config, context: Plugin.MakeContext) =>
  Effect.gen(function*() {
    const options = {
      id: "benchmark/mt-bench",
      strong: ModelAliases.canonical(config.strong),
      weak: ModelAliases.canonical(config.weak),
      decontaminate: config.decontaminate,
      ...(config.judge === undefined ? {} : { judge: config.judge })
    }
    if (config.questions === undefined) {
      const root = yield* EvalData.resolveRoot("mt-bench", config.dir, context.baseDirectory)
      return yield* EvalData.fingerprintFiles(root, EvalData.files["mt-bench"], options)
    }
    // Named relative to the question file's folder, so a copied folder keeps its fingerprint.
    const files = yield* sourceFiles(config, context)
    const root = Path.dirname(files.questions)
    const paths = [files.questions, ...files.judgements, ...(files.contaminated === undefined ? [] : [files.contaminated])]
    return yield* EvalData.fingerprintFiles(root, paths.map((path) => Path.relative(root, path)), options)
  })

const QuestionId = Schema.Union([Schema.Int, Schema.String])

const Turn = Schema.Union([Schema.String, Schema.Struct({ content: Schema.String })])

const Question = Schema.Struct({
  question_id: QuestionId,
  turns: Schema.Array(Turn).check(Schema.isMinLength(1))
})

const Judgement = Schema.Struct({
  question_id: QuestionId,
  model: Schema.String,
  score: Schema.Finite,
  turn: Schema.optionalKey(Schema.Int),
  judge: Schema.optionalKey(Schema.Union([Schema.String, Schema.Array(Schema.String)]))
})

const decodeRows = <A>(schema: Schema.Decoder<A>, rows: ReadonlyArray<Files.Row<unknown>>, file: string) =>
  Effect.forEach(rows, (row) =>
    Schema.decodeUnknownEffect(schema as Schema.Codec<A, unknown>)(row.value).pipe(
      Effect.mapError((error) => new Errors.InputError({ file, line: row.line, reason: error.message }))
    ))

const turnText = (turn: typeof Turn.Type): string => (typeof turn === "string" ? turn : turn.content)

const judgeOf = (judgement: typeof Judgement.Type): string | undefined =>
  judgement.judge === undefined ? undefined : typeof judgement.judge === "string" ? judgement.judge : judgement.judge[0]

export const make = Effect.fn("MtBench.make")(function*(config: Config, context: Plugin.MakeContext) {
  const files = yield* sourceFiles(config, context)
  const field = config.questions === undefined ? "dir" : "questions"
  const questions = yield* decodeRows(Question, (yield* Files.readJsonl(files.questions, { field })).rows, files.questions)
  const contaminated = files.contaminated === undefined ? new Set<string>() : yield* readContaminated(files.contaminated)

  // question -> model -> turn -> grades (a grade below 0 is FastChat's "could not parse": missing, not a score).
  const grades = new Map<string, Map<string, Map<number, Array<number>>>>()
  const modelSet = new Set<string>()
  for (const file of files.judgements) {
    const judgements = yield* decodeRows(Judgement, (yield* Files.readJsonl(file, { field: config.questions === undefined ? "dir" : "judgements" })).rows, file)
    for (const judgement of judgements) {
      if (config.judge !== undefined && judgeOf(judgement) !== config.judge) continue
      const model = ModelAliases.canonical(judgement.model)
      modelSet.add(model)
      if (judgement.score < 0) continue
      const key = String(judgement.question_id)
      const byModel = grades.get(key) ?? new Map<string, Map<number, Array<number>>>()
      grades.set(key, byModel)
      const byTurn = byModel.get(model) ?? new Map<number, Array<number>>()
      byModel.set(model, byTurn)
      const turn = judgement.turn ?? 1
      const list = byTurn.get(turn) ?? []
      byTurn.set(turn, list)
      list.push(judgement.score)
    }
  }
  const allModels = [...modelSet]
  const pair = yield* resolvePair(allModels, config.strong, config.weak, files.judgements.join(", "))

  /** A model's score on a question: the mean over its turns of the mean grade, when every turn has one. */
  const scoreOf = (question: typeof Question.Type, model: string): number | undefined => {
    const byTurn = grades.get(String(question.question_id))?.get(model)
    if (byTurn === undefined) return undefined
    let total = 0
    for (let turn = 1; turn <= question.turns.length; turn++) {
      const list = byTurn.get(turn)
      if (list === undefined || list.length === 0) return undefined
      total += list.reduce((sum, grade) => sum + grade, 0) / list.length
    }
    return total / question.turns.length
  }

  let contaminatedCount = 0
  let withoutGrades = 0
  const kept: Array<typeof Question.Type> = []
  for (const question of questions) {
    if (question.turns.some((turn, index) => index < 2 && contaminated.has(turnText(turn)))) {
      contaminatedCount++
    } else if (scoreOf(question, pair.strong) === undefined || scoreOf(question, pair.weak) === undefined) {
      withoutGrades++
    } else {
      kept.push(question)
    }
  }
  if (kept.length === 0) {
    return yield* new Errors.InputError({
      file: files.judgements.join(", "),
      field: "score",
      reason: `no question has grades of both ${pair.strong} and ${pair.weak} on every turn`
    })
  }
  // A model is listed when it has grades on every kept question.
  const models = allModels.filter((model) => kept.every((question) => scoreOf(question, model) !== undefined))
  const rows: Array<Records.OutcomeRow> = kept.map((question) => ({
    prompt: turnText(question.turns[0]!),
    scores: Object.fromEntries(models.map((model) => [model, scoreOf(question, model)!])),
    source: `${config.questions === undefined ? "mt-bench" : Path.basename(Path.dirname(files.questions))}/${question.question_id}`
  }))
  const benchmark: RoutingBenchmark = {
    id: "benchmark/mt-bench",
    name: config.name ?? (config.questions === undefined ? "MT Bench" : Path.basename(Path.dirname(files.questions))),
    fingerprint: yield* fingerprint(config, context),
    strongModel: pair.strong,
    weakModel: pair.weak,
    models,
    rows,
    scoreLabel: "MT Bench grade (1-10)",
    dropped: contaminatedCount + withoutGrades,
    details: {
      optimalCalls: "floor",
      displayScale: 1,
      droppedReasons: { contaminated: contaminatedCount, "without grades of the pair": withoutGrades }
    }
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
