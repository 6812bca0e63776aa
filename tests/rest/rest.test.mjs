// What only the REST backend has: the stored format as Redis sees it, requests per call, the
// SCAN walk of clear(), configuration from the environment, and errors. Run by
// tests/with-servers.mjs, which provides a real Redis and gateway (GATEWAY_URL, GATEWAY_TOKEN).
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { createServer } from "node:net";
import { Cache, CacheError } from "edge-caches";
import { reply } from "../conformance/stub.mjs";

const { GATEWAY_URL, GATEWAY_TOKEN } = process.env;
assert.ok(GATEWAY_URL && GATEWAY_TOKEN, "run me with tests/with-servers.mjs");

// Over a Redis Cluster (tests/topologies), where tagged writes are refused.
const cluster = process.env.EDGE_CACHES_CLUSTER === "1";

let n = 0;
const prefix = () => `rest${process.pid}_${n++}`;

/** A command straight to Redis through the gateway, bypassing edge-caches. */
async function redis(...command) {
  const response = await fetch(GATEWAY_URL, {
    method: "POST",
    headers: { Authorization: `Bearer ${GATEWAY_TOKEN}` },
    body: JSON.stringify(command),
  });
  const reply = await response.json();
  if (reply.error) throw new Error(reply.error);
  return reply.result;
}

/** A fetch that records each request (path, command body, init fields) before sending it. */
function recordingFetch() {
  const requests = [];
  const record = (url, init) => {
    requests.push({ path: new URL(url).pathname, body: JSON.parse(init.body), init });
    return fetch(url, init);
  };
  return { requests, fetch: record };
}

/** Has the server load each of edge-caches' scripts, as one that served it before would have:
 * the first use of a script on a server may take one more request (NOSCRIPT, then in full).
 * On a cluster each node loads its own: 50 keys reach every master. */
async function warmScripts() {
  const warm = await open({ tagged: true });
  const near = await open({ near: true });
  const keys = Array.from({ length: cluster ? 50 : 1 }, (_, i) => `w${i}`);
  const perKey = keys.flatMap((k) => [near.get(k), warm.get(k), warm.add(k, 1), warm.incr(`n${k}`)]);
  const entries = Object.fromEntries(keys.map((k) => [k, 1]));
  await Promise.all([...perKey, warm.getMany(["x", ...keys]), warm.setMany(entries, { ttl: 60 })]);
  if (!cluster) await Promise.all([warm.set("w", 1, { tags: ["w"] }), warm.invalidateTags(["w"])]);
}

async function open(options = {}) {
  const cache = new Cache(GATEWAY_URL, { token: GATEWAY_TOKEN, keyPrefix: prefix(), ...options });
  await cache.connect();
  return cache;
}

