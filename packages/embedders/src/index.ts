/**
 * @routellm/embedders: embedder plugins. `embedder/use-lite` (offline
 * default), `embedder/openai` (any OpenAI-compatible endpoint) and
 * `embedder/onnx` (sentence-transformers models exported to ONNX).
 */
import type { Plugin } from "@routellm/core"
import * as OnnxEmbedder from "./OnnxEmbedder.ts"
import * as OpenAiEmbedder from "./OpenAiEmbedder.ts"
import * as UseLite from "./UseLite.ts"
import * as WithLength from "./WithLength.ts"

export * as OnnxEmbedder from "./OnnxEmbedder.ts"
export * as OnnxModel from "./OnnxModel.ts"
export * as OpenAiEmbedder from "./OpenAiEmbedder.ts"
export * as SentencePiece from "./SentencePiece.ts"
export * as Similarity from "./Similarity.ts"
export * as TextWindows from "./TextWindows.ts"
export * as UseLite from "./UseLite.ts"
export * as WithLength from "./WithLength.ts"

/** The plugins this package contributes, registered by the CLI. */
export const plugins: ReadonlyArray<Plugin.Any> = [UseLite.plugin, OpenAiEmbedder.plugin, OnnxEmbedder.plugin, WithLength.plugin]
