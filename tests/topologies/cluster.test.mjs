// The gateway in front of a real Redis Cluster: 3 masters and 3 replicas on loopback, made with
// `redis-server --cluster-enabled yes` and `redis-cli --cluster create`, started and stopped by
// this file (also when a test fails). Runs the REST conformance suite, the near tier's variant,
// the REST backend's own suite and @upstash/redis's suite against it, then what only a cluster has:
// keys in many slots, SCAN over every master, tags across slots, CROSSSLOT refusals, and a master killed under 64
// callers until its replica is promoted.
//
//   node --test tests/topologies/cluster.test.mjs   (after `make build`; needs redis-server,
//   redis-cli and the gateway at target/gateway/edge-caches-gateway, or GATEWAY_BIN)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cache } from "edge-caches";
import { freePort, killAll, redisRaw, startCluster, startGateway } from "../servers.mjs";
import { GATEWAY_BIN, hammer, raw as rawAt, restSuites } from "./common.mjs";

const token = randomBytes(24).toString("hex");
const readonlyToken = randomBytes(24).toString("hex");
const dir = mkdtempSync(join(tmpdir(), "edge-caches-cluster-"));
let cluster;
let url;

before(async () => {
  cluster = await startCluster(dir);
  const port = await freePort();
  await startGateway(GATEWAY_BIN, port, cluster.urls.join(","), token, ["--cluster"], { EDGE_CACHES_READONLY_TOKEN: readonlyToken });
  // (Its seeds: every node, as a deployment lists them; the gateway needs one alive to start.)
  url = `http://127.0.0.1:${port}`;
});
after(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

const raw = (...command) => rawAt(url, token, command);
const open = async (options) => {
  const cache = new Cache(url, { token, ...options });
  await cache.connect();
  return cache;
};
// EDGE_CACHES_CLUSTER: the gateway is over a cluster (tags included: gateway/src/tagged.rs).
const env = () => ({ EDGE_CACHES_URL: url, EDGE_CACHES_TOKEN: token, EDGE_CACHES_CLUSTER: "1", GATEWAY_URL: url, GATEWAY_TOKEN: token, GATEWAY_READONLY_TOKEN: readonlyToken });

restSuites("on the cluster", env);

/** `n` keys starting with `prefix`, each in a slot of its own. */
async function keysInManySlots(prefix, n = 10) {
  const keys = [];
  const slots = new Set();
  for (let i = 0; keys.length < n; i++) {
    const slot = await redisRaw(cluster.nodes[0].port, "cluster", "keyslot", `${prefix}${i}`);
    if (!slots.has(slot)) keys.push(`${prefix}${i}`);
    slots.add(slot);
  }
  return keys;
}

async function keysPerMaster() {
  const masters = await cluster.masterPorts();
  return Promise.all(masters.map(async (port) => Number((await redisRaw(port, "dbsize")).slice(1))));
}

test("calls over keys in many slots answer as on one Redis", async () => {
  const cache = await open({ keyPrefix: "slots" });
  const keys = await keysInManySlots("k");
  const entries = Object.fromEntries(keys.map((k, i) => [k, { i }]));
  await cache.setMany(entries, { ttl: 30 }); // one script, run once per slot by the gateway
  assert.deepEqual(await cache.getMany(keys), entries);
  const pttl = await raw("PTTL", "slots::k3");
  assert.ok(pttl > 20_000 && pttl <= 30_000, `pttl ${pttl}`);
  await cache.setMany(entries); // MSET, split per slot by the redis crate
  assert.deepEqual(await cache.getMany([...keys, "missing"]), { ...entries, missing: null });
  const near = await open({ keyPrefix: "slots", near: { ttl: 5 } });
  assert.deepEqual(await near.getMany(keys), entries); // the near tier's script, per slot
  assert.equal(await raw("EXISTS", ...keys.map((k) => `slots::${k}`)), keys.length);
  await cache.deleteMany(keys.slice(0, 5));
  assert.deepEqual(await raw("MGET", ...keys.slice(3, 7).map((k) => `slots::${k}`)), [null, null, '{"i":5}', '{"i":6}']);
  // Every master holds some of them.
  assert.ok((await keysPerMaster()).every((n) => n > 0));
});

test("clear() with a prefix walks every master and deletes only its keys; FLUSHDB reaches every master", async () => {
  const mine = await open({ keyPrefix: "mine" });
  const other = await open({ keyPrefix: "other" });
  const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, i]));
  await mine.setMany(many);
  await other.setMany(many);
  // SCAN through the gateway: one cursor over all masters, each key once.
  const seen = [];
  let cursor = "0";
  do {
    const [next, keys] = await raw("SCAN", cursor, "MATCH", "mine:*", "COUNT", "50");
    seen.push(...keys);
    cursor = next;
  } while (cursor !== "0");
  assert.equal(new Set(seen).size, 300);
  await mine.clear();
  assert.deepEqual(Object.values(await mine.getMany(["k0", "k150", "k299"])), [null, null, null]);
  assert.deepEqual(await other.getMany(["k0", "k299"]), { k0: 0, k299: 299 });
  assert.equal(await raw("SCAN", "12345678901234567890123456789", "COUNT", "10").catch((e) => e.message), "ERR invalid cursor");
  await (await open({})).clear(); // FLUSHDB
  assert.deepEqual(await keysPerMaster(), [0, 0, 0]);
});