describe("stored format", () => {
  it("is the Python library's: JSON text under prefix:version:key", async () => {
    const p = prefix();
    const cache = await open({ keyPrefix: p, version: 2 });
    await cache.set("k", { a: [1, "x"] });
    await cache.set("s", "123");
    assert.equal(await redis("GET", `${p}:2:k`), '{"a":[1,"x"]}');
    assert.equal(await redis("GET", `${p}:2:s`), '"123"');
    const bare = await open({ keyPrefix: "" });
    await bare.set(`${p}-bare`, 1);
    assert.equal(await redis("GET", `::${p}-bare`), "1");
  });

  it("keeps integers integers in Redis after incr and decr", async () => {
    const p = prefix();
    const cache = await open({ keyPrefix: p });
    await cache.incr("n", 5);
    await cache.decr("n", 2);
    assert.equal(await redis("GET", `${p}::n`), "3");
    await cache.incr("f", 0.5);
    assert.equal(await redis("GET", `${p}::f`), "0.5");
  });

  it("reads a value another client wrote that is not JSON as the raw string", async () => {
    const p = prefix();
    const cache = await open({ keyPrefix: p });
    await redis("SET", `${p}::raw`, "hello world");
    await redis("SET", `${p}::json`, "[1,2]");
    assert.equal(await cache.get("raw"), "hello world");
    assert.deepEqual(await cache.get("json"), [1, 2]);
    assert.deepEqual(await cache.getMany(["raw", "json"]), { raw: "hello world", json: [1, 2] });
  });

  it("stores bytes as #bytes: and base64, and a compressed value as #gzip: and the base64 of its gzipped text", async () => {
    const p = prefix();
    const cache = await open({ keyPrefix: p, compress: { threshold: 100 } });
    await cache.set("bytes", new Uint8Array([0, 1, 254, 255]));
    assert.equal(await redis("GET", `${p}::bytes`), "#bytes:AAH+/w==");
    await cache.set("short", { a: 1 });
    assert.equal(await redis("GET", `${p}::short`), '{"a":1}', "below the threshold: plain JSON");
    const long = { text: "edge ".repeat(400) };
    await cache.set("long", long);
    const stored = await redis("GET", `${p}::long`);
    assert.ok(stored.startsWith("#gzip:") && stored.length < JSON.stringify(long).length / 5, stored.slice(0, 40));
    const gzipped = Uint8Array.from(atob(stored.slice(6)), (c) => c.charCodeAt(0));
    const text = await new Response(new Blob([gzipped]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
    assert.equal(text, JSON.stringify(long), "plain gzip of the JSON text: any reader can undo it");
    // Upstash's base64 answers carry the stored texts unchanged (they are ASCII).
    const response = await fetch(GATEWAY_URL, {
      method: "POST",
      headers: { Authorization: `Bearer ${GATEWAY_TOKEN}`, "Upstash-Encoding": "base64" },
      body: JSON.stringify(["GET", `${p}::bytes`]),
    });
    assert.equal(atob((await response.json()).result), "#bytes:AAH+/w==");
  });

  it("sets the ttl in Redis to the millisecond", async () => {
    const p = prefix();
    const cache = await open({ keyPrefix: p });
    await cache.set("k", 1, { ttl: 12.345 });
    const pttl = await redis("PTTL", `${p}::k`);
    assert.ok(pttl > 12_000 && pttl <= 12_345, String(pttl));
    await cache.setMany({ a: 1, b: 2 }, { ttl: 7 });
    for (const key of ["a", "b"]) {
      const t = await redis("PTTL", `${p}::${key}`);
      assert.ok(t > 6_000 && t <= 7_000, `${key}: ${t}`);
    }
  });
});

describe("requests per call", () => {
  const table = [];
  after(() => {
    console.log("\n| call | HTTP requests | commands |\n|---|---|---|");
    for (const row of table) console.log(`| \`${row.call}\` | ${row.count} | ${row.commands} |`);
  });

  const cases = [
    ["connect()", 0, (c) => c.connect()],
    ["get(key) hit", 1, (c) => c.get("present")],
    ["get(key) miss", 1, (c) => c.get("absent")],
    ["set(key, value)", 1, (c) => c.set("k", 1)],
    ["set(key, value, { ttl })", 1, (c) => c.set("k", 1, { ttl: 60 })],
    ["add(key, value, { ttl })", 1, (c) => c.add("a", 1, { ttl: 60 })],
    ["getOrSet(key, value) miss", 1, (c) => c.getOrSet("g1", 1)],
    ["getOrSet(key, value) hit", 1, (c) => c.getOrSet("present", 1)],
    ["getOrSet(key, fn) hit", 1, (c) => c.getOrSet("present", () => 1)],
    ["getOrSet(key, fn) miss", 2, (c) => c.getOrSet("g2", () => 1)],
    ["getMany(10 keys)", 1, (c) => c.getMany(Array.from({ length: 10 }, (_, i) => `m${i}`))],
    ["getMany([])", 0, (c) => c.getMany([])],
    ["setMany(10 entries)", 1, (c) => c.setMany(Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`m${i}`, i])))],
    ["setMany(10 entries, { ttl })", 1, (c) => c.setMany(Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`m${i}`, i])), { ttl: 60 })],
    ["setMany({})", 0, (c) => c.setMany({})],
    ["delete(key)", 1, (c) => c.delete("k")],
    ["deleteMany(10 keys)", 1, (c) => c.deleteMany(Array.from({ length: 10 }, (_, i) => `m${i}`))],
    ["deleteMany([])", 0, (c) => c.deleteMany([])],
    ["touch(key, ttl)", 1, (c) => c.touch("present", 60)],
    ["touch(key) (never expire)", 1, (c) => c.touch("present")],
    ["incr(key)", 1, (c) => c.incr("n")],
    ["decr(key, 2.5)", 1, (c) => c.decr("n", 2.5)],
    ["set(key, value, { tags: [2 tags] })", 1, (c) => c.set("t", 1, { tags: ["a", "b"] })],
    // Without `tagged`: the GET meets a tagged entry, and the script that checks it follows.
    ["get(key) of a tagged entry", 2, (c) => c.get("t")],
    ["setMany(10 entries, { tags })", 1, (c) => c.setMany(Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`m${i}`, i])), { tags: ["a"] })],
    ["invalidateTags([2 tags])", 1, (c) => c.invalidateTags(["a", "b"])],
    // One SCAN step per 1000 keys in the database; each step's DEL rides with the next SCAN.
    ["clear() with a prefix", "scan", (c) => c.clear()],
    ["disconnect()", 0, (c) => c.disconnect()],
  ];

  it("is one per call (two for a getOrSet miss with a function, SCAN steps for clear), none for empty lists", async () => {
    const recorder = recordingFetch();
    const cache = new Cache(GATEWAY_URL, { token: GATEWAY_TOKEN, keyPrefix: prefix(), fetch: recorder.fetch });
    await warmScripts();
    for (const [call, expected, run] of cases) {
      if (call === "get(key) hit") await cache.set("present", "here");
      recorder.requests.length = 0;
      await run(cache);
      const commands = recorder.requests.map((r) => (Array.isArray(r.body[0]) ? r.body.map((c) => c[0]).join("+") : r.body[0])).join(", ");
      table.push({ call, count: recorder.requests.length, commands: commands || "-" });
      if (expected === "scan") {
        assert.ok(recorder.requests.length >= 2, `${call}: ${commands}`);
        // (The last step's DEL stands alone unless its SCAN found nothing: on a cluster the
        // last master scanned may hold none of the keys.)
        assert.match(commands, /^SCAN(, (DEL\+)?SCAN)*(, DEL)?$/, call);
        assert.match(commands, /DEL/, call);
      } else {
        assert.equal(recorder.requests.length, expected, `${call}: ${commands}`);
      }
    }
  });

  it("sets only method, headers, body and signal on fetch (Workers reject the others)", async () => {
    const recorder = recordingFetch();
    const cache = await open({ fetch: recorder.fetch });
    await cache.get("k");
    const { init } = recorder.requests[0];
    assert.deepEqual(Object.keys(init).sort(), ["body", "headers", "method", "signal"]);
    assert.equal(init.method, "POST");
    assert.equal(init.headers.Authorization, `Bearer ${GATEWAY_TOKEN}`);
  });

  it("keeps the newest upstash-sync-token and sends it on the next request, as @upstash/redis does", async () => {
    const recorder = recordingFetch();
    const cache = await open({ fetch: recorder.fetch });
    assert.equal(cache.syncToken, "");
    await cache.set("k", 1);
    assert.equal(recorder.requests[0].init.headers["Upstash-Sync-Token"], undefined);
    const first = cache.syncToken;
    assert.match(first, /^[0-9]+$/);
    await cache.get("k");
    assert.equal(recorder.requests[1].init.headers["Upstash-Sync-Token"], first);
    assert.ok(BigInt(cache.syncToken) > BigInt(first), `${cache.syncToken} after ${first}`);
    // Carried to another instance by hand.
    const other = await open({ fetch: recorder.fetch });
    other.syncToken = cache.syncToken;
    await other.get("k");
    assert.equal(recorder.requests[2].init.headers["Upstash-Sync-Token"], cache.syncToken);
    assert.throws(() => (other.syncToken = 5), TypeError);
  });
});

