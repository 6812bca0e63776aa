// Section 3, requests per method: how many HTTP requests each API method makes, each called
// alone (sequentially, awaited), against the gateway and a real Redis. edge-caches gets a
// counting `fetch` option; @upstash/redis has no fetch option (it calls the global fetch), so
// the global fetch is wrapped for it. Both clients run with their defaults (auto-pipelining on
// for @upstash/redis, as everywhere in this benchmark). Setup commands go straight to the
// gateway with the unwrapped fetch and are not counted.
import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import { createHash } from "node:crypto";
import { edgeCachesEntry, SCRIPTS, SMALL, writeSection } from "./lib.mjs";

const { GATEWAY_URL, GATEWAY_TOKEN } = process.env;
assert.ok(GATEWAY_URL && GATEWAY_TOKEN, "run under scripts/with-servers.sh");
const { Cache } = await import(edgeCachesEntry());

const realFetch = globalThis.fetch;
function recorder() {
  const log = [];
  const fetch = (url, init) => {
    log.push({ path: new URL(url).pathname, body: JSON.parse(init.body) });
    return realFetch(url, init);
  };
  return { log, fetch };
}

/** One command straight to Redis through the gateway (setup; not counted). */
async function raw(...command) {
  const res = await realFetch(GATEWAY_URL, {
    method: "POST",
    headers: { Authorization: `Bearer ${GATEWAY_TOKEN}` },
    body: JSON.stringify(command),
  });
  const reply = await res.json();
  if (reply.error) throw new Error(`${command[0]}: ${reply.error}`);
  return reply.result;
}

const edgeRec = recorder();
const cache = new Cache(GATEWAY_URL, { token: GATEWAY_TOKEN, fetch: edgeRec.fetch });
await cache.connect();
const prefixed = new Cache(GATEWAY_URL, { token: GATEWAY_TOKEN, keyPrefix: "app", fetch: edgeRec.fetch });
const tagged = new Cache(GATEWAY_URL, { token: GATEWAY_TOKEN, tagged: true, fetch: edgeRec.fetch });
await tagged.connect();
await prefixed.connect();

const upRec = recorder();
globalThis.fetch = upRec.fetch;
const redis = new Redis({ url: GATEWAY_URL, token: GATEWAY_TOKEN, enableAutoPipelining: true });

const JSON_SMALL = JSON.stringify(SMALL);
const keys10 = Array.from({ length: 10 }, (_, i) => `m${i}`);
const entries10 = Object.fromEntries(keys10.map((k) => [k, SMALL]));
// How each client spells a key in Redis: edge-caches "prefix:version:key", the others the key.
const stored = { "edge-caches": (k) => `::${k}`, "@upstash/redis": (k) => k };
const PREFIXED_KEYS = 100;

async function populatePrefix(spell) {
  await raw("FLUSHDB");
  await raw("MSET", ...Array.from({ length: PREFIXED_KEYS }, (_, i) => [spell(`p${i}`), "1"]).flat());
}

// An entry written with tags by edge-caches; for @upstash/redis, the same value plainly.
async function writeTagged(s, client) {
  if (client === "edge-caches") await cache.set("tagged", SMALL, { tags: ["user:1", "org:7"] });
  else await raw("SET", s("tagged"), JSON_SMALL);
}

