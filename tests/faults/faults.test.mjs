// The fault test: 64 callers run a mixed workload on three REST caches while Redis is killed and
// restarted, the gateway is killed and restarted, and a fault-injecting proxy (proxy.mjs) delays,
// drops, truncates, garbles, stalls, refuses and answers 5xx. It checks that every call settles in time with an allowed
// error, that no read returns a value that cannot be there, that acknowledged increments are
// counted exactly once, and that the same cache objects serve normally afterwards.
//
//   node --test tests/faults/            (after `make build`; needs redis-server and the gateway
//                                          binary at target/gateway/edge-caches-gateway, or
//                                          GATEWAY_BIN)
//
// Everything it starts (redis-server, the gateway, the proxy) it stops, also on failure.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Cache, CacheError } from "edge-caches";
import { KeyHistory } from "./model.mjs";
import { FaultProxy } from "./proxy.mjs";
import { freePort, killAll, startGateway, startRedis, stop } from "../servers.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const GATEWAY_BIN = process.env.GATEWAY_BIN ?? resolve(root, "target/gateway/edge-caches-gateway");

// The client's settings under test, and what they promise: a request is given TIMEOUT ms, a
// failed one (network or 5xx) is tried again at most RETRIES times after a backoff of about 50,
// then 100 ms (jitter: half to all of it; see src/backend/rest/mod.rs).
const TIMEOUT = 1000;
const RETRIES = 2; // the default: the caches are made without `retries`
const BACKOFF_TOTAL = 50 + 100;
const SLACK = 1000; // late timers on a busy machine (seen: a 1000 ms timeout firing after 1340 ms)
const BOUND = TIMEOUT * (1 + RETRIES) + BACKOFF_TOTAL + SLACK;
const HANG = BOUND + 2000; // a caller gives up waiting here and records a hang
const ALLOWED = new Set(["NETWORK", "TIMEOUT", "SERVER", "PROTOCOL"]);
const AMBIGUOUS = new Set(["NETWORK", "TIMEOUT", "PROTOCOL"]); // may have run on the server

const KEY_PREFIX = "fx";
const VALUE_KEYS = Array.from({ length: 8 }, (_, i) => `v${i}`);
const COUNTERS_PER_PHASE = 4;

const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pickOne = (list) => list[Math.floor(Math.random() * list.length)];

// --- the test ---------------------------------------------------------------------------------

let proxy;
after(async () => {
  killAll();
  await proxy?.close();
});

