import { assert, describe, it } from "@effect/vitest"
import { type Evaluate, Metrics, Plot, Report } from "@routellm/benchmarks"

const point = (threshold: number | null, strongPercent: number, score: number, scoreStd?: number): Evaluate.Point => ({
  threshold,
  strongPercent,
  score,
  ...(scoreStd === undefined ? {} : { scoreStd })
})

const metrics = (apgr: number): Evaluate.RouterMetrics => ({ apgr, apgrExact: apgr, cpt20: 20, cpt50: 50, cpt80: 80, auc: 0 })

// Strong 9.2, weak 8.3; the oracle climbs to 9.9 and the optimal curve to 10.
const report: Evaluate.Report = {
  benchmark: "Toy",
  benchmarkId: "benchmark/toy",
  benchmarkFingerprint: "",
  scoreLabel: "grade",
  strongModel: "strong",
  weakModel: "weak",
  prompts: 4,
  dropped: 0,
  strongScore: 9.2,
  weakScore: 8.3,
  bins: 2,
  strongCost: Number.NaN,
  weakCost: Number.NaN,
  routers: [
    {
      name: "random",
      uses: "router/random",
      config: {},
      seeds: 5,
      cached: false,
      points: [point(1, 0, 8.3, 0), point(0.5, 50, 8.75, 0.1), point(0, 100, 9.2, 0)],
      exactPoints: [],
      metrics: { ...metrics(0.5), apgrStd: 0.05 }
    },
    {
      name: "oracle",
      uses: "router/oracle",
      config: {},
      cached: false,
      points: [point(1, 0, 8.3), point(0.53, 50, 9.9), point(0.53, 50, 9.9), point(0.52, 50, 9.9), point(0.25, 100, 9.2)],
      exactPoints: [],
      metrics: metrics(1.3)
    }
  ],
  optimal: { points: [point(null, 0, 8.3), point(null, 50, 10), point(null, 100, 10)], metrics: metrics(1.5) },
  random: { points: [point(null, 0, 8.3), point(null, 100, 9.2)], metrics: metrics(0.5) }
}

/** The y tick labels of the first panel, read back from the SVG. */
const yTickLabels = (svg: string) => [...svg.matchAll(/text-anchor="end">([^<]+)</g)].map((match) => match[1]!)

describe("Plot", () => {
  it("labels every tick of an axis with the same decimals", () => {
    assert.deepStrictEqual(Plot.tickLabels([8.2, 8.4, 8.6, 8.8, 9, 9.2]), ["8.2", "8.4", "8.6", "8.8", "9.0", "9.2"])
    assert.deepStrictEqual(Plot.tickLabels([0, 0.05, 0.1, 0.15]), ["0.00", "0.05", "0.10", "0.15"])
    assert.deepStrictEqual(Plot.tickLabels([0, 20, 40]), ["0", "20", "40"])
  })

  it("takes the y-range from the compared routers and the two models, not the oracle or optimal bounds", () => {
    const labels = yTickLabels(Plot.svg(report)).map(Number)
    // Weak 8.3 to strong 9.2 (plus the random band, 8.65..8.85), with an 8% margin: no tick near 9.9 or 10.
    assert.isTrue(Math.max(...labels) <= 9.3, `ticks ${labels}`)
    assert.isTrue(Math.min(...labels) >= 8.2, `ticks ${labels}`)
  })

  it("shades the random router's spread over seeds and puts one legend beside both panels", () => {
    const svg = Plot.svg(report)
    const band = /<polygon points="([^"]+)" fill="#1f77b4" fill-opacity="0.18"/.exec(svg)
    assert.isNotNull(band)
    // Six corners: score + s.d. at the three points, then score - s.d. back.
    assert.strictEqual(band![1]!.split(" ").length, 6)
    assert.include(svg, "random (5 seeds)  APGR 0.500 ±0.050, band ±1 s.d.")
    const width = Number(/<svg [^>]*width="(\d+)"/.exec(svg)![1])
    const legendX = Number(/<text x="([\d.]+)" y="[\d.]+" font-size="13">random/.exec(svg)![1])
    assert.isTrue(legendX > 620, "the legend starts right of the panel")
    assert.isTrue(legendX < width)
  })
})

describe("Report.markdown", () => {
  it("lists each distinct routing once, thresholds falling as strong calls rise", () => {
    const rows = Report.distinctPoints(report.routers[1]!.points)
    assert.deepStrictEqual(rows.map((row) => [row.threshold, row.strongPercent]), [[1, 0], [0.53, 50], [0.25, 100]])
    const markdown = Report.markdown(report)
    const oracle = markdown.slice(markdown.indexOf("## oracle"))
    assert.strictEqual(oracle.split("\n").filter((line) => line.startsWith("| 0.53000 |")).length, 1)
    assert.notInclude(oracle, "0.52000")
    assert.include(oracle, "2 repeats of 5 left out")
    // The random router's table shows the spread over seeds.
    assert.include(markdown, "| 0.50000 | 50.00% | 8.7500 | 0.1000 | - |")
  })
})

describe("Metrics.averageCurves", () => {
  it("records the sample standard deviation of the score across the averaged curves", () => {
    const curve = (scores: ReadonlyArray<number>): Metrics.Curve => ({
      thresholds: Float64Array.of(1, 0),
      strongPercent: Float64Array.of(0, 100),
      score: Float64Array.from(scores)
    })
    const average = Metrics.averageCurves([curve([1, 2]), curve([3, 2]), curve([5, 2])])
    assert.deepStrictEqual([...average.score], [3, 2])
    // Scores 1, 3, 5: deviations -2, 0, 2; sum of squares 8 over n - 1 = 2.
    assert.deepStrictEqual([...average.scoreStd!], [2, 0])
  })
})