describe("tags over REST", () => {
  it("keep untagged entries in the Python format and store tagged ones as documented", async () => {
    const p = prefix();
    const cache = await open({ keyPrefix: p });
    await cache.set("plain", { a: 1 });
    await cache.set("tagged", { a: 1 }, { tags: ["user:1", "org:7"] });
    assert.equal(await redis("GET", `${p}::plain`), '{"a":1}', "byte for byte what async-caches reads");
    const stored = await redis("GET", `${p}::tagged`);
    const header = `#tags[["${p}:#tags:user:1","STAMP"],["${p}:#tags:org:7","STAMP"]]\n`;
    assert.equal(stored.replace(/"\d+"/g, '"STAMP"'), `${header}{"a":1}`, "the tags' stamps, a newline, the JSON text");
    const stamp = await redis("GET", `${p}:#tags:user:1`);
    assert.ok(stored.includes(`"${stamp}"`), "the entry holds the tag's stamp as it was written");
  });

  it("read in one request with `tagged`, and invalidate in one request, scanning nothing", async () => {
    const recorder = recordingFetch();
    const cache = await open({ fetch: recorder.fetch, tagged: true });
    await cache.set("k", 1, { tags: ["t"] });
    await cache.get("k"); // the scripts' first use on a server may send them in full once
    await cache.invalidateTags(["t"]);
    await cache.set("k", 2, { tags: ["t"] });
    recorder.requests.length = 0;
    assert.equal(await cache.get("k"), 2);
    assert.equal(recorder.requests.length, 1, "a tagged read is one request");
    assert.deepEqual(await cache.getMany(["k", "x"]), { k: 2, x: null });
    await cache.invalidateTags(["t", "u"]);
    assert.equal(recorder.requests.length, 3, "getMany one, invalidateTags one");
    const sent = recorder.requests.at(-1).body;
    assert.deepEqual([sent.length, sent[0][0], sent[0][2]], [1, "EVALSHA", "2"], "one script over the two stamp keys");
    assert.equal(await cache.get("k"), null);
  });

  it("without `tagged`, read plainly, and a tagged entry with the checking script after (two requests, only then)", async () => {
    const recorder = recordingFetch();
    const cache = await open({ fetch: recorder.fetch });
    await cache.set("plain", 1);
    await cache.set("k", 1, { tags: ["t"] });
    await cache.get("k"); // the script's first use on a server may send it in full once
    recorder.requests.length = 0;
    assert.equal(await cache.get("plain"), 1);
    assert.deepEqual(recorder.requests.map((r) => r.body[0]), ["GET"], "an untagged entry: one GET");
    recorder.requests.length = 0;
    assert.equal(await cache.get("k"), 1);
    assert.equal(recorder.requests.length, 2);
    assert.equal(recorder.requests[0].body[0], "GET");
    assert.equal(recorder.requests[1].body[0][0], "EVALSHA_RO", "then the script that checks its tags");
    await cache.invalidateTags(["t"]);
    assert.equal(await cache.get("k"), null, "the script checked the stamp");
    assert.deepEqual(await cache.getMany(["plain", "k"]), { plain: 1, k: null });
  });

  it("count a stamp that is gone (evicted, deleted) as an invalidation", async () => {
    const p = prefix();
    const cache = await open({ keyPrefix: p });
    await cache.set("k", 1, { tags: ["t"] });
    await redis("DEL", `${p}:#tags:t`);
    assert.equal(await cache.get("k"), null);
    await cache.set("k", 2, { tags: ["t"] });
    assert.equal(await cache.get("k"), 2, "a write makes the stamp again");
  });

  it("are removed with their prefix by clear(), and another prefix's stay", async () => {
    const p = prefix();
    const mine = await open({ keyPrefix: p });
    const other = await open({ keyPrefix: `${p}x` });
    await mine.set("k", 1, { tags: ["t"] });
    await other.set("k", 1, { tags: ["t"] });
    await mine.clear();
    assert.deepEqual(await redis("KEYS", `${p}:*`), []);
    assert.deepEqual((await redis("KEYS", `${p}x:*`)).sort(), [`${p}x:#tags:t`, `${p}x::k`].sort());
  });

  it("work on a server that lost its scripts: each goes in full again, nothing runs twice", async () => {
    const cache = await open();
    await cache.set("n", 1);
    await redis("SCRIPT", "FLUSH");
    assert.equal(await cache.incr("n"), 2);
    await redis("SCRIPT", "FLUSH");
    await cache.set("k", 1, { tags: ["t"] });
    await redis("SCRIPT", "FLUSH");
    assert.equal(await cache.get("k"), 1);
    await redis("SCRIPT", "FLUSH");
    await cache.invalidateTags(["t"]);
    assert.equal(await cache.add("k", 3), true);
    assert.equal(await cache.incr("n"), 3);
    await warmScripts(); // for the suites after this one
  });
});

