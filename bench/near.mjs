// Section 7, the near tier: an edge workload through a loopback proxy that adds 20 ms of round
// trip (what an edge region sees to a far database) in front of the gateway. 64 concurrent
// callers, keys drawn from Zipf(0.99) over 10,000 keys, 90% reads. For every client, writes go
// through a second instance (another isolate, as far as the reader knows), so a near tier can
// serve a value older than a write: the largest such staleness is measured. Then the near
// tier's ttl is swept and p50/p99 plotted (bench/near-latency.svg), and a near hit's client CPU
// is measured in-process with a stubbed fetch.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Redis } from "@upstash/redis";
import { edgeCachesEntry, writeSection } from "./lib.mjs";

const { GATEWAY_URL, GATEWAY_TOKEN } = process.env;
if (!GATEWAY_URL) throw new Error("run inside scripts/with-servers.sh");
const { Cache } = await import(edgeCachesEntry());

const RTT_MS = 20;
const CALLERS = 64;
const CALLS_PER_CALLER = Number(process.env.BENCH_NEAR_CALLS ?? 200);
const KEYS = 10_000;
const READS = 0.9;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Zipf(0.99) over KEYS keys: the cumulative weights, searched with a uniform draw.
const cdf = new Float64Array(KEYS);
{
  let sum = 0;
  for (let i = 0; i < KEYS; i++) cdf[i] = sum += 1 / (i + 1) ** 0.99;
  for (let i = 0; i < KEYS; i++) cdf[i] /= sum;
}
function zipfKey() {
  const u = Math.random();
  let lo = 0;
  let hi = KEYS - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return `k${lo}`;
}

// The proxy (delay-proxy.mjs), in a process of its own.
const proxyProcess = spawn(process.execPath, [fileURLToPath(new URL("./delay-proxy.mjs", import.meta.url)), GATEWAY_URL, String(RTT_MS)], {
  stdio: ["ignore", "pipe", "inherit"],
});
const PROXY_URL = await new Promise((resolve, reject) => {
  proxyProcess.stdout.once("data", (d) => resolve(`http://127.0.0.1:${String(d).trim()}`));
  proxyProcess.once("exit", () => reject(new Error("the delay proxy exited")));
});
const proxied = async () => Number(await (await fetch(`${PROXY_URL}/__requests`)).text());

/** Every key, stored as the client spells it, with a first version, straight to the gateway. */
async function populate(spell) {
  for (let start = 0; start < KEYS; start += 1000) {
    const args = [];
    for (let i = start; i < start + 1000; i++) args.push(spell(`k${i}`), JSON.stringify({ v: 0, t: 0 }));
    const response = await fetch(GATEWAY_URL, { method: "POST", headers: { Authorization: `Bearer ${GATEWAY_TOKEN}` }, body: JSON.stringify(["MSET", ...args]) });
    if (!response.ok) throw new Error(`populate: ${response.status}`);
  }
}

