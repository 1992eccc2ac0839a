/**
 * `dataset/arena`: Chatbot Arena human battles in the
 * `lmsys-arena-human-preference-55k` format (CSV or parquet): `model_a`,
 * `model_b`, `prompt` (a JSON list of user turns) and one-hot
 * `winner_model_a` / `winner_model_b` / `winner_tie`. As RouteLLM does, a
 * battle is routed on its first turn and prompts shorter than 16 characters
 * are dropped.
 *
 * The file is a local path, or is downloaded from Hugging Face into the
 * artifact store (`downloads/huggingface/...`) when `download: true`; no
 * network is touched otherwise.
 */
import { ArtifactStore, Download, Errors, Files, Hash, Plugin, type Records } from "@routellm/core"
import { Effect, Schema } from "effect"
import { parquetReadObjects } from "hyparquet"
import * as Path from "node:path"
import * as Source from "./internal/Source.ts"

export const id = "dataset/arena"

export const Config = Schema.Struct({
  file: Source.FileOption,
  dir: Source.DirectoryOption,
  onInvalid: Source.OnInvalid,
  minimumPromptLength: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(16))).annotate({
    description: "Drop battles whose first turn is shorter than this many characters (RouteLLM: 16)"
  }),
  download: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(false))).annotate({
    description: "Download the file from Hugging Face when it is not found locally"
  }),
  repository: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("lmsys/lmsys-arena-human-preference-55k"))).annotate({
    description: "Hugging Face dataset repository"
  }),
  revision: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("main"))).annotate({
    description: "Repository revision (pin a commit for reproducible downloads)"
  }),
  fileName: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("train.csv"))).annotate({
    description: "File in the repository (and under <data root>/train/arena/); .csv or .parquet"
  }),
  sha256: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^[0-9a-fA-F]{64}$/))).annotate({
    description: "SHA-256 the downloaded file must have (with a pinned revision, a reproducible download)"
  })
}).annotate({ description: "Chatbot Arena human preference battles (lmsys-arena-human-preference-55k format)" })
export type Config = typeof Config.Type

export const columns = ["model_a", "model_b", "prompt", "winner_model_a", "winner_model_b", "winner_tie"] as const

export const downloadUrl = (config: Config): string =>
  Download.huggingFaceUrl({ repository: config.repository, file: config.fileName, revision: config.revision, kind: "dataset" })

const downloadPath = (root: string, config: Config) =>
  Path.join(root, "downloads", "huggingface", ...config.repository.split("/"), config.revision, ...config.fileName.split("/"))

/** Fetch the file from Hugging Face into the artifact store (HF_TOKEN is sent when set, never logged). */
const download = (config: Config, target: string) => {
  const token = process.env.HF_TOKEN
  return Download.download({
    url: downloadUrl(config),
    target,
    revision: config.revision,
    sha256: config.sha256,
    headers: token === undefined ? undefined : { authorization: `Bearer ${token}` }
  }).pipe(
    Effect.map((downloaded) => downloaded.path),
    Effect.mapError((error) => new Errors.PluginError({ pluginId: id, reason: error.message }))
  )
}

/** The local file for the config: file:, <data root>/train/arena/<fileName>, or a previous download. */
const localFile = (config: Config, context: Plugin.MakeContext) =>
  Effect.gen(function*() {
    if (config.file !== undefined) return { path: Path.resolve(context.baseDirectory, config.file), found: true }
    const root = yield* Source.dataRoot(config.dir, context)
    if (root !== undefined) {
      const candidate = Path.join(root, "train", "arena", config.fileName)
      if (yield* Files.exists(candidate)) return { path: candidate, found: true }
    }
    const store = yield* ArtifactStore.ArtifactStore
    const downloaded = downloadPath(store.root, config)
    return { path: downloaded, found: yield* Files.exists(downloaded) }
  })

const resolve = (config: Config, context: Plugin.MakeContext) =>
  Effect.gen(function*() {
    const local = yield* localFile(config, context)
    if (local.found) return local.path
    if (!config.download) {
      return yield* new Errors.MissingInputError({
        path: config.fileName,
        field: "file",
        hint: `no local copy of the Chatbot Arena battles; set file:, put it under <data root>/train/arena/, or set download: true to fetch ${
          downloadUrl(config)
        }`
      })
    }
    return yield* download(config, local.path)
  })

/** A raw row as read from CSV (strings) or parquet (strings, numbers, bigints). */
export type RawRow = Readonly<Record<string, unknown>>

const flag = (value: unknown): number | undefined => {
  if (typeof value === "bigint") return Number(value)
  if (typeof value === "number") return value
  if (typeof value === "boolean") return value ? 1 : 0
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value)
  return undefined
}

