/**
 * Writing an evaluation report to files, by extension: `.json`, `.md`,
 * `.svg`, `.png`.
 */
import { Errors, Files } from "@routellm/core"
import { Effect } from "effect"
import * as Path from "node:path"
import type { Report as EvaluationReport } from "./Evaluate.ts"
import * as Plot from "./Plot.ts"
import * as Report from "./Report.ts"

const write = (file: string, data: string | Uint8Array) =>
  Effect.andThen(
    Files.makeDirectory(Path.dirname(Path.resolve(file))),
    typeof data === "string" ? Files.writeText(file, data) : Files.writeBytes(file, data)
  )

export interface Targets {
  readonly json?: string | undefined
  readonly markdown?: string | undefined
  /** Plot files; `.svg` is written as is, `.png` rendered from the SVG. */
  readonly plots?: ReadonlyArray<string> | undefined
}

/** Write every requested file; returns the paths written. */
export const writeAll = Effect.fn("Output.writeAll")(function*(report: EvaluationReport, targets: Targets) {
  const written: Array<string> = []
  const plots = targets.plots ?? []
  for (const plot of plots) {
    const extension = Path.extname(plot).toLowerCase()
    if (extension !== ".svg" && extension !== ".png") {
      return yield* new Errors.InputError({ file: plot, field: "--plot", reason: "the plot file must end in .svg or .png" })
    }
  }
  if (targets.json !== undefined) {
    yield* write(targets.json, Report.json(report))
    written.push(targets.json)
  }
  if (targets.markdown !== undefined) {
    const image = plots.find((plot) => plot.toLowerCase().endsWith(".svg")) ?? plots[0]
    const relative = image === undefined
      ? undefined
      : Path.relative(Path.dirname(Path.resolve(targets.markdown)), Path.resolve(image))
    yield* write(targets.markdown, Report.markdown(report, relative === undefined ? {} : { plot: relative }))
    written.push(targets.markdown)
  }
  if (plots.length > 0) {
    const svgText = Plot.svg(report)
    for (const plot of plots) {
      yield* write(plot, plot.toLowerCase().endsWith(".svg") ? svgText : yield* Plot.png(svgText))
      written.push(plot)
    }
  }
  return written
})
