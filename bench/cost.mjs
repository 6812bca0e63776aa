// Section 1, cost per call: every (client, method) pair in its own fresh Node process
// (cost-child.mjs), ROUNDS times, the rounds interleaved (round 1 of every pair, then round 2...)
// so that a burst of load from elsewhere on the machine hits all clients alike. The figure is
// the median over the rounds of µs per call.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { CLIENTS, median, writeSection } from "./lib.mjs";

const ROUNDS = Number(process.env.BENCH_COST_ROUNDS ?? 7);
const WARMUP = Number(process.env.BENCH_COST_WARMUP ?? 10000);
const CALLS = Number(process.env.BENCH_COST_CALLS ?? 10000);
const METHODS = ["get", "set", "getMany", "incr"];
const child = fileURLToPath(new URL("./cost-child.mjs", import.meta.url));

const runs = {}; // method -> client -> [µs per call]
const requests = {}; // method -> client -> the checked request and answer
for (let round = 0; round < ROUNDS; round++) {
  for (const method of METHODS) {
    // Rotate the order of the clients from round to round.
    const order = CLIENTS.map((_, i) => CLIENTS[(i + round) % CLIENTS.length]);
    for (const client of order) {
      const out = execFileSync(process.execPath, [child, client, method, String(WARMUP), String(CALLS)], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      });
      const r = JSON.parse(out.trim().split("\n").pop());
      ((runs[method] ??= {})[client] ??= []).push(r.usPerCall);
      (requests[method] ??= {})[client] = { request: r.request, answer: r.answer };
    }
  }
  process.stderr.write(`  cost: round ${round + 1}/${ROUNDS} done\n`);
}

const results = {};
for (const method of METHODS) {
  results[method] = {};
  for (const client of CLIENTS) {
    results[method][client] = {
      usPerCall: median(runs[method][client]),
      runs: runs[method][client],
      ...requests[method][client],
    };
  }
}

writeSection("cost", {
  description:
    "µs per sequential awaited call, globalThis.fetch stubbed in-process (a new Response per call with the body the protocol gives); median over fresh processes",
  rounds: ROUNDS,
  warmupCalls: WARMUP,
  callsPerRun: CALLS,
  value: { id: 1, name: "Ada", tags: ["a", "b"] },
  clientOptions: {
    "edge-caches": 'new Cache("http://bench.invalid", { token: "t" }) (REST backend, default options)',
    "@upstash/redis": 'new Redis({ url, token, enableAutoPipelining: true }), defaults otherwise',
    "raw fetch": "fetch(url, { method: 'POST', headers, body: JSON.stringify(command) }), res.json(), JSON.parse(result)",
  },
  methods: results,
});
