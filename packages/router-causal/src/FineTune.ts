/**
 * `step/openai-fine-tune`: submit the training data of an earlier
 * `step/causal-training-data` step to an OpenAI-compatible fine-tuning API
 * (upload the files, create a fine-tuning job) and poll the job until it
 * succeeds, fails or is cancelled. The step's output names the fine-tuned
 * model, which a `router/causal` endpoint config can then use.
 */
import { Errors, Files, Plugin, Port } from "@routellm/core"
import { Duration, Effect, Schema } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import OpenAI, { toFile } from "openai"
import * as TrainingData from "./TrainingData.ts"

export const id = "step/openai-fine-tune"

const withDefault = <S extends Schema.Top>(value: S["Encoded"]) => Schema.withDecodingDefaultKey<S>(Effect.succeed(value))

export const Config = Schema.Struct({
  baseUrl: Schema.String.pipe(withDefault("https://api.openai.com/v1")),
  apiKeyEnv: Schema.String.pipe(withDefault("OPENAI_API_KEY")),
  model: Schema.String.annotate({ description: "Base model to fine-tune" }),
  suffix: Schema.optionalKey(Schema.String),
  epochs: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0))),
  pollSeconds: Schema.Finite.check(Schema.isGreaterThan(0)).pipe(withDefault(30)),
  timeoutMinutes: Schema.Finite.check(Schema.isGreaterThan(0)).pipe(withDefault(24 * 60))
}).annotate({ description: "Upload chat JSONL and run an OpenAI-compatible fine-tuning job to completion" })
export type Config = typeof Config.Type

const failure = (reason: string, cause?: unknown) => new Errors.PluginError({ pluginId: id, reason, ...(cause === undefined ? {} : { cause }) })

const call = <A>(what: string, thunk: (signal: AbortSignal) => Promise<A>) =>
  Effect.tryPromise({ try: thunk, catch: (cause) => failure(`${what}: ${cause instanceof Error ? cause.message : String(cause)}`, cause) })

const terminal = new Set(["succeeded", "failed", "cancelled"])

/** The output: the fine-tuned model a `router/causal` endpoint config can name. */
export const port = Port.make({
  id: "fine-tuned-model",
  kind: "fine-tuned-model",
  description: "a fine-tuned model on an OpenAI-compatible API",
  schema: Schema.Struct({ fineTunedModel: Schema.NullOr(Schema.String), status: Schema.String, jobId: Schema.String })
})

export const inputs = { trainingSet: Port.one(TrainingData.port, { description: `the ${TrainingData.id} step whose files to upload` }) }

export const run = Effect.fn("FineTune.run")(function*(config: Config, context: Plugin.StepContext<typeof inputs>) {
  const input = context.ports.trainingSet[0]
  if (input === undefined) return yield* failure(`needs a ${TrainingData.id} step`)
  const trainPath = Path.join(input.directory, TrainingData.trainFile)
  yield* Files.requireExists(trainPath, "needs", `the step "${input.stepId}" must write ${TrainingData.trainFile} (use ${TrainingData.id})`)
  const validationPath = Path.join(input.directory, TrainingData.validationFile)
  const hasValidation = yield* Files.exists(validationPath)

  const apiKey = process.env[config.apiKeyEnv]
  if (apiKey === undefined && config.baseUrl.startsWith("https://api.openai.com")) {
    return yield* failure(`set ${config.apiKeyEnv} to an API key for ${config.baseUrl}`)
  }
  const client = new OpenAI({ baseURL: config.baseUrl, apiKey: apiKey ?? "not-needed" })
  const upload = (path: string) =>
    call(
      `upload ${Path.basename(path)}`,
      (signal) => toFile(Fs.createReadStream(path), Path.basename(path)).then((file) => client.files.create({ file, purpose: "fine-tune" }, { signal }))
    )
  const trainingFile = yield* upload(trainPath)
  const validationFile = hasValidation ? yield* upload(validationPath) : undefined
  const created = yield* call("create fine-tuning job", (signal) =>
    client.fineTuning.jobs.create(
      {
        model: config.model,
        training_file: trainingFile.id,
        ...(validationFile === undefined ? {} : { validation_file: validationFile.id }),
        ...(config.suffix === undefined ? {} : { suffix: config.suffix }),
        ...(config.epochs === undefined ? {} : { method: { type: "supervised", supervised: { hyperparameters: { n_epochs: config.epochs } } } })
      },
      { signal }
    ))
  yield* Effect.log(`${id}: job ${created.id} ${created.status} (training file ${trainingFile.id})`)

  const deadline = Date.now() + config.timeoutMinutes * 60_000
  let job = created
  let polls = 0
  while (!terminal.has(job.status)) {
    if (Date.now() > deadline) return yield* failure(`job ${job.id} still ${job.status} after ${config.timeoutMinutes} minutes`)
    yield* Effect.sleep(Duration.millis(config.pollSeconds * 1000))
    const previous = job.status
    job = yield* call(`poll job ${job.id}`, (signal) => client.fineTuning.jobs.retrieve(created.id, { signal }))
    polls++
    if (job.status !== previous) yield* Effect.log(`${id}: job ${job.id} ${job.status}`)
  }
  if (job.status !== "succeeded") {
    return yield* failure(`job ${job.id} ${job.status}${job.error?.message ? `: ${job.error.message}` : ""}`)
  }
  const value = {
    jobId: job.id,
    status: job.status,
    fineTunedModel: job.fine_tuned_model,
    baseModel: config.model,
    trainingFile: trainingFile.id,
    validationFile: validationFile?.id ?? null,
    trainedTokens: job.trained_tokens ?? null,
    polls
  }
  return { value, summary: value }
})

export const plugin = Plugin.step({
  id,
  version: "1.0.0",
  description: "Submit causal-router training data to an OpenAI-compatible fine-tuning API and wait for the job",
  config: Config,
  inputs,
  output: port,
  run
})