/** The first user turn of a `prompt` cell (a JSON list of strings). */
export const firstTurn = (cell: unknown): string | { readonly reason: string } => {
  let turns: unknown = cell
  if (typeof cell === "string") {
    try {
      turns = JSON.parse(cell)
    } catch {
      return { reason: "prompt is not a JSON list of turns" }
    }
  }
  if (!Array.isArray(turns) || turns.length === 0) return { reason: "prompt is not a non-empty JSON list of turns" }
  const first = turns[0]
  if (typeof first !== "string") return { reason: "the first turn of prompt is not a string" }
  return first
}

/** One row as a battle, `undefined` when it is filtered out, or the reason it is malformed. */
export const battleOf = (row: RawRow, minimumPromptLength: number): Records.Battle | undefined | { readonly reason: string } => {
  for (const column of columns) {
    if (row[column] === undefined || row[column] === null) return { reason: `missing ${column}` }
  }
  const modelA = String(row.model_a).trim()
  const modelB = String(row.model_b).trim()
  if (modelA === "" || modelB === "") return { reason: "empty model name" }
  const prompt = firstTurn(row.prompt)
  if (typeof prompt !== "string") return prompt
  const flags = [flag(row.winner_model_a), flag(row.winner_model_b), flag(row.winner_tie)]
  if (flags.some((value) => value !== 0 && value !== 1) || flags.reduce((sum: number, value) => sum + value!, 0) !== 1) {
    return { reason: "exactly one of winner_model_a, winner_model_b, winner_tie must be 1" }
  }
  if (prompt.length < minimumPromptLength) return undefined
  const winner: Records.Winner = flags[0] === 1 ? "model_a" : flags[1] === 1 ? "model_b" : "tie"
  return { prompt, model_a: Source.model(modelA), model_b: Source.model(modelB), winner, source: "arena" }
}

const readRows = (file: string) =>
  Effect.gen(function*() {
    if (file.endsWith(".parquet")) {
      const bytes = yield* Files.readBytes(file, "file")
      const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
      const rows = yield* Effect.tryPromise({
        try: () => parquetReadObjects({ file: buffer, columns: [...columns] }),
        catch: (cause) => new Errors.InputError({ file, reason: `not a readable parquet file: ${Errors.format(cause)}` })
      })
      // Parquet has no lines: a row is reported by its 1-based position.
      return rows.map((value, index) => ({ line: index + 1, value: value as RawRow }))
    }
    const { header, rows } = yield* Files.parseCsv(yield* Files.readText(file, "file"), file)
    const missing = columns.filter((column) => !header.includes(column))
    if (missing.length > 0) {
      return yield* new Errors.InputError({ file, line: 1, reason: `missing columns: ${missing.join(", ")}` })
    }
    return rows.map((row) => {
      const value: Record<string, unknown> = {}
      if (row.value.length === header.length) header.forEach((name, index) => (value[name] = row.value[index]))
      else value.__fields = row.value.length
      return { line: row.line, value: value as RawRow }
    })
  })

export const read = (file: string, config: Config, invalid: Source.InvalidRows) =>
  Effect.gen(function*() {
    const rows = yield* readRows(file)
    const battles: Array<Records.Battle> = []
    for (const row of rows) {
      if (row.value.__fields !== undefined) {
        yield* invalid.report(file, row.line, `expected ${columns.length}+ fields as in the header, found ${String(row.value.__fields)}`)
        continue
      }
      const battle = battleOf(row.value, config.minimumPromptLength)
      if (battle === undefined) continue
      if ("reason" in battle) yield* invalid.report(file, row.line, battle.reason)
      else battles.push(battle)
    }
    return battles
  })

const fingerprint = (config: Config, context: Plugin.MakeContext) =>
  Effect.gen(function*() {
    const local = yield* localFile(config, context)
    const options = { minimumPromptLength: config.minimumPromptLength }
    if (local.found) return yield* Source.fingerprintFiles(id, [local.path], options)
    // Not downloaded yet: the source is named by repository, revision and file.
    return Hash.hashValue({ id, url: downloadUrl(config), options })
  })

export const plugin = Plugin.dataset({
  id,
  version: "1.0.0",
  description: "Chatbot Arena human battles (lmsys-arena-human-preference-55k CSV/parquet), first turn, prompts of 16+ characters",
  config: Config,
  fingerprint,
  make: (config, context) =>
    Effect.gen(function*() {
      const file = yield* resolve(config, context)
      const fingerprint = yield* Source.fingerprintFiles(id, [file], { minimumPromptLength: config.minimumPromptLength })
      return yield* Source.makeDataset(id, fingerprint, config.onInvalid, (invalid) => read(file, config, invalid))
    })
})