// Each row: the edge-caches call, the @upstash/redis equivalent, and the setup before each.
const rows = [
  {
    call: "get(key) hit",
    setup: (s) => raw("SET", s("hit"), JSON_SMALL),
    edge: async () => assert.deepEqual(await cache.get("hit"), SMALL),
    upstash: ["redis.get(key)", async () => assert.deepEqual(await redis.get("hit"), SMALL)],
  },
  {
    call: "get(key) hit, written with tags, a cache with { tagged: true }",
    setup: writeTagged,
    edge: async () => assert.deepEqual(await tagged.get("tagged"), SMALL),
    upstash: ["redis.get(key) (no tags to check)", async () => assert.deepEqual(await redis.get("tagged"), SMALL)],
  },
  {
    // Without `tagged`, the plain GET meets a tagged entry and the checking script follows.
    call: "get(key) hit, written with tags, default options",
    expected: 2,
    setup: writeTagged,
    edge: async () => assert.deepEqual(await cache.get("tagged"), SMALL),
    upstash: ["redis.get(key) (no tags to check)", async () => assert.deepEqual(await redis.get("tagged"), SMALL)],
  },
  {
    // The usual hand-made tags on @upstash/redis: a set of keys per tag.
    call: "set(key, value, { tags: [tag] })",
    edge: () => cache.set("tagged", SMALL, { tags: ["user:1"] }),
    upstash: ["redis.set + redis.sadd(tag, key), concurrently", () => Promise.all([redis.set("tagged", SMALL), redis.sadd("tag:user:1", "tagged")])],
  },
  {
    call: "invalidateTags([tag])",
    edge: () => cache.invalidateTags(["user:1"]),
    upstash: [
      "redis.smembers(tag), then redis.del(members..., tag)",
      async () => {
        const members = await redis.smembers("tag:user:1");
        await redis.del(...members, "tag:user:1");
      },
    ],
  },
  {
    call: "get(key) miss",
    setup: (s) => raw("DEL", s("miss")),
    edge: async () => assert.equal(await cache.get("miss"), null),
    upstash: ["redis.get(key)", async () => assert.equal(await redis.get("miss"), null)],
  },
  {
    call: "set(key, value, { ttl })",
    edge: () => cache.set("s", SMALL, { ttl: 60 }),
    upstash: ["redis.set(key, value, { ex })", () => redis.set("s", SMALL, { ex: 60 })],
  },
  {
    call: "add(key, value, { ttl }) (missing key)",
    setup: (s) => raw("DEL", s("a")),
    edge: async () => assert.equal(await cache.add("a", SMALL, { ttl: 60 }), true),
    upstash: ["redis.set(key, value, { nx, ex })", async () => assert.equal(await redis.set("a", SMALL, { nx: true, ex: 60 }), "OK")],
  },
  {
    call: "getOrSet(key, value) miss",
    setup: (s) => raw("DEL", s("gv")),
    edge: async () => assert.deepEqual(await cache.getOrSet("gv", SMALL, { ttl: 60 }), SMALL),
    upstash: [
      "redis.set(key, value, { nx, get, ex }) ?? value",
      async () => assert.deepEqual((await redis.set("gv", SMALL, { nx: true, get: true, ex: 60 })) ?? SMALL, SMALL),
    ],
  },
  {
    call: "getOrSet(key, fn) hit",
    setup: (s) => raw("SET", s("gf"), JSON_SMALL),
    edge: async () => assert.deepEqual(await cache.getOrSet("gf", () => SMALL, { ttl: 60 }), SMALL),
    upstash: ["redis.get(key) (hit: no set)", async () => assert.deepEqual(await redis.get("gf"), SMALL)],
  },
  {
    call: "getOrSet(key, fn) miss",
    expected: 2,
    setup: (s) => raw("DEL", s("gf")),
    edge: async () => assert.deepEqual(await cache.getOrSet("gf", () => SMALL, { ttl: 60 }), SMALL),
    upstash: [
      "redis.get(key), then redis.set(key, fn(), { nx, ex })",
      async () => {
        if ((await redis.get("gf")) === null) await redis.set("gf", SMALL, { nx: true, ex: 60 });
      },
    ],
  },
  {
    call: "getMany(10 keys)",
    edge: () => cache.getMany(keys10),
    upstash: ["redis.mget(...10 keys)", () => redis.mget(...keys10)],
  },
  {
    call: "setMany(10 entries)",
    edge: () => cache.setMany(entries10),
    upstash: ["redis.mset(10 entries)", () => redis.mset(entries10)],
  },
  {
    call: "setMany(10 entries, { ttl })",
    edge: () => cache.setMany(entries10, { ttl: 60 }),
    upstash: [
      "Promise.all(10 × redis.set(key, value, { ex }))",
      () => Promise.all(keys10.map((k) => redis.set(k, SMALL, { ex: 60 }))),
    ],
  },
  {
    call: "delete(key)",
    setup: (s) => raw("SET", s("d"), "1"),
    edge: () => cache.delete("d"),
    upstash: ["redis.del(key)", () => redis.del("d")],
  },
  {
    call: "deleteMany(10 keys)",
    edge: () => cache.deleteMany(keys10),
    upstash: ["redis.del(...10 keys)", () => redis.del(...keys10)],
  },
  {
    call: "touch(key, ttl)",
    setup: (s) => raw("SET", s("t"), "1"),
    edge: async () => assert.equal(await cache.touch("t", 60), true),
    upstash: ["redis.expire(key, ttl)", async () => assert.equal(await redis.expire("t", 60), 1)],
  },
  {
    call: "touch(key, null) (never expire)",
    setup: (s) => raw("SET", s("t"), "1", "EX", "60"),
    edge: async () => assert.equal(await cache.touch("t", null), true),
    upstash: ["redis.persist(key)", async () => assert.equal(await redis.persist("t"), 1)],
  },
  {
    call: "incr(key)",
    edge: () => cache.incr("n"),
    upstash: ["redis.incr(key)", () => redis.incr("n")],
  },
  {
    call: "decr(key, 2)",
    edge: () => cache.decr("n", 2),
    upstash: ["redis.decrby(key, 2)", () => redis.decrby("n", 2)],
  },
  {
    call: `clear() with a keyPrefix (${PREFIXED_KEYS} keys under it, ${PREFIXED_KEYS} in the database)`,
    // The REST issue specifies a SCAN walk for this call: under 1000 keys in the database, one
    // SCAN, then the DEL of what it found.
    expected: 2,
    setup: (s, client) => populatePrefix(client === "edge-caches" ? (k) => `app::${k}` : (k) => `app:${k}`),
    edge: async () => {
      await prefixed.clear();
      assert.equal(await raw("DBSIZE"), 0);
    },
    upstash: [
      'SCAN MATCH "app:*" COUNT 1000 + DEL per batch, until cursor 0',
      async () => {
        let cursor = "0";
        do {
          const [next, keys] = await redis.scan(cursor, { match: "app:*", count: 1000 });
          if (keys.length) await redis.del(...keys);
          cursor = String(next);
        } while (cursor !== "0");
        assert.equal(await raw("DBSIZE"), 0);
      },
    ],
  },
  {
    call: "clear() without a prefix",
    edge: () => cache.clear(),
    upstash: ["redis.flushdb()", () => redis.flushdb()],
  },
];

