/**
 * The paper's figure without a browser: quality against strong-model calls
 * (%) with one line per router, dashed strong and weak model lines, the
 * optimal curve and the random line; beside it quality against dollars when
 * prices are known. Written as SVG by hand and rasterized to PNG by resvg.
 */
import { Errors } from "@routellm/core"
import { Effect } from "effect"
import type { Point, Report } from "./Evaluate.ts"

const palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]
const fontFamily = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif"

const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const number = (value: number) => Number(value.toFixed(2)).toString()

/** Round tick steps (1, 2, 5 x 10^k) covering [low, high]. */
export const ticks = (low: number, high: number, target = 6): Array<number> => {
  if (!(high > low)) return [low]
  const raw = (high - low) / target
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((factor) => factor * magnitude).find((candidate) => candidate >= raw) ?? raw
  const first = Math.ceil(low / step - 1e-9) * step
  const result: Array<number> = []
  for (let value = first; value <= high + step * 1e-9; value += step) result.push(Number(value.toPrecision(12)))
  return result
}

/** Tick labels with the decimals their step needs, the same for every tick of an axis (8.0, 8.5, 9.0). */
export const tickLabels = (values: ReadonlyArray<number>): Array<string> => {
  const step = values.length > 1 ? Math.abs(values[1]! - values[0]!) : Math.abs(values[0] ?? 1)
  const decimals = step > 0 ? Math.min(6, Math.max(0, -Math.floor(Math.log10(step) + 1e-9))) : 0
  return values.map((value) => value.toFixed(decimals))
}

export interface Series {
  readonly label: string
  readonly color: string
  readonly points: ReadonlyArray<readonly [number, number]>
  readonly dash?: string
  readonly marker?: "dot" | "cross" | "none"
  readonly width?: number
  /** Markers only, no connecting line (single-model points). */
  readonly pointsOnly?: boolean
  /** A label written beside each point. */
  readonly labelPoints?: ReadonlyArray<string>
  /** A shaded band around the line: [x, low, high] per point (a random router's spread over seeds). */
  readonly band?: ReadonlyArray<readonly [number, number, number]>
}

interface Panel {
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
  readonly title: string
  readonly xLabel: string
  readonly yLabel: string
  readonly xRange: readonly [number, number]
  readonly yRange: readonly [number, number]
  readonly series: ReadonlyArray<Series>
}

