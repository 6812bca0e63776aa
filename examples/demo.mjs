// The demo: every method of the cache API once, printing what each returned.
//   make demo                                  -> the in-memory default
//   make demo URL=https://host TOKEN=...       -> an Upstash-style REST endpoint
import { Cache, CacheError } from "edge-caches";

const url = process.argv[2] || process.env.EDGE_CACHES_URL || "memory://";
const token = process.env.TOKEN || process.env.EDGE_CACHES_TOKEN;
const cache = new Cache(url, { keyPrefix: "demo", version: 1, ...(token ? { token } : {}) });

const show = async (call, promise) => {
  try {
    console.log(`${call.padEnd(44)} -> ${JSON.stringify(await promise)}`);
  } catch (err) {
    const kind = err instanceof CacheError ? `CacheError ${err.code}` : err.name;
    console.log(`${call.padEnd(44)} -> rejects: ${kind}: ${err.message}`);
  }
};

console.log(`edge-caches demo on ${url.replace(/\/\/[^@/]*@/, "//***@")}\n`);
await show("connect()", cache.connect());
await show('set("user:1", {name: "Ada"}, {ttl: 60})', cache.set("user:1", { name: "Ada" }, { ttl: 60 }));
await show('get("user:1")', cache.get("user:1"));
await show('get("missing", "fallback")', cache.get("missing", "fallback"));
await show('add("user:1", "other")', cache.add("user:1", "other"));
await show('add("user:2", "Grace")', cache.add("user:2", "Grace"));
await show('getOrSet("report", () => expensive())', cache.getOrSet("report", async () => ({ total: 6 * 7 })));
await show('getOrSet("report", () => never called)', cache.getOrSet("report", () => ({ total: 0 })));
await show('setMany({a: 1, b: [2, 3]}, {ttl: 60})', cache.setMany({ a: 1, b: [2, 3] }, { ttl: 60 }));
await show('getMany(["a", "b", "nope"])', cache.getMany(["a", "b", "nope"]));
await show('incr("hits")', cache.incr("hits"));
await show('incr("hits", 10)', cache.incr("hits", 10));
await show('decr("hits", 0.5)', cache.decr("hits", 0.5));
await show('touch("user:1", 0.5)', cache.touch("user:1", 0.5));
await show('touch("nope")', cache.touch("nope"));
await show('delete("user:2")', cache.delete("user:2"));
await show('deleteMany(["a", "b"])', cache.deleteMany(["a", "b"]));
await show('set("bad", NaN)', cache.set("bad", NaN));
await show('incr("user:1")', cache.incr("user:1"));
await show("clear()   (only keys under demo:)", cache.clear());
await show('get("user:1")', cache.get("user:1"));
await show("disconnect()", cache.disconnect());
await show('get("user:1")', cache.get("user:1"));
