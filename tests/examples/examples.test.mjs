// The examples, each run in its runtime: the Worker in workerd (REST through the gateway), the
// Deno server in Deno (in memory, and on REST), and the Node demo that `make demo` runs.
import { it } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import process from "node:process";
import { resolve } from "node:path";
import { freePort, startWorker } from "../runtimes/workerd/launch.mjs";

const root = resolve(import.meta.dirname, "../..");
const rest = process.env.GATEWAY_URL ? { UPSTASH_REDIS_REST_URL: process.env.GATEWAY_URL, UPSTASH_REDIS_REST_TOKEN: process.env.GATEWAY_TOKEN } : null;
const THOUSANDTH_PRIME = 7919;

async function twice(base) {
  // A key no earlier request has cached: never 1000, which the launcher's readiness requests
  // read (the Worker's default n), and from a range wide enough that the three calls of a run
  // against one Redis do not meet.
  const n = 1001 + Math.floor(Math.random() * 8999);
  const first = await (await fetch(`${base}/?n=${n}`)).json();
  const second = await (await fetch(`${base}/?n=${n}`)).json();
  assert.equal(first.computed, true, `the first request computes (n=${n})`);
  assert.equal(second.computed, false, "the second is served from the cache");
  assert.equal(second.prime, first.prime);
  const known = await (await fetch(`${base}/?n=1000`)).json();
  assert.equal(known.prime, THOUSANDTH_PRIME);
}

it("the Cloudflare Worker example caches with getOrSet in workerd", { skip: !rest && "needs scripts/with-servers.sh" }, async () => {
  const worker = await startWorker(resolve(root, "examples/worker/src/index.js"), rest);
  try {
    // The launcher's readiness requests read too: the counts are taken around twice()'s three
    // getOrSet calls (a miss, a hit, then a hit of the key the launcher read).
    const before = await (await fetch(`${worker.url}/stats`)).json();
    await twice(worker.url);
    const after = await (await fetch(`${worker.url}/stats`)).json();
    assert.deepEqual([after.hit - before.hit, after.miss - before.miss], [2, 1], JSON.stringify({ before, after }));
    assert.equal(after.hitRatio, after.hit / (after.hit + after.miss));
    assert.ok(after.requests - before.requests >= 4, "a getOrSet miss with a function takes two requests");
  } finally {
    worker.stop();
  }
});

async function denoServer(env) {
  const port = await freePort();
  const child = spawn(resolve(root, "node_modules/.bin/deno"), ["run", "--allow-net=127.0.0.1", "--allow-env", resolve(root, "examples/deno/server.ts")], {
    cwd: root,
    env: { ...process.env, UPSTASH_REDIS_REST_URL: "", ...env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200 && child.exitCode === null; i++) {
    try {
      await fetch(`${base}/?n=1`);
      return { base, stop: () => child.kill("SIGKILL") };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill("SIGKILL");
  throw new Error(`the Deno example did not start:\n${output}`);
}

it("the Deno server example caches with getOrSet, in memory", async () => {
  const server = await denoServer({});
  try {
    await twice(server.base);
  } finally {
    server.stop();
  }
});

it("the Deno server example caches with getOrSet, on REST", { skip: !rest && "needs scripts/with-servers.sh" }, async () => {
  const server = await denoServer(rest);
  try {
    await twice(server.base);
  } finally {
    server.stop();
  }
});

it("the Node demo prints what each method returned", () => {
  const out = execFileSync("node", [resolve(root, "examples/demo.mjs")], { encoding: "utf8" });
  for (const line of [
    /get\("user:1"\)\s+-> \{"name":"Ada"\}/,
    /add\("user:1", "other"\)\s+-> false/,
    /getOrSet\("report", \(\) => never called\)\s+-> \{"total":42\}/,
    /getMany\(\["a", "b", "nope"\]\)\s+-> \{"a":1,"b":\[2,3\],"nope":null\}/,
    /decr\("hits", 0.5\)\s+-> 10.5/,
    /set\("bad", NaN\)\s+-> rejects: RangeError/,
    /incr\("user:1"\)\s+-> rejects: CacheError NOT_A_NUMBER/,
    /get\("user:1"\)\s+-> rejects: CacheError NOT_CONNECTED/,
  ]) {
    assert.match(out, line);
  }
});

it("examples/otel.mjs turns the events into OpenTelemetry metrics and spans (the real SDK, in-memory exporters)", { skip: !rest && "needs scripts/with-servers.sh" }, async () => {
  const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = await import("@opentelemetry/sdk-trace-base");
  const { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } = await import("@opentelemetry/sdk-metrics");
  const { Cache } = await import("edge-caches");
  const { otelOnEvent } = await import("../../examples/otel.mjs");
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const exported = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter: exported, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });

  // The first request fails on the network (a fetch that is honest about it) and is retried.
  let calls = 0;
  const fetch = (url, init) => (++calls === 1 ? Promise.reject(new TypeError("fetch failed")) : globalThis.fetch(url, init));
  const onEvent = otelOnEvent({ meter: meterProvider.getMeter("test"), tracer: tracerProvider.getTracer("test") });
  const cache = new Cache(rest.UPSTASH_REDIS_REST_URL, { token: rest.UPSTASH_REDIS_REST_TOKEN, keyPrefix: `otel${process.pid}`, fetch, onEvent });
  await cache.connect();
  await cache.get("warm"); // the retried request
  await cache.set("a", 1);
  assert.deepEqual(await cache.getMany(["a", "b", "c"]), { a: 1, b: null, c: null });
  await cache.set("s", "text");
  await assert.rejects(cache.incr("s"), { code: "NOT_A_NUMBER" });

  await reader.forceFlush();
  const points = new Map();
  for (const { scopeMetrics } of exported.getMetrics()) {
    for (const { metrics } of scopeMetrics) for (const m of metrics) points.set(m.descriptor.name, m.dataPoints);
  }
  const sum = (name, match) => (points.get(name) ?? []).filter((p) => match(p.attributes)).reduce((n, p) => n + (typeof p.value === "number" ? p.value : p.value.count), 0);
  assert.equal(sum("cache.reads", (a) => a["cache.result"] === "hit" && a["cache.tier"] === "backend"), 1);
  assert.equal(sum("cache.reads", (a) => a["cache.result"] === "miss"), 3, "warm, b and c");
  assert.equal(sum("cache.retries", (a) => a["cache.retry.reason"] === "network"), 1);
  assert.equal(sum("cache.errors", (a) => a["error.type"] === "NOT_A_NUMBER"), 1);
  const requests = cache.stats.requests;
  assert.equal(sum("cache.request.duration", () => true), requests, "one duration per request, as stats counts them");
  assert.equal(spans.getFinishedSpans().length, requests, "one span per request");
  assert.equal(spans.getFinishedSpans().filter((s) => s.status.code === 2).length, 1, "the failed one is an error span");
  await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
});
