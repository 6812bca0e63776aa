// getOrSet's lock, softTimeout and refreshAhead on memory:// (tests/stampede/ has them across
// processes over the gateway): the same semantics within one named store, shared by two
// caches; the options' checks; lock keys out of every user key's reach.
import { it } from "node:test";
import assert from "node:assert/strict";
import { Cache, CacheError } from "edge-caches";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let n = 0;

// Two caches on one named memory store: two instances sharing the store, as far as the lock
// can tell. Each records its events.
async function twoInstances(options = {}) {
  const name = `memory://stampede${n++}`;
  const events = [[], []];
  const caches = events.map((list) => new Cache(name, { ...options, onEvent: (e) => list.push(e) }));
  for (const cache of caches) await cache.connect();
  return { caches, events };
}

const slow = (counter, value, ms) => async () => {
  counter.runs++;
  await sleep(ms);
  return value;
};

it("lock: one of two instances runs the factory, the other waits for its value", async () => {
  const { caches: [a, b], events } = await twoInstances();
  const counter = { runs: 0 };
  const results = await Promise.all([a.getOrSet("k", slow(counter, "A", 60), { lock: true }), b.getOrSet("k", slow(counter, "B", 60), { lock: true })]);
  assert.deepEqual(results, ["A", "A"]);
  assert.equal(counter.runs, 1);
  assert.deepEqual(events[0].filter((e) => e.type === "lock"), [{ type: "lock", key: "::k", state: "held" }]);
  assert.deepEqual(events[1].filter((e) => e.type === "lock"), [{ type: "lock", key: "::k", state: "waiting" }]);
  // Without the lock, each computes.
  counter.runs = 0;
  await Promise.all([a.getOrSet("j", slow(counter, 1, 30)), b.getOrSet("j", slow(counter, 2, 30))]);
  assert.equal(counter.runs, 2);
});

it("lock: a holder that throws or outlives its hardTimeout frees the lock at once for the waiter", async () => {
  const { caches: [a, b] } = await twoInstances();
  for (const failing of [async () => { await sleep(40); throw new Error("boom"); }, () => new Promise(() => {})]) {
    const key = `k${n++}`;
    const counter = { runs: 0 };
    const started = Date.now();
    const [first, second] = await Promise.allSettled([
      a.getOrSet(key, failing, { lock: true, hardTimeout: 0.1 }),
      sleep(5).then(() => b.getOrSet(key, slow(counter, "taken over", 10), { lock: true })),
    ]);
    assert.equal(first.status, "rejected");
    assert.deepEqual([second.status, second.value, counter.runs], ["fulfilled", "taken over", 1]);
    assert.ok(Date.now() - started < 1000, "not the lock's ttl (10 s)");
  }
});

it("lock: a holder that hangs holds the waiter for the lock's ttl only; the cache's default lock applies", async () => {
  const { caches: [a, b], events } = await twoInstances({ lock: { ttl: 0.2 } });
  a.getOrSet("k", () => new Promise(() => {})); // never settles
  await sleep(5);
  const started = Date.now();
  assert.equal(await b.getOrSet("k", async () => "mine"), "mine");
  const waited = Date.now() - started;
  assert.ok(waited >= 150 && waited < 1000, `waited ${waited} ms`);
  // It waits, then takes the lock as it expires, or computes without it at its own deadline.
  const [waiting, last, ...more] = events[1].filter((e) => e.type === "lock").map((e) => e.state);
  assert.deepEqual([waiting, more], ["waiting", []]);
  assert.ok(last === "held" || last === "expired", last);
  // lock: false overrides the default.
  a.getOrSet("q", () => new Promise(() => {}));
  await sleep(5);
  assert.equal(await b.getOrSet("q", async () => "now", { lock: false }), "now");
});

