// Section 11, getOrSet across instances, over the gateway and redis-server of
// tests/with-servers.mjs, each instance a process of its own (tests/stampede/instance.mjs):
//  - 50 processes missing one key at once (a 200 ms factory): factory calls, and the waiters'
//    p50/p99 time beside the factory's own, with `lock` and without it;
//  - a steady Zipf load (4 processes, a call every 5 ms each, 50 keys, ttl 1 s, a 50 ms
//    factory, `lock` on) for 10 s: factory calls per second, and the calls after the first
//    1.5 s that waited for a factory (took 40 ms or more), with and without refreshAhead 0.5.
import { percentile, writeSection } from "./lib.mjs";
import { instances } from "../tests/stampede/instances.mjs";

const PROCESSES = Number(process.env.BENCH_STAMPEDE_PROCESSES ?? 50);
const FACTORY_MS = 200;
const ZIPF_SECONDS = Number(process.env.BENCH_ZIPF_SECONDS ?? 10);
let runId = 0;
const prefix = () => `bench_stampede${process.pid}_${runId++}`;

async function missOneKey(options) {
  const job = { prefix: prefix(), calls: [{ key: "hot", options, factory: { ms: FACTORY_MS } }] };
  const answers = await instances(Array(PROCESSES).fill(job));
  const runs = answers.flatMap((a) => a.runs);
  const ran = new Set(answers.filter((a) => a.runs.length > 0));
  const waiters = answers.filter((a) => !ran.has(a)).map((a) => a.results[0].ms).sort((a, b) => a - b);
  const computers = answers.filter((a) => ran.has(a)).map((a) => a.results[0].ms).sort((a, b) => a - b);
  return {
    factoryCalls: runs.length,
    factoryMs: FACTORY_MS,
    failed: answers.filter((a) => !a.results[0].ok).length,
    computers: { count: computers.length, p50: percentile(computers, 50), p99: percentile(computers, 99) },
    waiters: { count: waiters.length, p50: percentile(waiters, 50), p99: percentile(waiters, 99) },
    distinctValues: new Set(answers.map((a) => a.results[0].value)).size,
  };
}

// Zipf weights 1/rank over `n` keys.
const zipf = (n) => Array.from({ length: n }, (_, i) => [`k${i}`, 1 / (i + 1)]);

async function zipfLoad(refreshAhead) {
  const factory = { ms: 50 };
  const options = { ttl: 1, lock: true, waitUntil: true, ...(refreshAhead ? { refreshAhead } : {}) };
  const loop = { ms: ZIPF_SECONDS * 1000, every: 5, keys: zipf(50), options, factory };
  const job = { prefix: prefix(), loop };
  const answers = await instances(Array(4).fill(job));
  const start = Math.min(...answers.flatMap((a) => a.results.map((r) => r.at)));
  const steady = answers.flatMap((a) => a.results).filter((r) => r.at >= start + 1500);
  const runs = answers.flatMap((a) => a.runs);
  const latencies = steady.map((r) => r.ms).sort((a, b) => a - b);
  return {
    calls: answers.reduce((sum, a) => sum + a.results.length, 0),
    factoryCallsPerSecond: runs.length / ZIPF_SECONDS,
    steadyCalls: steady.length,
    steadyWaited: steady.filter((r) => r.ms >= 40).length,
    failed: answers.flatMap((a) => a.results).filter((r) => !r.ok).length,
    refreshes: answers.reduce((sum, a) => sum + a.counts.refresh, 0),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

const result = {
  description: `${PROCESSES} processes missing one key at once, a ${FACTORY_MS} ms factory; a Zipf load of 4 processes for ${ZIPF_SECONDS} s`,
  miss: { withLock: await missOneKey({ lock: true }), withoutLock: await missOneKey(undefined) },
  zipf: { withoutRefreshAhead: await zipfLoad(undefined), withRefreshAhead: await zipfLoad(0.5) },
};
writeSection("stampede", result);
