/**
 * onnxruntime-node, loaded on first use: its native binding costs start-up
 * time that commands which never run a model (`--help`, `validate`) should
 * not pay.
 */
import type * as OrtModule from "onnxruntime-node"

export type Ort = typeof OrtModule

let loading: Promise<Ort> | undefined

export const load = (): Promise<Ort> => (loading ??= import("onnxruntime-node"))
