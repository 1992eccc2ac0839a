/**
 * `step/causal-training-data`: battles as chat fine-tuning JSONL for the
 * causal LLM router. Each strong-vs-weak battle becomes one conversation: the
 * scoring prompt (system + user with the question) and the assistant's answer,
 * the score token of the battle's outcome. Default mapping: strong model wins
 * -> score 1, tie -> 4, weak model wins -> 5, so P(score >= 4) is the
 * probability that the weak model is as good or better. Writes `train.jsonl`
 * and, with a validation share, `validation.jsonl` (the OpenAI fine-tuning format).
 */
import { Battles, Errors, Files, Plugin, Port, Random } from "@routellm/core"
import { Labels } from "@routellm/router-bert"
import { Effect, Schema } from "effect"
import * as Path from "node:path"
import * as Scores from "./Scores.ts"
import * as Template from "./Template.ts"

export const id = "step/causal-training-data"
export const trainFile = "train.jsonl"
export const validationFile = "validation.jsonl"

const withDefault = <S extends Schema.Top>(value: S["Encoded"]) => Schema.withDecodingDefaultKey<S>(Effect.succeed(value))
const Score = Schema.Int.check(Schema.isGreaterThan(0))

export const Config = Schema.Struct({
  template: Schema.optionalKey(Schema.String),
  systemFile: Schema.optionalKey(Schema.String),
  userFile: Schema.optionalKey(Schema.String),
  format: Schema.optionalKey(Schema.String),
  scoreTokens: Schema.Array(Schema.String).check(Schema.isMinLength(2)).pipe(withDefault([...Scores.paperTokens])),
  scores: Schema.Struct({
    strongWins: Score.pipe(withDefault(1)),
    tie: Score.pipe(withDefault(4)),
    weakWins: Score.pipe(withDefault(5))
  }).pipe(withDefault({})).annotate({ description: "The score (1-based index into scoreTokens) each outcome is labelled with" }),
  strongModels: Schema.Array(Schema.String).pipe(withDefault(["gpt-4-1106-preview"])),
  weakModels: Schema.Array(Schema.String).pipe(withDefault(["mixtral-8x7b-instruct-v0.1"])),
  validationShare: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 0.5 })).pipe(withDefault(0)),
  seed: Schema.Int.pipe(withDefault(0))
}).annotate({ description: "Export battles as chat fine-tuning JSONL with the score token as the assistant's answer" })
export type Config = typeof Config.Type

/** The output: fine-tuning files (train.jsonl, validation.jsonl) in the OpenAI chat format. */
export const port = Port.make({
  id: "causal-training-set",
  kind: "causal-training-set",
  description: "chat fine-tuning JSONL for the causal router (train.jsonl, validation.jsonl)",
  schema: Schema.Struct({ trainFile: Schema.String, validationFile: Schema.NullOr(Schema.String), examples: Schema.Int })
})

export const inputs = { battles: Port.many(Port.battles, { min: 1, description: "battles to label by tier" }) }

export const run = Effect.fn("TrainingData.run")(function*(config: Config, context: Plugin.StepContext<typeof inputs>) {
  for (const [outcome, score] of Object.entries(config.scores)) {
    if (score > config.scoreTokens.length) {
      return yield* new Errors.PluginError({ pluginId: id, reason: `scores.${outcome} = ${score} but there are ${config.scoreTokens.length} score tokens` })
    }
  }
  const template = yield* Template.load(config, context.baseDirectory)
  const battles = yield* Battles.readAll(context.ports.battles)
  const labelled = Labels.label(battles, config)
  if (labelled.prompts.length === 0) {
    return yield* new Errors.PluginError({
      pluginId: id,
      reason: `none of ${battles.length} input battles is between [${config.strongModels.join(", ")}] and [${config.weakModels.join(", ")}]`
    })
  }
  const scoreOf = [config.scores.strongWins, config.scores.tie, config.scores.weakWins]
  const lines = labelled.prompts.map((prompt, index) =>
    JSON.stringify({
      messages: [
        ...Template.messages(template, prompt),
        { role: "assistant", content: config.scoreTokens[scoreOf[labelled.labels[index]!]! - 1] }
      ]
    })
  )
  // Split by prompt, so one prompt's battles never land on both sides.
  const prompts = [...new Set(labelled.prompts)]
  const held = new Set(Random.shuffle(prompts, Random.make(config.seed)).slice(0, Math.round(prompts.length * config.validationShare)))
  const train = lines.filter((_, index) => !held.has(labelled.prompts[index]!))
  const validation = lines.filter((_, index) => held.has(labelled.prompts[index]!))
  yield* Files.writeText(Path.join(context.directory, trainFile), train.join("\n") + "\n")
  if (validation.length > 0) {
    yield* Files.writeText(Path.join(context.directory, validationFile), validation.join("\n") + "\n")
  }
  const perScore = Object.fromEntries(config.scoreTokens.map((token) => [token, 0]))
  labelled.labels.forEach((label) => {
    perScore[config.scoreTokens[scoreOf[label]! - 1]!]!++
  })
  const summary = { battles: battles.length, examples: lines.length, train: train.length, validation: validation.length, perScore }
  return {
    value: { trainFile, validationFile: validation.length > 0 ? validationFile : null, ...summary },
    summary
  }
})

export const plugin = Plugin.step({
  id,
  version: "1.0.0",
  description: "Battles -> chat fine-tuning JSONL for the causal LLM router (score token as the target)",
  config: Config,
  inputs,
  output: port,
  run
})
