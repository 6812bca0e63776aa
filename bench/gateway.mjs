// Section 6, gateway: wrk against the gateway's path-style GET, against a second gateway with
// --metrics-listen (what the metrics cost) and against webdis (same Redis, same wrk settings), then the gateway's /pipeline with 100 GETs per request against
// redis-benchmark -P 100 on the same Redis (the limit: Redis itself with no HTTP in between).
// Needs wrk, webdis and redis-benchmark on PATH, and scripts/with-servers.sh's environment.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SMALL, writeSection } from "./lib.mjs";
import { killAll, startGateway } from "../tests/servers.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const { GATEWAY_URL, GATEWAY_TOKEN, REDIS_PORT } = process.env;
assert.ok(GATEWAY_URL && GATEWAY_TOKEN && REDIS_PORT, "run under scripts/with-servers.sh");

const THREADS = Number(process.env.BENCH_WRK_THREADS ?? 2);
const CONNECTIONS = Number(process.env.BENCH_WRK_CONNECTIONS ?? 64);
const DURATION = Number(process.env.BENCH_WRK_SECONDS ?? 5);
// The GET comparison runs in ROUNDS alternating rounds (gateway, webdis, gateway, ...) and keeps
// each server's median round: on a shared 2-core machine one long run after the other drifted
// by ±10% between runs of the whole benchmark, which decided the comparison more than the servers.
const ROUNDS = Number(process.env.BENCH_WRK_ROUNDS ?? 5);
const WARMUP = Number(process.env.BENCH_WRK_WARMUP_SECONDS ?? 2);
const PIPELINE = 100;
const REDIS_BENCH_N = Number(process.env.BENCH_REDIS_BENCHMARK_N ?? 4000000);
const KEY = "benchkey";
const VALUE = JSON.stringify(SMALL);
const auth = `Bearer ${GATEWAY_TOKEN}`;

