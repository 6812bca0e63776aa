// The conformance suite: every rule of the cache API's semantics, as cases that any test
// runner can run: node:test in Node and Deno (conformance.test.mjs), a small runner inside a
// Cloudflare Worker (tests/runtimes/workerd). Only node:assert is needed besides the runner.
import assert from "node:assert/strict";
import { makeHelpers } from "./helpers.mjs";

/**
 * Defines the suites with the runner's `describe(name, [options], fn)` and `it(name, fn)`,
 * against the backend at `url` (with `token` for REST).
 */
export function defineConformance({ describe, it, Cache, CacheError, url, token, near = false, cluster = false }) {
  const URL = url;
  const LABEL = near ? `${url}, near tier on` : url;
  const { isMemory, newCache, open, sleep, deferred, uniquePrefix } = makeHelpers({ Cache, url, token, near });
  const code = (expected) => (err) => err instanceof CacheError && err.code === expected;

  describe(`keys (${LABEL})`, () => {
    it("joins prefix, version and key with ':' and empty parts for missing ones", async () => {
      // Two caches whose parts differ but join to the same stored key must see each other's
      // writes; that pins the format `${prefix}:${version}:${key}` with no escaping.
      const p = uniquePrefix();
      const a = await open({ keyPrefix: `${p}:x`, version: "y" }); // p:x:y:k
      const b = await open({ keyPrefix: p, version: "x:y" }); //       p:x:y:k
      const c = await open({ keyPrefix: p, version: "x" }); //         p:x:y:k when key is "y:k"
      await a.set("k", "shared");
      assert.equal(await b.get("k"), "shared");
      assert.equal(await c.get("y:k"), "shared");
      // Missing prefix and version are empty strings: ":::k" both ways.
      const d = await open({ keyPrefix: ":" }); // ":" + ":" + "" + ":" + "k"
      const e = await open({ keyPrefix: "", version: ":" }); // "" + ":" + ":" + ":" + "k"
      await d.set("k", 1);
      assert.equal(await e.get("k"), 1);
      await d.delete("k");
    });

    it("uses the default version, a per-call version instead of it, and Python's falsy versions for the default", async () => {
      const p = uniquePrefix();
      const v2 = await open({ keyPrefix: p, version: 2 });
      const plain = await open({ keyPrefix: p });
      await v2.set("k", "two");
      await v2.set("k", "three", { version: 3 });
      assert.equal(await v2.get("k", null, { version: 3 }), "three");
      assert.equal(await plain.get("k", null, { version: "3" }), "three", "integer 3 and string '3' are one version");
      // As async-caches' `version or self.version`: null, "" and 0 mean the cache's default.
      for (const version of [null, "", 0]) {
        await v2.set("k", `default via ${version}`, { version });
        assert.equal(await v2.get("k"), `default via ${version}`);
        assert.equal(await v2.get("k", null, { version }), `default via ${version}`);
      }
      assert.equal(await plain.get("k"), null, "nothing went to the unversioned key");
      // A cache whose version is 0 or "" has none, as in Python.
      for (const version of [0, "", null]) {
        const zero = await open({ keyPrefix: p, version });
        assert.equal(await zero.get("k", null, { version: 2 }), "default via 0");
        await zero.set(`u${version}`, version);
        assert.equal(await plain.get(`u${version}`), version);
      }
    });

    it("rejects non-string keys and lone surrogates with TypeError, storing nothing", async () => {
      const cache = await open();
      for (const bad of [1, null, undefined, {}, ["k"], Symbol("k"), 1n, "\ud800", "a\udc00b"]) {
        await assert.rejects(cache.set(bad, 1), TypeError, String(typeof bad));
        await assert.rejects(cache.get(bad), TypeError);
      }
      assert.deepEqual(await cache.getMany(["\ud800".slice(0, 0) + "x"]), { x: null });
    });

    it("takes the default prefix, version and ttl from the URL query, options winning", async () => {
      if (!isMemory) return; // the URL query is parsed the same for every scheme; memory suffices
      const name = uniquePrefix();
      const fromUrl = new Cache(`memory://${name}?ttl=0.05&key_prefix=q&version=7`);
      const viaOptions = new Cache(`memory://${name}`, { keyPrefix: "q", version: 7 });
      const overridden = new Cache(`memory://${name}?key_prefix=q&version=7`, { version: 8, ttl: null });
      for (const c of [fromUrl, viaOptions, overridden]) await c.connect();
      await fromUrl.set("k", "v");
      assert.equal(await viaOptions.get("k"), "v");
      assert.equal(await overridden.get("k"), null, "options' version 8 wins over the URL's 7");
      await sleep(80);
      assert.equal(await viaOptions.get("k"), null, "the URL's ttl applied");
      // As async-caches: options that are false in Python ("", 0, null) leave the URL's.
      const falsy = new Cache(`memory://${name}?key_prefix=q&version=7`, { keyPrefix: "", version: 0 });
      const nulled = new Cache(`memory://${name}?key_prefix=q&version=7`, { version: null });
      for (const c of [falsy, nulled]) await c.connect();
      await viaOptions.set("k", "again");
      assert.equal(await falsy.get("k"), "again");
      assert.equal(await nulled.get("k"), "again");
    });

    it("reads the cache URL with the runtime's URL parser: names, query, userinfo, and refusals", async () => {
      if (!isMemory) return; // the URL is read in JavaScript before any backend is chosen
      const name = uniquePrefix();
      // One store per decoded name, the scheme in any case, trailing slashes aside.
      const a = new Cache(`memory://${name}%20x/`);
      const b = new Cache(`MEMORY://${name}%20x`);
      // The query's values are percent-decoded, `+` as a space.
      const c = new Cache(`memory://${name}%20x?key_prefix=a%3Ab+c&ttl=.5`);
      const d = new Cache(`memory://${name}%20x`, { keyPrefix: "a:b c" });
      for (const cache of [a, b, c, d]) await cache.connect();
      await a.set("k", 1);
      assert.equal(await b.get("k"), 1);
      await c.set("k", 2);
      assert.equal(await d.get("k"), 2);
      assert.equal(await a.get("k"), 1, "another prefix, another key");
      // REST: the token from the userinfo (decoded), the endpoint without userinfo, query or
      // trailing slash; options' token first.
      const sent = [];
      const fetch = async (url, init) => {
        const headers = new Headers(init.headers);
        sent.push([String(url), headers.get("authorization")]);
        return new Response(JSON.stringify({ result: null }), { headers: { "content-type": "application/json" } });
      };
      for (const [url, options] of [
        ["https://default:s3cr%2Ft@eu1.example.invalid/?ttl=5", {}],
        ["http://tok@127.0.0.1:8079", {}],
        ["http://[::1]:8080/base/", { token: "x" }],
        ["https://:from-url@h.example.invalid", { token: "from-options" }],
      ]) {
        const rest = new Cache(url, { ...options, fetch, autoPipeline: false });
        await rest.connect();
        await rest.get("k");
      }
      assert.deepEqual(sent, [
        ["https://eu1.example.invalid", "Bearer s3cr/t"],
        ["http://127.0.0.1:8079", "Bearer tok"],
        ["http://[::1]:8080/base", "Bearer x"],
        ["https://h.example.invalid", "Bearer from-options"],
      ]);
      for (const bad of ["", "memory", "memory:", "memory:/", "http:host//", "x:memory://", "redis://localhost", "memory://?prefix=x", "memory://%zz", "https://", "https://a b", "https://h", "https://user:@h", "https://:a%0Ab@h/"]) {
        assert.throws(() => new Cache(bad), code("CONFIG"), JSON.stringify(bad));
      }
      for (const bad of ["memory://?ttl=0", "memory://?ttl=1e3", "memory://?ttl=-1", "memory://?ttl=", "memory://?ttl=99999999999999999999"]) {
        assert.throws(() => new Cache(bad), RangeError, bad);
      }
      assert.throws(() => new Cache("https://user:hunter2@bad host/"), (error) => !error.message.includes("hunter2"));
    });
  });

  describe(`values (${LABEL})`, () => {
    it("round-trips every JSON value as a copy", async () => {
      const cache = await open();
      const values = [0, -1.5, 1e21, "", "123", "null", "true", "ü€😀", true, false, [], {}, [1, "a", null, [2]], { a: { b: [1, { c: "d" }] } }];
      for (const [i, value] of values.entries()) {
        await cache.set(`v${i}`, value);
        assert.deepEqual(await cache.get(`v${i}`), value, JSON.stringify(value));
      }
      assert.equal(typeof (await cache.get("v4")), "string", 'the string "123" stays a string');
      // What is not plain data is stored as JSON.stringify writes it.
      const written = [
        [new Date(0), "1970-01-01T00:00:00.000Z"],
        [{ a: 1, gone: undefined }, { a: 1 }],
        [Object.assign(Object.create(null), { n: 1 }), { n: 1 }],
        [{ toJSON: () => ({ via: "toJSON" }) }, { via: "toJSON" }],
        [[new Number(2), new String("s")], [2, "s"]],
      ];
      for (const [i, [value, stored]] of written.entries()) {
        await cache.set(`w${i}`, value);
        assert.deepEqual(await cache.get(`w${i}`), stored);
      }
      const object = { list: [1] };
      await cache.set("copy", object);
      object.list.push(2);
      const read = await cache.get("copy");
      assert.deepEqual(read, { list: [1] }, "mutating after set changes nothing cached");
      read.list.push(3);
      assert.deepEqual(await cache.get("copy"), { list: [1] }, "mutating after get changes nothing cached");
    });

    it("treats a stored null as a hit and returns the default only on a miss", async () => {
      const cache = await open();
      await cache.set("n", null);
      assert.equal(await cache.get("n", "default"), null);
      assert.equal(await cache.get("missing", "default"), "default");
      assert.equal(await cache.get("missing"), null);
    });

    it("rejects values JSON cannot hold, anywhere inside, before storing anything", async () => {
      const cache = await open();
      const cycle = {};
      cycle.self = cycle;
      const cases = [
        [undefined, TypeError],
        [() => 1, TypeError],
        [Symbol("s"), TypeError],
        [1n, TypeError],
        [cycle, TypeError],
        [[1, undefined], TypeError],
        [{ f() {} }, TypeError],
        [{ deep: [{ big: 2n }] }, TypeError],
        [NaN, RangeError],
        [Infinity, RangeError],
        [{ a: [1, -Infinity] }, RangeError],
        [[NaN], RangeError],
      ];
      for (const [i, [value, errorClass]] of cases.entries()) {
        await assert.rejects(cache.set(`bad${i}`, value), errorClass, `case ${i}`);
        await assert.rejects(cache.add(`bad${i}`, value), errorClass, `case ${i}`);
        // (a function is getOrSet's way to compute a default, checked below)
        if (typeof value !== "function") await assert.rejects(cache.getOrSet(`bad${i}`, value), errorClass, `case ${i}`);
        assert.equal(await cache.get(`bad${i}`, "absent"), "absent", `case ${i} stored nothing`);
      }
      await assert.rejects(cache.setMany({ good: 1, bad: NaN }), RangeError);
      assert.equal(await cache.get("good", "absent"), "absent", "setMany with one bad value stored nothing");
    });

    it("leaves out undefined object properties, as JSON does", async () => {
      const cache = await open();
      await cache.set("opt", { a: 1, b: undefined });
      assert.deepEqual(await cache.get("opt"), { a: 1 });
    });
  });

  describe(`ttl (${LABEL})`, () => {
    it("expires keys after fractional ttls", async () => {
      const cache = await open();
      await cache.set("short", 1, { ttl: 0.05 });
      await cache.set("long", 1, { ttl: 30 });
      assert.equal(await cache.get("short"), 1);
      await sleep(120);
      assert.equal(await cache.get("short", "gone"), "gone");
      assert.equal(await cache.get("long"), 1);
    });

    it("applies the default ttl when omitted and never expires with null", async () => {
      const cache = await open({ ttl: 0.05 });
      await cache.set("default", 1);
      await cache.set("forever", 1, { ttl: null });
      await cache.setMany({ m1: 1, m2: 2 });
      await cache.add("added", 1);
      await sleep(120);
      assert.deepEqual(await cache.getMany(["default", "forever", "m1", "m2", "added"]), {
        default: null,
        forever: 1,
        m1: null,
        m2: null,
        added: null,
      });
    });

    it("rejects zero, negative and non-finite ttls with RangeError and other types with TypeError", async () => {
      const cache = await open();
      for (const ttl of [0, -1, NaN, Infinity, -Infinity]) {
        await assert.rejects(cache.set("k", 1, { ttl }), RangeError, String(ttl));
        await assert.rejects(cache.touch("k", ttl), RangeError, String(ttl));
      }
      for (const ttl of ["5", {}, true, 5n]) {
        await assert.rejects(cache.set("k", 1, { ttl }), TypeError, String(ttl));
      }
      assert.equal(await cache.get("k", "absent"), "absent");
      assert.throws(() => new Cache(URL, { ttl: 0 }), RangeError);
      assert.throws(() => new Cache(URL, { ttl: "60" }), TypeError);
    });
  });

  describe(`add (${LABEL})`, () => {
    it("stores only when missing or expired", async () => {
      const cache = await open();
      assert.equal(await cache.add("k", 1, { ttl: 0.05 }), true);
      assert.equal(await cache.add("k", 2), false);
      assert.equal(await cache.get("k"), 1);
      await sleep(120);
      assert.equal(await cache.add("k", 3), true, "an expired key counts as missing");
      assert.equal(await cache.get("k"), 3);
    });
  });

  describe(`getOrSet (${LABEL})`, () => {
    it("returns a hit without touching the default", async () => {
      const cache = await open();
      await cache.set("k", "cached");
      let called = false;
      assert.equal(await cache.getOrSet("k", () => (called = true)), "cached");
      assert.equal(called, false);
      assert.equal(await cache.getOrSet("k", "plain"), "cached");
    });

    it("stores and returns a plain, a function's and an awaited default on a miss", async () => {
      const cache = await open();
      assert.deepEqual(await cache.getOrSet("plain", { a: 1 }, { ttl: 30 }), { a: 1 });
      assert.equal(await cache.getOrSet("fn", () => 42), 42);
      assert.deepEqual(await cache.getOrSet("async", async () => ["x"]), ["x"]);
      assert.deepEqual(await cache.getMany(["plain", "fn", "async"]), { plain: { a: 1 }, fn: 42, async: ["x"] });
    });

    it("honours the ttl on what it stores", async () => {
      const cache = await open();
      await cache.getOrSet("k", () => 1, { ttl: 0.05 });
      await cache.getOrSet("p", 1, { ttl: 0.05 });
      await sleep(120);
      assert.deepEqual(await cache.getMany(["k", "p"]), { k: null, p: null });
    });

    it("lets a value another writer stored meanwhile win", async () => {
      const cache = await open();
      const value = await cache.getOrSet("k", async () => {
        await cache.set("k", "other writer");
        return "computed";
      });
      assert.equal(value, "other writer");
      assert.equal(await cache.get("k"), "other writer");
    });

    it("runs the default function once for overlapping calls and shares its result", async () => {
      const cache = await open();
      let calls = 0;
      const gate = deferred();
      const compute = async () => {
        calls++;
        await gate.promise;
        return { n: calls };
      };
      const pending = Array.from({ length: 5 }, () => cache.getOrSet("k", compute));
      await sleep(20);
      gate.resolve();
      const results = await Promise.all(pending);
      assert.equal(calls, 1);
      for (const r of results) assert.deepEqual(r, { n: 1 });
      // Each caller has a copy of its own: one caller's change shows in no other's.
      results[0].n = 99;
      assert.equal(new Set(results).size, 5);
      assert.deepEqual(results[1], { n: 1 });
    });

    it("rejects every waiting call with the default function's error and stores nothing", async () => {
      const cache = await open();
      const boom = new Error("boom");
      const pending = [cache.getOrSet("k", async () => { throw boom; }), cache.getOrSet("k", () => 1)];
      for (const p of pending) await assert.rejects(p, (e) => e === boom);
      assert.equal(await cache.get("k", "absent"), "absent");
      await assert.rejects(cache.getOrSet("k2", () => NaN), RangeError);
      assert.equal(await cache.get("k2", "absent"), "absent");
    });
  });

  describe(`getMany / setMany (${LABEL})`, () => {
    it("maps every requested key, as spelt, to its value or null", async () => {
      const cache = await open();
      await cache.setMany({ a: 1, b: "two" });
      await cache.set("short", 1, { ttl: 0.05 });
      await sleep(120);
      const result = await cache.getMany(["a", "b", "missing", "short", "__proto__", "a"]);
      assert.deepEqual(Object.keys(result).sort(), ["__proto__", "a", "b", "missing", "short"]);
      assert.equal(result.a, 1);
      assert.equal(result.b, "two");
      assert.equal(result.missing, null);
      assert.equal(result.short, null);
      assert.equal(Object.getPrototypeOf(result), Object.prototype, "a key named __proto__ is only a key");
      assert.deepEqual(await cache.getMany([]), {});
    });

    it("sets from a plain object or a Map, with a ttl on every key", async () => {
      const cache = await open();
      await cache.setMany(new Map([["m", [1]], ["n", null]]), { ttl: 0.05 });
      await cache.setMany({ o: { x: 1 } }, { version: 5 });
      assert.deepEqual(await cache.getMany(["m", "n"]), { m: [1], n: null });
      assert.deepEqual(await cache.getMany(["o"], { version: 5 }), { o: { x: 1 } });
      await sleep(120);
      assert.deepEqual(await cache.getMany(["m", "n"]), { m: null, n: null });
      await cache.setMany({});
    });

    it("rejects what is not a list of keys or a mapping", async () => {
      const cache = await open();
      for (const bad of ["abc", new Set(["a"]), { 0: "a" }, null, undefined, 5]) {
        await assert.rejects(cache.getMany(bad), TypeError);
        await assert.rejects(cache.deleteMany(bad), TypeError);
      }
      for (const bad of [["a", 1], "abc", null, 5, () => {}]) {
        await assert.rejects(cache.setMany(bad), TypeError);
      }
      await assert.rejects(cache.getMany(["ok", 5]), TypeError);
      await assert.rejects(cache.setMany(new Map([[5, "v"]])), TypeError);
    });
  });

  describe(`delete / deleteMany / clear (${LABEL})`, () => {
    it("deletes, with missing keys no error", async () => {
      const cache = await open();
      await cache.setMany({ a: 1, b: 2, c: 3 });
      await cache.delete("a");
      await cache.delete("never");
      await cache.deleteMany(["b", "never"]);
      await cache.deleteMany([]);
      assert.deepEqual(await cache.getMany(["a", "b", "c"]), { a: null, b: null, c: 3 });
    });

    it("clears only its prefix's keys, and everything without a prefix", async () => {
      const name = uniquePrefix();
      const url = isMemory ? `memory://${name}` : URL; // a store of its own: clear() empties it
      const p = uniquePrefix();
      const mine = await open({ keyPrefix: p }, url);
      const similar = await open({ keyPrefix: `${p}x` }, url); // "px:..." must survive clearing "p:"
      const unprefixed = await open({ keyPrefix: "" }, url);
      await mine.set("k", 1);
      await similar.set("k", 2);
      await unprefixed.set(`${name}-k`, 3);
      await mine.clear();
      assert.equal(await mine.get("k"), null);
      assert.equal(await similar.get("k"), 2);
      assert.equal(await unprefixed.get(`${name}-k`), 3);
      await unprefixed.clear();
      // Another cache's clear(): with the near tier on, `similar` sees it after near.ttl, or at
      // once when it asks for a fresh read.
      assert.equal(await similar.get("k", null, near ? { fresh: true } : undefined), null);
      assert.equal(await unprefixed.get(`${name}-k`), null);
    });
  });

  describe(`touch (${LABEL})`, () => {
    it("sets a new expiry on an existing key and never creates one", async () => {
      const cache = await open();
      assert.equal(await cache.touch("missing", 10), false);
      assert.equal(await cache.get("missing", "absent"), "absent");
      await cache.set("k", 1, { ttl: 30 });
      assert.equal(await cache.touch("k", 0.05), true);
      await sleep(120);
      assert.equal(await cache.get("k"), null);
      assert.equal(await cache.touch("k", 10), false, "an expired key is missing");
    });

    it("with no ttl uses the default, or never expires without one; null never expires", async () => {
      const withDefault = await open({ ttl: 0.05 });
      await withDefault.set("d", 1, { ttl: 30 });
      assert.equal(await withDefault.touch("d"), true);
      await withDefault.set("n", 1);
      assert.equal(await withDefault.touch("n", null), true);
      const noDefault = await open();
      await noDefault.set("p", 1, { ttl: 0.05 });
      assert.equal(await noDefault.touch("p"), true);
      await noDefault.set("already", 1);
      assert.equal(await noDefault.touch("already"), true, "true for a key that already had no expiry");
      await sleep(120);
      assert.equal(await withDefault.get("d"), null);
      assert.equal(await withDefault.get("n"), 1);
      assert.equal(await noDefault.get("p"), 1);
    });
  });

  describe(`incr / decr (${LABEL})`, () => {
    it("starts a missing key from 0 and returns the new value", async () => {
      const cache = await open();
      assert.equal(await cache.incr("a"), 1);
      assert.equal(await cache.incr("a", 5), 6);
      assert.equal(await cache.decr("a"), 5);
      assert.equal(await cache.decr("b", 3), -3);
      assert.equal(await cache.get("b"), -3, "decr stored the value");
      assert.equal(await cache.incr("c", 2.5), 2.5);
      assert.equal(await cache.incr("c", 0.25), 2.75);
      assert.equal(await cache.decr("c", 0.75), 2);
      assert.ok(Number.isInteger(await cache.get("c")), "integers stay integers");
      assert.equal(await cache.incr("d", -2), -2);
    });

    it("keeps the expiry of an existing key", async () => {
      const cache = await open();
      await cache.set("k", 10, { ttl: 0.08 });
      assert.equal(await cache.incr("k"), 11);
      await sleep(150);
      assert.equal(await cache.get("k"), null);
    });

    it("rejects a non-number delta and a stored value that is not a number", async () => {
      const cache = await open();
      for (const delta of ["1", null, {}, 1n, true]) {
        await assert.rejects(cache.incr("k", delta), TypeError, String(delta));
      }
      for (const delta of [NaN, Infinity]) {
        await assert.rejects(cache.decr("k", delta), RangeError, String(delta));
      }
      assert.equal(await cache.get("k", "absent"), "absent");
      for (const stored of ["5", null, { n: 1 }, [1], true]) {
        await cache.set("s", stored);
        await assert.rejects(cache.incr("s"), code("NOT_A_NUMBER"), JSON.stringify(stored));
        assert.deepEqual(await cache.get("s"), stored, "left as it was");
      }
    });

    it("never stores a result it cannot return exactly: past the double range, or an integer past 2^53", async () => {
      const cache = await open();
      assert.equal(await cache.incr("big", 1e308), 1e308);
      await assert.rejects(cache.incr("big", 1e308), code("NOT_A_NUMBER"));
      assert.equal(await cache.get("big"), 1e308, "left as it was");
      await assert.rejects(cache.decr("big", -1e308), code("NOT_A_NUMBER"));
      await cache.set("top", Number.MAX_SAFE_INTEGER - 1);
      assert.equal(await cache.incr("top"), Number.MAX_SAFE_INTEGER);
      await assert.rejects(cache.incr("top"), code("NOT_A_NUMBER"));
      assert.equal(await cache.get("top"), Number.MAX_SAFE_INTEGER, "left as it was");
      await cache.set("bottom", -Number.MAX_SAFE_INTEGER);
      await assert.rejects(cache.decr("bottom", 2), code("NOT_A_NUMBER"));
      assert.equal(await cache.get("bottom"), -Number.MAX_SAFE_INTEGER);
    });
  });

  describe(`bytes (${LABEL})`, () => {
    it("stores a Uint8Array or an ArrayBuffer byte for byte and reads back a Uint8Array", async () => {
      const cache = await open();
      const all = Uint8Array.from({ length: 256 }, (_, i) => i);
      const large = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 256);
      for (const [key, value] of [["all", all], ["empty", new Uint8Array(0)], ["large", large]]) {
        await cache.set(key, value);
        const read = await cache.get(key);
        assert.ok(read instanceof Uint8Array, key);
        assert.deepEqual([...read], [...value], key);
      }
      await cache.set("buffer", all.buffer);
      assert.deepEqual([...(await cache.get("buffer"))], [...all]);
      await cache.setMany({ m1: new Uint8Array([1]), m2: "text" });
      const many = await cache.getMany(["m1", "m2"]);
      assert.deepEqual([[...many.m1], many.m2], [[1], "text"]);
      assert.deepEqual([...(await cache.getOrSet("g", new Uint8Array([9])))], [9]);
      assert.deepEqual([...(await cache.getOrSet("h", async () => new Uint8Array([8])))], [8]);
      assert.deepEqual([...(await cache.getOrSet("h", async () => new Uint8Array([0])))], [8], "then read back");
      const first = await cache.get("all");
      first[0] = 99;
      assert.equal((await cache.get("all"))[0], 0, "each read is a copy of its own");
    });

    it("refuses other binary objects, bytes inside a value, a Map or a Set anywhere (TypeError, nothing stored)", async () => {
      const cache = await open();
      for (const bad of [new Int16Array(2), new DataView(new ArrayBuffer(2)), new Map([["a", 1]]), new Set([1]), { a: new Uint8Array(1) }, [new Set()], { m: new Map() }]) {
        await assert.rejects(cache.set("bad", bad), TypeError, String(bad));
        await assert.rejects(cache.setMany({ ok: 1, bad }), TypeError);
      }
      assert.equal(await cache.get("bad"), null);
      assert.equal(await cache.get("ok"), null, "setMany stored nothing");
    });
  });

  describe(`compression (${LABEL})`, () => {
    // Two caches on one store: memory://NAME, or the same REST endpoint.
    const pair = async (compress) => {
      const keyPrefix = uniquePrefix();
      const shared = isMemory ? `memory://${keyPrefix}` : url;
      return [await open({ keyPrefix, compress }, shared), await open({ keyPrefix }, shared)];
    };
    const big = { rows: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `row ${i}`, tags: ["a", "b"] })) };

    it("compresses long values, leaves short ones, and every instance reads both", async () => {
      const [zipped, plain] = await pair(true);
      const bytes = Uint8Array.from({ length: 5000 }, (_, i) => i % 7);
      await zipped.set("big", big);
      await zipped.set("small", { a: 1 });
      await zipped.set("bytes", bytes);
      await zipped.setMany({ m1: big, m2: "short" });
      assert.deepEqual(await plain.get("big"), big, "an instance without compress reads it");
      assert.deepEqual(await zipped.get("big"), big);
      assert.deepEqual(await plain.get("small"), { a: 1 });
      assert.deepEqual([...(await plain.get("bytes"))], [...bytes]);
      assert.deepEqual(await plain.getMany(["m1", "m2", "none"]), { m1: big, m2: "short", none: null });
      assert.deepEqual(await zipped.getOrSet("computed", async () => big), big);
      assert.deepEqual(await plain.get("computed"), big);
      assert.deepEqual(await zipped.getOrSet("plain default", big), big);
      assert.equal(await zipped.add("big", { other: true }), false);
      assert.deepEqual(await plain.getOrSet("big", "x"), big);
    });

    it("keeps call order: a read made after a compressed write sees it", async () => {
      const [zipped] = await pair({ threshold: 10 });
      const [, read] = await Promise.all([zipped.set("k", big), zipped.get("k")]);
      assert.deepEqual(read, big);
      // A short write and a read behind a compressing one still go together, in order.
      const [, , readAgain, many] = await Promise.all([zipped.set("j", big), zipped.set("k", "v"), zipped.get("k"), zipped.getMany(["j", "k"])]);
      assert.equal(readAgain, "v");
      assert.deepEqual(many, { j: big, k: "v" });
    });

    it("checks its option", () => {
      assert.throws(() => newCache({ compress: "yes" }), TypeError);
      assert.throws(() => newCache({ compress: { threshold: -1 } }), RangeError);
      assert.throws(() => newCache({ compress: { level: 9 } }), TypeError);
    });
  });

  describe(`lifecycle (${LABEL})`, () => {
    it("rejects calls before connect and after disconnect, and connects again", async () => {
      const cache = newCache();
      assert.equal(cache.connected, false);
      await assert.rejects(cache.get("k"), code("NOT_CONNECTED"));
      await assert.rejects(cache.disconnect(), code("NOT_CONNECTED"));
      await cache.connect();
      await assert.rejects(cache.connect(), code("ALREADY_CONNECTED"));
      await cache.set("k", 1);
      await cache.disconnect();
      await assert.rejects(cache.set("k", 2), code("NOT_CONNECTED"));
      await cache.connect();
      assert.equal(await cache.get("k"), 1, "data written before the reconnect is still there");
    });

    it("waits for calls in flight on disconnect", async () => {
      const cache = await open();
      const gate = deferred();
      const slow = cache.getOrSet("k", async () => {
        await gate.promise;
        return "late";
      });
      let disconnected = false;
      const closing = cache.disconnect().then(() => (disconnected = true));
      await sleep(20);
      assert.equal(disconnected, false, "disconnect waits for the call in flight");
      gate.resolve();
      assert.equal(await slow, "late");
      await closing;
      assert.equal(disconnected, true);
    });

    it("disposes with `await using`-style Symbol.asyncDispose", async () => {
      const cache = await open();
      const dispose = cache[Symbol.asyncDispose ?? Symbol.for("Symbol.asyncDispose")];
      await dispose.call(cache);
      assert.equal(cache.connected, false);
      await dispose.call(cache); // already disconnected: no error
    });

    it("rejects bad options and URLs in the constructor", () => {
      assert.throws(() => new Cache("redis://localhost"), code("CONFIG"));
      assert.throws(() => new Cache("nonsense"), code("CONFIG"));
      assert.throws(() => new Cache("memory://?prefix=x"), code("CONFIG"));
      assert.throws(() => new Cache(5), TypeError);
      assert.throws(() => new Cache(URL, { prefix: "typo" }), TypeError);
      assert.throws(() => new Cache(URL, { keyPrefix: 5 }), TypeError);
      assert.throws(() => new Cache(URL, { version: 1.5 }), RangeError);
      assert.throws(() => new Cache(URL, "options"), TypeError);
    });

    it("rejects unknown per-call options", async () => {
      const cache = await open();
      await assert.rejects(cache.set("k", 1, { tll: 5 }), TypeError);
      await assert.rejects(cache.get("k", null, { ttl: 5 }), TypeError, "get takes no ttl");
      assert.equal(await cache.get("k", "absent"), "absent");
    });
  });

  // On a Redis Cluster the gateway runs the tag scripts across slots (gateway/src/tagged.rs).
  describe(`tags (${LABEL})`, () => {
    it("invalidateTags makes every entry written with the tag before it a miss, and only those", async () => {
      const cache = await open();
      await cache.set("profile", { name: "Ada" }, { tags: ["user:1"] });
      await cache.add("avatar", "a.png", { tags: ["user:1", "images"] });
      assert.deepEqual(await cache.getOrSet("feed", () => [1, 2], { tags: ["user:1", "user:2"] }), [1, 2]);
      await cache.getOrSet("home", "plain", { tags: ["user:1"] });
      await cache.setMany({ a: 1, b: 2 }, { tags: ["user:1"], ttl: 60 });
      await cache.set("other", 2, { tags: ["user:2"] });
      await cache.set("untagged", 3);
      await cache.invalidateTags(["user:1"]);
      for (const key of ["profile", "avatar", "feed", "home", "a", "b"]) assert.equal(await cache.get(key), null, key);
      assert.deepEqual(await cache.getMany(["profile", "a", "other", "untagged"]), { profile: null, a: null, other: 2, untagged: 3 });
      // A dead entry is missing for add and getOrSet too; a write after the invalidation is seen.
      assert.equal(await cache.add("avatar", "b.png", { tags: ["user:1"] }), true);
      assert.equal(await cache.getOrSet("home", "new"), "new");
      assert.equal(await cache.getOrSet("feed", () => "computed"), "computed");
      assert.equal(await cache.get("avatar"), "b.png");
      await cache.set("profile", { name: "Ada L." }, { tags: ["user:1"] });
      assert.deepEqual(await cache.get("profile"), { name: "Ada L." });
      await cache.invalidateTags(["user:1", "user:2"]);
      assert.deepEqual(await cache.getMany(["profile", "other", "untagged"]), { profile: null, other: null, untagged: 3 });
      await cache.invalidateTags([]);
    });

    it("is seen by other caches on the same store, and scoped by the key prefix", async () => {
      const name = uniquePrefix();
      const url = isMemory ? `memory://${name}` : URL;
      const p = uniquePrefix();
      const writer = await open({ keyPrefix: p }, url);
      const reader = await open({ keyPrefix: p }, url);
      const otherApp = await open({ keyPrefix: `${p}x` }, url);
      await writer.set("k", 1, { tags: ["t"] });
      await otherApp.set("k", 2, { tags: ["t"] });
      assert.equal(await reader.get("k"), 1);
      await reader.invalidateTags(["t"]);
      // With the near tier on, another cache sees it after near.ttl, or at once when fresh.
      assert.equal(await writer.get("k", null, near ? { fresh: true } : undefined), null);
      assert.equal(await otherApp.get("k"), 2, "another prefix's tag of the same name is untouched");
    });

    it("keeps ttl and touch on tagged entries; incr counts a dead one from 0 and refuses a live one", async () => {
      const cache = await open();
      await cache.set("short", 1, { tags: ["t"], ttl: 0.05 });
      await cache.set("n", 5, { tags: ["t"] });
      await assert.rejects(cache.incr("n"), code("NOT_A_NUMBER"));
      assert.equal(await cache.touch("n", 0.05), true);
      await sleep(80);
      assert.equal(await cache.get("short"), null);
      assert.equal(await cache.get("n"), null, "touch set the tagged entry's expiry");
      await cache.set("m", 5, { tags: ["u"] });
      await cache.invalidateTags(["u"]);
      assert.equal(await cache.incr("m", 2), 2);
    });

    it("rejects tags that are not an array of strings with TypeError, and more than 64 with RangeError, writing nothing", async () => {
      const cache = await open();
      for (const bad of ["t", [1], [null], ["\ud800"], {}, null]) {
        await assert.rejects(cache.set("k", 1, { tags: bad }), TypeError, JSON.stringify(bad));
        await assert.rejects(cache.setMany({ k: 1 }, { tags: bad }), TypeError);
        await assert.rejects(cache.getOrSet("k", () => 1, { tags: bad }), TypeError);
        await assert.rejects(cache.invalidateTags(bad), TypeError);
      }
      const many = Array.from({ length: 65 }, (_, i) => `t${i}`);
      await assert.rejects(cache.set("k", 1, { tags: many }), { name: "RangeError", message: /an entry takes at most 64 tags/ });
      // invalidateTags takes up to 1000 in one call, and says so past that.
      await cache.invalidateTags(many);
      const tooMany = Array.from({ length: 1001 }, (_, i) => `t${i}`);
      await assert.rejects(cache.invalidateTags(tooMany), { name: "RangeError", message: /invalidateTags takes at most 1000 tags/ });
      await assert.rejects(cache.get("k", null, { tags: ["t"] }), TypeError, "reads take no tags");
      assert.equal(await cache.get("k"), null);
      await cache.set("k", 1, { tags: many.slice(0, 64) });
      assert.equal(await cache.get("k"), 1);
    });

    it("no key, version or key prefix can address a tag's stamp (RangeError)", async () => {
      const cache = await open();
      await cache.set("k", 1, { tags: ["k"] });
      await cache.invalidateTags(["k"]);
      await assert.rejects(cache.get("k", null, { version: "#tags" }), RangeError, "the version #tags would read the stamp of tag k");
      await assert.rejects(cache.set("x:#tags:y", 1), RangeError);
      await assert.rejects(cache.getMany(["a", "b:#tags:c"]), RangeError);
      assert.throws(() => new Cache("memory://", { keyPrefix: "app:#tags" }), RangeError);
      assert.throws(() => new Cache("memory://", { version: "#tags" }), RangeError);
      assert.throws(() => new Cache("memory://?version=%23tags"), RangeError, "the URL's version too");
      assert.equal(await cache.get("#tags"), null, "a key may be called #tags");
    });
  });

  describe(`events (${LABEL})`, () => {
    it("reports each read key's hit or miss with its stored key and tier, and each CacheError", async () => {
      const events = [];
      let requestEvents = 0;
      const p = uniquePrefix();
      const cache = await open({ keyPrefix: p, onEvent: (e) => (events.push(e), e.type === "request" && requestEvents++) });
      await cache.set("a", 1);
      await cache.set("n", null);
      const reads = () => events.filter((e) => e.type === "hit" || e.type === "miss" || e.type === "stale");
      events.length = 0;
      await cache.get("a");
      await cache.get("n"); // a stored null is a hit
      await cache.get("gone");
      await cache.getMany(["a", "gone2"]);
      assert.equal(await cache.getOrSet("a", 2), 1);
      assert.deepEqual(
        reads().map((e) => [e.type, e.key]),
        [["hit", `${p}::a`], ["hit", `${p}::n`], ["miss", `${p}::gone`], ["hit", `${p}::a`], ["miss", `${p}::gone2`], ["hit", `${p}::a`]],
      );
      for (const e of reads()) assert.ok(e.tier === "backend" || (near && e.tier === "near"), e.tier);
      await cache.set("s", "text");
      await assert.rejects(cache.incr("s"), code("NOT_A_NUMBER"));
      assert.deepEqual(events.filter((e) => e.type === "error").map((e) => e.code), ["NOT_A_NUMBER"]);
      // One request event per HTTP request, as stats counts them (none on memory).
      assert.equal(requestEvents, cache.stats.requests);
      assert.ok(isMemory ? requestEvents === 0 : requestEvents > 0);
      for (const r of events.filter((e) => e.type === "request")) {
        assert.ok(r.ms >= 0 && r.commands >= 1 && (r.status === 200 || r.status === 400), JSON.stringify(r));
      }
    });

    it("swallows what the callback throws, and takes only a function", async () => {
      const cache = await open({ onEvent: () => { throw new Error("a bug in the callback"); } });
      await cache.set("k", 1);
      assert.equal(await cache.get("k"), 1);
      await assert.rejects(cache.incr("nope", NaN), RangeError);
      assert.throws(() => newCache({ onEvent: "log" }), TypeError);
    });
  });

  describe("memory backend", { skip: !isMemory }, () => {
    it("shares one store among caches of the same name, and disconnecting one leaves it", async () => {
      const name = uniquePrefix();
      const a = await open({ keyPrefix: "" }, `memory://${name}`);
      const b = await open({ keyPrefix: "" }, `memory://${name}`);
      const other = await open({ keyPrefix: "" }, `memory://${name}-other`);
      const unnamed = await open({ keyPrefix: "" }, "memory://");
      await a.set("k", "a's");
      assert.equal(await b.get("k"), "a's");
      assert.equal(await other.get("k"), null);
      assert.equal(await unnamed.get("k"), null);
      await a.disconnect();
      assert.equal(await b.get("k"), "a's");
    });

    it("evicts the least recently used entries beyond maxEntries", async () => {
      const cache = await open({ maxEntries: 3 }, "memory://");
      await cache.setMany({ a: 1, b: 2, c: 3 });
      await cache.get("a");
      await cache.set("d", 4);
      assert.deepEqual(await cache.getMany(["a", "b", "c", "d"]), { a: 1, b: null, c: 3, d: 4 });
      assert.throws(() => newCache({ maxEntries: 0 }), RangeError);
      assert.throws(() => newCache({ maxEntries: 1.5 }), RangeError);
    });
  });
}
