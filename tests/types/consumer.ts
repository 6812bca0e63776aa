// A TypeScript user of edge-caches: must type-check under `tsc --strict` against the packed
// package's index.d.ts. Each @ts-expect-error is a misuse the types must refuse (tsc fails if
// one of them type-checks).
import { Cache, CacheError, type CacheErrorCode, type CacheEvent, type CacheOptions, type CacheValue, type JsonValue } from "edge-caches";

interface User {
  name: string;
  age?: number;
}

export async function use(env: Record<string, string>): Promise<void> {
  const options: CacheOptions = { keyPrefix: "app", version: 2, ttl: 300, maxEntries: 100 };
  const cache = new Cache("memory://", options);
  const remote = Cache.fromEnv(env, { timeout: 2000 });
  await cache.connect();
  const token: string = remote.syncToken;
  cache.syncToken = token;

  await cache.set("user:1", { name: "Ada" }, { ttl: 60, version: "v2" });
  const user: User | null = await cache.get<User>("user:1");
  const withDefault: User | "anonymous" = await cache.get<User, "anonymous">("user:1", "anonymous");
  const added: boolean = await cache.add("k", [1, "two", null], { ttl: null });
  const report: { total: number } = await cache.getOrSet("report", async () => ({ total: 42 }));
  const plain: number = await cache.getOrSet("n", 5);
  const many: Record<"a" | "b", number | null> = await cache.getMany<number, "a" | "b">(["a", "b"]);
  await cache.setMany({ a: 1, b: 2 }, { ttl: 1.5 });
  await cache.setMany(new Map<string, JsonValue>([["c", { deep: [true] }]]));
  await cache.set("bytes", new Uint8Array([1, 2]));
  const zipped = new Cache("memory://", { compress: { threshold: 2048 } });
  await zipped.set("big", { rows: [1, 2, 3] });
  // @ts-expect-error: the threshold is a number of characters
  new Cache("memory://", { compress: { threshold: "1k" } });
  await cache.setMany(new Map<string, CacheValue>([["buffer", new ArrayBuffer(2)]]));
  const bytes: Uint8Array | null = await cache.get<Uint8Array>("bytes");
  const computed: Uint8Array = await cache.getOrSet("b", async () => new Uint8Array(3));
  const limited: number = await cache.getOrSet("slow", async () => 1, { hardTimeout: 0.5 });
  // @ts-expect-error: seconds, a number
  await cache.getOrSet("slow", async () => 1, { hardTimeout: "1s" });
  const locked: number = await cache.getOrSet("hot", async () => 1, { lock: true, softTimeout: 0.1, refreshAhead: 0.2 });
  await cache.getOrSet("hot", async () => 1, { lock: { ttl: 5 } });
  new Cache("memory://", { lock: { ttl: 2 } });
  // @ts-expect-error: the lock's ttl is a number of seconds
  await cache.getOrSet("hot", async () => 1, { lock: { ttl: "5s" } });
  // @ts-expect-error: getOrSet's options only
  await cache.get("hot", null, { lock: true });
  // @ts-expect-error: a Map is not JSON (a TypeError at run time)
  await cache.set("map", new Map());
  await cache.delete("a", { version: 3 });
  await cache.deleteMany(["a", "b"]);
  const touched: boolean = await cache.touch("k", null);
  const n: number = await cache.incr("hits", 2);
  const m: number = await cache.decr("hits");
  await cache.clear();
  const connected: boolean = cache.connected;

  try {
    await remote.get("x");
  } catch (error) {
    if (error instanceof CacheError) {
      const code: CacheErrorCode = error.code;
      if (code === "TIMEOUT" || code === "NOT_CONNECTED") console.log(error.message);
    }
  }

  {
    await using scoped = new Cache("memory://");
    await scoped.connect();
  }

  const near = new Cache("https://h", { token: "t", near: { ttl: 5, swr: 10, maxEntries: 1000, bus: true }, grace: 60 });
  const busUp: boolean = near.stats.busUp;
  const nearDefaults = new Cache("https://h", { token: "t", near: true });
  const waitUntil = (promise: Promise<unknown>): void => void promise;
  await near.get("k", null, { fresh: true, waitUntil });
  await near.getMany(["a"], { fresh: true });
  await near.getOrSet("k", 1, { fresh: true, ttl: 5 });
  const hits: number = nearDefaults.stats.nearHits + near.stats.requests;

  await cache.set("profile", { name: "Ada" }, { tags: ["user:1"], ttl: 60 });
  await cache.add("avatar", "a.png", { tags: ["user:1"] });
  await cache.getOrSet("feed", () => [1, 2], { tags: ["user:1", "user:2"], fresh: true });
  await cache.setMany({ a: 1 }, { tags: ["user:2"] });
  await cache.invalidateTags(["user:1"]);
  let ratio = 0;
  const observed = new Cache("memory://", {
    tagged: true,
    onEvent: (event: CacheEvent) => {
      if (event.type === "hit" || event.type === "miss") ratio += event.tier === "near" ? 1 : 0;
      else if (event.type === "request") ratio += event.ms + event.status + event.commands;
      else if (event.type === "error") console.log(event.code);
      else if (event.type === "invalidate") ratio += event.keys?.length ?? 0;
      else if (event.type === "bus") console.log(event.state === "up");
      else if (event.type === "lock") console.log(event.key, event.state === "held");
      else if (event.type === "timeout") console.log(event.timeout === "soft");
      else if (event.type === "refresh") console.log(event.key);
    },
  });

  // @ts-expect-error a ttl is a number of seconds
  await cache.set("k", 1, { ttl: "60" });
  // @ts-expect-error undefined is not a value JSON can hold
  await cache.set("k", undefined);
  // @ts-expect-error BigInt is not JSON
  await cache.set("k", 1n);
  // @ts-expect-error keys are strings
  await cache.get(1);
  // @ts-expect-error getMany takes an array of keys
  await cache.getMany("abc");
  // @ts-expect-error an unknown option
  new Cache("memory://", { prefix: "typo" });
  // @ts-expect-error incr's delta is a number
  await cache.incr("k", "1");
  // @ts-expect-error not a code of CacheError
  const wrong: CacheErrorCode = "NOPE";
  // @ts-expect-error near.ttl is a number of seconds
  new Cache("https://h", { near: { ttl: "5" } });
  // @ts-expect-error fresh is a boolean
  await near.get("k", null, { fresh: 1 });
  // @ts-expect-error tags are an array of strings
  await cache.set("k", 1, { tags: "user:1" });
  // @ts-expect-error reads take no tags
  await cache.get("k", null, { tags: ["t"] });
  // @ts-expect-error invalidateTags takes an array
  await cache.invalidateTags("user:1");
  // @ts-expect-error an event has no such type
  new Cache("memory://", { onEvent: (e: CacheEvent) => e.type === "evicted" });
  // @ts-expect-error near.bus is a boolean
  new Cache("https://h", { near: { bus: "yes" } });
  // @ts-expect-error stats are read-only
  near.stats = { nearHits: 0, nearMisses: 0, staleServed: 0, requests: 0, busUp: false };

  console.log(user, withDefault, added, report, plain, many, touched, n, m, connected, wrong, hits, ratio, observed, busUp);
  await cache.disconnect();
}
