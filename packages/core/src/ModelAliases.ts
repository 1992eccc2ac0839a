/**
 * One explicit table that maps every spelling of a model name found in the
 * data sources to a canonical name, so battles and outcomes from different
 * sources refer to the same model.
 */

/**
 * canonical name -> spellings seen in RouteLLM, AlpacaEval, RouterBench,
 * RouterDC, LLMRouter, PandaLM. A row joins spellings of ONE model version:
 * `gpt-3.5-turbo` (a moving alias) is not `gpt-3.5-turbo-1106`, AlpacaEval's
 * unversioned `gpt4` is not `gpt-4-0613`, `gpt-3.5-turbo-instruct` is not
 * `gpt-3.5-turbo-0613`; names whose version the sources do not say stay
 * models of their own.
 */
export const table: Readonly<Record<string, ReadonlyArray<string>>> = {
  "gpt-4-1106-preview": ["gpt4_1106_preview", "gpt-4-1106-preview", "openai/gpt-4-1106-preview"],
  "mixtral-8x7b-instruct-v0.1": [
    "Mixtral-8x7B-Instruct-v0.1",
    "mistralai/Mixtral-8x7B-Instruct-v0.1",
    // RouterBench's name for the same model (shared/data README)
    "mistralai/mixtral-8x7b-chat",
    "mixtral-8x7b-instruct-v0.1",
    "mixtral_8x7b_instruct_v0.1"
  ],
  "gpt-4-0613": ["gpt4_0613", "gpt-4-0613"],
  "gpt-4-0314": ["gpt4_0314", "gpt-4-0314"],
  "gpt-3.5-turbo-1106": ["gpt35_turbo_1106", "gpt-3.5-turbo-1106"],
  "gpt-3.5-turbo-0613": ["gpt35_turbo_0613", "gpt-3.5-turbo-0613"],
  "gpt-3.5-turbo-0301": ["gpt35_turbo_0301", "gpt-3.5-turbo-0301"],
  "gpt-3.5-turbo-instruct": ["gpt35_turbo_instruct", "gpt-3.5-turbo-instruct"],
  "text-davinci-003": ["text_davinci_003", "text-davinci-003"],
  "text-davinci-001": ["text_davinci_001", "text-davinci-001"],
  "claude-2.0": ["claude-2", "claude_2", "claude-v2", "claude-2.0", "anthropic.claude-v2"],
  "claude-2.1": ["claude-2.1", "claude_2_1", "anthropic.claude-v2:1"],
  "claude-instant-1.2": ["claude-instant-1.2", "claude_instant_1_2"],
  "llama-2-70b-chat": ["llama-2-70b-chat-hf", "meta/llama-2-70b-chat", "Llama-2-70b-chat-hf", "meta-llama/Llama-2-70b-chat-hf", "llama-2-70b-chat"],
  "llama-2-13b-chat": ["llama-2-13b-chat-hf", "Llama-2-13b-chat-hf", "meta-llama/Llama-2-13b-chat-hf", "llama-2-13b-chat"],
  "llama-2-7b-chat": ["llama-2-7b-chat-hf", "Llama-2-7b-chat-hf", "meta-llama/Llama-2-7b-chat-hf", "llama-2-7b-chat"],
  "mistral-7b-instruct-v0.2": ["mistral-7b-instruct-v0.2", "Mistral-7B-Instruct-v0.2", "mistralai/Mistral-7B-Instruct-v0.2"],
  "mistral-7b-instruct-v0.3": ["mistral-7b-instruct-v0.3", "Mistral-7B-Instruct-v0.3", "mistralai/Mistral-7B-Instruct-v0.3"],
  "zephyr-7b-beta": ["zephyr-7b-beta", "HuggingFaceH4/zephyr-7b-beta"],
  "yi-34b-chat": ["yi-34b-chat", "Yi-34B-Chat", "01-ai/Yi-34B-Chat", "zero-one-ai/Yi-34B-Chat"],
  "wizardlm-13b-v1.2": ["WizardLM/WizardLM-13B-V1.2", "wizardlm-13b-v1.2"],
  "codellama-34b-instruct": ["codellama-34b-instruct", "meta/code-llama-instruct-34b-chat", "codellama/CodeLlama-34b-Instruct-hf"]
}

const lookup: ReadonlyMap<string, string> = (() => {
  const map = new Map<string, string>()
  for (const [canonicalName, spellings] of Object.entries(table)) {
    map.set(normalizeKey(canonicalName), canonicalName)
    for (const spelling of spellings) map.set(normalizeKey(spelling), canonicalName)
  }
  return map
})()

function normalizeKey(name: string): string {
  return name.trim().toLowerCase()
}

/** The canonical name of a model; names not in the table are returned trimmed and unchanged. */
export const canonical = (name: string): string => lookup.get(normalizeKey(name)) ?? name.trim()

/** Whether two spellings refer to the same model. */
export const same = (left: string, right: string): boolean => canonical(left) === canonical(right)

/** Find the key of `available` that names the same model as `name`, if any. */
export const find = (available: Iterable<string>, name: string): string | undefined => {
  const target = canonical(name)
  for (const candidate of available) if (canonical(candidate) === target) return candidate
  return undefined
}

/** A name reduced to its letters and digits, without an organisation prefix: `OpenAI/GPT-3.5_Turbo` -> `gpt35turbo`. */
const looseKey = (name: string): string => {
  const trimmed = name.trim().toLowerCase()
  const slash = trimmed.lastIndexOf("/")
  return (slash >= 0 ? trimmed.slice(slash + 1) : trimmed).replace(/[^a-z0-9]/g, "")
}

/**
 * Names in `available` that look like `name` but are other models or versions
 * (`gpt-3.5-turbo` and `gpt-3.5-turbo-1106`, `gpt4` and `gpt4_0613`): one
 * name extends the other, or they differ only in punctuation or organisation.
 */
export const nearMisses = (available: Iterable<string>, name: string): Array<string> => {
  const key = looseKey(name)
  const target = canonical(name)
  const found: Array<string> = []
  if (key.length < 3) return found
  for (const candidate of available) {
    if (canonical(candidate) === target) continue
    const other = looseKey(candidate)
    if (other.length >= 3 && (other.startsWith(key) || key.startsWith(other))) found.push(candidate)
  }
  return found
}

/** Why `name` is not among `available`: names the near misses, so a version mix-up reads as one. */
export const missing = (available: ReadonlyArray<string>, name: string): string => {
  const near = nearMisses(available, name)
  return near.length > 0
    ? `model "${name}" is not in the data; ${near.map((model) => `"${model}"`).join(", ")} ${
      near.length === 1 ? "is a different model" : "are different models"
    } (aliases join spellings of one model version only; name it exactly)`
    : `model "${name}" is not in the data; models: ${available.join(", ")}`
}