test("edge-caches under faults: kills, restarts, delays, drops, refusals, 5xx", { timeout: 60_000 }, async () => {
  assert.ok(existsSync(GATEWAY_BIN), `no gateway binary at ${GATEWAY_BIN} (cargo build --profile gateway -p edge-caches-gateway)`);
  const token = randomBytes(24).toString("hex");
  const redisPort = await freePort();
  let redis = await startRedis(redisPort);
  const gatewayPort = await freePort();
  let gateway = await startGateway(GATEWAY_BIN, gatewayPort, `redis://127.0.0.1:${redisPort}`, token);
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  proxy = await new FaultProxy(gatewayUrl).listen();

  // Raw REST, bypassing edge-caches: to read the counters at the end.
  async function raw(...command) {
    const response = await fetch(gatewayUrl, { method: "POST", headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify(command) });
    const reply = await response.json();
    if (reply.error) throw new Error(reply.error);
    return reply.result;
  }

  // A fetch per cache that only watches: 5xx answers that did not come from the proxy itself
  // (the gateway's) make SERVER rejections of incr ambiguous too.
  const gateway5xx = [];
  const watching = (name) => async (url, init) => {
    const response = await fetch(url, init);
    if (response.status >= 500 && response.headers.get("x-fault-proxy") !== "self") {
      gateway5xx.push({ client: name, status: response.status, phase: phases[phaseIndex].name });
    }
    return response;
  };
  const common = { token, keyPrefix: KEY_PREFIX, timeout: TIMEOUT };
  const clients = [
    { name: "A", callers: 32, viaProxy: true, cache: new Cache(proxy.url, { ...common, fetch: watching("A") }) },
    { name: "B", callers: 16, viaProxy: true, cache: new Cache(proxy.url, { ...common, autoPipeline: false, fetch: watching("B") }) },
    { name: "C", callers: 16, viaProxy: false, cache: new Cache(gatewayUrl, { ...common, fetch: watching("C") }) },
  ];
  for (const c of clients) await c.cache.connect();

  // Phases, run one after the other while the callers work. The index is read by each call as
  // it starts; counters are per phase so that those after the Redis kill can be checked exactly.
  const phases = [];
  let phaseIndex = 0;
  const begin = (name, mode = {}) => {
    phases.push({ name, start: now() });
    phaseIndex = phases.length - 1;
    proxy.label = name;
    proxy.setMode(mode);
  };
  let redisWipe = null;
  phases.push({ name: "warmup", start: now() });

  const records = [];
  const histories = new Map(VALUE_KEYS.map((k) => [k, new KeyHistory()]));
  let seq = 0;
  let running = true;

  function call(client, op, args) {
    const rec = { client: client.name, viaProxy: client.viaProxy, op, args, phase: phaseIndex, start: now(), end: null };
    records.push(rec);
    let promise;
    try {
      promise = client.cache[op](...args);
    } catch (error) {
      promise = Promise.reject(error);
    }
    const settled = promise.then(
      (value) => {
        rec.end = now();
        rec.ok = true;
        rec.value = value;
      },
      (error) => {
        rec.end = now();
        rec.ok = false;
        rec.error = error;
        rec.refusingAtEnd = proxy.refusing;
      },
    );
    let timer;
    const gaveUp = new Promise((r) => (timer = setTimeout(() => r("hang"), HANG)));
    return Promise.race([settled, gaveUp]).then((how) => {
      clearTimeout(timer);
      if (how === "hang") rec.hung = true;
      return rec;
    });
  }

  async function caller(client) {
    while (running) {
      const r = Math.random();
      const key = pickOne(VALUE_KEYS);
      if (r < 0.3) {
        await call(client, "get", [key]);
      } else if (r < 0.5) {
        await call(client, "set", [key, `${key}:${++seq}`]);
      } else if (r < 0.65) {
        await call(client, "incr", [`ctr:${phases[phaseIndex].name}:${Math.floor(Math.random() * COUNTERS_PER_PHASE)}`]);
      } else if (r < 0.8) {
        const keys = [...new Set([pickOne(VALUE_KEYS), pickOne(VALUE_KEYS), pickOne(VALUE_KEYS)])];
        await call(client, "getMany", [keys]);
      } else if (r < 0.9) {
        await call(client, "add", [key, `${key}:${++seq}`]);
      } else {
        await call(client, "delete", [key]);
      }
      await sleep(Math.random() * 10);
    }
  }

  const t0 = now();
  const callers = clients.flatMap((c) => Array.from({ length: c.callers }, () => caller(c)));

  // The timeline.
  await sleep(800);
  begin("redis-kill");
  const killedAt = now();
  await stop(redis);
  await sleep(1000);
  redis = await startRedis(redisPort);
  redisWipe = { start: killedAt, end: now() };
  await sleep(300);
  begin("gateway-kill");
  await stop(gateway);
  await sleep(1000);
  gateway = await startGateway(GATEWAY_BIN, gatewayPort, `redis://127.0.0.1:${redisPort}`, token);
  await sleep(300);
  begin("delay", { delay: [50, 300] });
  await sleep(1000);
  begin("drop", { dropBefore: 0.1, dropAfter: 0.1, truncate: 0.1 });
  await sleep(1000);
  begin("garble", { garble: 0.1, shape: 0.1 });
  await sleep(800);
  begin("5xx", { error: 0.5 });
  await sleep(1000);
  begin("refuse");
  proxy.refuse();
  await sleep(700);
  await proxy.accept();
  begin("slow", { hold: 0.15, holdMs: TIMEOUT + 500, late: 0.1, lateMs: TIMEOUT + 500, stall: 0.1 });
  await sleep(1200);
  begin("normal");
  await sleep(1000);
  running = false;
  await Promise.all(callers);
  const workloadMs = now() - t0;
  // Calls that hung were left behind by their callers: give them a last chance to settle.
  if (records.some((r) => r.end === null)) await sleep(1000);

  const failures = [];
  const fail = (what, rec) => failures.push(`${what}: ${describeRecord(rec)}`);

  // 1. Every call settles within its bound, and only with an allowed CacheError.
  const rejectedBy = {};
  let maxSettle = 0;
  for (const rec of records) {
    if (rec.end === null) {
      fail("never settled", rec);
      continue;
    }
    const took = rec.end - rec.start;
    maxSettle = Math.max(maxSettle, took);
    if (took > BOUND) fail(`settled after ${took.toFixed(0)} ms (bound ${BOUND} ms)`, rec);
    if (rec.hung) fail(`settled only after ${took.toFixed(0)} ms`, rec);
    if (!rec.ok) {
      const code = rec.error instanceof CacheError ? rec.error.code : `not a CacheError (${rec.error?.name})`;
      rejectedBy[code] = (rejectedBy[code] ?? 0) + 1;
      if (!(rec.error instanceof CacheError)) fail(`rejected with a ${rec.error?.name}: ${rec.error?.message}`, rec);
      else if (!ALLOWED.has(rec.error.code)) fail(`rejected with ${rec.error.code}: ${rec.error.message}`, rec);
    }
  }
  // Before the first fault only a timeout is an excuse (a loaded machine can be that slow).
  for (const rec of records) if (rec.ok === false && rec.end < killedAt && rec.error?.code !== "TIMEOUT") fail("failed before any fault", rec);

  // 2. Reads return only what can be there.
  for (const rec of records) {
    if (!["set", "add", "delete"].includes(rec.op)) continue;
    const [key, value] = rec.args;
    const end = rec.ok ? rec.end : Infinity; // rejected or never settled: may have run, at any time
    if (rec.op !== "add" && rec.ok && rec.value !== undefined) fail(`${rec.op} resolved ${JSON.stringify(rec.value)}`, rec);
    if (rec.op === "add" && rec.ok && rec.value !== true) {
      if (rec.value !== false) fail(`add resolved ${JSON.stringify(rec.value)}`, rec);
      continue;
    }
    histories.get(key).add({ value: rec.op === "delete" ? null : value, start: rec.start, end, what: `${rec.op} by ${rec.client}` });
  }
  for (const history of histories.values()) {
    history.add({ value: null, start: redisWipe.start, end: redisWipe.end, what: "Redis kill" });
    history.seal();
  }
  let reads = 0;
  for (const rec of records) {
    if (!rec.ok || (rec.op !== "get" && rec.op !== "getMany")) continue;
    const pairs =
      rec.op === "get"
        ? [[rec.args[0], rec.value]]
        : (() => {
            const got = Object.keys(rec.value ?? {}).sort();
            const asked = [...rec.args[0]].sort();
            if (JSON.stringify(got) !== JSON.stringify(asked)) fail(`getMany answered keys ${JSON.stringify(got)}`, rec);
            return asked.map((k) => [k, rec.value?.[k]]);
          })();
    for (const [key, value] of pairs) {
      reads++;
      const why = histories.get(key).check(value === undefined ? "(undefined)" : value, rec.start, rec.end);
      if (why) fail(`read ${key} = ${JSON.stringify(value)}: ${why}`, rec);
    }
  }

  // 3. Every acknowledged incr counted exactly once (counters of the phases after the Redis
  // restart; those of earlier phases may have been wiped).
  const firstCounted = phases.findIndex((p) => p.name === "gateway-kill");
  const storedCounter = (key) => `${KEY_PREFIX}::${key}`;
  const counters = new Map();
  const somegateway5xx = gateway5xx.some((g) => phases.findIndex((p) => p.name === g.phase) >= firstCounted);
  for (const rec of records) {
    if (rec.op !== "incr") continue;
    if (rec.ok && !(Number.isInteger(rec.value) && rec.value >= 1)) fail(`incr resolved ${JSON.stringify(rec.value)}`, rec);
    if (rec.phase < firstCounted) continue;
    const key = rec.args[0];
    let c = counters.get(key);
    if (!c) counters.set(key, (c = { key, phase: phases[rec.phase].name, ack: 0, amb: 0, unapplied: 0, ackC: 0, ambC: 0, values: [] }));
    if (rec.ok) {
      c.ack++;
      c.values.push(rec.value);
      if (!rec.viaProxy) c.ackC++;
      continue;
    }
    const code = rec.error?.code;
    // Provably not run: the proxy answered 5xx itself (unless the gateway said 5xx too, which
    // it may say after running nothing or not), or every attempt met the refusing proxy.
    const refused = rec.viaProxy && phases[rec.phase].name === "refuse" && rec.refusingAtEnd && code === "NETWORK";
    const ambiguous = !refused && (AMBIGUOUS.has(code) || (code === "SERVER" && somegateway5xx) || !ALLOWED.has(code));
    if (ambiguous) {
      c.amb++;
      if (!rec.viaProxy) c.ambC++;
    } else c.unapplied++;
  }
  const keys = [...counters.keys()];
  const finals = keys.length ? await raw("MGET", ...keys.map(storedCounter)) : [];
  const incrTotals = { ack: 0, amb: 0, unapplied: 0, final: 0, extra: 0 };
  const perPhase = {};
  keys.forEach((key, i) => {
    const c = counters.get(key);
    const final = finals[i] === null ? 0 : Number(finals[i]);
    const seen = proxy.incr.get(storedCounter(key)) ?? { sent: 0, ok: 0 };
    const where = `${key}: ack ${c.ack} (C ${c.ackC}), ambiguous ${c.amb} (C ${c.ambC}), unapplied ${c.unapplied}, proxy sent ${seen.sent} ok ${seen.ok}, final ${final}`;
    if (final < c.ack) failures.push(`acknowledged increments lost: ${where}`);
    if (final > c.ack + c.amb) failures.push(`counted more than acknowledged + ambiguous (double counting or an unapplied failure applied): ${where}`);
    // What the proxy saw: forwarded and answered with a result ran exactly once; forwarded
    // without one may have run. C goes to the gateway directly.
    if (final < seen.ok + c.ackC) failures.push(`fewer than the proxy saw run: ${where}`);
    if (final > seen.sent + c.ackC + c.ambC) failures.push(`more than was ever forwarded: ${where}`);
    if (c.ack - c.ackC > seen.ok) failures.push(`more acknowledged through the proxy than it saw run: ${where}`);
    const values = [...c.values].sort((a, b) => a - b);
    if (values.some((v, j) => j > 0 && v === values[j - 1])) failures.push(`two incr acknowledged with the same value: ${where}`);
    if (values.length && values[values.length - 1] > final) failures.push(`an incr acknowledged a value above the final one: ${where}`);
    incrTotals.ack += c.ack;
    incrTotals.amb += c.amb;
    incrTotals.unapplied += c.unapplied;
    incrTotals.final += final;
    incrTotals.extra += final - c.ack;
    const p = (perPhase[c.phase] ??= { ack: 0, amb: 0, unapplied: 0, final: 0 });
    p.ack += c.ack;
    p.amb += c.amb;
    p.unapplied += c.unapplied;
    p.final += final;
  });

  // 4. The same caches serve normally afterwards.
  for (const { name, cache } of clients) {
    const k = `fresh:${name}`;
    try {
      await cache.set(k, { n: name });
      assert.deepEqual(await cache.get(k), { n: name });
      assert.equal(await cache.incr(`${k}:n`), 1);
      assert.equal(await cache.incr(`${k}:n`, 2), 3);
      assert.deepEqual(await cache.getMany([k, `${k}:none`]), { [k]: { n: name }, [`${k}:none`]: null });
    } catch (error) {
      failures.push(`cache ${name} after recovery: ${error?.code ?? ""} ${error?.message}`);
    }
  }

  // The summary.
  const settleStats = (list) => {
    const took = list.filter((r) => r.end !== null).map((r) => r.end - r.start).sort((a, b) => a - b);
    const q = (f) => (took.length ? took[Math.min(took.length - 1, Math.floor(f * took.length))].toFixed(0) : "-");
    return `settle p50 ${q(0.5)} p99 ${q(0.99)} max ${q(1)} ms`;
  };
  const byClient = clients.map(({ name, callers, viaProxy }) => {
    const mine = records.filter((r) => r.client === name);
    return `${name} (${callers} callers, ${viaProxy ? "via the proxy" : "direct"}${name === "B" ? ", autoPipeline off" : ""}): ${mine.length} calls, ${settleStats(mine)}`;
  });
  const byPhase = phases.map((p, i) => {
    const in_ = records.filter((r) => r.phase === i);
    const codes = {};
    for (const r of in_) if (r.ok === false) codes[r.error?.code ?? r.error?.name] = (codes[r.error?.code ?? r.error?.name] ?? 0) + 1;
    const perC = clients.map(({ name }) => `${name} ${settleStats(in_.filter((r) => r.client === name))}`).join("; ");
    return `${p.name}: ${in_.length} calls (${perC}), ${in_.filter((r) => r.ok).length} resolved${Object.keys(codes).length ? `, rejected ${JSON.stringify(codes)}` : ""}`;
  });
  const summary = [
    `fault test: ${records.length} calls by 64 callers in ${(workloadMs / 1000).toFixed(1)} s (timeout ${TIMEOUT} ms, retries ${RETRIES}, bound ${BOUND} ms)`,
    `  resolved ${records.filter((r) => r.ok).length}, rejected ${JSON.stringify(rejectedBy)}, never settled ${records.filter((r) => r.end === null).length}`,
    `  max settle time ${maxSettle.toFixed(0)} ms; ${reads} key reads checked against the write history`,
    `  slowest: ${records.filter((r) => r.end !== null).sort((a, b) => b.end - b.start - (a.end - a.start)).slice(0, 3).map(describeRecord).join("; ")}`,
    `  incr after the Redis restart: acknowledged ${incrTotals.ack}, ambiguous ${incrTotals.amb}, provably unapplied ${incrTotals.unapplied}, final ${incrTotals.final} (extra over acknowledged ${incrTotals.extra})`,
    ...Object.entries(perPhase).map(([name, p]) => `    ${name}: ack ${p.ack}, ambiguous ${p.amb}, unapplied ${p.unapplied}, final ${p.final}`),
    `  per cache:`,
    ...byClient.map((l) => `    ${l}`),
    `  per phase (by call start):`,
    ...byPhase.map((l) => `    ${l}`),
    `  proxy: ${JSON.stringify(proxy.stats)}`,
    `  gateway 5xx seen by clients: ${gateway5xx.length} ${JSON.stringify(countBy(gateway5xx, (g) => `${g.client}/${g.phase}/${g.status}`))}`,
  ];
  console.log(summary.join("\n"));
  for (const c of clients) await c.cache.disconnect();
  if (failures.length) {
    assert.fail(`${failures.length} failures:\n${failures.slice(0, 30).join("\n")}${failures.length > 30 ? "\n..." : ""}`);
  }

  function describeRecord(rec) {
    const err = rec.ok === false ? ` -> ${rec.error?.code ?? rec.error?.name} ${rec.error?.message}` : rec.ok ? ` -> ${JSON.stringify(rec.value)}` : "";
    const t = (x) => (x === null ? "-" : `${(x - t0).toFixed(0)}`);
    return `${rec.client}.${rec.op}(${rec.args.map((a) => JSON.stringify(a)).join(", ")}) in ${phases[rec.phase].name}, ${t(rec.start)}..${t(rec.end)} ms${err}`;
  }
});

function countBy(list, f) {
  const out = {};
  for (const x of list) out[f(x)] = (out[f(x)] ?? 0) + 1;
  return out;
}
