/**
 * The paper's metrics as a core Metric: folds routing outcomes (win rate and
 * both models' scores per prompt) into APGR, exact APGR, CPT(20/50/80%) and
 * AUC with RouteLLM's threshold protocol.
 */
import { Errors, Metric } from "@routellm/core"
import { Effect } from "effect"
import * as Metrics from "./Metrics.ts"

export const make = (options: { readonly bins?: number } = {}): Metric.MetricShape => ({
  id: "metric/apgr",
  summarize: (outcomes) =>
    Effect.try({
      try: () => {
        const winRates = Float64Array.from(outcomes, (outcome) => outcome.winRate)
        const strong = Float64Array.from(outcomes, (outcome) => outcome.strongScore)
        const weak = Float64Array.from(outcomes, (outcome) => outcome.weakScore)
        const strongScore = Metrics.modelScore(strong)
        const weakScore = Metrics.modelScore(weak)
        const curve = Metrics.sweep(winRates, strong, weak, { bins: options.bins ?? 10 })
        const summary = Metrics.summarize(curve, strongScore, weakScore)
        return {
          ...summary,
          apgrExact: Metrics.apgr(Metrics.exactCurve(winRates, strong, weak), strongScore, weakScore),
          strongScore,
          weakScore,
          prompts: outcomes.length,
          points: Array.from(curve.strongPercent, (strongPercent, index) => ({
            threshold: curve.thresholds[index]!,
            strongPercent,
            score: curve.score[index]!
          }))
        }
      },
      catch: (cause) => new Errors.PluginError({ pluginId: "metric/apgr", reason: Errors.format(cause) })
    })
})

/** The default metric value (10 quantile bins). */
export const metric: Metric.MetricShape = make()
