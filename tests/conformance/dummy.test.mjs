// The dummy:// backend's own rules: it takes every call and stores nothing.
import { it } from "node:test";
import assert from "node:assert/strict";
import { Cache, CacheError } from "edge-caches";

it("stores nothing, adds nothing, and rejects incr", async () => {
  const cache = new Cache("dummy://", { keyPrefix: "app", ttl: 5 });
  await assert.rejects(cache.get("k"), (e) => e instanceof CacheError && e.code === "NOT_CONNECTED");
  await cache.connect();
  await cache.set("k", 1);
  assert.equal(await cache.get("k"), null);
  assert.equal(await cache.get("k", "default"), "default");
  assert.equal(await cache.add("k", 1), false);
  assert.equal(await cache.getOrSet("k", "d"), "d");
  assert.equal(await cache.getOrSet("k", () => "f"), "f");
  await cache.setMany({ a: 1 });
  assert.deepEqual(await cache.getMany(["a", "b"]), { a: null, b: null });
  assert.equal(await cache.touch("k", 5), false);
  await cache.delete("k");
  await cache.deleteMany(["a"]);
  await cache.clear();
  await assert.rejects(cache.incr("k"), (e) => e instanceof CacheError && e.code === "UNSUPPORTED");
  await assert.rejects(cache.decr("k", 2), (e) => e instanceof CacheError && e.code === "UNSUPPORTED");
  await assert.rejects(cache.set("k", NaN), RangeError, "bad input is still bad input");
  await cache.disconnect();
});
