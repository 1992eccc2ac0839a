/**
 * `benchmark/gsm8k`: RouteLLM's GSM8K evaluation set (1,319 problems, 1,307
 * after decontamination). Rows record whether each model's answer was
 * correct; the recorded answers give each model's output length.
 */
import { Errors, Files, ModelAliases, Plugin, type Records } from "@routellm/core"
import { Effect, Schema } from "effect"
import * as Path from "node:path"
import { parseOutcome, readContaminated, resolvePair, routeLlmFields, type RoutingBenchmark } from "./Benchmarks.ts"
import * as EvalData from "./EvalData.ts"
import { estimateTokens } from "./Metrics.ts"

export const Config = Schema.Struct(routeLlmFields).annotate({
  description: "RouteLLM's GSM8K responses of GPT-4 and Mixtral (accuracy)"
})
export type Config = typeof Config.Type

const fingerprint = (config: Config, context: Plugin.MakeContext) =>
  Effect.gen(function*() {
    const root = yield* EvalData.resolveRoot("gsm8k", config.dir, context.baseDirectory)
    return yield* EvalData.fingerprintFiles(root, EvalData.files.gsm8k, {
      id: "benchmark/gsm8k",
      strong: ModelAliases.canonical(config.strong),
      weak: ModelAliases.canonical(config.weak),
      decontaminate: config.decontaminate
    })
  })

const responseSuffix = "_response"

export const make = Effect.fn("Gsm8k.make")(function*(config: Config, context: Plugin.MakeContext) {
  const root = yield* EvalData.resolveRoot("gsm8k", config.dir, context.baseDirectory)
  const file = Path.join(root, "gsm8k/gsm8k_responses.csv")
  const contaminated = config.decontaminate
    ? yield* readContaminated(Path.join(root, "gsm8k/contaminated_prompts.jsonl"))
    : new Set<string>()
  const table = yield* Files.readCsv(file, "dir")
  if (!table.header.includes("prompt")) {
    return yield* new Errors.InputError({ file, line: 1, field: "prompt", reason: "missing column" })
  }
  const modelColumns = table.header.filter((name) => name !== "prompt" && name !== "" && !name.endsWith(responseSuffix))
  const models = modelColumns.map(ModelAliases.canonical)
  const pair = yield* resolvePair(models, config.strong, config.weak, file)
  const rows: Array<Records.OutcomeRow> = []
  const outputs: Array<Array<number>> = models.map(() => [])
  let dropped = 0
  for (const row of table.rows) {
    const prompt = row.value.prompt!
    if (contaminated.has(prompt)) {
      dropped++
      continue
    }
    const scores: Record<string, number> = {}
    for (let index = 0; index < modelColumns.length; index++) {
      const column = modelColumns[index]!
      const value = parseOutcome(row.value[column]!)
      if (Number.isNaN(value)) {
        return yield* new Errors.InputError({ file, line: row.line, field: column, reason: "expected True or False" })
      }
      scores[models[index]!] = value
      const response = row.value[`${column}${responseSuffix}`]
      outputs[index]!.push(response === undefined ? Number.NaN : estimateTokens(response))
    }
    rows.push({ prompt, scores })
  }
  const benchmark: RoutingBenchmark = {
    id: "benchmark/gsm8k",
    name: "GSM8K",
    fingerprint: yield* fingerprint(config, context),
    strongModel: pair.strong,
    weakModel: pair.weak,
    models,
    rows,
    scoreLabel: "accuracy",
    dropped,
    details: {
      optimalCalls: "fractional",
      displayScale: 100,
      outputTokens: Object.fromEntries(models.map((model, index) => [model, Float64Array.from(outputs[index]!)]))
    }
  }
  return benchmark
})

export const plugin = Plugin.benchmark({
  id: "benchmark/gsm8k",
  version: "1.0.0",
  description: "GSM8K (RouteLLM evaluation set): accuracy of GPT-4 vs Mixtral per problem, decontaminated",
  config: Config,
  fingerprint,
  make
})