it("lock keys: under the prefix (clear() removes them), never a user key's", async () => {
  const name = `memory://stampede${n++}`;
  const holder = new Cache(name, { keyPrefix: "app" });
  const app = new Cache(name, { keyPrefix: "app" });
  const other = new Cache(name, { keyPrefix: "other" });
  for (const cache of [holder, app, other]) await cache.connect();
  holder.getOrSet("k", () => new Promise(() => {}), { lock: true }); // holds app:#lock::k
  await sleep(5);
  await other.clear();
  const started = Date.now();
  assert.equal(await app.getOrSet("k", async () => 1, { lock: { ttl: 0.1 } }), 1);
  assert.ok(Date.now() - started >= 80, "another prefix's clear() left the lock");
  holder.getOrSet("m", () => new Promise(() => {}), { lock: true });
  await sleep(5);
  await app.clear();
  const again = Date.now();
  assert.equal(await app.getOrSet("m", async () => 2, { lock: true }), 2);
  assert.ok(Date.now() - again < 500, "clear() removed the lock");
  for (const [key, options] of [["x", { version: "#lock" }], ["a:#lock:b", undefined]]) {
    await assert.rejects(app.get(key, undefined, options), RangeError);
    await assert.rejects(app.set(key, 1, options), RangeError);
  }
  assert.throws(() => new Cache("memory://", { keyPrefix: "p:#lock:" }), RangeError);
});

it("refreshAhead: a read in the last part of the ttl returns the value and refreshes it, once", async () => {
  const { caches: [a, b], events } = await twoInstances();
  let version = 0;
  const counter = { runs: 0 };
  const factory = async () => {
    counter.runs++;
    await sleep(20);
    return ++version;
  };
  const options = { ttl: 0.3, refreshAhead: 0.5 };
  assert.equal(await a.getOrSet("k", factory, options), 1);
  assert.equal(await a.getOrSet("k", factory, options), 1);
  assert.equal(counter.runs, 1, "early in the ttl: no refresh");
  await sleep(180);
  const reads = await Promise.all([a.getOrSet("k", factory, options), b.getOrSet("k", factory, options), a.getOrSet("k", factory, options)]);
  assert.deepEqual(reads, [1, 1, 1], "the current value, at once");
  await sleep(60);
  assert.equal(counter.runs, 2, "one refresh for both instances");
  assert.equal(await b.getOrSet("k", factory, options), 2);
  await sleep(200); // past the first value's ttl: the refreshed one lives on
  assert.equal(await b.get("k"), 2);
  assert.equal(events.flat().filter((e) => e.type === "refresh").length, 1);
});

it("softTimeout without a stale value at hand (memory:// has no near tier) waits for the factory", async () => {
  const cache = new Cache("memory://");
  await cache.connect();
  assert.equal(await cache.getOrSet("k", async () => (await sleep(50), "v"), { softTimeout: 0.01 }), "v");
});

it("the options are checked", async () => {
  const cache = new Cache("memory://");
  await cache.connect();
  const f = async () => 1;
  for (const [options, error] of [
    [{ lock: 1 }, TypeError],
    [{ lock: { ttl: 0 } }, RangeError],
    [{ lock: { ttl: "1" } }, TypeError],
    [{ lock: { tll: 1 } }, TypeError],
    [{ softTimeout: -1 }, RangeError],
    [{ softTimeout: "1" }, TypeError],
    [{ refreshAhead: 1 }, RangeError],
    [{ refreshAhead: 0 }, RangeError],
    [{ refreshAhead: "0.5" }, TypeError],
  ]) {
    await assert.rejects(cache.getOrSet("k", f, options), error, JSON.stringify(options));
  }
  await assert.rejects(cache.get("k", null, { lock: true }), TypeError, "getOrSet's option only");
  assert.throws(() => new Cache("memory://", { lock: "yes" }), TypeError);
  assert.throws(() => new Cache("memory://", { softTimeout: 1 }), TypeError, "per call only");
  assert.ok(!(await cache.getOrSet("k", f, { lock: true, refreshAhead: 0.2, softTimeout: 1 }) instanceof CacheError));
});