describe("clear()", () => {
  it("with a prefix walks the keyspace with SCAN, never KEYS or FLUSHDB, and spares other keys", async () => {
    const p = prefix();
    const recorder = recordingFetch();
    const cache = await open({ keyPrefix: p, fetch: recorder.fetch });
    const many = Object.fromEntries(Array.from({ length: 2500 }, (_, i) => [`k${i}`, i]));
    await cache.setMany(many);
    await redis("SET", `${p}x::other`, "spared"); // shares the text prefix, not the key prefix
    await redis("SET", `${p}*::glob`, "spared"); // a prefix full of glob characters
    recorder.requests.length = 0;
    await cache.clear();
    const commands = recorder.requests.flatMap((r) => (Array.isArray(r.body[0]) ? r.body : [r.body])).map((c) => c[0]);
    assert.ok(commands.filter((c) => c === "SCAN").length >= 2, `walked in steps: ${commands}`);
    assert.ok(!commands.includes("KEYS") && !commands.includes("FLUSHDB"), String(commands));
    assert.equal(await redis("EXISTS", `${p}::k0`, `${p}::k2499`), 0);
    assert.equal(await redis("GET", `${p}x::other`), "spared");
    assert.equal(await redis("GET", `${p}*::glob`), "spared");
  });
});

