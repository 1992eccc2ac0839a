/**
 * MF checkpoints.
 *
 * Ours: a directory with `model.safetensors` (float32 tensors under
 * RouteLLM's state-dict names `P.weight`, `text_proj.0.weight`,
 * `classifier.0.weight`) and `mf.json` (model ids in row order, the embedder
 * id, fingerprint and dimensions, the latent dimension, training summary).
 * Loading refuses a checkpoint whose embedder or dimension does not match
 * the configured embedder.
 *
 * RouteLLM's: the released `routellm/mf_gpt4_augmented` is `MFModel`'s state
 * dict as safetensors (`P.weight` [64 x 128], `text_proj.0.weight`
 * [128 x 1536], `classifier.0.weight` [1 x 128]); its rows follow the fixed
 * `MODEL_IDS` table of routellm/routers/matrix_factorization/model.py and its
 * prompts are embedded with OpenAI `text-embedding-3-small` (1536 dimensions).
 */
import { ArtifactStore, Download, Errors, Files } from "@routellm/core"
import { Effect, Schema } from "effect"
import * as Path from "node:path"
import type * as Model from "./Model.ts"
import * as Safetensors from "./Safetensors.ts"

export const modelFile = "model.safetensors"
export const metadataFile = "mf.json"
export const formatVersion = 1

/**
 * RouteLLM's MODEL_IDS (routellm/routers/matrix_factorization/model.py): the
 * row of each model in the released checkpoint's `P.weight`, in this order.
 */
export const routeLlmModelIds: ReadonlyArray<string> = [
  "RWKV-4-Raven-14B",
  "alpaca-13b",
  "chatglm-6b",
  "chatglm2-6b",
  "chatglm3-6b",
  "claude-1",
  "claude-2.0",
  "claude-2.1",
  "claude-instant-1",
  "codellama-34b-instruct",
  "deepseek-llm-67b-chat",
  "dolly-v2-12b",
  "dolphin-2.2.1-mistral-7b",
  "falcon-180b-chat",
  "fastchat-t5-3b",
  "gemini-pro",
  "gemini-pro-dev-api",
  "gpt-3.5-turbo-0125",
  "gpt-3.5-turbo-0314",
  "gpt-3.5-turbo-0613",
  "gpt-3.5-turbo-1106",
  "gpt-4-0125-preview",
  "gpt-4-0314",
  "gpt-4-0613",
  "gpt-4-1106-preview",
  "gpt4all-13b-snoozy",
  "guanaco-33b",
  "koala-13b",
  "llama-13b",
  "llama-2-13b-chat",
  "llama-2-70b-chat",
  "llama-2-7b-chat",
  "llama2-70b-steerlm-chat",
  "mistral-7b-instruct",
  "mistral-7b-instruct-v0.2",
  "mistral-medium",
  "mixtral-8x7b-instruct-v0.1",
  "mpt-30b-chat",
  "mpt-7b-chat",
  "nous-hermes-2-mixtral-8x7b-dpo",
  "oasst-pythia-12b",
  "openchat-3.5",
  "openchat-3.5-0106",
  "openhermes-2.5-mistral-7b",
  "palm-2",
  "pplx-70b-online",
  "pplx-7b-online",
  "qwen-14b-chat",
  "qwen1.5-4b-chat",
  "qwen1.5-72b-chat",
  "qwen1.5-7b-chat",
  "solar-10.7b-instruct-v1.0",
  "stablelm-tuned-alpha-7b",
  "starling-lm-7b-alpha",
  "stripedhyena-nous-7b",
  "tulu-2-dpo-70b",
  "vicuna-13b",
  "vicuna-33b",
  "vicuna-7b",
  "wizardlm-13b",
  "wizardlm-70b",
  "yi-34b-chat",
  "zephyr-7b-alpha",
  "zephyr-7b-beta"
]

/** The embedder RouteLLM's released checkpoint expects. */
export const routeLlmEmbedder = { id: "embedder/openai", model: "text-embedding-3-small", dimensions: 1536 } as const

export const EmbedderInfo = Schema.Struct({
  id: Schema.String,
  fingerprint: Schema.String,
  dimensions: Schema.Int
})
export type EmbedderInfo = typeof EmbedderInfo.Type

export const Metadata = Schema.Struct({
  format: Schema.Literal(formatVersion),
  modelIds: Schema.Array(Schema.String),
  dimensions: Schema.Int,
  textDimensions: Schema.Int,
  embedder: EmbedderInfo,
  training: Schema.optionalKey(Schema.Unknown)
})
export type Metadata = typeof Metadata.Type

/** A checkpoint file is missing, unreadable or has tensors of the wrong shape. */
export class CheckpointError extends Errors.Reason<CheckpointError>()("CheckpointError", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `MF checkpoint ${this.path}: ${this.reason}`
  }
}