const renderPanel = (panel: Panel): string => {
  const left = panel.x + 70
  const top = panel.y + 40
  const width = panel.width - 90
  const height = panel.height - 100
  const [x0, x1] = panel.xRange
  const [y0, y1] = panel.yRange
  const sx = (value: number) => left + ((value - x0) / (x1 - x0)) * width
  const sy = (value: number) => top + height - ((value - y0) / (y1 - y0)) * height
  const out: Array<string> = []
  out.push(`<text x="${left + width / 2}" y="${panel.y + 24}" font-size="16" text-anchor="middle" font-weight="bold">${escape(panel.title)}</text>`)
  out.push(`<rect x="${left}" y="${top}" width="${width}" height="${height}" fill="#ffffff" stroke="#333333" stroke-width="1"/>`)
  const xTicks = ticks(x0, x1)
  tickLabels(xTicks).forEach((label, index) => {
    const x = sx(xTicks[index]!)
    out.push(`<line x1="${number(x)}" y1="${top}" x2="${number(x)}" y2="${top + height}" stroke="#e5e5e5"/>`)
    out.push(`<line x1="${number(x)}" y1="${top + height}" x2="${number(x)}" y2="${top + height + 5}" stroke="#333333"/>`)
    out.push(`<text x="${number(x)}" y="${top + height + 20}" font-size="12" text-anchor="middle">${escape(label)}</text>`)
  })
  const yTicks = ticks(y0, y1, 8)
  tickLabels(yTicks).forEach((label, index) => {
    const y = sy(yTicks[index]!)
    out.push(`<line x1="${left}" y1="${number(y)}" x2="${left + width}" y2="${number(y)}" stroke="#e5e5e5"/>`)
    out.push(`<line x1="${left - 5}" y1="${number(y)}" x2="${left}" y2="${number(y)}" stroke="#333333"/>`)
    out.push(`<text x="${left - 8}" y="${number(y + 4)}" font-size="12" text-anchor="end">${escape(label)}</text>`)
  })
  out.push(`<text x="${left + width / 2}" y="${top + height + 42}" font-size="14" text-anchor="middle">${escape(panel.xLabel)}</text>`)
  out.push(
    `<text x="${panel.x + 18}" y="${top + height / 2}" font-size="14" text-anchor="middle" transform="rotate(-90 ${panel.x + 18} ${top + height / 2})">${
      escape(panel.yLabel)
    }</text>`
  )
  out.push(`<clipPath id="clip-${panel.x}"><rect x="${left}" y="${top}" width="${width}" height="${height}"/></clipPath>`)
  out.push(`<g clip-path="url(#clip-${panel.x})">`)
  // Bands first, so every line stays visible on top of them.
  for (const series of panel.series) {
    if (series.band === undefined || series.band.length < 2) continue
    const upper = series.band.map(([x, , high]) => `${number(sx(x))},${number(sy(high))}`)
    const lower = [...series.band].reverse().map(([x, low]) => `${number(sx(x))},${number(sy(low))}`)
    out.push(`<polygon points="${[...upper, ...lower].join(" ")}" fill="${series.color}" fill-opacity="0.18" stroke="none"/>`)
  }
  for (const series of panel.series) {
    if (series.points.length === 0) continue
    const path = series.points.map(([x, y], index) => `${index === 0 ? "M" : "L"}${number(sx(x))},${number(sy(y))}`).join(" ")
    if (series.pointsOnly !== true) {
      out.push(
        `<path d="${path}" fill="none" stroke="${series.color}" stroke-width="${series.width ?? 2}"${
          series.dash === undefined ? "" : ` stroke-dasharray="${series.dash}"`
        }/>`
      )
    }
    series.labelPoints?.forEach((label, index) => {
      const point = series.points[index]
      if (point === undefined) return
      out.push(`<text x="${number(sx(point[0]) + 6)}" y="${number(sy(point[1]) - 6)}" font-size="10" fill="${series.color}">${escape(label)}</text>`)
    })
    for (const [x, y] of series.marker === undefined || series.marker === "none" ? [] : series.points) {
      if (series.marker === "dot") {
        out.push(`<circle cx="${number(sx(x))}" cy="${number(sy(y))}" r="3" fill="${series.color}"/>`)
      } else {
        const cx = sx(x)
        const cy = sy(y)
        out.push(
          `<path d="M${number(cx - 4)},${number(cy - 4)} L${number(cx + 4)},${number(cy + 4)} M${number(cx - 4)},${number(cy + 4)} L${number(cx + 4)},${
            number(cy - 4)
          }" stroke="${series.color}" stroke-width="1.5"/>`
        )
      }
    }
  }
  out.push("</g>")
  return out.join("\n")
}

/** Round a range out by 5% on each side (the whole range when it is a point). */
const padded = (values: ReadonlyArray<number>): readonly [number, number] => {
  const low = Math.min(...values)
  const high = Math.max(...values)
  const span = high - low || Math.abs(high) || 1
  return [low - span * 0.05, high + span * 0.05]
}

export interface Chart {
  readonly title: string
  readonly xLabel: string
  readonly yLabel: string
  readonly series: ReadonlyArray<Series>
}

