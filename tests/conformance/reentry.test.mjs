// What user code may do to a cache while one of its calls runs: call it again from inside an
// event, a value's toJSON, the fetch option or a getOrSet factory; walk away from a getOrSet
// whose factory never settles; free it. Each leaves the instance working (or, once freed,
// refusing with NOT_CONNECTED), and every call settles.
import { it } from "node:test";
import assert from "node:assert/strict";
import { Cache, CacheError } from "edge-caches";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const never = () => new Promise(() => {});
// Whether `promise` settles within `ms` (a call that hangs fails the test instead of the run).
const settles = (promise, ms = 1000) => Promise.race([promise.then(() => true, () => true), sleep(ms).then(() => false)]);
const isCode = (code) => (e) => e instanceof CacheError && e.code === code;

// A REST server in a function: every command's answer (near reads: missing, with no ttl).
function answer(command) {
  const [name, ...args] = command;
  if (name === "EVALSHA_RO" || name === "EVAL_RO") return { result: Array.from({ length: 2 * Number(args[1]) }, (_, i) => (i % 2 ? -2 : null)) };
  if (name === "MGET") return { result: args.map(() => null) };
  if (name === "SET" || name === "MSET") return { result: "OK" };
  return { result: null };
}
const server = async (url, init) => {
  const body = JSON.parse(init.body);
  return new Response(JSON.stringify(String(url).endsWith("/pipeline") ? body.map(answer) : answer(body)));
};

it("a getOrSet whose callers all left blocks no one: the next call computes, disconnect() resolves", async () => {
  const cache = new Cache("memory://");
  await cache.connect();
  const controller = new AbortController();
  const left = cache.getOrSet("k", never, { signal: controller.signal });
  controller.abort();
  await assert.rejects(left, isCode("ABORTED"));
  const next = cache.getOrSet("k", () => 7);
  assert.ok(await settles(next), "the next getOrSet of the key waited for the abandoned factory");
  assert.equal(await next, 7);
  assert.ok(await settles(cache.disconnect()), "disconnect() waited for a computation no one awaits");
});

it("a factory slower than hardTimeout rejects its calls with TIMEOUT, frees the key, and its late value is not stored", async () => {
  for (const [cache, options] of [[new Cache("memory://"), { hardTimeout: 0.05 }], [new Cache("memory://", { hardTimeout: 0.05 }), undefined]]) {
    await cache.connect();
    let late;
    const slow = () => new Promise((resolve) => (late = resolve));
    const started = Date.now();
    const calls = [cache.getOrSet("k", slow, options), cache.getOrSet("k", slow, options)];
    for (const call of calls) await assert.rejects(call, isCode("TIMEOUT"));
    assert.ok(Date.now() - started < 1000);
    assert.equal(await cache.getOrSet("k", () => "next", options), "next", "the key is free at once");
    late("late");
    await sleep(10);
    assert.equal(await cache.get("k"), "next", "the late value was not stored");
    assert.equal(await cache.getOrSet("quick", async () => 1, options), 1, "a factory within the limit");
  }
  assert.throws(() => new Cache("memory://", { hardTimeout: 0 }), RangeError);
  assert.throws(() => new Cache("memory://", { hardTimeout: "1" }), TypeError);
  const cache = new Cache("memory://");
  await cache.connect();
  await assert.rejects(cache.getOrSet("k", () => 1, { hardTimeout: -1 }), RangeError);
  await assert.rejects(cache.get("k", null, { hardTimeout: 1 }), TypeError, "getOrSet's option only");
});

it("a computation is shared only while someone awaits it, and only by calls whose options agree", async () => {
  const cache = new Cache("memory://");
  await cache.connect();
  let runs = 0;
  const slow = (value) => async () => {
    runs++;
    await sleep(20);
    return value;
  };
  const [a, b] = await Promise.all([cache.getOrSet("s", slow(1), { ttl: 60 }), cache.getOrSet("s", slow(2), { ttl: 60 })]);
  assert.deepEqual([a, b, runs], [1, 1, 1], "same options: one computation");
  runs = 0;
  const [c, d] = await Promise.all([cache.getOrSet("t", slow(3), { tags: ["x"] }), cache.getOrSet("t", slow(4), { tags: ["y"] })]);
  assert.equal(runs, 2, "different tags: each computes");
  assert.equal(c, d, "and the first add wins for both");
  assert.equal(await cache.get("t"), c);
});

it("free() rejects the calls in flight with NOT_CONNECTED, and every later call", async () => {
  const answers = [];
  const unhandled = [];
  const onUnhandled = (e) => unhandled.push(e);
  process.on?.("unhandledRejection", onUnhandled);
  try {
    const cache = new Cache("https://free.invalid", { token: "t", fetch: () => new Promise((resolve) => answers.push(resolve)) });
    await cache.connect();
    const inFlight = [cache.get("a"), cache.set("b", 1), cache.getOrSet("c", () => 1)];
    await sleep(10);
    cache.free();
    for (const call of inFlight) await assert.rejects(call, isCode("NOT_CONNECTED"));
    // The answers arrive after the engine is gone: dropped, nothing thrown.
    for (const resolve of answers) resolve(new Response('[{"result":null}]'));
    await sleep(10);
    await assert.rejects(cache.get("a"), isCode("NOT_CONNECTED"));
    await assert.rejects(cache.connect(), isCode("NOT_CONNECTED"));
    assert.equal(cache.connected, false);
    cache.free(); // twice is nothing
    assert.deepEqual(unhandled, []);
  } finally {
    process.off?.("unhandledRejection", onUnhandled);
  }
});

for (const [backend, url, options] of [
  ["memory", "memory://", {}],
  ["REST, near tier", "https://reentry.invalid", { token: "t", fetch: server, near: { ttl: 5 } }],
]) {
  it(`user code may call the cache again from inside a call (${backend})`, async () => {
    let cache;
    const inner = [];
    const again = () => inner.push(cache.get("inner"), cache.set("inner", 1), cache.getMany(["a", "inner"]));
    let events = 0;
    cache = new Cache(url, {
      ...options,
      onEvent: () => {
        if (events++ < 20) again();
      },
    });
    await cache.connect();
    await cache.get("a");
    // A value's toJSON runs while the value is written.
    await cache.set("v", { toJSON: () => (again(), 5) });
    // A factory runs inside getOrSet.
    assert.equal(await cache.getOrSet("f", async () => (again(), await cache.get("a"), 6)), 6);
    await Promise.all(inner);
    assert.ok(inner.length > 3);
    assert.equal(await cache.get("v"), 5);
    await cache.disconnect();
  });
}

it("a fetch option may call the cache again, synchronously and later", async () => {
  let cache;
  const inner = [];
  const fetch = (url, init) => {
    if (inner.length < 10) inner.push(cache.get("x"), cache.set("y", 1));
    setTimeout(() => inner.length < 20 && inner.push(cache.incr("n").catch(() => 0)), 0);
    return server(url, init);
  };
  cache = new Cache("https://reentry.invalid", { token: "t", fetch, near: { ttl: 5 } });
  await cache.connect();
  await Promise.all([cache.get("a"), cache.set("b", 1), cache.getOrSet("c", () => 2)]);
  await sleep(20);
  await Promise.all(inner);
  assert.equal(await cache.getOrSet("c2", () => 3), 3);
});
