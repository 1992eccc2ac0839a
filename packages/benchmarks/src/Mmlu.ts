/**
 * `benchmark/mmlu`: RouteLLM's MMLU evaluation set (57 subjects, 14,042
 * questions, 14,037 after decontamination). Each row records whether each
 * model answered correctly; the score is accuracy.
 */
import { Errors, Files, ModelAliases, Plugin, type Records } from "@routellm/core"
import { Effect, Schema } from "effect"
import * as Path from "node:path"
import { parseOutcome, readContaminated, resolvePair, routeLlmFields, type RoutingBenchmark } from "./Benchmarks.ts"
import * as EvalData from "./EvalData.ts"

export const Config = Schema.Struct({
  ...routeLlmFields,
  domains: Schema.optionalKey(Schema.Array(Schema.String)).annotate({
    description: "MMLU subjects to include (default: all 57)"
  })
}).annotate({ description: "RouteLLM's MMLU responses of GPT-4 and Mixtral (accuracy)" })
export type Config = typeof Config.Type

const relativeFiles = (config: Config) => {
  const domains = config.domains ?? EvalData.mmluDomains
  return [...domains.map((domain) => `mmlu/responses/mmlu_${domain}.csv`), "mmlu/contaminated_prompts.jsonl"]
}

const fingerprint = (config: Config, context: Plugin.MakeContext) =>
  Effect.gen(function*() {
    const root = yield* EvalData.resolveRoot("mmlu", config.dir, context.baseDirectory)
    return yield* EvalData.fingerprintFiles(root, relativeFiles(config), {
      id: "benchmark/mmlu",
      strong: ModelAliases.canonical(config.strong),
      weak: ModelAliases.canonical(config.weak),
      decontaminate: config.decontaminate
    })
  })

export const make = Effect.fn("Mmlu.make")(function*(config: Config, context: Plugin.MakeContext) {
  const root = yield* EvalData.resolveRoot("mmlu", config.dir, context.baseDirectory)
  const contaminated = config.decontaminate
    ? yield* readContaminated(Path.join(root, "mmlu/contaminated_prompts.jsonl"))
    : new Set<string>()
  const rows: Array<Records.OutcomeRow> = []
  let models: ReadonlyArray<string> | undefined
  let dropped = 0
  for (const domain of config.domains ?? EvalData.mmluDomains) {
    const file = Path.join(root, `mmlu/responses/mmlu_${domain}.csv`)
    const table = yield* Files.readCsv(file, "domains")
    const modelColumns = table.header.filter((name) => name !== "prompt" && name !== "")
    if (!table.header.includes("prompt")) {
      return yield* new Errors.InputError({ file, line: 1, field: "prompt", reason: "missing column" })
    }
    const canonicalNames = modelColumns.map(ModelAliases.canonical)
    if (models === undefined) models = canonicalNames
    for (const row of table.rows) {
      const prompt = row.value.prompt!
      if (contaminated.has(prompt)) {
        dropped++
        continue
      }
      const scores: Record<string, number> = {}
      for (let index = 0; index < modelColumns.length; index++) {
        const value = parseOutcome(row.value[modelColumns[index]!]!)
        if (Number.isNaN(value)) {
          return yield* new Errors.InputError({ file, line: row.line, field: modelColumns[index]!, reason: "expected True or False" })
        }
        scores[canonicalNames[index]!] = value
      }
      rows.push({ prompt, scores, source: domain })
    }
  }
  const available = models ?? []
  const pair = yield* resolvePair(available, config.strong, config.weak, Path.join(root, "mmlu"))
  const benchmark: RoutingBenchmark = {
    id: "benchmark/mmlu",
    name: "MMLU",
    fingerprint: yield* fingerprint(config, context),
    strongModel: pair.strong,
    weakModel: pair.weak,
    models: available,
    rows,
    scoreLabel: "accuracy",
    dropped,
    details: { optimalCalls: "fractional", displayScale: 100 }
  }
  return benchmark
})

export const plugin = Plugin.benchmark({
  id: "benchmark/mmlu",
  version: "1.0.0",
  description: "MMLU (RouteLLM evaluation set): accuracy of GPT-4 vs Mixtral per question, decontaminated",
  config: Config,
  fingerprint,
  make
})
