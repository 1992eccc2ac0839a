/**
 * What a run directory keeps. `steps/<id>` links into the artifact store,
 * so clearing the cache would take every past run's results with it; the
 * reports (tables, JSON, plots) are copied to `reports/<id>` instead, and
 * `runs/<pipeline>/latest` points at the newest run.
 */
import { Effect } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"

/** Report files: what a person opens after a run. Model weights and embeddings stay in the cache. */
const isReport = (name: string) => /\.(md|svg|png|csv)$/i.test(name) || /^report.*\.json$/i.test(name)
const maxReportBytes = 8 * 1024 * 1024

/** Copy each step's report files from its artifact into `reports/<step>`; returns the directories written. */
export const keepReports = (runDirectory: string, steps: ReadonlyArray<{ readonly id: string; readonly artifact: string }>) =>
  Effect.promise(async () => {
    const written: Array<string> = []
    for (const step of steps) {
      if (step.artifact === "") continue
      const entries = await Fs.readdir(step.artifact, { withFileTypes: true }).catch(() => [])
      const reports = entries.filter((entry) => entry.isFile() && isReport(entry.name))
      if (reports.length === 0) continue
      const target = Path.join(runDirectory, "reports", step.id)
      await Fs.mkdir(target, { recursive: true })
      for (const entry of reports) {
        const source = Path.join(step.artifact, entry.name)
        if ((await Fs.stat(source)).size <= maxReportBytes) await Fs.copyFile(source, Path.join(target, entry.name))
      }
      written.push(target)
    }
    return written
  })

/** Point `<parent>/latest` at the run directory (relative, so the runs folder can move). */
export const linkLatest = (runDirectory: string) =>
  Effect.promise(async () => {
    const absolute = Path.resolve(runDirectory)
    const link = Path.join(Path.dirname(absolute), "latest")
    const temporary = `${link}.${process.pid}`
    await Fs.rm(temporary, { force: true })
    await Fs.symlink(Path.basename(absolute), temporary, "dir")
    // rename replaces an older link atomically.
    await Fs.rename(temporary, link)
    return link
  })
