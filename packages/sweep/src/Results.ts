/**
 * The results of a sweep: one row per cell group (the cells that differ only
 * in the seed) and router, with per-benchmark APGR, CPT(50%), CPT(80%) and
 * exact APGR as the mean and a 95% Student-t interval over the seeds; as
 * Markdown, JSON, CSV and a plot of one metric per row with its interval.
 */
import * as Plot from "@routellm/benchmarks/Plot"
import type { CellMetric, CellResult } from "./CellRun.ts"
import type { Cell } from "./Cells.ts"

export const metricNames = ["apgr", "cpt50", "cpt80", "apgrExact"] as const
export type MetricName = (typeof metricNames)[number]

const metricTitles: Record<MetricName, string> = { apgr: "APGR", cpt50: "CPT50", cpt80: "CPT80", apgrExact: "exact APGR" }

export interface Summary {
  readonly n: number
  readonly mean: number | null
  /** Half the width of the 95% interval (0 with one seed). */
  readonly halfWidth: number | null
  readonly low: number | null
  readonly high: number | null
  readonly values: ReadonlyArray<number | null>
}

export interface Row {
  readonly group: string
  readonly point: Readonly<Record<string, string>>
  readonly router: string
  readonly seeds: ReadonlyArray<number | null>
  readonly cells: ReadonlyArray<string>
  readonly benchmarks: Readonly<Record<string, Readonly<Record<MetricName, Summary>>>>
}

export interface Table {
  readonly sweep: string
  readonly benchmarks: ReadonlyArray<string>
  readonly rows: ReadonlyArray<Row>
}

// Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom.
const tQuantiles = [
  12.706,
  4.303,
  3.182,
  2.776,
  2.571,
  2.447,
  2.365,
  2.306,
  2.262,
  2.228,
  2.201,
  2.179,
  2.16,
  2.145,
  2.131,
  2.12,
  2.11,
  2.101,
  2.093,
  2.086,
  2.08,
  2.074,
  2.069,
  2.064,
  2.06,
  2.056,
  2.052,
  2.048,
  2.045,
  2.042
]

/** Student-t 95% quantile for `degrees` degrees of freedom (the normal 1.96 beyond 30). */
export const tQuantile = (degrees: number): number => degrees >= 1 && degrees <= 30 ? tQuantiles[degrees - 1]! : 1.96

/** Mean and 95% interval of the finite values (missing values are skipped). */
export const summarize = (values: ReadonlyArray<number | null>): Summary => {
  const present = values.filter((value): value is number => value !== null && Number.isFinite(value))
  const n = present.length
  if (n === 0) return { n: 0, mean: null, halfWidth: null, low: null, high: null, values }
  const mean = present.reduce((sum, value) => sum + value, 0) / n
  const variance = n < 2 ? 0 : present.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (n - 1)
  const halfWidth = n < 2 ? 0 : tQuantile(n - 1) * Math.sqrt(variance / n)
  return { n, mean, halfWidth, low: mean - halfWidth, high: mean + halfWidth, values }
}

