// The near tier over REST: a real gateway and Redis (tests/with-servers.mjs), a wrapping fetch
// that counts the requests each cache sends. For stale-if-error the test starts a gateway of its
// own on the same Redis and kills it.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Cache } from "edge-caches";
import { freePort, startGateway, stop } from "../servers.mjs";

const { GATEWAY_URL, GATEWAY_TOKEN, GATEWAY_BIN, REDIS_URL } = process.env;
assert.ok(GATEWAY_URL && GATEWAY_TOKEN && GATEWAY_BIN && REDIS_URL, "run me with tests/with-servers.mjs");

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let n = 0;
const prefix = () => `near${process.pid}_${n++}`;

/** A cache whose requests are counted (`cache.sent()`), on `url` (the shared gateway by default). */
async function open(options = {}, url = GATEWAY_URL) {
  let sent = 0;
  const fetchCounted = (input, init) => {
    sent++;
    return fetch(input, init);
  };
  const cache = new Cache(url, { token: GATEWAY_TOKEN, fetch: fetchCounted, ...options });
  await cache.connect();
  cache.sent = () => sent;
  return cache;
}

describe("near tier over REST", () => {
  it("serves a read again from memory, and another writer's change only after near.ttl", async () => {
    const keyPrefix = prefix();
    const near = await open({ keyPrefix, near: { ttl: 0.3 } });
    const other = await open({ keyPrefix });
    await other.set("k", { v: 1 });
    assert.deepEqual(await near.get("k"), { v: 1 });
    const afterFirst = near.sent();
    assert.deepEqual(await near.get("k"), { v: 1 });
    assert.equal(near.sent(), afterFirst, "the second read sent nothing");
    await other.set("k", { v: 2 });
    assert.deepEqual(await near.get("k"), { v: 1 }, "another writer is seen within near.ttl, not at once");
    assert.deepEqual(await near.get("k", null, { fresh: true }), { v: 2 }, "fresh: true reads the backend");
    await other.set("k", { v: 3 });
    await sleep(320);
    assert.deepEqual(await near.get("k"), { v: 3 }, "after near.ttl");
    const stats = near.stats;
    assert.equal(stats.nearHits, 2);
    assert.equal(stats.nearMisses, 3);
    assert.equal(stats.requests, near.sent());
  });

  it("sees its own writes at once, on every write method", async () => {
    const cache = await open({ keyPrefix: prefix(), near: { ttl: 60 } });
    const read = async (key) => cache.get(key);
    for (const key of ["a", "b", "c", "d", "n", "m1"]) assert.equal(await read(key), null);
    await cache.set("a", 1);
    assert.equal(await read("a"), 1);
    assert.equal(await cache.add("b", 2), true);
    assert.equal(await read("b"), 2);
    assert.equal(await cache.getOrSet("c", 3), 3);
    assert.equal(await read("c"), 3);
    await cache.setMany({ d: 4, m1: 5 });
    assert.deepEqual(await cache.getMany(["d", "m1"]), { d: 4, m1: 5 });
    assert.equal(await cache.incr("n", 2), 2);
    assert.equal(await read("n"), 2);
    assert.equal(await cache.decr("n"), 1);
    assert.equal(await read("n"), 1);
    await cache.delete("a");
    assert.equal(await read("a"), null);
    await cache.deleteMany(["b", "c"]);
    assert.deepEqual(await cache.getMany(["b", "c", "d"]), { b: null, c: null, d: 4 });
    assert.equal(await cache.touch("d", 0.2), true);
    await sleep(250);
    assert.equal(await read("d"), null, "touch's new expiry holds");
    await cache.clear();
    assert.equal(await read("m1"), null, "clear() empties the near tier too");
  });

  it("never serves a key past its own expiry, whoever set it", async () => {
    const keyPrefix = prefix();
    const near = await open({ keyPrefix, near: { ttl: 60 } });
    const other = await open({ keyPrefix });
    await other.set("short", "x", { ttl: 0.15 });
    assert.equal(await near.get("short"), "x");
    await near.set("own", "y", { ttl: 0.15 });
    assert.equal(await near.get("own"), "y");
    await sleep(200);
    assert.equal(await near.get("short"), null, "the expiry read with the value (PTTL)");
    assert.equal(await near.get("own"), null, "the expiry of its own write");
  });

  it("getMany asks only for what memory lacks, in one request, in the caller's order", async () => {
    const keyPrefix = prefix();
    const cache = await open({ keyPrefix, near: true });
    await cache.setMany({ a: 1, c: 3 });
    await cache.get("a");
    const before = cache.sent();
    assert.deepEqual(await cache.getMany(["c", "a", "b"]), { c: 3, a: 1, b: null });
    assert.equal(cache.sent() - before, 1);
    assert.deepEqual(await cache.getMany(["b", "c", "a"]), { b: null, c: 3, a: 1 });
    assert.equal(cache.sent() - before, 1, "all from memory, the miss too");
  });

  it("sends one request for 100 concurrent reads of one missing key", async () => {
    const cache = await open({ keyPrefix: prefix(), near: true, autoPipeline: false });
    const values = await Promise.all(Array.from({ length: 100 }, () => cache.get("hot", "none")));
    assert.deepEqual(new Set(values), new Set(["none"]));
    assert.equal(cache.sent(), 1);
  });

  it("serves a stale value at once and refreshes it once in the background (waitUntil gets it)", async () => {
    const keyPrefix = prefix();
    const near = await open({ keyPrefix, near: { ttl: 0.1, swr: 10 } });
    const other = await open({ keyPrefix });
    await other.set("k", "old");
    assert.equal(await near.get("k"), "old");
    await other.set("k", "new");
    await sleep(120);
    const before = near.sent();
    const background = [];
    const waitUntil = (promise) => background.push(promise);
    const reads = await Promise.all(Array.from({ length: 5 }, () => near.get("k", null, { waitUntil })));
    assert.deepEqual(reads, Array(5).fill("old"), "stale values at once");
    assert.equal(background.length, 1, "one refresh per key");
    await Promise.all(background);
    assert.equal(near.sent() - before, 1);
    assert.equal(await near.get("k"), "new", "the refresh's value");
    assert.ok(near.stats.staleServed >= 5);
  });

  it("with the gateway stopped, serves what grace allows and rejects past it", async () => {
    const port = await freePort();
    const gateway = await startGateway(GATEWAY_BIN, port, REDIS_URL, GATEWAY_TOKEN);
    const url = `http://127.0.0.1:${port}`;
    const near = await open({ keyPrefix: prefix(), near: { ttl: 0.1 }, grace: 0.5, retries: 0, timeout: 1000 }, url);
    await near.set("k", { kept: true });
    await near.set("short", 1, { ttl: 0.2 });
    assert.deepEqual(await near.get("k"), { kept: true });
    await stop(gateway);
    await sleep(120);
    assert.deepEqual(await near.get("k"), { kept: true }, "stale within grace: the backend failed");
    assert.deepEqual(await near.getMany(["k"]), { k: { kept: true } });
    assert.equal(near.stats.staleServed, 2);
    await sleep(100);
    await assert.rejects(near.get("short"), (e) => e.code === "NETWORK", "never past the key's own expiry");
    await assert.rejects(near.set("k", 2), (e) => e.code === "NETWORK", "writes are not served from memory");
    await assert.rejects(near.get("k"), (e) => e.code === "NETWORK", "the failed write dropped the entry");
  });

  it("agrees with its events: near-tier answers, backend answers, stale values and requests", async () => {
    const port = await freePort();
    const gateway = await startGateway(GATEWAY_BIN, port, REDIS_URL, GATEWAY_TOKEN);
    try {
      await agreement(gateway, `http://127.0.0.1:${port}`);
    } finally {
      await stop(gateway); // a failed assertion must not leave it running (node would wait)
    }
  });

  async function agreement(gateway, url) {
    const counts = { near: 0, backend: 0, stale: 0, request: 0, retry: 0, error: 0 };
    const onEvent = (e) => counts[e.type === "hit" || e.type === "miss" ? e.tier : e.type]++;
    const keyPrefix = prefix();
    const near = await open({ keyPrefix, near: { ttl: 0.1, swr: 0.2 }, grace: 5, retries: 1, timeout: 1000, onEvent }, url);
    const other = await open({ keyPrefix }, url);
    await other.setMany({ a: 1, b: 2 });
    const background = [];
    const waitUntil = (promise) => background.push(promise);
    for (let round = 0; round < 3; round++) {
      await Promise.all([near.get("a"), near.get("a"), near.get("b"), near.getMany(["a", "b", "c"]), near.getOrSet("d", 4), near.get("c", null, { fresh: true })]);
      await sleep(120); // past near.ttl, within swr: stale, refreshed in the background
      await Promise.all([near.get("a", null, { waitUntil }), near.get("b", null, { waitUntil }), near.getMany(["a", "d"])]);
      await Promise.all(background.splice(0));
    }
    const agree = (s) => assert.deepEqual(
      { near: counts.near, stale: counts.stale, request: counts.request },
      { near: s.nearHits, stale: s.staleServed, request: s.requests },
    );
    let s = near.stats;
    agree(s);
    assert.equal(counts.backend, s.nearMisses, "every near miss was answered by the backend");
    assert.ok(s.nearHits > 0 && s.nearMisses > 0 && s.staleServed > 0, JSON.stringify(s));
    // The backend down: grace serves (a stale event; stats count the near miss too), one retry.
    await stop(gateway);
    await sleep(350);
    assert.equal(await near.get("a"), 1);
    s = near.stats;
    agree(s);
    assert.equal(counts.retry, 1, "retries: 1");
    assert.equal(counts.backend + 1, s.nearMisses, "the read grace answered is the one more near miss");
  }

  it("checks its options like every other option", () => {
    for (const [options, errorClass] of [
      [{ near: "yes" }, TypeError],
      [{ near: { ttl: "5" } }, TypeError],
      [{ near: { tll: 5 } }, TypeError],
      [{ near: { ttl: 0 } }, RangeError],
      [{ near: { swr: -1 } }, RangeError],
      [{ near: { maxEntries: 0 } }, RangeError],
      [{ near: true, grace: Infinity }, RangeError],
      [{ near: true, grace: "60" }, TypeError],
      [{ near: { bus: 1 } }, TypeError],
    ]) {
      assert.throws(() => new Cache(GATEWAY_URL, { token: GATEWAY_TOKEN, ...options }), errorClass, JSON.stringify(options));
    }
    assert.throws(() => new Cache(GATEWAY_URL, { token: GATEWAY_TOKEN, grace: 5 }), (e) => e.code === "CONFIG");
    const memory = new Cache("memory://", { near: { ttl: 1, swr: 1, bus: true }, grace: 1 });
    assert.deepEqual(memory.stats, { nearHits: 0, nearMisses: 0, staleServed: 0, requests: 0, busUp: false }, "no near tier, no bus on memory://");
  });
});