/** A single-panel chart with its legend beside it: the same axes, ticks and legend as the evaluation figure. */
export const chart = (spec: Chart): string => {
  const points = spec.series.flatMap((series) => series.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
  const series = spec.series.map((item) => ({
    ...item,
    marker: item.marker ?? ("dot" as const),
    points: item.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
  }))
  const panelWidth = 660
  const panelHeight = 480
  const legendWidth = 50 + 7.2 * Math.max(...series.map((item) => item.label.length))
  const width = Math.ceil(panelWidth + legendWidth)
  const height = Math.max(40 + panelHeight, 92 + series.length * 22 + 10)
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${fontFamily}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    renderPanel({
      x: 0,
      y: 10,
      width: panelWidth,
      height: panelHeight,
      title: spec.title,
      xLabel: spec.xLabel,
      yLabel: spec.yLabel,
      xRange: padded(points.map(([x]) => x)),
      yRange: padded(points.map(([, y]) => y)),
      series
    }),
    legend(series, panelWidth + 10, 62),
    "</svg>"
  ].join("\n") + "\n"
}

const legend = (series: ReadonlyArray<Series>, x: number, y: number): string =>
  series.map((item, index) => {
    const rowY = y + index * 22
    return [
      `<line x1="${x}" y1="${rowY}" x2="${x + 30}" y2="${rowY}" stroke="${item.color}" stroke-width="${item.width ?? 2}"${
        item.dash === undefined ? "" : ` stroke-dasharray="${item.dash}"`
      }/>`,
      item.band === undefined ? "" : `<rect x="${x}" y="${rowY - 7}" width="30" height="14" fill="${item.color}" fill-opacity="0.18"/>`,
      item.marker === "dot" ? `<circle cx="${x + 15}" cy="${rowY}" r="3" fill="${item.color}"/>` : "",
      `<text x="${x + 38}" y="${rowY + 4}" font-size="13">${escape(item.label)}</text>`
    ].join("")
  }).join("\n")

const pairs = (points: ReadonlyArray<Point>, x: (point: Point) => number | undefined) =>
  points.flatMap((point) => {
    const value = x(point)
    return value === undefined || !Number.isFinite(value) ? [] : [[value, point.score] as const]
  })

/** score ± one standard deviation across seeds, where the points carry it. */
const bandOf = (points: ReadonlyArray<Point>, x: (point: Point) => number | undefined) => {
  const band = points.flatMap((point) => {
    const value = x(point)
    return value === undefined || !Number.isFinite(value) || point.scoreStd === undefined
      ? []
      : [[value, point.score - point.scoreStd, point.score + point.scoreStd] as const]
  })
  return band.length === points.length && band.length > 1 ? band : undefined
}

/** The oracle knows the answers: like the optimal curve it is a bound, not a router to compare against. */
const isBound = (router: Report["routers"][number]) => router.uses === "router/oracle" || router.name === "oracle"