describe("configuration", () => {
  it("takes the token from the URL's userinfo", async () => {
    const url = GATEWAY_URL.replace("://", `://default:${GATEWAY_TOKEN}@`);
    const cache = new Cache(url, { keyPrefix: prefix() });
    await cache.connect();
    await cache.set("k", 1);
    assert.equal(await cache.get("k"), 1);
  });

  it("reads Cache.fromEnv from an env object, and Vercel's names too", async () => {
    for (const [urlName, tokenName] of [["UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN"], ["KV_REST_API_URL", "KV_REST_API_TOKEN"]]) {
      const cache = Cache.fromEnv({ [urlName]: GATEWAY_URL, [tokenName]: GATEWAY_TOKEN }, { keyPrefix: prefix() });
      await cache.connect();
      await cache.set("k", urlName);
      assert.equal(await cache.get("k"), urlName);
    }
    assert.throws(() => Cache.fromEnv({}), (e) => e instanceof CacheError && e.code === "CONFIG");
    assert.throws(() => Cache.fromEnv({ UPSTASH_REDIS_REST_URL: GATEWAY_URL }), (e) => e.code === "CONFIG", "no token");
  });

  it("reads Cache.fromEnv from process.env without an argument", async () => {
    process.env.UPSTASH_REDIS_REST_URL = GATEWAY_URL;
    process.env.UPSTASH_REDIS_REST_TOKEN = GATEWAY_TOKEN;
    try {
      const cache = Cache.fromEnv(undefined, { keyPrefix: prefix() });
      await cache.connect();
      await cache.set("k", "env");
      assert.equal(await cache.get("k"), "env");
    } finally {
      delete process.env.UPSTASH_REDIS_REST_URL;
      delete process.env.UPSTASH_REDIS_REST_TOKEN;
    }
  });
});

