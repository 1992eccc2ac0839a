/**
 * Progress of long work: a bar on a terminal, periodic log lines otherwise.
 * Plugins report through this reference; the CLI, tests and servers choose
 * where it goes.
 */
import { Context, Effect } from "effect"

export interface Handle {
  readonly advance: (amount: number) => Effect.Effect<void>
  readonly done: Effect.Effect<void>
}

export interface ReporterShape {
  readonly start: (label: string, total: number) => Handle
}

const silentHandle: Handle = { advance: () => Effect.void, done: Effect.void }

export const silent: ReporterShape = { start: () => silentHandle }

const formatDuration = (seconds: number): string => {
  if (!Number.isFinite(seconds)) return "?"
  if (seconds < 60) return `${seconds.toFixed(0)}s`
  const minutes = Math.floor(seconds / 60)
  return `${minutes}m${String(Math.round(seconds % 60)).padStart(2, "0")}s`
}

/** Writes to a stream: an in-place bar when it is a TTY, a line every few seconds otherwise. */
export const toStream = (
  stream: NodeJS.WriteStream = process.stderr,
  options: { readonly intervalMs?: number } = {}
): ReporterShape => ({
  start: (label, total) => {
    const startedAt = Date.now()
    const interval = options.intervalMs ?? (stream.isTTY ? 100 : 5000)
    let current = 0
    // The first line waits one interval, so short work prints nothing.
    let lastWrite = startedAt
    let wrote = false
    let finished = false
    const render = (final: boolean) => {
      const elapsed = (Date.now() - startedAt) / 1000
      const rate = elapsed > 0.05 ? current / elapsed : 0
      const fraction = total > 0 ? Math.min(1, current / total) : 1
      const eta = rate > 0 ? (total - current) / rate : Number.POSITIVE_INFINITY
      const stats = `${current}/${total} ${(fraction * 100).toFixed(0)}% ${rate > 0 ? `${rate.toFixed(rate < 10 ? 1 : 0)}/s ` : ""}${
        final ? `in ${formatDuration(elapsed)}` : `eta ${formatDuration(eta)}`
      }`
      if (stream.isTTY) {
        const width = 30
        const filled = Math.round(fraction * width)
        stream.write(`\r${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${stats}${final ? "\n" : ""}`)
      } else {
        stream.write(`${label}: ${stats}\n`)
      }
    }
    return {
      advance: (amount) =>
        Effect.sync(() => {
          current += amount
          const now = Date.now()
          if (now - lastWrite >= interval) {
            lastWrite = now
            wrote = true
            render(false)
          }
        }),
      done: Effect.sync(() => {
        if (finished) return
        finished = true
        // In logs, work that finished within a few seconds needs no line of its own.
        if (wrote || Date.now() - startedAt >= interval) render(true)
      })
    }
  }
})

export const Reporter = Context.Reference<ReporterShape>("@routellm/core/Progress/Reporter", {
  defaultValue: () => toStream()
})

/** Start reporting progress of `total` units of work. */
export const start = (label: string, total: number): Effect.Effect<Handle> => Reporter.useSync((reporter) => reporter.start(label, total))