async function gateway(path, init = {}) {
  const res = await fetch(GATEWAY_URL + path, { ...init, headers: { Authorization: auth, ...init.headers } });
  assert.equal(res.status, 200, `${path}: HTTP ${res.status}`);
  return res.json();
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** One wrk run; returns its totals (from wrk.lua's WRK_JSON line) with requests per second. */
function wrk(url, seconds, env = {}) {
  const out = execFileSync(
    "wrk",
    [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${seconds}s`, "--timeout", "5s", "-s", join(here, "wrk.lua"), url],
    { encoding: "utf8", env: { ...process.env, WRK_KEY: KEY, ...env } },
  );
  const line = out.split("\n").find((l) => l.startsWith("WRK_JSON "));
  assert.ok(line, `no WRK_JSON line in wrk's output:\n${out}`);
  const r = JSON.parse(line.slice("WRK_JSON ".length));
  const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
  return { ...r, errorCount: errors, rps: r.requests / (r.duration_us / 1e6) };
}

function measure(name, url, env) {
  wrk(url, WARMUP, env); // warm-up, discarded
  return timed(name, url, env);
}

function timed(name, url, env) {
  const r = wrk(url, DURATION, env);
  process.stderr.write(`  gateway: ${name}: ${Math.round(r.rps)} requests/s (${r.errorCount} errors)\n`);
  if (r.errorCount) throw new Error(`${name}: wrk counted ${JSON.stringify(r.errors)} errors`);
  return r;
}

/** Alternating rounds of each { name, url, env } after one warm-up each; the median round of each, with every round's rps. */
function alternate(servers) {
  for (const s of servers) wrk(s.url, WARMUP, s.env);
  const rounds = servers.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    servers.forEach((s, i) => rounds[i].push(timed(s.name, s.url, s.env)));
  }
  return rounds.map((rs) => {
    const sorted = [...rs].sort((a, b) => a.rps - b.rps);
    return { ...sorted[Math.floor(sorted.length / 2)], roundsRps: rs.map((r) => r.rps) };
  });
}

// The key every run reads, checked through each server first.
assert.deepEqual(await gateway("/", { method: "POST", body: JSON.stringify(["SET", KEY, VALUE]) }), { result: "OK" });
assert.deepEqual(await gateway(`/get/${KEY}`), { result: VALUE });
const pipelineBody = JSON.stringify(Array.from({ length: PIPELINE }, () => ["GET", KEY]));
const pipelineReply = await gateway("/pipeline", { method: "POST", body: pipelineBody });
assert.equal(pipelineReply.length, PIPELINE);
for (const r of pipelineReply) assert.deepEqual(r, { result: VALUE });

// webdis on a free port, in front of the same Redis.
const dir = mkdtempSync(join(tmpdir(), "bench-webdis-"));
const webdisPort = await freePort();
const webdisThreads = Number(process.env.BENCH_WEBDIS_THREADS ?? 2);
writeFileSync(
  join(dir, "webdis.json"),
  JSON.stringify({
    redis_host: "127.0.0.1",
    redis_port: Number(REDIS_PORT),
    redis_auth: null,
    http_host: "127.0.0.1",
    http_port: webdisPort,
    threads: webdisThreads,
    daemonize: false,
    database: 0,
    verbosity: 1,
    logfile: join(dir, "webdis.log"),
  }),
);
const webdis = spawn("webdis", [join(dir, "webdis.json")], { stdio: "ignore" });
const webdisExited = new Promise((resolve) => webdis.on("exit", resolve));
const webdisUrl = `http://127.0.0.1:${webdisPort}`;
let results;
try {
  let ready = false;
  for (let i = 0; i < 100 && !ready; i++) {
    try {
      const res = await fetch(`${webdisUrl}/GET/${KEY}`);
      assert.deepEqual(await res.json(), { GET: VALUE });
      ready = true;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  assert.ok(ready, "webdis did not answer GET within 10 s");

  // Two more gateways of the same binary: one with no flags but the token (like for like with
  // webdis, which adds no CORS headers; the servers' gateway has --allow-origin), and one also
  // counting for /metrics (--metrics-listen): what the metrics cost.
  const bin = process.env.GATEWAY_BIN ?? join(here, "../target/gateway/edge-caches-gateway");
  const [plainPort, metricsPort] = [await freePort(), await freePort()];
  await startGateway(bin, plainPort, `redis://127.0.0.1:${REDIS_PORT}`, GATEWAY_TOKEN);
  await startGateway(bin, metricsPort, `redis://127.0.0.1:${REDIS_PORT}`, GATEWAY_TOKEN, ["--metrics-listen", "127.0.0.1:0"]);
  const [gatewayGet, webdisGet, metricsGet] = alternate([
    { name: "gateway GET /get/key", url: `http://127.0.0.1:${plainPort}/get/${KEY}`, env: { WRK_AUTH: auth } },
    { name: "webdis GET /GET/key", url: `${webdisUrl}/GET/${KEY}`, env: { WRK_AUTH: "" } },
    { name: "gateway --metrics-listen GET /get/key", url: `http://127.0.0.1:${metricsPort}/get/${KEY}`, env: { WRK_AUTH: auth } },
  ]);
  const gatewayPipeline = measure(`gateway POST /pipeline (${PIPELINE} GETs)`, `${GATEWAY_URL}/pipeline`, {
    WRK_AUTH: auth,
    WRK_PIPELINE: String(PIPELINE),
  });

  // redis-benchmark: the same GET of the same key, pipelined 100 deep, same number of connections.
  const csv = execFileSync(
    "redis-benchmark",
    ["-p", REDIS_PORT, "-c", String(CONNECTIONS), "-P", String(PIPELINE), "-n", String(REDIS_BENCH_N), "--csv", "GET", KEY],
    { encoding: "utf8" },
  );
  const [header, row] = csv.trim().split("\n").slice(-2).map((l) => l.split(",").map((c) => c.replace(/"/g, "")));
  const rb = Object.fromEntries(header.map((h, i) => [h, i === 0 ? row[i] : Number(row[i])]));
  process.stderr.write(`  gateway: redis-benchmark -P ${PIPELINE}: ${Math.round(rb.rps)} commands/s\n`);

  const version = (cmd, args) => {
    try {
      return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).split("\n")[0].trim();
    } catch (e) {
      return String(e.stdout ?? "").split("\n")[0].trim() || "unknown";
    }
  };
  results = {
    description: `wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION}s (after a ${WARMUP} s warm-up) on loopback; the GET rows: the median of ${ROUNDS} rounds, the servers alternating; every server and wrk share the machine's cores`,
    settings: { threads: THREADS, connections: CONNECTIONS, seconds: DURATION, rounds: ROUNDS, warmupSeconds: WARMUP, webdisThreads, pipeline: PIPELINE },
    versions: { wrk: version("wrk", ["-v"]), redisBenchmark: version("redis-benchmark", ["--version"]), webdis: "apt webdis" },
    get: { gateway: gatewayGet, webdis: webdisGet, withMetrics: metricsGet },
    pipeline: {
      gateway: { ...gatewayPipeline, commandsPerSecond: gatewayPipeline.rps * PIPELINE },
      redisBenchmark: { requests: REDIS_BENCH_N, commandsPerSecond: rb.rps, p50LatencyMs: rb.p50_latency_ms, p99LatencyMs: rb.p99_latency_ms },
    },
  };
} finally {
  webdis.kill("SIGTERM");
  await Promise.race([webdisExited, new Promise((r) => setTimeout(r, 3000))]);
  if (webdis.exitCode === null && webdis.signalCode === null) webdis.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
  killAll();
}
writeSection("gateway", results);
