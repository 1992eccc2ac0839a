/**
 * The errors of the framework, after `effect/unstable/ai`'s `AiError`: plugins
 * fail with *reasons*, tagged errors that each name what a user needs to fix
 * (the file, line, field or plugin), and the framework reports a failure as
 * one `RouteLlmError` that carries the reason and where it happened (step,
 * plugin, pipeline file).
 *
 * The reason union is open: a plugin declares its own reasons with `Reason`
 * and fails with them directly; no code maps errors by hand.
 *
 * ```ts
 * class QuotaError extends Errors.Reason<QuotaError>()("QuotaError", { limit: Schema.Number }) {}
 * ```
 */
import { Predicate, Schema } from "effect"
import type * as Cause from "effect/Cause"

export const ReasonTypeId = "~@routellm/core/Errors/Reason" as const

export interface ReasonBrand {
  readonly [ReasonTypeId]: typeof ReasonTypeId
}

/** Any reason: a yieldable, schema-backed tagged error declared with `Reason`. */
export interface Reason extends Cause.YieldableError, ReasonBrand {
  readonly _tag: string
}

export const isReason = (value: unknown): value is Reason => Predicate.hasProperty(value, ReasonTypeId)

/**
 * Declare a reason: `Schema.TaggedError` plus the brand that makes it a
 * member of the reason union every contract fails with.
 */
export const Reason = <Self = never>() => <const Tag extends string, const Fields extends Schema.Struct.Fields>(tag: Tag, fields: Fields) => {
  const base = Schema.TaggedError<Self, ReasonBrand>()(tag, fields)
  // Each TaggedError call makes a fresh class, so the brand lands on this reason only.
  Object.defineProperty((base as unknown as { readonly prototype: object }).prototype, ReasonTypeId, { value: ReasonTypeId })
  return base
}

/** Bad input data: a malformed row, a missing column, a file that cannot be read. */
export class InputError extends Reason<InputError>()("InputError", {
  file: Schema.String,
  line: Schema.optionalKey(Schema.Number),
  field: Schema.optionalKey(Schema.String),
  reason: Schema.String
}) {
  override get message(): string {
    const where = this.line === undefined ? this.file : `${this.file}:${this.line}`
    return `${where}: ${this.field === undefined ? "" : `field "${this.field}": `}${this.reason}`
  }
}

/** A file or directory a step needs does not exist. */
export class MissingInputError extends Reason<MissingInputError>()("MissingInputError", {
  path: Schema.String,
  field: Schema.optionalKey(Schema.String),
  hint: Schema.optionalKey(Schema.String)
}) {
  override get message(): string {
    return `missing input ${this.field === undefined ? "" : `(${this.field}) `}${this.path}${this.hint === undefined ? "" : `: ${this.hint}`}`
  }
}

/** A file could not be written, or a directory made, moved or removed. */
export class FileError extends Reason<FileError>()("FileError", {
  path: Schema.String,
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot ${this.operation} ${this.path}: ${this.reason}`
  }
}

/** A plugin failed while building or running its contract. */
export class PluginError extends Reason<PluginError>()("PluginError", {
  pluginId: Schema.String,
  reason: Schema.String,
  cause: Schema.optionalKey(Schema.Defect())
}) {
  override get message(): string {
    return `${this.pluginId}: ${this.reason}`
  }
}

/** A router could not score a prompt. */
export class RouterError extends Reason<RouterError>()("RouterError", {
  routerId: Schema.String,
  reason: Schema.String,
  cause: Schema.optionalKey(Schema.Defect())
}) {
  override get message(): string {
    return `${this.routerId}: ${this.reason}`
  }
}

/** An embedder could not embed a batch of texts. */
export class EmbedderError extends Reason<EmbedderError>()("EmbedderError", {
  embedderId: Schema.String,
  reason: Schema.String,
  cause: Schema.optionalKey(Schema.Defect())
}) {
  override get message(): string {
    return `${this.embedderId}: ${this.reason}`
  }
}

/** The cache directory could not be read or written. */
export class ArtifactError extends Reason<ArtifactError>()("ArtifactError", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `artifact store ${this.path}: ${this.reason}`
  }
}

/** A reference names a plugin the registry does not hold (or one of another kind). */
export class UnknownPluginError extends Reason<UnknownPluginError>()("UnknownPluginError", {
  pluginId: Schema.String,
  available: Schema.Array(Schema.String),
  expectedKind: Schema.optionalKey(Schema.String),
  where: Schema.optionalKey(Schema.String)
}) {
  override get message(): string {
    return `${this.where === undefined ? "" : `${this.where}: `}unknown ${this.expectedKind ?? "plugin"} "${this.pluginId}"; available: ${
      this.available.join(", ")
    }`
  }
}

export interface ConfigIssue {
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
}

/** A plugin config that fails the plugin's Schema; `issues` name each field. */
export class ConfigError extends Reason<ConfigError>()("ConfigError", {
  pluginId: Schema.String,
  where: Schema.String,
  issues: Schema.Array(Schema.Struct({ path: Schema.Array(Schema.Unknown), message: Schema.String }))
}) {
  override get message(): string {
    return `${this.where}: invalid config for ${this.pluginId}:\n${
      this.issues.map((issue) => `  - ${issue.path.length === 0 ? "(config)" : issue.path.map(String).join(".")}: ${issue.message}`).join("\n")
    }`
  }
}

/** A third-party plugin package cannot be found or does not export plugins. */
export class PluginLoadError extends Reason<PluginLoadError>()("PluginLoadError", {
  packageName: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot load plugin package "${this.packageName}": ${this.reason}`
  }
}