test("tags work across slots: entries and their stamps in other slots, one HTTP request a call", async () => {
  const cache = await open({ keyPrefix: "tags" });
  const other = await open({ keyPrefix: "tags", near: { ttl: 60 } });
  const tags = Array.from({ length: 10 }, (_, i) => `t${i}`); // ten stamp keys: several slots
  const entries = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`e${i}`, i]));
  await cache.setMany(entries, { tags: tags.slice(0, 5) });
  await cache.set("one", "x", { tags: ["t7"], ttl: 60 });
  assert.equal(await cache.add("fresh", 1, { tags: ["t8"] }), true);
  assert.equal(await cache.add("fresh", 2, { tags: ["t8"] }), false, "a live tagged entry is there");
  assert.deepEqual(await cache.getMany(Object.keys(entries)), entries);
  assert.equal(await other.get("one"), "x", "the near tier's read script, in steps");
  const before = cache.stats.requests;
  await cache.invalidateTags(tags);
  assert.equal(cache.stats.requests - before, 1, "one request for ten stamps in several slots");
  assert.deepEqual(await cache.getMany(["e0", "e19", "one", "fresh"]), { e0: null, e19: null, one: null, fresh: null });
  assert.equal(await other.get("one", undefined, { fresh: true }), null);
  // A dead entry: add and getOrSet store over it, incr counts it from 0; a live one refuses incr.
  assert.equal(await cache.add("fresh", 3, { tags: ["t8"] }), true);
  assert.equal(await cache.getOrSet("e1", async () => "again", { tags: ["t1"] }), "again");
  assert.equal(await cache.incr("one"), 1);
  await cache.set("n", 5, { tags: ["t9"] });
  await assert.rejects(cache.incr("n"), (e) => e.code === "NOT_A_NUMBER");
  // Untagged calls go on as ever.
  await cache.set("k", 1);
  assert.equal(await cache.get("k"), 1);
});

test("a transaction or a script over several slots is refused before anything runs", async () => {
  const keys = await keysInManySlots("tx", 2);
  const multi = await fetch(`${url}/multi-exec`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
    body: JSON.stringify([["SET", keys[0], "1"], ["SET", keys[1], "1"]]),
  });
  assert.equal(multi.status, 400);
  assert.match((await multi.json()).error, /^CROSSSLOT/);
  assert.deepEqual(await raw("MGET", ...keys), [null, null]);
  // Same slot (a hash tag): served.
  const same = await fetch(`${url}/multi-exec`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
    body: JSON.stringify([["SET", "{t}a", "1"], ["INCR", "{t}b"]]),
  });
  assert.deepEqual(await same.json(), [{ result: "OK" }, { result: 1 }]);
  await assert.rejects(raw("EVAL", "return redis.call('SET',KEYS[1],'x') and redis.call('SET',KEYS[2],'x')", 2, ...keys), /CROSSSLOT/);
  assert.deepEqual(await raw("MGET", ...keys), [null, null]);
  // A pipeline is not atomic: it may span slots, answered in order.
  const pipeline = await fetch(`${url}/pipeline`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
    body: JSON.stringify([["SET", keys[0], "a"], ["SET", keys[1], "b"], ["MGET", keys[1], keys[0]], ["GET", "nope"]]),
  });
  assert.deepEqual(await pipeline.json(), [{ result: "OK" }, { result: "OK" }, { result: ["b", "a"] }, { result: null }]);
});

test("a pipeline runs in order: a read sees the write before it; reads of a slot go together", async () => {
  const pipeline = async (commands) => {
    const response = await fetch(`${url}/pipeline`, { method: "POST", headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify(commands) });
    return (await response.json()).map((e) => ("error" in e ? e.error : e.result));
  };
  // Reads and writes take different connections to a node: before reads waited for the write
  // ahead of them in their slot, about half of these read the old value (16 callers at once).
  const keys = await keysInManySlots("ord", 4);
  await Promise.all(
    Array.from({ length: 16 }, async (_, caller) => {
      for (let round = 0; round < 20; round++) {
        const v = `${caller}.${round}`;
        const own = keys.map((k) => `${k}:${caller}`);
        const replies = await pipeline(own.flatMap((k) => [["SET", k, v], ["GET", k], ["RPUSH", `${k}:l`, v], ["LRANGE", `${k}:l`, -1, -1]]));
        assert.deepEqual(replies, own.flatMap(() => ["OK", v, round + 1, [v]]), `caller ${caller}, round ${round}`);
      }
    }),
  );
  // Reads of one slot go as one pipeline: each still gets its own answer, an error its own.
  await pipeline([["SET", "{r}a", "1"], ["SET", "{r}b", "2"], ["RPUSH", "{r}l", "x"]]);
  const reads = [["GET", "{r}a"], ["GET", "{r}l"], ["GET", "{r}b"], ["LRANGE", "{r}l", 0, -1], ["GET", "{r}none"]];
  assert.deepEqual(await pipeline([...reads, ...reads]), [...Array(2)].flatMap(() => ["1", "WRONGTYPE Operation against a key holding the wrong kind of value", "2", ["x"], null]));
});

test("failover: a master killed under 64 callers; its replica serves without a gateway restart", { timeout: 60_000 }, async () => {
  const masters = await cluster.masterPorts();
  const victim = cluster.nodes.find((n) => n.port === masters[0]);
  const result = await hammer(url, token, {
    async fault() {
      victim.child.kill("SIGKILL");
      // Promoted once every live node says the cluster is whole again.
      for (let i = 0; i < 400; i++) {
        const live = cluster.nodes.filter((n) => n !== victim);
        const states = await Promise.all(live.map((n) => redisRaw(n.port, "cluster", "info")));

        if (states.every((s) => s.includes("cluster_state:ok")) && (await cluster.masterPorts()).length === 3) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error("no replica was promoted");
    },
  });
  assert.ok(result.failedDuringFault > 0, "the kill was felt (calls failed while the master was down)");
});
