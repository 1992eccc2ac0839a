/**
 * @routellm/benchmarks: the RouteLLM evaluation sets, any outcome table and
 * AlpacaEval's judge preferences as benchmarks, the paper's routing metrics
 * (CPT, AUC, APGR) and more, threshold calibration, and reports (table, JSON,
 * Markdown, SVG/PNG plots).
 */
import type { Plugin } from "@routellm/core"
import * as AlpacaEval from "./AlpacaEval.ts"
import * as CalibrateStep from "./CalibrateStep.ts"
import * as EvalStep from "./EvalStep.ts"
import * as Gsm8k from "./Gsm8k.ts"
import * as Mmlu from "./Mmlu.ts"
import * as MtBench from "./MtBench.ts"
import * as OracleRouter from "./OracleRouter.ts"
import * as Outcomes from "./Outcomes.ts"

export * as AlpacaEval from "./AlpacaEval.ts"
export * as ApgrMetric from "./ApgrMetric.ts"
export * as Benchmarks from "./Benchmarks.ts"
export * as CalibrateStep from "./CalibrateStep.ts"
export * as Calibration from "./Calibration.ts"
export * as EvalData from "./EvalData.ts"
export * as EvalStep from "./EvalStep.ts"
export * as Evaluate from "./Evaluate.ts"
export * as Gsm8k from "./Gsm8k.ts"
export * as Metrics from "./Metrics.ts"
export * as Mmlu from "./Mmlu.ts"
export * as MtBench from "./MtBench.ts"
export * as OracleRouter from "./OracleRouter.ts"
export * as Outcomes from "./Outcomes.ts"
export * as Output from "./Output.ts"
export * as Plot from "./Plot.ts"
export * as Report from "./Report.ts"

/** The plugins this package contributes, registered by the CLI. */
export const plugins: ReadonlyArray<Plugin.Any> = [
  MtBench.plugin,
  Mmlu.plugin,
  Gsm8k.plugin,
  Outcomes.plugin,
  AlpacaEval.plugin,
  OracleRouter.plugin,
  EvalStep.plugin,
  CalibrateStep.plugin
]
