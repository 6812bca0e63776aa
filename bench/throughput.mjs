// Section 2, throughput: each client in its own fresh process (throughput-child.mjs) against the
// gateway and a real Redis on loopback, at 1 and at 64 concurrent callers.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { CLIENTS, writeSection } from "./lib.mjs";

const CALLS = Number(process.env.BENCH_TP_CALLS ?? 10000);
// The clients alternate over ROUNDS rounds and each keeps its median run (by calls/s): one
// fresh process per client and level put one caller's ratio to @upstash/redis anywhere in
// 0.96-1.17x over five benchmark runs of one build.
const ROUNDS = Number(process.env.BENCH_TP_ROUNDS ?? 3);
const LEVELS = [1, 64];
const child = fileURLToPath(new URL("./throughput-child.mjs", import.meta.url));
const runs = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const concurrency of LEVELS) {
    runs[concurrency] ??= {};
    for (const client of CLIENTS) {
      const out = execFileSync(process.execPath, [child, client, String(concurrency), String(CALLS)], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      });
      const r = JSON.parse(out.trim().split("\n").pop());
      if (r.errors) throw new Error(`${client} at ${concurrency}: ${r.errors} calls failed: ${r.firstError}`);
      (runs[concurrency][client] ??= []).push(r);
      process.stderr.write(`  throughput: ${client} at ${concurrency}, round ${round + 1}: ${Math.round(r.callsPerSecond)} calls/s\n`);
    }
  }
}
const results = {};
for (const [concurrency, byClient] of Object.entries(runs)) {
  results[concurrency] = {};
  for (const [client, rs] of Object.entries(byClient)) {
    const sorted = [...rs].sort((a, b) => a.callsPerSecond - b.callsPerSecond);
    results[concurrency][client] = { ...sorted[Math.floor(sorted.length / 2)], roundsCallsPerSecond: rs.map((r) => r.callsPerSecond) };
  }
}
writeSection("throughput", {
  description:
    "mixed calls (80% get, 20% set with ttl 600 s) over 1000 keys, small JSON values, against the gateway and redis-server on loopback; each caller awaits its call before the next",
  calls: CALLS,
  rounds: ROUNDS,
  keys: Number(process.env.BENCH_TP_KEYS ?? 1000),
  warmupCalls: Number(process.env.BENCH_TP_WARMUP ?? 1000),
  levels: results,
});