/** A plugin (or a trained artifact) implements a contract version this core cannot run. */
export class ContractVersionError extends Reason<ContractVersionError>()("ContractVersionError", {
  subject: Schema.String,
  declared: Schema.optionalKey(Schema.String),
  supported: Schema.String
}) {
  override get message(): string {
    return this.declared === undefined
      ? `${this.subject} declares no plugin contract version; this @routellm/core implements contract ${this.supported}`
      : `${this.subject} implements plugin contract ${this.declared}, but this @routellm/core implements contract ${this.supported} (same major version, minor at most ${this.supported}, needed)`
  }
}

/**
 * A pipeline wires a step to outputs it does not take (a benchmark's outcomes
 * to a router that trains on battles, too many routers to a calibration), or
 * a step's stored value does not fit its port. `issues` name each step, the
 * YAML line, what the step takes and what it was given.
 */
export class PortError extends Reason<PortError>()("PortError", {
  file: Schema.String,
  issues: Schema.Array(Schema.Struct({
    stepId: Schema.String,
    pluginId: Schema.String,
    line: Schema.optionalKey(Schema.Number),
    expected: Schema.String,
    given: Schema.String,
    reason: Schema.String
  }))
}) {
  override get message(): string {
    return this.issues.map((issue) =>
      `${this.file}${issue.line === undefined ? "" : `:${issue.line}`}: step "${issue.stepId}" (${issue.pluginId}) ${issue.reason}`
    ).join("\n")
  }
}

/**
 * A failure as the framework reports it: the reason, plus the step, plugin
 * and pipeline file it happened in when there was one.
 */
export class RouteLlmError extends Schema.TaggedError<RouteLlmError>()("RouteLlmError", {
  reason: Schema.declare(isReason, { description: "The reason: a tagged error declared with Errors.Reason" }),
  stepId: Schema.optionalKey(Schema.String),
  pluginId: Schema.optionalKey(Schema.String),
  file: Schema.optionalKey(Schema.String)
}) {
  override get message(): string {
    const where = [
      this.file,
      this.stepId === undefined ? undefined : `step "${this.stepId}"${this.pluginId === undefined ? "" : ` (${this.pluginId})`} failed`
    ].filter((part) => part !== undefined)
    return `${where.length === 0 ? "" : `${where.join(": ")}: `}${this.reason.message}`
  }
}

/** Any failure as a reason: reasons pass through, anything else becomes a PluginError that keeps it as its cause. */
export const toReason = (pluginId: string, error: unknown): Reason =>
  isReason(error) ? error : new PluginError({ pluginId, reason: format(error), cause: error })

/** Render any error (tagged or not) as one readable line. */
export const format = (error: unknown): string => {
  if (error instanceof Error) return error.message || String(error)
  if (typeof error === "object" && error !== null && "message" in error) return String(error.message)
  return String(error)
}
