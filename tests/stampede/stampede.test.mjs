// getOrSet across processes (tests/with-servers.mjs: a real gateway and Redis): `lock` makes
// one of many separate processes missing a key run its factory while the others wait for the
// value; a holder that throws or hangs lets a waiter take over; `refreshAhead` keeps a hot key
// from ever missing, one refresh at a time; `softTimeout` serves a stale value while a slow
// factory finishes. Each process is tests/stampede/instance.mjs, started and released together.
import { it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { Cache } from "edge-caches";
import { instances } from "./instances.mjs";

const { GATEWAY_URL, GATEWAY_TOKEN } = process.env;
assert.ok(GATEWAY_URL && GATEWAY_TOKEN, "run me with tests/with-servers.mjs");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let n = 0;
const prefix = () => `stampede${process.pid}_${n++}`;

const factoryRuns = (answers) => answers.reduce((sum, a) => sum + a.runs.length, 0);
const lockStates = (answers) => answers.flatMap((a) => a.events.filter((e) => e.type === "lock").map((e) => e.state));

it("with lock, one of eight processes missing a key runs the factory; the rest get its value", async () => {
  const keyPrefix = prefix();
  const job = { prefix: keyPrefix, calls: [{ key: "hot", options: { lock: true }, factory: { ms: 300 } }] };
  const answers = await instances(Array(8).fill(job));
  assert.equal(factoryRuns(answers), 1);
  const values = new Set(answers.map((a) => a.results[0].value));
  assert.equal(values.size, 1, "everyone has the holder's value");
  assert.ok(answers.every((a) => a.results[0].ok));
  const states = lockStates(answers);
  assert.equal(states.filter((s) => s === "held").length, 1);
  assert.equal(states.filter((s) => s === "waiting").length, 7);
  // The lock is gone once the value is stored, and clear() with the prefix removes any.
  assert.deepEqual(await lockKeys(keyPrefix), [], JSON.stringify(answers.map((a) => [a.runs, a.events])));
});

it("without lock, the same eight processes each run the factory (the baseline)", async () => {
  const job = { prefix: prefix(), calls: [{ key: "hot", factory: { ms: 300 } }] };
  const answers = await instances(Array(8).fill(job));
  assert.ok(factoryRuns(answers) > 1, `factory runs: ${factoryRuns(answers)}`);
});

it("a holder that throws frees the lock at once: a waiter takes over, the others get its value", async () => {
  const keyPrefix = prefix();
  const holder = { prefix: keyPrefix, calls: [{ key: "k", options: { lock: true }, factory: { ms: 200, mode: "throw" } }] };
  const waiter = { prefix: keyPrefix, calls: [{ key: "k", options: { lock: true }, factory: { ms: 50 }, after: 60 }] };
  const [first, ...rest] = await instances([holder, waiter, waiter, waiter]);
  assert.deepEqual(first.results.map((r) => r.ok), [false]);
  assert.equal(factoryRuns([first, ...rest]), 2, "the holder's run and one takeover");
  assert.equal(new Set(rest.map((a) => a.results[0].value)).size, 1);
  assert.ok(rest.every((a) => a.results[0].ok && a.results[0].ms < 2000), "nobody waited for the lock's ttl (10 s)");
});

it("a holder that hangs past its hardTimeout rejects with TIMEOUT and frees the lock for a waiter", async () => {
  const keyPrefix = prefix();
  const holder = { prefix: keyPrefix, calls: [{ key: "k", options: { lock: true, hardTimeout: 0.3 }, factory: { mode: "hang" } }] };
  const waiter = { prefix: keyPrefix, calls: [{ key: "k", options: { lock: true, hardTimeout: 0.3 }, factory: { ms: 50 }, after: 60 }] };
  const [first, ...rest] = await instances([holder, waiter, waiter, waiter]);
  assert.equal(first.results[0].code, "TIMEOUT");
  assert.ok(first.events.some((e) => e.type === "timeout" && e.timeout === "hard"));
  assert.equal(factoryRuns([first, ...rest]), 2);
  assert.ok(rest.every((a) => a.results[0].ok && a.results[0].ms < 2000));
});

it("a holder that hangs with no hardTimeout holds the others only for the lock's ttl", async () => {
  const keyPrefix = prefix();
  const options = { lock: { ttl: 0.5 } };
  const holder = { prefix: keyPrefix, calls: [{ key: "k", options, factory: { mode: "hang" }, giveUp: 1500 }] };
  const waiter = { prefix: keyPrefix, calls: [{ key: "k", options, factory: { ms: 20 }, after: 60 }] };
  const [, ...rest] = await instances([holder, waiter, waiter, waiter]);
  for (const { results } of rest) {
    assert.ok(results[0].ok);
    assert.ok(results[0].ms >= 300 && results[0].ms < 2000, `waited ${results[0].ms} ms`);
  }
  assert.ok(lockStates(rest).includes("waiting"));
});

it("refreshAhead: three processes reading a key with a 0.6 s ttl never miss after the first read, and refresh one at a time", async () => {
  const keyPrefix = prefix();
  const loop = { ms: 2500, every: 15, keys: [["hot", 1]], options: { ttl: 0.6, refreshAhead: 0.5, lock: true, waitUntil: true }, factory: { ms: 40 } };
  const answers = await instances(Array(3).fill({ prefix: keyPrefix, loop }));
  const counts = answers.map((a) => a.counts);
  // Only the first reads can miss (the key is new); every later one is served.
  const misses = counts.reduce((sum, c) => sum + c.held + c.waiting, 0);
  assert.ok(misses <= 3, `miss paths taken: ${misses}`);
  const refreshes = counts.reduce((sum, c) => sum + c.refresh, 0);
  // One refresh per ~0.3 s (the last half of a 0.6 s ttl), not one per process.
  assert.ok(refreshes >= 4 && refreshes <= 12, `refreshes: ${refreshes}`);
  const runs = answers.flatMap((a) => a.runs).sort((a, b) => a.start - b.start);
  for (let i = 1; i < runs.length; i++) assert.ok(runs[i].start >= runs[i - 1].end, `no two refreshes overlap: ${JSON.stringify(runs)}`);
  // A call that waited for a factory takes its 40 ms; a busy machine may stall one or two calls
  // as long, not many (without refreshAhead, each expiry makes every process's next calls wait).
  const later = answers.flatMap((a) => a.results.slice(5));
  const slow = later.filter((r) => r.ms >= 40);
  assert.ok(slow.length <= later.length / 100, `calls that took 40 ms or more: ${slow.length} of ${later.length}`);
});

it("softTimeout: a factory slower than it leaves the call with the near tier's stale value, and stores its own", async () => {
  const keyPrefix = prefix();
  const near = { near: { ttl: 5 } };
  const job = {
    prefix: keyPrefix,
    cache: near,
    calls: [
      { key: "k", options: { ttl: 0.2 }, factory: { ms: 1, value: "first" } },
      // After the key expired: a 500 ms factory, served stale at 0.1 s.
      { key: "k", options: { ttl: 60, softTimeout: 0.1, waitUntil: true }, factory: { ms: 500, value: "second" }, after: 350 },
      // While it finishes, the group's calls get the stale value too, with no second run.
      { key: "k", options: { ttl: 60, softTimeout: 0.1, waitUntil: true }, factory: { ms: 500, value: "third" }, after: 500 },
    ],
  };
  const [answer] = await instances([job]);
  const [first, second, third] = answer.results;
  assert.equal(first.value, "first");
  assert.equal(second.value, "first");
  assert.ok(second.ms < 400, `served after ${second.ms} ms`);
  assert.equal(third.value, "first");
  assert.ok(answer.events.some((e) => e.type === "timeout" && e.timeout === "soft"));
  assert.equal(answer.runs.length, 2);
  const reader = new Cache(GATEWAY_URL, { token: GATEWAY_TOKEN, keyPrefix });
  await reader.connect();
  assert.equal(await reader.get("k"), "second", "the late value was stored");
  await reader.disconnect();
});

// The lock keys under a prefix, read through the gateway (SCAN).
async function lockKeys(keyPrefix) {
  const response = await fetch(GATEWAY_URL, {
    method: "POST",
    headers: { Authorization: `Bearer ${GATEWAY_TOKEN}` },
    body: JSON.stringify(["SCAN", "0", "MATCH", `${keyPrefix}:#lock:*`, "COUNT", "1000"]),
  });
  const { result } = await response.json();
  return result[1];
}
