// Bad input, table-driven: every bad call rejects (or, for the constructor, throws) with the
// exact error class and sends nothing. The REST backend runs with a fetch that only counts, so
// "sent nothing" is checked where it matters; the same calls then run on memory://.
import { it } from "node:test";
import assert from "node:assert/strict";
import { Cache, CacheError } from "edge-caches";

// `value` nested in `depth` arrays.
const deep = (depth, value) => (depth === 0 ? value : [deep(depth - 1, value)]);
const cycle = {};
cycle.self = cycle;
const lone = "\ud800";
const huge = "x".repeat(8 * 1024 * 1024);

// [what, call, expected class]
const BAD_CALLS = [
  ["get: number key", (c) => c.get(1), TypeError],
  ["get: null key", (c) => c.get(null), TypeError],
  ["get: undefined key", (c) => c.get(), TypeError],
  ["get: object key", (c) => c.get({}), TypeError],
  ["get: lone surrogate key", (c) => c.get(lone), TypeError],
  ["get: lone low surrogate in key", (c) => c.get("a\udc00"), TypeError],
  ["get: options not an object", (c) => c.get("k", null, "v2"), TypeError],
  ["get: unknown option", (c) => c.get("k", null, { verison: 2 }), TypeError],
  ["get: ttl is not a read option", (c) => c.get("k", null, { ttl: 5 }), TypeError],
  ["get: version a float", (c) => c.get("k", null, { version: 1.5 }), RangeError],
  ["get: version NaN", (c) => c.get("k", null, { version: NaN }), RangeError],
  ["get: version an object", (c) => c.get("k", null, { version: {} }), TypeError],
  ["get: version a lone surrogate", (c) => c.get("k", null, { version: lone }), TypeError],
  ["get: signal not a signal", (c) => c.get("k", null, { signal: {} }), TypeError],
  ["set: undefined value", (c) => c.set("k", undefined), TypeError],
  ["set: function value", (c) => c.set("k", () => 1), TypeError],
  ["set: symbol value", (c) => c.set("k", Symbol("s")), TypeError],
  ["set: BigInt value", (c) => c.set("k", 10n), TypeError],
  ["set: nested BigInt", (c) => c.set("k", { a: [1n] }), TypeError],
  ["set: cycle", (c) => c.set("k", cycle), TypeError],
  ["set: NaN", (c) => c.set("k", NaN), RangeError],
  ["set: Infinity", (c) => c.set("k", Infinity), RangeError],
  ["set: nested -Infinity", (c) => c.set("k", { a: { b: [-Infinity] } }), RangeError],
  ["set: number key", (c) => c.set(7, 1), TypeError],
  ["set: lone surrogate key", (c) => c.set(lone, 1), TypeError],
  ["add: object key", (c) => c.add({}, 1), TypeError],
  ["set: undefined in an array", (c) => c.set("k", [1, undefined]), TypeError],
  ["set: a hole in an array", (c) => c.set("k", { a: [1, , 2] }), TypeError],
  ["set: NaN from a toJSON", (c) => c.set("k", [{ toJSON: () => NaN }]), RangeError],
  ["set: NaN deeper than the plain-data walk goes", (c) => c.set("k", deep(100, NaN)), RangeError],
  ["set: ttl 0", (c) => c.set("k", 1, { ttl: 0 }), RangeError],
  ["set: ttl negative", (c) => c.set("k", 1, { ttl: -5 }), RangeError],
  ["set: ttl NaN", (c) => c.set("k", 1, { ttl: NaN }), RangeError],
  ["set: ttl Infinity", (c) => c.set("k", 1, { ttl: Infinity }), RangeError],
  ["set: ttl too large", (c) => c.set("k", 1, { ttl: 1e300 }), RangeError],
  ["set: ttl a string", (c) => c.set("k", 1, { ttl: "60" }), TypeError],
  ["set: ttl a BigInt", (c) => c.set("k", 1, { ttl: 60n }), TypeError],
  ["add: NaN value", (c) => c.add("k", NaN), RangeError],
  ["add: bad ttl", (c) => c.add("k", 1, { ttl: 0 }), RangeError],
  ["getOrSet: bad plain default", (c) => c.getOrSet("k", { n: NaN }), RangeError],
  ["getOrSet: bad key", (c) => c.getOrSet(5, 1), TypeError],
  ["getOrSet with a function default: bad key", (c) => c.getOrSet(undefined, () => 1), TypeError],
  ["getOrSet: bad ttl", (c) => c.getOrSet("k", 1, { ttl: -1 }), RangeError],
  ["getMany: a string", (c) => c.getMany("abc"), TypeError],
  ["getMany: a Set", (c) => c.getMany(new Set(["a"])), TypeError],
  ["getMany: null", (c) => c.getMany(null), TypeError],
  ["getMany: a number in the list", (c) => c.getMany(["a", 2]), TypeError],
  ["getMany: a lone surrogate in the list", (c) => c.getMany(["a", lone]), TypeError],
  ["setMany: an array", (c) => c.setMany([["a", 1]]), TypeError],
  ["setMany: a string", (c) => c.setMany("a=1"), TypeError],
  ["setMany: null", (c) => c.setMany(null), TypeError],
  ["setMany: one NaN value", (c) => c.setMany({ a: 1, b: NaN }), RangeError],
  ["setMany: a Map with a number key", (c) => c.setMany(new Map([[1, "v"]])), TypeError],
  ["setMany: a BigInt value", (c) => c.setMany({ a: 1n }), TypeError],
  ["setMany: bad ttl", (c) => c.setMany({ a: 1 }, { ttl: 0 }), RangeError],
  ["delete: number key", (c) => c.delete(5), TypeError],
  ["deleteMany: not an array", (c) => c.deleteMany("a"), TypeError],
  ["deleteMany: a bad key", (c) => c.deleteMany(["a", {}]), TypeError],
  ["touch: ttl 0", (c) => c.touch("k", 0), RangeError],
  ["touch: ttl a string", (c) => c.touch("k", "5"), TypeError],
  ["touch: bad key", (c) => c.touch(null, 5), TypeError],
  ["incr: symbol key", (c) => c.incr(Symbol("k")), TypeError],
  ["incr: delta a string", (c) => c.incr("k", "1"), TypeError],
  ["incr: delta a BigInt", (c) => c.incr("k", 1n), TypeError],
  ["incr: delta null", (c) => c.incr("k", null), TypeError],
  ["incr: delta NaN", (c) => c.incr("k", NaN), RangeError],
  ["decr: delta Infinity", (c) => c.decr("k", Infinity), RangeError],
  ["decr: bad key", (c) => c.decr([]), TypeError],
  ["clear: unknown option", (c) => c.clear({ prefix: "x" }), TypeError],
];

