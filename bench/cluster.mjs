// Section 8, cluster: the gateway over one Redis (scripts/with-servers.sh's) and over a 3-master
// Redis Cluster (3 replicas; started here, tests/servers.mjs), same wrk settings: single GETs,
// /pipeline with 100 GETs of keys in many slots, and a getMany of 10 keys in 10 slots (MGET,
// split per slot by the gateway); then what the split adds: one caller's MGET of 10 keys in 10
// slots against 10 keys in one slot (a hash tag). On a 2-core machine the cluster cannot show
// scaling (its 6 nodes, the gateway and wrk share the cores): gateway/README.md (Capacity) models it.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, killAll, startCluster, startGateway } from "../tests/servers.mjs";
import { SMALL, writeSection } from "./lib.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const { GATEWAY_URL, GATEWAY_TOKEN, GATEWAY_BIN } = process.env;
assert.ok(GATEWAY_URL && GATEWAY_TOKEN, "run under scripts/with-servers.sh");
const BIN = GATEWAY_BIN ?? resolve(here, "../target/gateway/edge-caches-gateway");
const THREADS = Number(process.env.BENCH_WRK_THREADS ?? 2);
const CONNECTIONS = Number(process.env.BENCH_WRK_CONNECTIONS ?? 64);
const DURATION = Number(process.env.BENCH_WRK_SECONDS ?? 5);
const VALUE = JSON.stringify(SMALL);

function wrk(url, token, env, connections = CONNECTIONS, seconds = DURATION) {
  const out = execFileSync("wrk", [`-t${Math.min(THREADS, connections)}`, `-c${connections}`, `-d${seconds}s`, "--timeout", "5s", "-s", join(here, "wrk.lua"), url], {
    encoding: "utf8",
    env: { ...process.env, WRK_AUTH: `Bearer ${token}`, ...env },
  });
  const r = JSON.parse(out.split("\n").find((l) => l.startsWith("WRK_JSON ")).slice(9));
  const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
  if (errors) throw new Error(`wrk ${url}: ${JSON.stringify(r.errors)}`);
  return { rps: r.requests / (r.duration_us / 1e6), p50Ms: r.latency_us.p50 / 1000, p99Ms: r.latency_us.p99 / 1000 };
}

async function command(url, token, body, path = "/") {
  const res = await fetch(url + path, { method: "POST", headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text);
}

const keys = Array.from({ length: 100 }, (_, i) => `bench:k${i}`);
const tagged = Array.from({ length: 10 }, (_, i) => `{bench}:k${i}`);
const scenarios = [
  { name: "GET", path: (k) => `/get/${k}`, env: {}, commands: 1 },
  { name: "/pipeline, 100 GETs", path: () => "/pipeline", env: { WRK_BODY: JSON.stringify(keys.map((k) => ["GET", k])) }, commands: 100 },
  { name: "MGET of 10 keys in 10 slots", path: () => "/", env: { WRK_BODY: JSON.stringify(["MGET", ...keys.slice(0, 10)]) }, commands: 10 },
];

async function measure(url, token) {
  for (const k of [...keys, ...tagged]) await command(url, token, ["SET", k, VALUE]);
  const rows = {};
  for (const s of scenarios) {
    wrk(url + s.path(keys[0]), token, s.env, CONNECTIONS, 1); // warm-up
    const r = wrk(url + s.path(keys[0]), token, s.env);
    rows[s.name] = { ...r, commandsPerSecond: r.rps * s.commands };
    process.stderr.write(`  cluster: ${url} ${s.name}: ${Math.round(r.rps)} requests/s\n`);
  }
  return rows;
}

const dir = mkdtempSync(join(tmpdir(), "bench-cluster-"));
let results;
try {
  const single = await measure(GATEWAY_URL, GATEWAY_TOKEN);
  const cluster = await startCluster(dir);
  const token = randomBytes(16).toString("hex");
  const port = await freePort();
  await startGateway(BIN, port, cluster.urls.join(","), token, ["--cluster"]);
  const url = `http://127.0.0.1:${port}`;
  const clustered = await measure(url, token);
  // One caller: what splitting a getMany over slots adds to its latency.
  const spread = wrk(`${url}/`, token, { WRK_BODY: JSON.stringify(["MGET", ...keys.slice(0, 10)]) }, 1);
  const oneSlot = wrk(`${url}/`, token, { WRK_BODY: JSON.stringify(["MGET", ...tagged]) }, 1);
  results = {
    description: `wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION}s on loopback after a 1 s warm-up; the cluster: 3 masters + 3 replicas (redis-server ${execFileSync("redis-server", ["--version"], { encoding: "utf8" }).match(/v=(\S+)/)?.[1]}) on this machine, sharing its cores with the gateway and wrk; split cost: one connection`,
    single,
    cluster: clustered,
    split: { tenSlots: spread, oneSlot },
  };
} finally {
  killAll();
  rmSync(dir, { recursive: true, force: true });
}
writeSection("cluster", results);
