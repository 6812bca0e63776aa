// edge-caches' events as OpenTelemetry metrics and spans, through the OpenTelemetry API only:
// the application registers whichever SDK and exporter it uses (tests/examples runs this with
// the real SDK and in-memory exporters).
//
//   import { Cache } from "edge-caches";
//   import { otelOnEvent } from "./otel.mjs";
//   const cache = new Cache(url, { token, onEvent: otelOnEvent() });
//
// Metrics: `cache.reads` (counter; attributes `cache.result` hit/miss/stale, `cache.tier`
// near/backend), `cache.request.duration` (histogram, ms; `http.response.status_code`),
// `cache.retries` (counter; `cache.retry.reason`), `cache.errors` (counter; `error.type`, the
// CacheError code). Spans: one `cache.request` per HTTP request, with its real duration.
import { metrics, trace } from "@opentelemetry/api";

export function otelOnEvent({ meter = metrics.getMeter("edge-caches"), tracer = trace.getTracer("edge-caches") } = {}) {
  const reads = meter.createCounter("cache.reads", { description: "keys read, by result and by the tier that answered" });
  const duration = meter.createHistogram("cache.request.duration", { unit: "ms", description: "HTTP requests to the REST backend" });
  const retries = meter.createCounter("cache.retries", { description: "requests sent again" });
  const errors = meter.createCounter("cache.errors", { description: "calls rejected with a CacheError" });
  return (event) => {
    switch (event.type) {
      case "hit":
      case "miss":
      case "stale":
        reads.add(1, { "cache.result": event.type, "cache.tier": event.tier });
        break;
      case "request": {
        const attributes = { "http.response.status_code": event.status, "cache.commands": event.commands, "cache.attempt": event.attempt };
        duration.record(event.ms, attributes);
        // The event comes when the request is over: the span starts `ms` ago and ends now.
        const end = Date.now();
        const span = tracer.startSpan("cache.request", { startTime: end - event.ms, attributes });
        if (event.status === 0 || event.status >= 500) span.setStatus({ code: 2 }); // SpanStatusCode.ERROR
        span.end(end);
        break;
      }
      case "retry":
        retries.add(1, { "cache.retry.reason": event.reason });
        break;
      case "error":
        errors.add(1, { "error.type": event.code });
        break;
    }
  };
}
