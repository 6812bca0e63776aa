// The real @upstash/redis client against edge-caches-gateway: proof that the gateway speaks the
// protocol as the client expects it, in each of the client's modes (base64 responses, its
// default, or plain JSON; auto-pipelining on, its default, or off).
//
// Run through the harness, which starts Redis and the gateway and sets GATEWAY_URL,
// GATEWAY_TOKEN and GATEWAY_READONLY_TOKEN:
//   node tests/with-servers.mjs node --test tests/gateway/
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";

const url = process.env.GATEWAY_URL;
const token = process.env.GATEWAY_TOKEN;
const readonlyToken = process.env.GATEWAY_READONLY_TOKEN;
const skip = url && token ? false : "GATEWAY_URL and GATEWAY_TOKEN are not set: run through tests/with-servers.mjs";

const modes = [
  { name: "base64 responses, auto-pipelining", options: {} },
  { name: "base64 responses, no auto-pipelining", options: { enableAutoPipelining: false } },
  { name: "plain responses, auto-pipelining", options: { responseEncoding: false } },
  { name: "plain responses, no auto-pipelining", options: { responseEncoding: false, enableAutoPipelining: false } },
];

let run = 0;
for (const mode of modes) {
  describe(mode.name, { skip }, () => {
    // Retries would hide a failing request behind a slower pass (and may apply a write twice).
    const client = (t = token) => new Redis({ url, token: t, retry: false, enableTelemetry: false, ...mode.options });
    const prefix = `upstash:${process.pid}:${run++}:`;
    const key = (name) => prefix + name;

    test("get, set, incr", async () => {
      const redis = client();
      assert.equal(await redis.set(key("s"), "hello"), "OK");
      assert.equal(await redis.get(key("s")), "hello");
      assert.equal(await redis.get(key("missing")), null);
      assert.equal(await redis.set(key("u"), "héllo ✓ 日本"), "OK");
      assert.equal(await redis.get(key("u")), "héllo ✓ 日本");
      assert.equal(await redis.set(key("ex"), "v", { ex: 100 }), "OK");
      const ttl = await redis.ttl(key("ex"));
      assert.ok(ttl > 0 && ttl <= 100, `ttl ${ttl}`);
      assert.equal(await redis.incr(key("n")), 1);
      assert.equal(await redis.incrby(key("n"), 41), 42);
      assert.equal(await redis.get(key("n")), 42);
      // The client stores objects as JSON and parses them back.
      await redis.set(key("obj"), { a: 1, b: ["x"] });
      assert.deepEqual(await redis.get(key("obj")), { a: 1, b: ["x"] });
      assert.equal(await redis.del(key("s"), key("missing")), 1);
      assert.equal(await redis.exists(key("s")), 0);
    });

    test("a hash", async () => {
      const redis = client();
      assert.equal(await redis.hset(key("h"), { f1: "v1", f2: "v2" }), 2);
      assert.equal(await redis.hget(key("h"), "f1"), "v1");
      assert.deepEqual(await redis.hgetall(key("h")), { f1: "v1", f2: "v2" });
      assert.equal(await redis.hincrby(key("h"), "count", 3), 3);
      assert.deepEqual((await redis.hkeys(key("h"))).sort(), ["count", "f1", "f2"]);
      assert.equal(await redis.hlen(key("h")), 3);
    });

    test("a list", async () => {
      const redis = client();
      assert.equal(await redis.rpush(key("l"), "a", "b", "c"), 3);
      assert.equal(await redis.lpush(key("l"), "z"), 4);
      assert.deepEqual(await redis.lrange(key("l"), 0, -1), ["z", "a", "b", "c"]);
      assert.equal(await redis.lpop(key("l")), "z");
      assert.equal(await redis.llen(key("l")), 3);
    });

    test("a pipeline", async () => {
      const redis = client();
      const p = redis.pipeline();
      p.set(key("p"), "1");
      p.incr(key("p"));
      p.get(key("p"));
      p.rpush(key("pl"), "x", "y");
      p.lrange(key("pl"), 0, -1);
      assert.deepEqual(await p.exec(), ["OK", 2, 2, 2, ["x", "y"]]);
    });

    // (Keys with one hash tag: a transaction stays in one slot on a Redis Cluster.)
    test("a transaction", async () => {
      const redis = client();
      const tx = redis.multi();
      tx.set(key("{t}"), "10");
      tx.incrby(key("{t}"), 5);
      tx.hset(key("{t}h"), { f: "v" });
      tx.hget(key("{t}h"), "f");
      assert.deepEqual(await tx.exec(), ["OK", 15, 1, "v"]);

      // Concurrent transactions and plain commands do not interfere.
      const results = await Promise.all(
        Array.from({ length: 20 }, () => {
          const m = redis.multi();
          m.incr(key("tc"));
          m.get(key("tc"));
          return Promise.all([m.exec(), redis.incr(key("plain"))]);
        }),
      );
      const seen = results.map(([[n, got]]) => {
        assert.equal(got, n);
        return n;
      });
      assert.deepEqual(seen.sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
      assert.equal(await redis.get(key("plain")), 20);
    });

    test("errors reject", async () => {
      const redis = client();
      await redis.set(key("e"), "not a number");
      await assert.rejects(redis.incr(key("e")), /ERR value is not an integer/);
    });

    test("the read-only token reads but may not write", { skip: readonlyToken ? false : "no GATEWAY_READONLY_TOKEN" }, async () => {
      await client().set(key("ro"), "v");
      const ro = client(readonlyToken);
      assert.equal(await ro.get(key("ro")), "v");
      await assert.rejects(ro.set(key("ro"), "changed"), /NOPERM/);
      assert.equal(await client().get(key("ro")), "v");
    });
  });
}

describe("what the gateway takes as Upstash does", { skip }, () => {
  const redis = new Redis({ url, token, retry: false, enableTelemetry: false });
  const key = (name) => `upstash:${process.pid}:x:${name}`;
  const raw = async (command) => {
    const response = await fetch(url, { method: "POST", headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify(command) });
    return [response.status, await response.json()];
  };

  test("JSON booleans as arguments, as their JSON text", async () => {
    assert.deepEqual(await raw(["HSET", key("b"), "yes", true, "no", false]), [200, { result: 2 }]);
    assert.deepEqual(await raw(["HMGET", key("b"), "yes", "no"]), [200, { result: ["true", "false"] }]);
    await redis.hset(key("c"), { on: true, off: false });
    assert.equal(await redis.hget(key("c"), "on"), true);
    assert.equal(await redis.hget(key("c"), "off"), false);
  });

  test("a value of several MiB with the default --max-body", async () => {
    const big = "x".repeat(6 * 1024 * 1024);
    assert.equal(await redis.set(key("big"), big), "OK");
    assert.equal((await redis.get(key("big"))).length, big.length);
  });

  test("SUBSCRIBE and PSUBSCRIBE as a stream of events, for any token", async () => {
    for (const t of [token, readonlyToken].filter(Boolean)) {
      const listener = new Redis({ url, token: t, retry: false, enableTelemetry: false });
      const channel = `upstash:${process.pid}:ch:${t === token ? "rw" : "ro"}`;
      const plain = listener.subscribe([channel]);
      const patterns = listener.psubscribe([`${channel}*`]);
      const seen = [];
      const patternSeen = [];
      plain.on("message", (m) => seen.push(m));
      patterns.on("pmessage", (m) => patternSeen.push(m));
      try {
        // Subscribed once PUBLISH reaches both streams. (On a cluster PUBLISH counts only the
        // subscribers of the node it ran on, and messages from different nodes may arrive in
        // either order: the checks below look for each message, not at the last one.)
        for (let i = 0; i < 100 && (await redis.publish(channel, "ready")) < 2; i++) await new Promise((r) => setTimeout(r, 20));
        await redis.publish(channel, { a: 1 });
        // (@upstash/redis reads pattern messages as JSON only.)
        await redis.publish(`${channel}:more`, ["hi"]);
        const plainGot = () => seen.find((m) => m.message?.a === 1);
        const patternGot = (c) => patternSeen.find((m) => m.channel === c && typeof m.message === "object");
        for (let i = 0; i < 100 && !(plainGot() && patternGot(channel) && patternGot(`${channel}:more`)); i++) {
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.deepEqual(plainGot(), { channel, message: { a: 1 } });
        assert.deepEqual(patternGot(channel), { pattern: `${channel}*`, channel, message: { a: 1 } });
        assert.deepEqual(patternGot(`${channel}:more`), { pattern: `${channel}*`, channel: `${channel}:more`, message: ["hi"] });
        assert.ok(!seen.some((m) => m.channel !== channel), "the plain stream has only its channel");
      } finally {
        // (An open stream would keep this process alive past a failure.)
        await plain.unsubscribe();
        await patterns.unsubscribe();
      }
      // The gateway lets go of Redis when the client goes away.
      let left = -1;
      for (let i = 0; i < 100 && left !== 0; i++) {
        left = (await raw(["PUBSUB", "NUMSUB", channel]))[1].result[1];
        if (left !== 0) await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(left, 0, "the subscription's Redis connection is closed");
    }
  });
});