// A request as its commands: the command name and its option words ("SET NX PX").
// edge-caches' scripts by name: "EVALSHA_RO get".
const WORDS = new Set(["NX", "XX", "GET", "PX", "EX", "KEEPTTL", "MATCH", "COUNT"]);
const SCRIPT_NAMES = new Map(Object.entries(SCRIPTS).map(([name, text]) => [createHash("sha1").update(text).digest("hex"), name]));
function describe(log) {
  const one = (c) =>
    SCRIPT_NAMES.has(c[1])
      ? `${String(c[0]).toUpperCase()} ${SCRIPT_NAMES.get(c[1])}`
      : [String(c[0]).toUpperCase(), ...c.slice(1).filter((a) => typeof a === "string" && WORDS.has(a.toUpperCase()))]
          .map((a) => a.toUpperCase())
          .join(" ");
  return log
    .map(({ path, body }) => (path === "/" || path === "" ? one(body) : `${path.slice(1)}[${runs(body.map(one))}]`))
    .join(" → ");
}
// ["SET EX", "SET EX", "GET"] -> "2× SET EX, GET"
function runs(names) {
  const out = [];
  for (const n of names) {
    const last = out[out.length - 1];
    if (last && last.n === n) last.count++;
    else out.push({ n, count: 1 });
  }
  return out.map(({ n, count }) => (count > 1 ? `${count}× ${n}` : n)).join(", ");
}

await raw("FLUSHDB");
// A server that has served edge-caches before: each script's first use on a server sends it in
// full once more (NOSCRIPT), one extra request per script, once (the README says so).
for (const text of Object.values(SCRIPTS)) await raw("SCRIPT", "LOAD", text);
const results = [];
for (const row of rows) {
  const out = { call: row.call, expected: row.expected ?? 1, upstashCall: row.upstash[0] };
  for (const [client, rec, fn] of [
    ["edge-caches", edgeRec, row.edge],
    ["@upstash/redis", upRec, row.upstash[1]],
  ]) {
    await row.setup?.(stored[client], client);
    rec.log.length = 0;
    await fn();
    out[client] = { requests: rec.log.length, commands: describe(rec.log), log: [...rec.log] };
  }
  results.push(out);
}

writeSection("requests", {
  description:
    "HTTP requests per API method, each call alone (awaited), counted by a wrapping fetch, against the gateway and redis-server",
  rows: results,
});