describe("errors", () => {
  const secret = "s3cret-token-value";
  const noSecret = (error) => {
    assert.ok(!String(error.message).includes(secret), error.message);
    return true;
  };

  it("a wrong token is AUTH, and no message shows the token", async () => {
    const cache = new Cache(GATEWAY_URL, { token: secret });
    await cache.connect();
    await assert.rejects(cache.get("k"), (e) => e instanceof CacheError && e.code === "AUTH" && noSecret(e));
    assert.throws(() => new Cache(`https://user:${secret}@bad host/`), (e) => e.code === "CONFIG" && noSecret(e));
    assert.throws(() => new Cache("https://host"), (e) => e.code === "CONFIG", "a REST cache needs a token");
  });

  it("a refused connection is NETWORK", async () => {
    const server = createServer();
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address();
    await new Promise((r) => server.close(r));
    const cache = new Cache(`http://127.0.0.1:${port}`, { token: secret });
    await cache.connect();
    await assert.rejects(cache.set("k", 1), (e) => e instanceof CacheError && e.code === "NETWORK" && noSecret(e));
  });

  it("a server that never answers is TIMEOUT after `timeout` ms", async () => {
    const sockets = [];
    const server = createServer((socket) => sockets.push(socket)); // accepts, never answers
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    try {
      const cache = new Cache(`http://127.0.0.1:${server.address().port}`, { token: secret, timeout: 150 });
      await cache.connect();
      const started = Date.now();
      await assert.rejects(cache.get("k"), (e) => e instanceof CacheError && e.code === "TIMEOUT");
      const took = Date.now() - started;
      assert.ok(took >= 140 && took < 3000, `settled after ${took} ms`);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  it("incr takes only a JSON number, though Redis's INCRBYFLOAT would take more, and in one request", async () => {
    const p = prefix();
    let requests = 0;
    const counting = (url, init) => {
      requests++;
      return fetch(url, init);
    };
    const cache = await open({ keyPrefix: p, fetch: counting });
    await warmScripts();
    for (const text of ["0x10", ".5", "5.", "+5", "00", "-", "1e", "NaN", "Infinity", " 5", "5 ", '"5"']) {
      await redis("SET", `${p}::n`, text);
      await assert.rejects(cache.incr("n"), (e) => e.code === "NOT_A_NUMBER", text);
      assert.equal(await redis("GET", `${p}::n`), text, `left as it was: ${text}`);
    }
    for (const [text, sum] of [["0", 1], ["-0", 1], ["17", 18], ["1.5", 2.5], ["-2.5e1", -24], ["1E+2", 101]]) {
      await redis("SET", `${p}::n`, text);
      assert.equal(await cache.incr("n"), sum, text);
    }
    requests = 0;
    await cache.incr("fresh", 2);
    assert.equal(requests, 1);
    assert.equal(await redis("GET", `${p}::fresh`), "2");
  });

  it("a Redis error reply is SERVER, and incr on a list another client made is NOT_A_NUMBER", async () => {
    const p = prefix();
    const cache = await open({ keyPrefix: p });
    await redis("RPUSH", `${p}::list`, "a");
    await assert.rejects(cache.get("list"), (e) => e instanceof CacheError && e.code === "SERVER");
    await assert.rejects(cache.incr("list"), (e) => e instanceof CacheError && e.code === "NOT_A_NUMBER");
  });
});

describe("request signals in Node", () => {
  // Counts the MaxListenersExceededWarnings Node emits while `run` runs.
  async function warningsDuring(run) {
    let warnings = 0;
    const onWarning = (warning) => {
      if (warning.name === "MaxListenersExceededWarning") warnings++;
    };
    process.on("warning", onWarning);
    try {
      await run();
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on a later tick
    } finally {
      process.off("warning", onWarning);
    }
    return warnings;
  }

  // Node's fetch (undici) adds an abort listener to a request's signal and removes it only when
  // the request is garbage-collected: one signal shared by every request gathered thousands of
  // listeners, each request scanned them all, and Node printed MaxListenersExceededWarning.
  it("Node's fetch is never given a signal that many requests listen on", async () => {
    let most = 0;
    const observing = (url, init) => {
      const answer = fetch(url, init);
      most = Math.max(most, getEventListeners(init.signal, "abort").length);
      return answer;
    };
    const warnings = await warningsDuring(async () => {
      const cache = await open({ fetch: observing, autoPipeline: false });
      await cache.set("k", 1);
      await Promise.all(Array.from({ length: 64 }, async () => {
        for (let i = 0; i < 40; i++) assert.equal(await cache.get("k"), 1);
      }));
    });
    assert.equal(warnings, 0);
    assert.ok(most <= 64, `${most} abort listeners on one request's signal`);
  });

  it("one signal of the caller's on many concurrent calls: no warning, and it aborts them all", async () => {
    const cache = await open({ autoPipeline: false });
    await cache.set("k", 1);
    const controller = new AbortController();
    const signal = controller.signal;
    const warnings = await warningsDuring(async () => {
      const values = await Promise.all(Array.from({ length: 50 }, () => cache.get("k", null, { signal })));
      assert.deepEqual(values, Array(50).fill(1));
    });
    assert.equal(warnings, 0);
    assert.equal(getEventListeners(signal, "abort").length, 0, "no listener left once the calls settled");
    const pending = Array.from({ length: 50 }, () => cache.get("k", null, { signal }));
    assert.equal(getEventListeners(signal, "abort").length, 1, "one listener for all the calls waiting on it");
    controller.abort(new Error("gone"));
    const outcomes = await Promise.allSettled(pending);
    assert.ok(outcomes.every((o) => o.status === "rejected" && o.reason.code === "ABORTED" && /gone/.test(o.reason.message)));
    assert.equal(new Set(outcomes.map((o) => o.reason)).size, 50, "each call gets its own error");
  });

  // Node warns past 10 listeners on a signal; undici raises the limit of the signals it is
  // given, a caller's fetch does not.
  it("a fetch of the caller's that listens on every request's signal gets no warning", async () => {
    const listening = (url, init) => {
      init.signal.addEventListener("abort", () => {});
      return Promise.resolve(new Response(reply(url, '{"result":"1"}')));
    };
    const warnings = await warningsDuring(async () => {
      const cache = await open({ fetch: listening, autoPipeline: false });
      await Promise.all(Array.from({ length: 64 }, async () => {
        for (let i = 0; i < 10; i++) assert.equal(await cache.get("k"), 1);
      }));
    });
    assert.equal(warnings, 0);
  });
});

describe("automatic pipelining", () => {
  it("sends the calls of one tick as one /pipeline request, each with its own result", async () => {
    await warmScripts();
    const recorder = recordingFetch();
    const cache = await open({ fetch: recorder.fetch });
    await cache.set("a", 1);
    recorder.requests.length = 0;
    const results = await Promise.all([cache.get("a"), cache.incr("n", 2), cache.add("a", 5), cache.getMany(["a", "zz"]), cache.touch("a", 30)]);
    assert.deepEqual(results, [1, 2, false, { a: 1, zz: null }, true]);
    assert.equal(recorder.requests.length, 1);
    assert.equal(recorder.requests[0].path, "/pipeline");
    // add is a script (an entry whose tag was invalidated is missing to it).
    assert.deepEqual(recorder.requests[0].body.map((c) => c[0]), ["GET", "EVALSHA", "EVALSHA", "MGET", "PEXPIRE"]);
  });

  it("keeps call order: a write then a read of one key in one tick sees the write", async () => {
    const cache = await open();
    for (let i = 0; i < 20; i++) {
      const [, read, , again] = await Promise.all([cache.set("k", i), cache.get("k"), cache.delete("k"), cache.get("k")]);
      assert.equal(read, i);
      assert.equal(again, null);
    }
  });

  it("gives each call its own error and the others their results", async () => {
    const p = prefix();
    const cache = await open({ keyPrefix: p });
    await redis("RPUSH", `${p}::list`, "x");
    const settled = await Promise.allSettled([cache.set("ok", 1), cache.incr("list"), cache.get("ok")]);
    assert.equal(settled[0].status, "fulfilled");
    assert.equal(settled[1].reason.code, "NOT_A_NUMBER");
    assert.equal(settled[2].value, 1);
  });

  it("caps a batch at 1000 commands and sends the rest after it", async () => {
    await warmScripts();
    const recorder = recordingFetch();
    const cache = await open({ fetch: recorder.fetch });
    const values = await Promise.all(Array.from({ length: 2500 }, (_, i) => cache.incr(`c${i % 10}`)));
    assert.equal(values.length, 2500);
    assert.deepEqual(recorder.requests.map((r) => r.body.length), [1000, 1000, 500]);
    assert.deepEqual(await cache.getMany(["c0", "c9"]), { c0: 250, c9: 250 }, "every increment counted once");
  });

  it("sends one request per call with autoPipeline: false", async () => {
    const recorder = recordingFetch();
    const cache = await open({ fetch: recorder.fetch, autoPipeline: false });
    await Promise.all([cache.get("a"), cache.get("b"), cache.set("c", 1)]);
    assert.equal(recorder.requests.length, 3);
    assert.ok(recorder.requests.every((r) => r.path === "/"));
  });
});

describe("signals and retries", () => {
  const countingFetch = () => {
    let count = 0;
    return { count: () => count, fetch: (url, init) => (count++, fetch(url, init)) };
  };

  async function server(onConnection) {
    const s = createServer(onConnection);
    await new Promise((r) => s.listen(0, "127.0.0.1", r));
    return { url: `http://127.0.0.1:${s.address().port}`, close: () => new Promise((r) => s.close(r)) };
  }

  it("an already aborted signal rejects with ABORTED and sends nothing", async () => {
    const counter = countingFetch();
    const cache = await open({ fetch: counter.fetch });
    const signal = AbortSignal.abort(new Error("user left"));
    for (const call of [cache.get("k", null, { signal }), cache.set("k", 1, { signal }), cache.incr("n", 1, { signal }), cache.clear({ signal })]) {
      await assert.rejects(call, (e) => e instanceof CacheError && e.code === "ABORTED" && /user left/.test(e.message));
    }
    assert.equal(counter.count(), 0);
    assert.equal(await cache.get("k"), null, "nothing was stored");
    await assert.rejects(cache.get("k", null, { signal: "nope" }), TypeError);
  });

  it("a signal fired while the request is on its way rejects at once", async () => {
    const sockets = [];
    const silent = await server((socket) => sockets.push(socket));
    try {
      const cache = new Cache(silent.url, { token: "t", timeout: 10_000 });
      await cache.connect();
      const controller = new AbortController();
      const started = Date.now();
      setTimeout(() => controller.abort(), 50);
      await assert.rejects(cache.get("k", null, { signal: controller.signal }), (e) => e.code === "ABORTED");
      assert.ok(Date.now() - started < 1000);
    } finally {
      sockets.forEach((s) => s.destroy());
      await silent.close();
    }
  });

  it("retries a refused connection, even for incr: it provably never reached the server", async () => {
    const gone = await server(() => {});
    await gone.close();
    const counter = countingFetch();
    const cache = new Cache(gone.url, { token: "t", fetch: counter.fetch, retries: 2, autoPipeline: false });
    await cache.connect();
    await assert.rejects(cache.incr("n"), (e) => e.code === "NETWORK");
    assert.equal(counter.count(), 3);
  });

  it("retries a dropped connection and a 503 for get, but never for incr", async () => {
    // Drops the connection once the request is in: the server may have run it.
    const dropping = await server((socket) => socket.once("data", () => socket.destroy()));
    const unavailable = await server((socket) =>
      socket.once("data", () => socket.end("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")),
    );
    try {
      for (const [target, code] of [[dropping, "NETWORK"], [unavailable, "SERVER"]]) {
        for (const [call, attempts] of [[(c) => c.get("k"), 3], [(c) => c.incr("n"), 1], [(c) => c.add("k", 1), 1]]) {
          const counter = countingFetch();
          const cache = new Cache(target.url, { token: "t", fetch: counter.fetch, retries: 2 });
          await cache.connect();
          await assert.rejects(call(cache), (e) => e instanceof CacheError && e.code === code);
          assert.equal(counter.count(), attempts, `${target.url} ${call}`);
        }
      }
    } finally {
      await dropping.close();
      await unavailable.close();
    }
  });
});