/** Build the table from the finished cells, in cell order. */
export const table = (
  sweep: string,
  cells: ReadonlyArray<Cell>,
  results: ReadonlyMap<string, CellResult>,
  options: { readonly routers?: ReadonlyArray<string> | undefined } = {}
): Table => {
  const benchmarks: Array<string> = []
  const groups = new Map<string, { point: Cell["point"]; byRouter: Map<string, Array<{ cell: Cell; metrics: Map<string, CellMetric> }>> }>()
  for (const cell of cells) {
    const result = results.get(cell.name)
    if (result === undefined) continue
    let group = groups.get(cell.group)
    if (group === undefined) groups.set(cell.group, group = { point: cell.point, byRouter: new Map() })
    const byRouter = new Map<string, Map<string, CellMetric>>()
    for (const metric of result.metrics) {
      if (options.routers !== undefined && !options.routers.includes(metric.router)) continue
      if (!benchmarks.includes(metric.benchmark)) benchmarks.push(metric.benchmark)
      let map = byRouter.get(metric.router)
      if (map === undefined) byRouter.set(metric.router, map = new Map())
      map.set(metric.benchmark, metric)
    }
    for (const [router, metrics] of byRouter) {
      let entries = group.byRouter.get(router)
      if (entries === undefined) group.byRouter.set(router, entries = [])
      entries.push({ cell, metrics })
    }
  }
  const rows: Array<Row> = []
  for (const [name, group] of groups) {
    for (const [router, entries] of group.byRouter) {
      const perBenchmark: Record<string, Record<MetricName, Summary>> = {}
      for (const benchmark of benchmarks) {
        perBenchmark[benchmark] = Object.fromEntries(
          metricNames.map((metric) => [metric, summarize(entries.map((entry) => entry.metrics.get(benchmark)?.[metric] ?? null))])
        ) as Record<MetricName, Summary>
      }
      rows.push({
        group: name,
        point: group.point,
        router,
        seeds: entries.map((entry) => entry.cell.seed ?? null),
        cells: entries.map((entry) => entry.cell.name),
        benchmarks: perBenchmark
      })
    }
  }
  return { sweep, benchmarks, rows }
}

const isPercent = (metric: MetricName) => metric === "cpt50" || metric === "cpt80"

/** `0.512 ± 0.010`, `47.7% ± 1.2`; one seed shows the value alone. */
export const formatSummary = (summary: Summary, metric: MetricName): string => {
  if (summary.mean === null) return "n/a"
  const value = isPercent(metric) ? `${summary.mean.toFixed(1)}%` : summary.mean.toFixed(3)
  if (summary.n < 2) return value
  return `${value} ± ${isPercent(metric) ? summary.halfWidth!.toFixed(1) : summary.halfWidth!.toFixed(3)}`
}

export const markdown = (result: Table): string => {
  const header = ["cell", "router", "seeds", ...result.benchmarks.flatMap((benchmark) => metricNames.map((metric) => `${benchmark} ${metricTitles[metric]}`))]
  const lines = [
    `| ${header.join(" | ")} |`,
    `|${header.map((_, index) => (index < 2 ? "---" : "---:")).join("|")}|`,
    ...result.rows.map((row) =>
      `| ${
        [
          row.group,
          row.router,
          String(row.seeds.length),
          ...result.benchmarks.flatMap((benchmark) => metricNames.map((metric) => formatSummary(row.benchmarks[benchmark]![metric], metric)))
        ].join(" | ")
      } |`
    )
  ]
  return [
    `# Sweep ${result.sweep}`,
    "",
    "Mean over seeds ± half-width of the 95% interval (Student t). CPT50/CPT80: strong-model calls (%) needed for 50%/80% of the quality gap; APGR: average performance gap recovered.",
    "",
    ...lines,
    ""
  ].join("\n")
}

export const json = (result: Table): string => JSON.stringify(result, null, 2) + "\n"

const csvField = (value: string): string => /[",\n]/.test(value) ? `"${value.replace(/"/g, "\"\"")}"` : value
const csvNumber = (value: number | null): string => value === null ? "" : String(value)

/** Wide CSV: one line per row, mean and interval bounds per benchmark and metric. */
export const csv = (result: Table): string => {
  const header = [
    "cell",
    "router",
    "seeds",
    ...result.benchmarks.flatMap((benchmark) =>
      metricNames.flatMap((metric) => [`${benchmark}_${metric}_mean`, `${benchmark}_${metric}_ci95_low`, `${benchmark}_${metric}_ci95_high`])
    )
  ]
  const lines = result.rows.map((row) =>
    [
      csvField(row.group),
      csvField(row.router),
      String(row.seeds.length),
      ...result.benchmarks.flatMap((benchmark) =>
        metricNames.flatMap((metric) => {
          const summary = row.benchmarks[benchmark]![metric]
          return [csvNumber(summary.mean), csvNumber(summary.low), csvNumber(summary.high)]
        })
      )
    ].join(",")
  )
  return [header.join(","), ...lines].join("\n") + "\n"
}

const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")
const fontFamily = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif"
const palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]

