// One client at one concurrency, in a fresh process, against the gateway and a real Redis:
// CALLS mixed calls (80% get, 20% set with a ttl, over KEYS keys, small JSON values), CONCURRENCY
// callers each awaiting its call before taking the next. Prints one JSON line: calls per second
// and latency percentiles (ms, from the call to its settling).
// Usage: GATEWAY_URL=... GATEWAY_TOKEN=... node bench/throughput-child.mjs CLIENT CONCURRENCY CALLS
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { makeClient, percentile, prng } from "./lib.mjs";

const [clientName, concArg, callsArg] = process.argv.slice(2);
const CONCURRENCY = Number(concArg);
const CALLS = Number(callsArg ?? 10000);
const KEYS = Number(process.env.BENCH_TP_KEYS ?? 1000);
const WARMUP = Number(process.env.BENCH_TP_WARMUP ?? 1000);
const TTL = 600;
const { GATEWAY_URL, GATEWAY_TOKEN } = process.env;
assert.ok(GATEWAY_URL && GATEWAY_TOKEN, "run under scripts/with-servers.sh");

// Keys per client and run, so runs never read each other's data.
const ns = `tp:${clientName.replace(/[^a-z]/g, "")}:${CONCURRENCY}`;
const key = (i) => `${ns}:${i}`;
const value = (i, n) => ({ id: i, name: `user${i}`, tags: ["a", "b"], n });

// Counts the HTTP requests each client makes (every client here uses the global fetch;
// edge-caches looks it up per call), to show how much each batches.
const realFetch = globalThis.fetch;
let httpRequests = 0;
globalThis.fetch = (url, init) => {
  httpRequests++;
  return realFetch(url, init);
};

const client = await makeClient(clientName, GATEWAY_URL, GATEWAY_TOKEN);

// The same workload for every client (seeded).
function workload(seed, n) {
  const rnd = prng(seed);
  return Array.from({ length: n }, () => ({ set: rnd() < 0.2, k: Math.floor(rnd() * KEYS) }));
}

async function run(ops, concurrency, latencies) {
  let next = 0;
  let errors = 0;
  let firstError = null;
  async function worker() {
    while (next < ops.length) {
      const i = next++;
      const { set, k } = ops[i];
      const t0 = performance.now();
      try {
        if (set) await client.set(key(k), value(k, i), TTL);
        else {
          const v = await client.get(key(k));
          if (v === null || v.id !== k) throw new Error(`get ${key(k)} returned ${JSON.stringify(v)}`);
        }
      } catch (e) {
        errors++;
        firstError ??= String(e?.stack ?? e);
      }
      latencies?.push(performance.now() - t0);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { errors, firstError };
}

// Every key exists before the timed run (set by this client, in its own format), so gets hit.
await run(
  Array.from({ length: KEYS }, (_, k) => ({ set: true, k })),
  CONCURRENCY,
  null,
);
const warm = await run(workload(1, WARMUP), CONCURRENCY, null);
assert.equal(warm.errors, 0, warm.firstError);

const latencies = [];
httpRequests = 0;
const t0 = performance.now();
const { errors, firstError } = await run(workload(42, CALLS), CONCURRENCY, latencies);
const elapsedMs = performance.now() - t0;
const requests = httpRequests;
latencies.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    client: clientName,
    concurrency: CONCURRENCY,
    calls: CALLS,
    errors,
    firstError,
    elapsedMs,
    callsPerSecond: (CALLS * 1000) / elapsedMs,
    httpRequests: requests,
    latencyMs: {
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies[latencies.length - 1],
    },
  }),
);
