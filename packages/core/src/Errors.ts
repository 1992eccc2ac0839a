/**
 * Errors shared by every contract. Each names what a user needs to fix it:
 * the file, line, field or plugin.
 */
import { Schema } from "effect"

/** Bad input data: a malformed row, a missing column, a file that cannot be read. */
export class InputError extends Schema.TaggedError<InputError>()("InputError", {
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
export class MissingInputError extends Schema.TaggedError<MissingInputError>()("MissingInputError", {
  path: Schema.String,
  field: Schema.optionalKey(Schema.String),
  hint: Schema.optionalKey(Schema.String)
}) {
  override get message(): string {
    return `missing input ${this.field === undefined ? "" : `(${this.field}) `}${this.path}${this.hint === undefined ? "" : `: ${this.hint}`}`
  }
}

/** A plugin failed while building or running its contract. */
export class PluginError extends Schema.TaggedError<PluginError>()("PluginError", {
  pluginId: Schema.String,
  reason: Schema.String,
  cause: Schema.optionalKey(Schema.Defect())
}) {
  override get message(): string {
    return `${this.pluginId}: ${this.reason}`
  }
}

/** A router could not score a prompt. */
export class RouterError extends Schema.TaggedError<RouterError>()("RouterError", {
  routerId: Schema.String,
  reason: Schema.String,
  cause: Schema.optionalKey(Schema.Defect())
}) {
  override get message(): string {
    return `${this.routerId}: ${this.reason}`
  }
}

/** An embedder could not embed a batch of texts. */
export class EmbedderError extends Schema.TaggedError<EmbedderError>()("EmbedderError", {
  embedderId: Schema.String,
  reason: Schema.String,
  cause: Schema.optionalKey(Schema.Defect())
}) {
  override get message(): string {
    return `${this.embedderId}: ${this.reason}`
  }
}

/** The cache directory could not be read or written. */
export class ArtifactError extends Schema.TaggedError<ArtifactError>()("ArtifactError", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `artifact store ${this.path}: ${this.reason}`
  }
}

/** Render any error (tagged or not) as one readable line. */
export const format = (error: unknown): string => {
  if (error instanceof Error) return error.message || String(error)
  if (typeof error === "object" && error !== null && "message" in error) return String(error.message)
  return String(error)
}
