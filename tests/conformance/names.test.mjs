// The shipped module is a bundle (scripts/package.mjs); bundlers rename top-level classes
// (`var Cache=class _Cache`), which users would see in `Cache.name`, `constructor.name` and
// stack traces. The build renames them back; this holds it to that.
import { it } from "node:test";
import assert from "node:assert/strict";
import { Cache, CacheError } from "edge-caches";

it("Cache and CacheError keep their names", async () => {
  assert.equal(Cache.name, "Cache");
  assert.equal(CacheError.name, "CacheError");
  const cache = new Cache("memory://");
  assert.equal(cache.constructor.name, "Cache");
  const error = await cache.get("k").catch((e) => e); // not connected
  assert.ok(error instanceof CacheError);
  assert.equal(error.constructor.name, "CacheError");
  assert.equal(error.name, "CacheError");
});
