/**
 * Reports of an evaluation: the paper-like table for the terminal, Markdown,
 * and JSON with stable keys.
 */
import type { Report as EvaluationReport, RouterMetrics } from "./Evaluate.ts"

const percent = (value: number | undefined) => value === undefined || !Number.isFinite(value) ? "-" : `${value.toFixed(2)}%`
const fixed = (value: number | undefined, digits: number) => value === undefined || !Number.isFinite(value) ? "-" : value.toFixed(digits)
const ratio = (value: number | undefined) => value === undefined || !Number.isFinite(value) ? "-" : `${value.toFixed(2)}x`

const scoreDigits = (report: EvaluationReport) => report.scoreLabel.startsWith("accuracy") ? 2 : 4

interface Line {
  readonly name: string
  readonly metrics: RouterMetrics
}

const lines = (report: EvaluationReport): Array<Line> => [
  ...report.routers.map((router) => ({
    name: router.seeds === undefined ? router.name : `${router.name} (${router.seeds} seeds)`,
    metrics: router.metrics
  })),
  { name: "Random (expected)", metrics: report.random.metrics },
  { name: "Optimal", metrics: report.optimal.metrics }
]

const header = ["Router", "CPT(50%)", "CPT(80%)", "APGR", "APGR (exact)", "Savings@50%", "Savings@80%"]

const row = (line: Line): Array<string> => [
  line.name,
  percent(line.metrics.cpt50),
  percent(line.metrics.cpt80),
  line.metrics.apgrStd === undefined
    ? fixed(line.metrics.apgr, 4)
    : `${fixed(line.metrics.apgr, 4)} ±${fixed(line.metrics.apgrStd, 3)}`,
  fixed(line.metrics.apgrExact, 4),
  ratio(line.metrics.costSavings50),
  ratio(line.metrics.costSavings80)
]

const droppedText = (report: EvaluationReport): string =>
  report.droppedReasons === undefined
    ? `${report.dropped} dropped as contaminated`
    : `dropped: ${Object.entries(report.droppedReasons).map(([reason, count]) => `${count} ${reason}`).join(", ")}`

const describe = (report: EvaluationReport) => {
  const digits = scoreDigits(report)
  const unit = report.scoreLabel.startsWith("accuracy") ? "%" : ""
  return [
    `${report.benchmark}: ${report.prompts} prompts (${droppedText(report)}), ${report.scoreLabel}`,
    `strong ${report.strongModel}: ${report.strongScore.toFixed(digits)}${unit}   weak ${report.weakModel}: ${report.weakScore.toFixed(digits)}${unit}`,
    Number.isFinite(report.strongCost)
      ? `cost of all prompts: strong $${report.strongCost.toFixed(4)}, weak $${report.weakCost.toFixed(4)}`
      : "cost: no prices for these models"
  ]
}

/** The paper-like table as aligned text. */
export const table = (report: EvaluationReport): string => {
  const body = [header, ...lines(report).map(row)]
  const widths = header.map((_, column) => Math.max(...body.map((cells) => cells[column]!.length)))
  const format = (cells: ReadonlyArray<string>) =>
    cells.map((cell, column) => column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)).join("  ")
  return [
    ...describe(report),
    "",
    format(body[0]!),
    widths.map((width) => "-".repeat(width)).join("  "),
    ...body.slice(1).map(format),
    `APGR and CPT from ${report.bins} quantile thresholds (RouteLLM protocol); exact APGR uses every distinct threshold.`
  ].join("\n")
}

/**
 * The points of a curve, one row per distinct routing: ordered by strong
 * calls, a point that repeats the previous one's calls and score is left out,
 * and so is one whose threshold would break the order (ties among win rates
 * make several quantile thresholds route the same prompts).
 */
export const distinctPoints = <P extends { readonly threshold: number | null; readonly strongPercent: number; readonly score: number }>(
  points: ReadonlyArray<P>
): Array<P> => {
  const sorted = [...points].sort((left, right) => left.strongPercent - right.strongPercent)
  const kept: Array<P> = []
  for (const point of sorted) {
    const previous = kept[kept.length - 1]
    if (previous !== undefined) {
      const same = Math.abs(previous.strongPercent - point.strongPercent) < 1e-9 && Math.abs(previous.score - point.score) < 1e-12
      const disordered = previous.threshold !== null && point.threshold !== null && point.threshold > previous.threshold
      if (same || disordered) continue
    }
    kept.push(point)
  }
  return kept
}

/** A Markdown report: summary, the table, and each router's points. */
export const markdown = (report: EvaluationReport, options: { readonly plot?: string } = {}): string => {
  const out: Array<string> = [`# Router evaluation: ${report.benchmark}`, ""]
  for (const line of describe(report)) out.push(`- ${line}`)
  out.push("", `| ${header.join(" | ")} |`, `|${header.map((_, index) => index === 0 ? "---" : "---:").join("|")}|`)
  for (const line of lines(report)) out.push(`| ${row(line).join(" | ")} |`)
  out.push(
    "",
    `CPT(x%): strong-model calls needed to recover x% of the quality gap between ${report.weakModel} and ${report.strongModel}.`,
    "APGR: area under the quality curve between the weak (0) and strong (1) lines; the random router's expected APGR is 0.5.",
    "Savings: how many times cheaper than the random router at the same quality (paper Table 6)."
  )
  if (options.plot !== undefined) out.push("", `![${report.benchmark}](${options.plot})`)
  const digits = scoreDigits(report)
  for (const router of report.routers) {
    out.push("", `## ${router.name}${router.seeds === undefined ? "" : ` (mean of ${router.seeds} seeds)`}`, "")
    const spread = router.points.some((point) => point.scoreStd !== undefined)
    out.push(
      `| threshold | strong calls | score${spread ? " | s.d. over seeds" : ""} | cost ($) |`,
      `|---:|---:|---:|${spread ? "---:|" : ""}---:|`
    )
    const rows = distinctPoints(router.points)
    for (const point of rows) {
      out.push(
        `| ${point.threshold === null ? "-" : point.threshold.toFixed(5)} | ${point.strongPercent.toFixed(2)}% | ${point.score.toFixed(digits)} | ${
          spread ? `${point.scoreStd === undefined ? "-" : point.scoreStd.toFixed(digits)} | ` : ""
        }${point.cost === undefined ? "-" : point.cost.toFixed(4)} |`
      )
    }
    if (rows.length < router.points.length) {
      out.push(
        "",
        `Quantile thresholds that route the same prompts are listed once (${router.points.length - rows.length} repeats of ${router.points.length} left out).`
      )
    }
  }
  return out.join("\n") + "\n"
}

/** JSON text of the report (non-finite numbers become null). */
export const json = (report: EvaluationReport): string => JSON.stringify(report, null, 2) + "\n"
