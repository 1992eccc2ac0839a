/** A minimal SVG line/point chart, written by hand (no browser, no dependencies). */

export interface Series {
  readonly label: string
  readonly color: string
  readonly points: ReadonlyArray<readonly [number, number]>
  readonly dash?: string
  /** Draw markers only (no connecting line). */
  readonly pointsOnly?: boolean
  /** Write the label beside each point (for single-model points). */
  readonly labelPoints?: ReadonlyArray<string>
}

export interface Chart {
  readonly title: string
  readonly xLabel: string
  readonly yLabel: string
  readonly series: ReadonlyArray<Series>
}

const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const ticks = (low: number, high: number, target = 6): Array<number> => {
  if (!(high > low)) return [low]
  const raw = (high - low) / target
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((factor) => factor * magnitude).find((candidate) => candidate >= raw) ?? raw
  const out: Array<number> = []
  for (let value = Math.ceil(low / step - 1e-9) * step; value <= high + step * 1e-9; value += step) out.push(Number(value.toPrecision(10)))
  return out
}

export const render = (chart: Chart): string => {
  const width = 900
  const height = 560
  const left = 80
  const right = 250
  const top = 50
  const bottom = 70
  const plotWidth = width - left - right
  const plotHeight = height - top - bottom
  const all = chart.series.flatMap((series) => series.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
  const xs = all.map(([x]) => x)
  const ys = all.map(([, y]) => y)
  const pad = (low: number, high: number) => {
    const span = high - low || Math.abs(high) || 1
    return [low - span * 0.05, high + span * 0.05] as const
  }
  const [x0, x1] = pad(Math.min(...xs), Math.max(...xs))
  const [y0, y1] = pad(Math.min(...ys), Math.max(...ys))
  const sx = (x: number) => left + ((x - x0) / (x1 - x0)) * plotWidth
  const sy = (y: number) => top + plotHeight - ((y - y0) / (y1 - y0)) * plotHeight
  const parts: Array<string> = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${left + plotWidth / 2}" y="28" font-size="16" text-anchor="middle">${escape(chart.title)}</text>`,
    `<rect x="${left}" y="${top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#333"/>`
  ]
  for (const tick of ticks(x0, x1)) {
    parts.push(`<line x1="${sx(tick)}" y1="${top}" x2="${sx(tick)}" y2="${top + plotHeight}" stroke="#eee"/>`)
    parts.push(`<text x="${sx(tick)}" y="${top + plotHeight + 18}" font-size="11" text-anchor="middle">${tick}</text>`)
  }
  for (const tick of ticks(y0, y1)) {
    parts.push(`<line x1="${left}" y1="${sy(tick)}" x2="${left + plotWidth}" y2="${sy(tick)}" stroke="#eee"/>`)
    parts.push(`<text x="${left - 8}" y="${sy(tick) + 4}" font-size="11" text-anchor="end">${tick}</text>`)
  }
  parts.push(`<text x="${left + plotWidth / 2}" y="${height - 25}" font-size="13" text-anchor="middle">${escape(chart.xLabel)}</text>`)
  parts.push(
    `<text x="20" y="${top + plotHeight / 2}" font-size="13" text-anchor="middle" transform="rotate(-90 20 ${top + plotHeight / 2})">${
      escape(chart.yLabel)
    }</text>`
  )
  chart.series.forEach((series, index) => {
    const points = series.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
    if (!series.pointsOnly && points.length > 1) {
      parts.push(
        `<polyline fill="none" stroke="${series.color}" stroke-width="2"${series.dash === undefined ? "" : ` stroke-dasharray="${series.dash}"`} points="${
          points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ")
        }"/>`
      )
    }
    points.forEach(([x, y], pointIndex) => {
      parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="${series.pointsOnly ? 4 : 2.5}" fill="${series.color}"/>`)
      const label = series.labelPoints?.[pointIndex]
      if (label !== undefined) {
        parts.push(`<text x="${(sx(x) + 6).toFixed(1)}" y="${(sy(y) - 6).toFixed(1)}" font-size="10" fill="${series.color}">${escape(label)}</text>`)
      }
    })
    const legendY = top + 10 + index * 22
    parts.push(
      `<line x1="${left + plotWidth + 15}" y1="${legendY}" x2="${left + plotWidth + 40}" y2="${legendY}" stroke="${series.color}" stroke-width="${
        series.pointsOnly ? 0 : 2
      }"${series.dash === undefined ? "" : ` stroke-dasharray="${series.dash}"`}/>`
    )
    parts.push(`<circle cx="${left + plotWidth + 27}" cy="${legendY}" r="3" fill="${series.color}"/>`)
    parts.push(`<text x="${left + plotWidth + 48}" y="${legendY + 4}" font-size="11">${escape(series.label)}</text>`)
  })
  parts.push("</svg>")
  return parts.join("\n")
}
