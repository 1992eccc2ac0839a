/**
 * Traces over OTLP: when ROUTELLM_OTLP_URL names a collector (its base URL,
 * e.g. http://127.0.0.1:4318, or the full /v1/traces endpoint), every
 * `Effect.fn` span of the command is exported as OTLP/HTTP JSON, flushed
 * before the process exits. Unset, nothing is loaded or sent.
 */
import { Layer } from "effect"
import { FetchHttpClient } from "effect/http"
import { OtlpSerialization, OtlpTracer } from "effect/observability"

export const tracesUrl = (url: string) => url.replace(/\/+$/, "").endsWith("/v1/traces") ? url : `${url.replace(/\/+$/, "")}/v1/traces`

export const layer = (url: string, version: string) =>
  OtlpTracer.layer({
    url: tracesUrl(url),
    resource: { serviceName: "routellm", serviceVersion: version },
    exportInterval: "1 second",
    shutdownTimeout: "3 seconds"
  }).pipe(Layer.provide(Layer.mergeAll(OtlpSerialization.layerJson, FetchHttpClient.layer)))