/** One panel per benchmark: the metric's mean per row as a dot, its 95% interval as a bar; colour by router. */
export const svg = (result: Table, metric: MetricName = "apgr"): string => {
  const labels = result.rows.map((row) => `${row.group} · ${row.router}`)
  const labelWidth = Math.min(420, Math.max(120, Math.max(...labels.map((label) => label.length), 10) * 7 + 20))
  const panelWidth = 300
  const rowHeight = 24
  const top = 70
  const bottom = 50
  const height = top + Math.max(1, result.rows.length) * rowHeight + bottom
  const title = `Sweep ${result.sweep}: ${metricTitles[metric]} (mean and 95% interval over seeds)`
  const width = Math.max(labelWidth + Math.max(1, result.benchmarks.length) * (panelWidth + 20) + 20, title.length * 8 + 40)
  const routers = [...new Set(result.rows.map((row) => row.router))]
  const colour = (router: string) => palette[routers.indexOf(router) % palette.length]!
  const parts: Array<string> = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${fontFamily}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="15">${escape(title)}</text>`
  ]
  labels.forEach((label, index) => {
    const y = top + index * rowHeight + rowHeight / 2
    parts.push(`<text x="${labelWidth - 8}" y="${y + 4}" text-anchor="end" font-size="11">${escape(label)}</text>`)
  })
  result.benchmarks.forEach((benchmark, panel) => {
    const left = labelWidth + panel * (panelWidth + 20)
    const summaries = result.rows.map((row) => row.benchmarks[benchmark]![metric])
    const bounds = summaries.flatMap((summary) => summary.mean === null ? [] : [summary.low!, summary.high!])
    let low = bounds.length === 0 ? 0 : Math.min(...bounds)
    let high = bounds.length === 0 ? 1 : Math.max(...bounds)
    const pad = Math.max((high - low) * 0.08, isPercent(metric) ? 1 : 0.01)
    low -= pad
    high += pad
    const x = (value: number) => left + ((value - low) / (high - low)) * panelWidth
    const plotBottom = top + result.rows.length * rowHeight
    parts.push(`<text x="${left + panelWidth / 2}" y="${top - 16}" text-anchor="middle" font-size="13">${escape(benchmark)}</text>`)
    parts.push(`<rect x="${left}" y="${top}" width="${panelWidth}" height="${plotBottom - top}" fill="none" stroke="#444"/>`)
    for (const tick of Plot.ticks(low, high, 5)) {
      const tx = x(tick)
      parts.push(`<line x1="${tx}" y1="${top}" x2="${tx}" y2="${plotBottom}" stroke="#e5e5e5"/>`)
      parts.push(`<text x="${tx}" y="${plotBottom + 16}" text-anchor="middle" font-size="10">${escape(isPercent(metric) ? `${tick}%` : String(tick))}</text>`)
    }
    summaries.forEach((summary, index) => {
      if (summary.mean === null) return
      const y = top + index * rowHeight + rowHeight / 2
      const stroke = colour(result.rows[index]!.router)
      parts.push(`<line x1="${x(summary.low!)}" y1="${y}" x2="${x(summary.high!)}" y2="${y}" stroke="${stroke}" stroke-width="2"/>`)
      parts.push(`<line x1="${x(summary.low!)}" y1="${y - 5}" x2="${x(summary.low!)}" y2="${y + 5}" stroke="${stroke}" stroke-width="2"/>`)
      parts.push(`<line x1="${x(summary.high!)}" y1="${y - 5}" x2="${x(summary.high!)}" y2="${y + 5}" stroke="${stroke}" stroke-width="2"/>`)
      parts.push(`<circle cx="${x(summary.mean)}" cy="${y}" r="4" fill="${stroke}"/>`)
    })
    parts.push(`<text x="${left + panelWidth / 2}" y="${plotBottom + 36}" text-anchor="middle" font-size="12">${escape(metricTitles[metric])}</text>`)
  })
  parts.push("</svg>")
  return parts.join("\n") + "\n"
}

export const png = (svgText: string) => Plot.png(svgText)