/** The checkpoint was trained for another embedder or prompt dimension than the one configured. */
export class CheckpointMismatchError extends Errors.Reason<CheckpointMismatchError>()("CheckpointMismatchError", {
  path: Schema.String,
  field: Schema.Literals(["embedder", "dimensions"]),
  expected: Schema.String,
  found: Schema.String
}) {
  override get message(): string {
    return this.field === "embedder"
      ? `MF checkpoint ${this.path} was trained with embedder ${this.expected}, but the router is configured with ${this.found}; configure that embedder or retrain`
      : `MF checkpoint ${this.path} expects ${this.expected}-dimensional prompt embeddings, but the configured embedder produces ${this.found}`
  }
}

const tensorNames = {
  modelEmbeddings: ["P.weight"],
  projection: ["text_proj.0.weight", "text_proj.weight"],
  classifier: ["classifier.0.weight", "classifier.weight"]
} as const

/** Parameters from MFModel-layout tensors, checking every shape. */
export const fromTensors = (
  path: string,
  tensors: ReadonlyMap<string, Safetensors.Tensor>,
  modelIds: ReadonlyArray<string>
): Effect.Effect<Model.Parameters, CheckpointError> =>
  Effect.suspend(() => {
    const fail = (reason: string) => Effect.fail(new CheckpointError({ path, reason }))
    const find = (names: ReadonlyArray<string>) => names.map((name) => [name, tensors.get(name)] as const).find(([, tensor]) => tensor)
    const embeddings = find(tensorNames.modelEmbeddings)
    const projection = find(tensorNames.projection)
    const classifier = find(tensorNames.classifier)
    const present = [...tensors.keys()].join(", ")
    if (embeddings === undefined) return fail(`no tensor P.weight (tensors: ${present})`)
    if (projection === undefined) return fail(`no tensor text_proj.0.weight (tensors: ${present}); a checkpoint trained without projection is not supported`)
    if (classifier === undefined) return fail(`no tensor classifier.0.weight (tensors: ${present})`)
    const [pName, p] = embeddings
    const [wName, w] = projection
    const [cName, c] = classifier
    if (p!.shape.length !== 2) return fail(`${pName} has shape [${p!.shape.join(", ")}], expected [models, dim]`)
    const [models, dimensions] = p!.shape as [number, number]
    if (models !== modelIds.length) {
      return fail(`${pName} has ${models} rows but ${modelIds.length} model ids are known`)
    }
    if (w!.shape.length !== 2 || w!.shape[0] !== dimensions) {
      return fail(`${wName} has shape [${w!.shape.join(", ")}], expected [${dimensions}, text_dim]`)
    }
    if (!(c!.shape.length === 2 && c!.shape[0] === 1 && c!.shape[1] === dimensions) && !(c!.shape.length === 1 && c!.shape[0] === dimensions)) {
      return fail(`${cName} has shape [${c!.shape.join(", ")}], expected [1, ${dimensions}] (one class)`)
    }
    return Effect.succeed({
      modelIds: [...modelIds],
      dimensions,
      textDimensions: w!.shape[1]!,
      modelEmbeddings: p!.data,
      projection: w!.data,
      classifier: c!.data
    })
  })

const toCheckpointError = (path: string) => (error: Safetensors.SafetensorsError) => new CheckpointError({ path, reason: error.message })

/** Write our checkpoint into a directory. */
export const write = (
  directory: string,
  parameters: Model.Parameters,
  embedder: EmbedderInfo,
  training?: unknown
) =>
  Effect.gen(function*() {
    const bytes = Safetensors.encode([
      ["P.weight", { shape: [parameters.modelIds.length, parameters.dimensions], data: parameters.modelEmbeddings }],
      ["text_proj.0.weight", { shape: [parameters.dimensions, parameters.textDimensions], data: parameters.projection }],
      ["classifier.0.weight", { shape: [1, parameters.dimensions], data: parameters.classifier }]
    ], { format: "pt" })
    const metadata: Metadata = {
      format: formatVersion,
      modelIds: parameters.modelIds,
      dimensions: parameters.dimensions,
      textDimensions: parameters.textDimensions,
      embedder,
      ...(training === undefined ? {} : { training })
    }
    yield* Files.makeDirectory(directory)
    yield* Files.writeBytes(Path.join(directory, modelFile), bytes)
    yield* Files.writeText(Path.join(directory, metadataFile), JSON.stringify(metadata, null, 1))
  })

const decodeMetadata = Schema.decodeUnknownEffect(Metadata)