const BAD_CONSTRUCTIONS = [
  ["url not a string", () => new Cache(42), TypeError],
  ["unknown scheme", () => new Cache("redis://localhost:6379"), CacheError],
  ["no scheme", () => new Cache("localhost"), CacheError],
  ["unknown URL option", () => new Cache("memory://?prefix=x"), CacheError],
  ["bad URL ttl", () => new Cache("memory://?ttl=abc"), RangeError],
  ["REST without a token", () => new Cache("https://example.com"), CacheError],
  ["REST without a host", () => new Cache("https://:tok@/"), CacheError],
  ["options not an object", () => new Cache("memory://", 5), TypeError],
  ["unknown option", () => new Cache("memory://", { keyprefix: "x" }), TypeError],
  ["keyPrefix not a string", () => new Cache("memory://", { keyPrefix: 1 }), TypeError],
  ["ttl 0", () => new Cache("memory://", { ttl: 0 }), RangeError],
  ["maxEntries 0", () => new Cache("memory://", { maxEntries: 0 }), RangeError],
  ["maxEntries a string", () => new Cache("memory://", { maxEntries: "10" }), TypeError],
  ["timeout negative", () => new Cache("https://h", { token: "t", timeout: -1 }), RangeError],
  ["retries 11", () => new Cache("https://h", { token: "t", retries: 11 }), RangeError],
  ["autoPipeline a string", () => new Cache("https://h", { token: "t", autoPipeline: "yes" }), TypeError],
  ["fetch not a function", () => new Cache("https://h", { token: "t", fetch: "fetch" }), TypeError],
  ["token empty", () => new Cache("https://h", { token: "" }), CacheError],
];

it(`${BAD_CALLS.length} bad calls reject with the right class and send nothing`, async () => {
  assert.ok(BAD_CALLS.length >= 40);
  let sent = 0;
  const fetch = async () => {
    sent++;
    return new Response('{"result":"OK"}');
  };
  for (const url of ["https://bad-input.invalid", "memory://bad-input"]) {
    sent = 0;
    const cache = new Cache(url, { token: "t", fetch, keyPrefix: "p" });
    await cache.connect();
    for (const [what, call, errorClass] of BAD_CALLS) {
      let promise;
      assert.doesNotThrow(() => (promise = call(cache)), `${what}: rejects, never throws synchronously`);
      await assert.rejects(promise, (error) => {
        assert.equal(error.constructor, errorClass, `${what} on ${url}: ${error}`);
        return true;
      });
    }
    assert.equal(sent, 0, "no bad call sent a request");
    // The instance is still fine after all of that (and a good call does send).
    await cache.set("after", { ok: true });
    if (url.startsWith("memory")) assert.deepEqual(await cache.get("after"), { ok: true });
    else assert.equal(sent, 1);
    await cache.disconnect();
    // Argument errors come before the state: a bad call is a bug whether connected or not.
    await assert.rejects(cache.get("k", null, { signal: {} }), TypeError);
    await assert.rejects(cache.set(1, 1), TypeError);
  }
});

it(`${BAD_CONSTRUCTIONS.length} bad constructions throw the right class, with CONFIG for a bad URL`, () => {
  for (const [what, construct, errorClass] of BAD_CONSTRUCTIONS) {
    assert.throws(construct, (error) => {
      assert.equal(error.constructor, errorClass, `${what}: ${error}`);
      if (errorClass === CacheError) assert.equal(error.code, "CONFIG", what);
      return true;
    });
  }
});

it("a huge value and a huge key are stored and read back, not refused", async () => {
  const cache = new Cache("memory://");
  await cache.connect();
  const big = { blob: huge };
  await cache.set(huge.slice(0, 1024 * 1024), big);
  assert.equal((await cache.get(huge.slice(0, 1024 * 1024))).blob.length, 8 * 1024 * 1024);
});