/** The figure as SVG text. */
export const svg = (report: Report): string => {
  const hasCost = Number.isFinite(report.strongCost) && Number.isFinite(report.weakCost) &&
    report.routers.every((router) => router.points.every((point) => point.cost !== undefined))
  const routerSeries = (x: (point: Point) => number | undefined): Array<Series> =>
    report.routers.map((router, index) => {
      const band = bandOf(router.points, x)
      const spread = router.metrics.apgrStd === undefined ? "" : ` ±${router.metrics.apgrStd.toFixed(3)}`
      return {
        label: `${router.name}${router.seeds === undefined ? "" : ` (${router.seeds} seeds)`}  APGR ${router.metrics.apgr.toFixed(3)}${spread}${
          band === undefined ? "" : ", band ±1 s.d."
        }`,
        color: palette[index % palette.length]!,
        points: pairs(router.points, x),
        marker: "dot" as const,
        ...(band === undefined ? {} : { band })
      }
    })
  const references = (xLow: number, xHigh: number, x: (point: Point) => number | undefined): Array<Series> => [
    {
      label: `${report.strongModel} (strong) ${report.strongScore.toFixed(2)}`,
      color: "#d62728",
      points: [[xLow, report.strongScore], [xHigh, report.strongScore]],
      dash: "8 5"
    },
    {
      label: `${report.weakModel} (weak) ${report.weakScore.toFixed(2)}`,
      color: "#7f7f7f",
      points: [[xLow, report.weakScore], [xHigh, report.weakScore]],
      dash: "8 5"
    },
    {
      label: `Optimal  APGR ${report.optimal.metrics.apgr.toFixed(3)}`,
      color: "#000000",
      points: pairs(report.optimal.points, x),
      marker: "cross",
      width: 1.5
    },
    { label: "Random (expected)  APGR 0.500", color: "#555555", points: pairs(report.random.points, x), dash: "2 4", width: 1.5 }
  ]
  // The y-range follows the routers being compared and the two models; the
  // oracle and optimal bounds may leave it (clipped) rather than squeeze them.
  const allScores = [
    report.strongScore,
    report.weakScore,
    ...report.routers.filter((router) => !isBound(router)).flatMap((router) =>
      router.points.flatMap((point) => point.scoreStd === undefined ? [point.score] : [point.score - point.scoreStd, point.score + point.scoreStd])
    )
  ].filter(Number.isFinite)
  const low = Math.min(...allScores)
  const high = Math.max(...allScores)
  const margin = Math.max((high - low) * 0.08, 1e-6)
  const yRange = [low - margin, high + margin] as const
  const yLabel = report.scoreLabel.startsWith("accuracy") ? "Accuracy (%)" : report.scoreLabel
  const panelWidth = 620
  const panelHeight = 480
  const percentSeries = [...routerSeries((point) => point.strongPercent), ...references(0, 100, (point) => point.strongPercent)]
  const panels: Array<string> = [
    renderPanel({
      x: 0,
      y: 40,
      width: panelWidth,
      height: panelHeight,
      title: "Quality vs strong model calls",
      xLabel: "Strong Model Calls (%)",
      yLabel,
      xRange: [0, 100],
      yRange,
      series: percentSeries
    })
  ]
  if (hasCost) {
    const costs = [report.weakCost, report.strongCost]
    const xLow = Math.min(...costs)
    const xHigh = Math.max(...costs)
    panels.push(renderPanel({
      x: panelWidth,
      y: 40,
      width: panelWidth,
      height: panelHeight,
      title: "Quality vs cost",
      xLabel: `Cost of ${report.prompts} prompts ($)`,
      yLabel,
      xRange: [xLow, xHigh],
      yRange,
      series: [
        ...routerSeries((point) => point.cost),
        ...references(xLow, xHigh, (point) => point.cost).filter((series) => series.points.length > 0)
      ]
    }))
  }
  // The legend is one column right of the panels, shared by both.
  const legendWidth = 50 + 7.2 * Math.max(...percentSeries.map((series) => series.label.length))
  const width = Math.ceil(panelWidth * panels.length + legendWidth)
  const legendLeft = panelWidth * panels.length + 10
  const legendTop = 40 + 40 + 12
  const height = Math.max(40 + panelHeight, legendTop + percentSeries.length * 22 + 10)
  const title = `Model Calls and Performance (${report.benchmark}, ${report.prompts} prompts)`
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${fontFamily}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="26" font-size="18" text-anchor="middle" font-weight="bold">${escape(title)}</text>`,
    ...panels,
    legend(percentSeries, legendLeft, legendTop),
    "</svg>"
  ].join("\n") + "\n"
}

/** Rasterize SVG text to PNG with resvg, using the system fonts (plus any font files given). */
export const png = (svgText: string, options: { readonly fontFiles?: ReadonlyArray<string>; readonly scale?: number } = {}) =>
  Effect.tryPromise({
    try: async () => {
      const { renderAsync } = await import("@resvg/resvg-js")
      const image = await renderAsync(svgText, {
        font: {
          loadSystemFonts: true,
          ...(options.fontFiles === undefined ? {} : { fontFiles: [...options.fontFiles] }),
          defaultFontFamily: "DejaVu Sans",
          sansSerifFamily: "DejaVu Sans"
        },
        fitTo: { mode: "zoom", value: options.scale ?? 1.5 },
        background: "#ffffff"
      })
      return new Uint8Array(image.asPng())
    },
    catch: (cause) => new Errors.PluginError({ pluginId: "eval/benchmark", reason: `PNG rendering failed: ${Errors.format(cause)}` })
  })
