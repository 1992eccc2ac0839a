/**
 * Where the RouteLLM evaluation files come from: a `dir:` option, else
 * `ROUTELLM_DATA_DIR/eval/routellm`, else a download from RouteLLM's public
 * GitHub repository into the artifact store (once; later runs read the copy).
 */
import { ArtifactStore, Download, Errors, Files, Hash, Settings } from "@routellm/core"
import { Effect } from "effect"
import * as Path from "node:path"
import * as EvalChecksums from "./internal/EvalChecksums.ts"

/** The raw files of `routellm/evals/` in lm-sys/RouteLLM, at the pinned commit. */
export const remoteRoot = `https://raw.githubusercontent.com/lm-sys/RouteLLM/${EvalChecksums.revision}/routellm/evals`

/** RouteLLM's `ALL_MMLU_DOMAINS` (routellm/evals/mmlu/domains.py), in its order. */
export const mmluDomains: ReadonlyArray<string> = [
  "abstract_algebra",
  "anatomy",
  "astronomy",
  "business_ethics",
  "clinical_knowledge",
  "college_biology",
  "college_chemistry",
  "college_computer_science",
  "college_mathematics",
  "college_medicine",
  "college_physics",
  "computer_security",
  "conceptual_physics",
  "econometrics",
  "electrical_engineering",
  "elementary_mathematics",
  "formal_logic",
  "global_facts",
  "high_school_biology",
  "high_school_chemistry",
  "high_school_computer_science",
  "high_school_european_history",
  "high_school_geography",
  "high_school_government_and_politics",
  "high_school_macroeconomics",
  "high_school_mathematics",
  "high_school_microeconomics",
  "high_school_physics",
  "high_school_psychology",
  "high_school_statistics",
  "high_school_us_history",
  "high_school_world_history",
  "human_aging",
  "human_sexuality",
  "international_law",
  "jurisprudence",
  "logical_fallacies",
  "machine_learning",
  "management",
  "marketing",
  "medical_genetics",
  "miscellaneous",
  "moral_disputes",
  "moral_scenarios",
  "nutrition",
  "philosophy",
  "prehistory",
  "professional_accounting",
  "professional_law",
  "professional_medicine",
  "professional_psychology",
  "public_relations",
  "security_studies",
  "sociology",
  "us_foreign_policy",
  "virology",
  "world_religions"
]

/** Files of each benchmark, relative to the `eval/routellm` root. */
export const files = {
  mmlu: [...mmluDomains.map((domain) => `mmlu/responses/mmlu_${domain}.csv`), "mmlu/contaminated_prompts.jsonl"],
  gsm8k: ["gsm8k/gsm8k_responses.csv", "gsm8k/contaminated_prompts.jsonl"],
  "mt-bench": ["mt_bench/question.jsonl", "mt_bench/judgements.jsonl", "mt_bench/contaminated_prompts.jsonl"]
} as const satisfies Record<string, ReadonlyArray<string>>

export type Source = keyof typeof files

const subdirectory: Record<Source, string> = { mmlu: "mmlu", gsm8k: "gsm8k", "mt-bench": "mt_bench" }

/**
 * Accept the `eval/routellm` root, the data root above it (`.../data`), or
 * the benchmark's own folder; return the `eval/routellm` root.
 */
const locateRoot = (directory: string, source: Source) =>
  Effect.gen(function*() {
    const own = subdirectory[source]
    const candidates = [directory, Path.join(directory, "eval", "routellm"), Path.dirname(directory)]
    for (const candidate of candidates) {
      if (yield* Files.exists(Path.join(candidate, own))) return candidate
    }
    return yield* new Errors.MissingInputError({
      path: Path.join(directory, own),
      field: "dir",
      hint: `expected the RouteLLM evaluation layout (${files[source].slice(-2).join(", ")}) under it`
    })
  })

/** Download every file of a benchmark into the store once; returns the root holding them. */
const download = (source: Source) =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore.ArtifactStore
    // One folder per pinned revision: a new pin downloads anew.
    const root = Path.join(store.root, "downloads", "routellm-evals", EvalChecksums.revision)
    for (const file of files[source]) {
      const target = Path.join(root, file)
      const url = `${remoteRoot}/${file}`
      yield* Download.download({ url, target, sha256: EvalChecksums.sha256[file], revision: EvalChecksums.revision }).pipe(
        Effect.mapError((error) =>
          new Errors.InputError({
            file: url,
            reason: `${error.reason}; set ROUTELLM_DATA_DIR or the benchmark's dir: option to read local files`
          })
        )
      )
    }
    return root
  })

/** The `eval/routellm` root to read a benchmark from. */
export const resolveRoot = (source: Source, dir: string | undefined, baseDirectory: string) =>
  Effect.gen(function*() {
    if (dir !== undefined) return yield* locateRoot(Path.resolve(baseDirectory, dir), source)
    const settings = yield* Settings.Settings
    if (settings.dataDirectory !== undefined) return yield* locateRoot(settings.dataDirectory, source)
    return yield* download(source)
  })

/** Hash of the benchmark's files (contents, not dates) plus the options that change its rows. */
export const fingerprintFiles = (root: string, relativePaths: ReadonlyArray<string>, options: unknown) =>
  Effect.gen(function*() {
    const hashes: Array<string> = []
    for (const file of relativePaths) {
      const path = Path.join(root, file)
      const bytes = yield* Files.readBytes(path, "dir")
      hashes.push(`${file}:${Hash.sha256(bytes)}`)
    }
    return Hash.hashValue({ files: hashes, options })
  })