/** `reader` and `writer`: { get(key), set(key, value) }. */
async function workload(reader, writer) {
  const lastWrite = new Map(); // key -> { t: the value's stamp, done: when the write resolved }
  const latencies = [];
  let stalest = 0;
  let version = 0;
  const before = await proxied();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      for (let i = 0; i < CALLS_PER_CALLER; i++) {
        const key = zipfKey();
        const t0 = performance.now();
        if (Math.random() < READS) {
          const known = lastWrite.get(key);
          const value = await reader.get(key);
          const t1 = performance.now();
          latencies.push(t1 - t0);
          // Older than a write that had resolved before this read began: stale by this much.
          if (known && known.done < t0 && (value?.t ?? 0) < known.t) stalest = Math.max(stalest, t1 - known.done);
        } else {
          const stamp = ++version;
          await writer.set(key, { v: stamp, t: stamp });
          const t1 = performance.now();
          latencies.push(t1 - t0);
          if ((lastWrite.get(key)?.t ?? 0) < stamp) lastWrite.set(key, { t: stamp, done: t1 });
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const requests = (await proxied()) - before;
  latencies.sort((a, b) => a - b);
  const calls = latencies.length;
  return {
    callsPerSecond: calls / seconds,
    p50: latencies[Math.floor(calls * 0.5)],
    p99: latencies[Math.floor(calls * 0.99)],
    requestsPer1000: (requests / calls) * 1000,
    stalestMs: stalest,
  };
}

const edge = async (options) => {
  const cache = new Cache(PROXY_URL, { token: GATEWAY_TOKEN, ...options });
  await cache.connect();
  return { get: (k) => cache.get(k), set: (k, v) => cache.set(k, v), cache };
};
const upstash = () => {
  const redis = new Redis({ url: PROXY_URL, token: GATEWAY_TOKEN, enableAutoPipelining: true });
  return { get: (k) => redis.get(k), set: (k, v) => redis.set(k, v) };
};
const headers = { Authorization: `Bearer ${GATEWAY_TOKEN}`, "Content-Type": "application/json" };
const raw = {
  get: async (k) => {
    const r = (await (await fetch(PROXY_URL, { method: "POST", headers, body: JSON.stringify(["GET", k]) })).json()).result;
    return r === null ? null : JSON.parse(r);
  },
  set: async (k, v) => {
    await fetch(PROXY_URL, { method: "POST", headers, body: JSON.stringify(["SET", k, JSON.stringify(v)]) });
  },
};

await populate((k) => `::${k}`);
await populate((k) => k);
const rows = {};
// Each row is measured on warm clients: the same workload once before (a near tier starts
// empty; in a long-lived isolate it is not).
const run = async (name, make) => {
  const [reader, writer] = await make();
  await workload(reader, writer);
  rows[name] = await workload(reader, writer);
  process.stderr.write(`  near: ${name}: ${Math.round(rows[name].callsPerSecond)} calls/s, p50 ${rows[name].p50.toFixed(1)} ms\n`);
};
await run("edge-caches, near { ttl: 5 }", async () => [await edge({ near: { ttl: 5 } }), await edge({})]);
await run("edge-caches", async () => [await edge({}), await edge({})]);
await run("@upstash/redis", async () => [upstash(), upstash()]);
await run("raw fetch", async () => [raw, raw]);

// p50 and p99 against near.ttl (0: off).
const sweep = [];
for (const ttl of [0, 0.1, 0.5, 1, 5]) {
  const [reader, writer] = [await edge(ttl ? { near: { ttl } } : {}), await edge({})];
  await workload(reader, writer);
  const r = await workload(reader, writer);
  sweep.push({ ttl, ...r });
  process.stderr.write(`  near: ttl ${ttl}: p50 ${r.p50.toFixed(1)} ms\n`);
}
proxyProcess.kill();

// A near hit's client CPU, in-process: the stubbed fetch answers the one miss.
const stubbed = new Cache("http://bench.invalid", {
  token: "t",
  near: { ttl: 3600 },
  fetch: async () => new Response('[{"result":["{\\"id\\":1}",-1]}]'),
});
await stubbed.connect();
await stubbed.get("k");
const HITS = 200_000;
for (let i = 0; i < HITS; i++) await stubbed.get("k");
const t = performance.now();
for (let i = 0; i < HITS; i++) await stubbed.get("k");
const hitUs = ((performance.now() - t) * 1000) / HITS;
if (stubbed.stats.requests !== 1) throw new Error(`near hits sent requests: ${stubbed.stats.requests}`);

const svg = plot(sweep);
const svgPath = fileURLToPath(new URL("./near-latency.svg", import.meta.url));
writeFileSync(svgPath, svg);

writeSection("near", {
  description: `64 concurrent callers, Zipf(0.99) over 10,000 keys, 90% reads (writes through a second instance), ${CALLERS * CALLS_PER_CALLER} calls per row after as many to warm up, through a proxy adding ${RTT_MS} ms of round trip`,
  rows,
  sweep,
  nearHitUs: hitUs,
  plot: "bench/near-latency.svg",
});

/** p50 and p99 latency against near.ttl, as a small SVG line chart. */
function plot(points) {
  const w = 480;
  const h = 260;
  const pad = 48;
  const maxY = Math.max(...points.map((p) => p.p99)) * 1.1;
  const x = (i) => pad + (i * (w - 2 * pad)) / (points.length - 1);
  const y = (v) => h - pad - (v / maxY) * (h - 2 * pad);
  const line = (key, color) =>
    `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map((p, i) => `${x(i).toFixed(1)},${y(p[key]).toFixed(1)}`).join(" ")}"/>` +
    points.map((p, i) => `<circle cx="${x(i).toFixed(1)}" cy="${y(p[key]).toFixed(1)}" r="3" fill="${color}"/>`).join("");
  const ticks = points.map((p, i) => `<text x="${x(i).toFixed(1)}" y="${h - pad + 18}" text-anchor="middle">${p.ttl === 0 ? "off" : p.ttl}</text>`).join("");
  const yTicks = [0, 0.5, 1].map((f) => `<text x="${pad - 6}" y="${(y(maxY * f) + 4).toFixed(1)}" text-anchor="end">${(maxY * f).toFixed(0)}</text>`).join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="#888"/><line x1="${pad}" y1="${pad}" x2="${pad}" y2="${h - pad}" stroke="#888"/>
${ticks}${yTicks}
<text x="${w / 2}" y="${h - 8}" text-anchor="middle">near.ttl (s)</text>
<text x="14" y="${h / 2}" transform="rotate(-90 14 ${h / 2})" text-anchor="middle">latency per call (ms)</text>
${line("p99", "#d62728")}${line("p50", "#1f77b4")}
<text x="${w - pad}" y="${pad - 20}" text-anchor="end" fill="#1f77b4">p50</text><text x="${w - pad}" y="${pad - 6}" text-anchor="end" fill="#d62728">p99</text>
</svg>
`;
}
