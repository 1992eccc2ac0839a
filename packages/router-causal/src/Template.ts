/**
 * The scoring prompt: a system message, a user message with a `{question}`
 * placeholder, and a `format` that joins them into one text for backends that
 * take raw text (the ONNX causal LM, the completions endpoint). Loaded from a
 * YAML/JSON file; `systemFile`/`userFile` replace either message with the text
 * of a file (such as RouteLLM's `system_ft_v5.txt` and `classifier_ft_v5.txt`).
 */
import { Errors, Files } from "@routellm/core"
import { Effect } from "effect"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Yaml from "yaml"

export interface Template {
  readonly system: string
  readonly user: string
  readonly format: string
}

export interface ChatMessage {
  readonly role: "system" | "user" | "assistant"
  readonly content: string
}

/** The template shipped with the package. */
export const defaultFile = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..", "templates", "default.yaml")

const placeholder = "{question}"

export interface Source {
  readonly template?: string | undefined
  readonly systemFile?: string | undefined
  readonly userFile?: string | undefined
  readonly format?: string | undefined
}

export const load = Effect.fn("Template.load")(function*(source: Source, baseDirectory: string) {
  const file = source.template === undefined ? defaultFile : Path.resolve(baseDirectory, source.template)
  const text = yield* Files.readText(file, "template")
  const parsed = yield* Effect.try({
    try: () => Yaml.parse(text) as unknown,
    catch: (cause) => new Errors.InputError({ file, field: "template", reason: `not YAML/JSON: ${cause instanceof Error ? cause.message : String(cause)}` })
  })
  const value = (typeof parsed === "object" && parsed !== null ? parsed : {}) as Record<string, unknown>
  const read = (key: string) => typeof value[key] === "string" ? (value[key] as string) : undefined
  const system = source.systemFile === undefined ? read("system") ?? "" : yield* Files.readText(Path.resolve(baseDirectory, source.systemFile), "systemFile")
  const user = source.userFile === undefined ? read("user") : yield* Files.readText(Path.resolve(baseDirectory, source.userFile), "userFile")
  const format = source.format ?? read("format") ?? "{system}\n{user}"
  if (user === undefined || !user.includes(placeholder)) {
    return yield* new Errors.InputError({
      file: source.userFile === undefined ? file : Path.resolve(baseDirectory, source.userFile),
      field: "user",
      reason: `the user message must contain ${placeholder}`
    })
  }
  if (!format.includes("{user}")) {
    return yield* new Errors.InputError({ file, field: "format", reason: "format must contain {user}" })
  }
  return { system, user, format } satisfies Template
})

/** Plain replacement (not str.format), so braces inside prompts are left alone. */
const fill = (text: string, values: Readonly<Record<string, string>>) =>
  text.replace(/\{(system|user|question)\}/g, (match, key: string) => values[key] ?? match)

/** The user message for a question; the question is trimmed as RouteLLM's prompt format does. */
export const userMessage = (template: Template, question: string) => fill(template.user, { question: question.trim() })

/** System + user as chat messages (system left out when empty). */
export const messages = (template: Template, question: string): Array<ChatMessage> => [
  ...(template.system.trim() === "" ? [] : [{ role: "system" as const, content: template.system }]),
  { role: "user" as const, content: userMessage(template, question) }
]

/** The one text for raw-text backends. */
export const render = (template: Template, question: string) => fill(template.format, { system: template.system, user: userMessage(template, question) })
