/**
 * Server metrics on Effect's `Metric`, rendered by its Prometheus exporter
 * (GET /metrics): requests and errors by router and routed model, the share
 * of routed calls that went to the strong model, routing and upstream
 * latency histograms, retries and fallbacks, tokens and dollars by router,
 * model and client key with the saving against sending everything to the
 * strong model, and the budget governor's target and actual shares.
 *
 * Each server has its own metric registry, so servers in one process (tests,
 * replicas) never mix their counts.
 */
import { Context, Effect, Layer, Metric } from "effect"
import { PrometheusMetrics } from "effect/observability"

/** Latency buckets in seconds: routing is sub-millisecond to tens of ms, upstreams up to minutes. */
export const routingBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]
export const upstreamBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]

type Labels = Readonly<Record<string, string>>

/** The series of one metric, one `Metric` per label set (made once, then looked up). */
class Family<M extends Metric.Metric<number, unknown>> {
  readonly #series = new Map<string, M>()
  constructor(
    readonly context: Context.Context<never>,
    readonly make: (attributes: Labels) => M
  ) {}
  series(labels: Labels): M {
    let key = ""
    for (const name in labels) key += `${labels[name]}\u0000`
    let metric = this.#series.get(key)
    if (metric === undefined) {
      metric = this.make(labels)
      this.#series.set(key, metric)
    }
    return metric
  }
  update(labels: Labels, value: number) {
    this.series(labels).updateUnsafe(value, this.context)
  }
  value(labels: Labels): unknown {
    return this.series(labels).valueUnsafe(this.context)
  }
  labelSets(): ReadonlyArray<Labels> {
    return [...this.#series.values()].map((metric) => metric.attributes ?? {})
  }
}

export interface RequestRecord {
  /** Router name, or undefined for pass-through and requests that failed before routing. */
  readonly router: string | undefined
  /** The model that answered (after fallbacks), or undefined when the request failed before a model was chosen. */
  readonly model: string | undefined
  readonly status: number
  /** Whether a router chose the strong model (undefined when no router decided). */
  readonly strong: boolean | undefined
}

export interface CostRecord {
  readonly router: string | undefined
  readonly model: string
  readonly apiKey: string
  readonly promptTokens: number
  readonly completionTokens: number
  /** Dollars of this call; undefined when the model has no price. */
  readonly dollars: number | undefined
  /** What the same tokens would have cost on the strong model (routed requests with a strong price). */
  readonly strongDollars: number | undefined
}

export type StreamFailure = "broken" | "truncated" | "stalled"

export interface GaugeReading {
  readonly name: string
  readonly description: string
  readonly labels: Labels
  readonly value: number
}

/**
 * Recording is synchronous (plain calls, not effects): it runs several times
 * on every request, and an update is a few arithmetic operations.
 */
export interface MetricsShape {
  readonly recordRequest: (record: RequestRecord) => void
  readonly observeRouting: (router: string, seconds: number) => void
  /** Upstream latency: until the response headers (`first_byte`) and until the body ended (`total`). */
  readonly observeUpstream: (model: string, phase: "first_byte" | "total", seconds: number) => void
  readonly recordRetries: (model: string, retries: number) => void
  readonly recordFallback: (router: string | undefined, from: string, to: string) => void
  /** A failure after the response started: a stream that broke, ended without [DONE], or stalled. */
  readonly recordStreamError: (router: string | undefined, model: string, reason: StreamFailure) => void
  readonly recordCost: (record: CostRecord) => void
  readonly recordEscalation: (router: string) => void
  /** Gauges computed when /metrics is read (the governor's shares and thresholds). */
  readonly addGauges: (read: () => ReadonlyArray<GaugeReading>) => void
  readonly render: Effect.Effect<string>
  /** Current count of a request series, for tests and health output. */
  readonly requests: (router: string | undefined, model: string | undefined) => number
}

const none = "none"

export const make = (): MetricsShape => {
  const context = Context.make(Metric.MetricRegistry, new Map())
  const counter = (name: string, description: string) =>
    new Family(context, (attributes) => Metric.counter(name, { description, attributes, incremental: true }))
  const histogram = (name: string, description: string, boundaries: ReadonlyArray<number>) =>
    new Family(context, (attributes) => Metric.histogram(name, { description, attributes, boundaries }))
  const gauge = (name: string, description: string) => new Family(context, (attributes) => Metric.gauge(name, { description, attributes }))

  const requests = counter("routellm_requests_total", "Chat completion requests by router, answering model and status")
  const errors = counter("routellm_errors_total", "Failed chat completion requests (status >= 400 or a stream that failed mid-way)")
  const routed = counter("routellm_routed_total", "Routing decisions by router and outcome (strong or weak)")
  const strongShare = gauge("routellm_strong_share", "Share of routed calls sent to the strong model, by router")
  const routing = histogram("routellm_routing_latency_seconds", "Time to score a prompt and choose a model", routingBuckets)
  const upstream = histogram("routellm_upstream_latency_seconds", "Upstream latency by model and phase", upstreamBuckets)
  const retries = counter("routellm_upstream_retries_total", "Upstream attempts retried, by model")
  const fallbacks = counter("routellm_fallbacks_total", "Requests answered by a fallback model after the first failed its retries")
  const streamErrors = counter("routellm_stream_errors_total", "Streams that failed after the response started, by reason")
  const tokens = counter("routellm_tokens_total", "Tokens from the upstreams' usage, by router, model, client key and kind")
  const dollars = counter("routellm_cost_dollars_total", "Dollars spent (usage times the configured prices) by router, model and client key")
  const strongDollars = counter(
    "routellm_strong_equivalent_dollars_total",
    "What the same routed requests would have cost on the strong model, by router and client key"
  )
  const saving = gauge("routellm_saving_dollars", "Strong-equivalent dollars minus dollars spent, by router")
  const savingRatio = gauge("routellm_saving_ratio", "Saving as a share of the strong-equivalent cost, by router")
  const escalations = counter("routellm_conversation_escalations_total", "Turns kept on the strong model because their conversation went there before")
  const extraGauges: Array<() => ReadonlyArray<GaugeReading>> = []
  const gaugeFamilies = new Map<string, Family<Metric.Gauge<number>>>()
  const spentByRouter = new Map<string, { spent: number; strong: number }>()

  const labelsOf = (router: string | undefined, model: string | undefined) => ({ router: router ?? none, model: model ?? none })
  const countOf = (family: Family<Metric.Counter<number>>, labels: Labels) => (family.value(labels) as Metric.CounterState<number>).count

  return {
    recordRequest: (record) => {
      const router = record.router ?? none
      const model = record.model ?? none
      requests.update({ router, model, status: String(record.status) }, 1)
      if (record.status >= 400) errors.update({ router, model }, 1)
      if (record.router !== undefined && record.strong !== undefined) {
        routed.update({ router: record.router, decision: record.strong ? "strong" : "weak" }, 1)
      }
    },
    observeRouting: (router, seconds) => routing.update({ router }, seconds),
    observeUpstream: (model, phase, seconds) => upstream.update({ model, phase }, seconds),
    recordRetries: (model, count) => {
      if (count > 0) retries.update({ model }, count)
    },
    recordFallback: (router, from, to) => fallbacks.update({ router: router ?? none, from, to }, 1),
    recordStreamError: (router, model, reason) => {
      errors.update(labelsOf(router, model), 1)
      streamErrors.update({ model, reason }, 1)
    },
    recordCost: (record) => {
      const router = record.router ?? none
      const base = { router, model: record.model, api_key: record.apiKey }
      tokens.update({ ...base, kind: "prompt" }, record.promptTokens)
      tokens.update({ ...base, kind: "completion" }, record.completionTokens)
      if (record.dollars !== undefined) dollars.update(base, record.dollars)
      if (record.router !== undefined && record.dollars !== undefined && record.strongDollars !== undefined) {
        strongDollars.update({ router, api_key: record.apiKey }, record.strongDollars)
        const totals = spentByRouter.get(router) ?? { spent: 0, strong: 0 }
        totals.spent += record.dollars
        totals.strong += record.strongDollars
        spentByRouter.set(router, totals)
      }
    },
    recordEscalation: (router) => escalations.update({ router }, 1),
    addGauges: (read) => void extraGauges.push(read),
    render: Effect.sync(() => {
      const routers = new Set(routed.labelSets().map((labels) => labels.router!))
      for (const router of routers) {
        const strong = countOf(routed, { router, decision: "strong" })
        const weak = countOf(routed, { router, decision: "weak" })
        strongShare.update({ router }, strong / Math.max(1, strong + weak))
      }
      for (const [router, totals] of spentByRouter) {
        saving.update({ router }, totals.strong - totals.spent)
        savingRatio.update({ router }, totals.strong === 0 ? 0 : (totals.strong - totals.spent) / totals.strong)
      }
      for (const read of extraGauges) {
        for (const reading of read()) {
          let family = gaugeFamilies.get(reading.name)
          if (family === undefined) {
            const { description, name } = reading
            family = gauge(name, description)
            gaugeFamilies.set(name, family)
          }
          family.update(reading.labels, reading.value)
        }
      }
      return PrometheusMetrics.formatUnsafe(context)
    }),
    requests: (router, model) => {
      const wanted = labelsOf(router, model)
      let total = 0
      for (const labels of requests.labelSets()) {
        if (labels.router === wanted.router && labels.model === wanted.model) total += countOf(requests, labels)
      }
      return total
    }
  }
}

export class Metrics extends Context.Service<Metrics, MetricsShape>()("@routellm/server/Metrics") {
  static readonly layer = Layer.sync(Metrics, make)
}