/** Read our checkpoint directory. */
export const read = (directory: string) =>
  Effect.gen(function*() {
    const metadataPath = Path.join(directory, metadataFile)
    const raw = yield* Files.readJson(metadataPath, { field: "checkpoint" }).pipe(
      Effect.mapError((error) => new CheckpointError({ path: metadataPath, reason: error.message }))
    )
    const metadata = yield* decodeMetadata(raw).pipe(
      Effect.mapError((error) => new CheckpointError({ path: metadataPath, reason: `not MF checkpoint metadata: ${error.message}` }))
    )
    const modelPath = Path.join(directory, modelFile)
    const file = yield* Safetensors.read(modelPath).pipe(Effect.mapError(toCheckpointError(modelPath)))
    const parameters = yield* fromTensors(modelPath, file.tensors, metadata.modelIds)
    if (parameters.dimensions !== metadata.dimensions || parameters.textDimensions !== metadata.textDimensions) {
      return yield* new CheckpointError({
        path: directory,
        reason: `tensors are ${parameters.dimensions}x${parameters.textDimensions} but ${metadataFile} says ${metadata.dimensions}x${metadata.textDimensions}`
      })
    }
    return { parameters, metadata }
  })

/** Read RouteLLM's released MF checkpoint (safetensors of MFModel's state dict) with its 64 model ids. */
export const readRouteLlm = (path: string, modelIds: ReadonlyArray<string> = routeLlmModelIds) =>
  Effect.flatMap(
    Safetensors.read(path).pipe(Effect.mapError(toCheckpointError(path))),
    (file) => fromTensors(path, file.tensors, modelIds)
  )

/**
 * Refuse an embedder other than the one the checkpoint was trained with:
 * same id and fingerprint, and always the same dimension.
 */
export const checkEmbedder = (
  path: string,
  expected: EmbedderInfo,
  actual: EmbedderInfo
): Effect.Effect<void, CheckpointMismatchError> => {
  if (expected.dimensions !== actual.dimensions) {
    return Effect.fail(
      new CheckpointMismatchError({ path, field: "dimensions", expected: String(expected.dimensions), found: String(actual.dimensions) })
    )
  }
  if (expected.id !== actual.id || expected.fingerprint !== actual.fingerprint) {
    return Effect.fail(
      new CheckpointMismatchError({
        path,
        field: "embedder",
        expected: `${expected.id} (${expected.fingerprint.slice(0, 12)})`,
        found: `${actual.id} (${actual.fingerprint.slice(0, 12)})`
      })
    )
  }
  return Effect.void
}

/**
 * RouteLLM's checkpoint has no embedder fingerprint: require the OpenAI
 * embedder, 1536 dimensions, and `text-embedding-3-small` when the
 * embedder's config names a model.
 */
export const checkRouteLlmEmbedder = (
  path: string,
  textDimensions: number,
  actual: EmbedderInfo,
  configuredModel: string | undefined
): Effect.Effect<void, CheckpointMismatchError> => {
  if (textDimensions !== actual.dimensions) {
    return Effect.fail(
      new CheckpointMismatchError({ path, field: "dimensions", expected: String(textDimensions), found: String(actual.dimensions) })
    )
  }
  if (actual.id !== routeLlmEmbedder.id || (configuredModel !== undefined && configuredModel !== routeLlmEmbedder.model)) {
    return Effect.fail(
      new CheckpointMismatchError({
        path,
        field: "embedder",
        expected: `${routeLlmEmbedder.id} with model ${routeLlmEmbedder.model} (RouteLLM's checkpoint)`,
        found: `${actual.id}${configuredModel === undefined ? "" : ` with model ${configuredModel}`}`
      })
    )
  }
  return Effect.void
}

/**
 * `hf:<owner>/<repo>[@<revision>]` names a Hugging Face model repository: its
 * `model.safetensors` at that revision (default `main`; pin a commit for a
 * reproducible download) is downloaded once into the artifact store
 * (`downloads/huggingface/<owner>/<repo>/<revision>/`). Any other value is a
 * local path. Cannot be exercised offline; a local copy works the same.
 */
export const resolveLocation = (location: string, baseDirectory: string) =>
  Effect.gen(function*() {
    if (!location.startsWith("hf:")) return Path.resolve(baseDirectory, location)
    const match = /^([\w.-]+\/[\w.-]+)(?:@([\w.\/-]+))?$/.exec(location.slice(3))
    if (match === null) {
      return yield* new CheckpointError({ path: location, reason: "expected hf:<owner>/<repository>[@<revision>]" })
    }
    const repository = match[1]!
    const revision = match[2] ?? "main"
    const store = yield* ArtifactStore.ArtifactStore
    const target = Path.join(store.root, "downloads", "huggingface", repository, revision, modelFile)
    const downloaded = yield* Download.download({
      url: Download.huggingFaceUrl({ repository, file: modelFile, revision }),
      target,
      revision
    }).pipe(Effect.mapError((error) => new CheckpointError({ path: error.url, reason: error.reason })))
    return downloaded.path
  })

/** Whether a path is one of our checkpoint directories (has mf.json). */
export const isNative = (location: string) => Files.exists(Path.join(location, metadataFile))
