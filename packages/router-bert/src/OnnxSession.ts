/**
 * ONNX Runtime sessions on onnxruntime-node: execution providers tried in the
 * configured order (CUDA first when asked for, CPU last), falling back to the
 * next when one cannot load (no GPU, no CUDA libraries), and released when the
 * scope closes.
 */
import { Errors, Files } from "@routellm/core"
import { Effect, type Scope } from "effect"
import * as Path from "node:path"
import * as Ort from "onnxruntime-node"
import type * as Tokenizer from "./Tokenizer.ts"

// onnxruntime's process-wide log prints a provider that cannot load (cuda on
// a CPU machine) to stderr even though `make` falls back and reports it; its
// errors all reach us as exceptions, so only fatal ones are logged.
Ort.env.logLevel = "fatal"

export interface Options {
  /** Execution providers in order of preference, e.g. ["cuda", "cpu"]. */
  readonly executionProviders?: ReadonlyArray<string>
  /** Intra-op threads (ONNX Runtime's default when absent). */
  readonly threads?: number | undefined
}

export interface Session {
  readonly file: string
  /** The execution provider the session runs on (the first one that loaded). */
  readonly provider: string
  readonly inputNames: ReadonlyArray<string>
  readonly outputNames: ReadonlyArray<string>
  readonly run: (feeds: Record<string, Ort.Tensor>) => Effect.Effect<Record<string, Ort.Tensor>, Errors.PluginError>
}

/** Resolve an ONNX model from a file or a directory holding `model.onnx` (or `onnx/model.onnx`, as optimum exports). */
export const resolveModel = Effect.fn("OnnxSession.resolveModel")(function*(path: string, field = "model") {
  for (const candidate of [path, Path.join(path, "model.onnx"), Path.join(path, "onnx", "model.onnx")]) {
    if (candidate.endsWith(".onnx") && (yield* Files.exists(candidate))) return candidate
  }
  return yield* new Errors.MissingInputError({
    path,
    field,
    hint: "an .onnx file or a directory with model.onnx (export with `optimum-cli export onnx`)"
  })
})

/** Open a session on a model file or bytes, trying the providers in order. */
export const make = (
  pluginId: string,
  model: string | Uint8Array,
  options: Options = {}
): Effect.Effect<Session, Errors.PluginError, Scope.Scope> =>
  Effect.gen(function*() {
    const requested = options.executionProviders === undefined || options.executionProviders.length === 0
      ? ["cpu"]
      : options.executionProviders
    const file = typeof model === "string" ? model : "<bytes>"
    const failures: Array<string> = []
    for (let index = 0; index < requested.length; index++) {
      const providers = requested.slice(index)
      const attempt = yield* Effect.tryPromise({
        try: () =>
          Ort.InferenceSession.create(model as any, {
            executionProviders: [...providers] as Array<any>,
            ...(options.threads === undefined ? {} : { intraOpNumThreads: options.threads }),
            logSeverityLevel: 3
          }),
        catch: (cause) => cause instanceof Error ? cause.message : String(cause)
      }).pipe(Effect.result)
      if (attempt._tag === "Failure") {
        failures.push(`${requested[index]}: ${attempt.failure.split("\n")[0]}`)
        if (index + 1 < requested.length) {
          yield* Effect.logWarning(`${pluginId}: execution provider ${requested[index]} unavailable, trying ${requested[index + 1]}`)
        }
        continue
      }
      const session = attempt.success
      yield* Effect.addFinalizer(() => Effect.promise(() => session.release()).pipe(Effect.ignore))
      const run = (feeds: Record<string, Ort.Tensor>) =>
        Effect.tryPromise({
          try: () => session.run(feeds),
          catch: (cause) =>
            new Errors.PluginError({ pluginId, reason: `ONNX run failed on ${file}: ${cause instanceof Error ? cause.message : String(cause)}` })
        })
      return { file, provider: requested[index]!, inputNames: session.inputNames, outputNames: session.outputNames, run }
    }
    return yield* new Errors.PluginError({ pluginId, reason: `cannot open ONNX model ${file}: ${failures.join("; ")}` })
  })

/**
 * The inputs a Hugging Face export takes, from a tokenised batch:
 * `input_ids`, `attention_mask`, zeros for `token_type_ids`, positions
 * counted over real tokens for `position_ids` (right or left padding), and 1
 * for `logits_to_keep` / `num_logits_to_keep` (causal LM exports that can
 * return only the last position's logits). Any other input (past key values
 * of a `-with-past` export) is an error that names it.
 */
export const tokenFeeds = (
  pluginId: string,
  session: Session,
  batch: Tokenizer.Batch
): Effect.Effect<Record<string, Ort.Tensor>, Errors.PluginError> => {
  const dims = [batch.rows, batch.columns]
  const feeds: Record<string, Ort.Tensor> = {}
  for (const name of session.inputNames) {
    if (name === "input_ids") feeds[name] = int64(batch.inputIds, dims)
    else if (name === "attention_mask") feeds[name] = int64(batch.attentionMask, dims)
    else if (name === "token_type_ids") feeds[name] = int64(new BigInt64Array(batch.rows * batch.columns), dims)
    else if (name === "position_ids") {
      const positions = new BigInt64Array(batch.rows * batch.columns)
      for (let row = 0; row < batch.rows; row++) {
        let seen = 0n
        for (let column = 0; column < batch.columns; column++) {
          const index = row * batch.columns + column
          if (batch.attentionMask[index] === 1n) positions[index] = seen++
        }
      }
      feeds[name] = int64(positions, dims)
    } else if (name === "logits_to_keep" || name === "num_logits_to_keep") {
      feeds[name] = int64(BigInt64Array.of(1n), [])
    } else {
      return Effect.fail(
        new Errors.PluginError({
          pluginId,
          reason: `${session.file} has an input "${name}" this router cannot fill (inputs: ${session.inputNames.join(", ")}); ` +
            "export the model without past key values"
        })
      )
    }
  }
  if (feeds.input_ids === undefined) {
    return Effect.fail(new Errors.PluginError({ pluginId, reason: `${session.file} has no input_ids input (inputs: ${session.inputNames.join(", ")})` }))
  }
  return Effect.succeed(feeds)
}

export const int64 = (data: BigInt64Array, dims: ReadonlyArray<number>) => new Ort.Tensor("int64", data, [...dims])

/** Float32 data of an output tensor (ONNX float16 outputs are widened). */
export const floatData = (tensor: Ort.Tensor): Float32Array => {
  if (tensor.data instanceof Float32Array) return tensor.data
  return Float32Array.from(tensor.data as ArrayLike<number>)
}
