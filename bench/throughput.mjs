// Section 2, throughput: each client in its own fresh process (throughput-child.mjs) against the
// gateway and a real Redis on loopback, at 1 and at 64 concurrent callers.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { CLIENTS, writeSection } from "./lib.mjs";

const CALLS = Number(process.env.BENCH_TP_CALLS ?? 10000);
const LEVELS = [1, 64];
const child = fileURLToPath(new URL("./throughput-child.mjs", import.meta.url));
const results = {};
for (const concurrency of LEVELS) {
  results[concurrency] = {};
  for (const client of CLIENTS) {
    const out = execFileSync(process.execPath, [child, client, String(concurrency), String(CALLS)], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    const r = JSON.parse(out.trim().split("\n").pop());
    if (r.errors) throw new Error(`${client} at ${concurrency}: ${r.errors} calls failed: ${r.firstError}`);
    results[concurrency][client] = r;
    process.stderr.write(`  throughput: ${client} at ${concurrency}: ${Math.round(r.callsPerSecond)} calls/s\n`);
  }
}
writeSection("throughput", {
  description:
    "mixed calls (80% get, 20% set with ttl 600 s) over 1000 keys, small JSON values, against the gateway and redis-server on loopback; each caller awaits its call before the next",
  calls: CALLS,
  keys: Number(process.env.BENCH_TP_KEYS ?? 1000),
  warmupCalls: Number(process.env.BENCH_TP_WARMUP ?? 1000),
  levels: results,
});
