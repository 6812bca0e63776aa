// The bus (`near: { bus: true }`) over the real gateway's /subscribe stream and Redis
// (tests/with-servers.mjs): another process's writes reach this one's near tier in
// milliseconds; with the stream cut, near.ttl still bounds what is served; after the stream is
// back, the near tier is dropped (messages may have been missed).
import { it } from "node:test";
import assert from "node:assert/strict";
import { fork } from "node:child_process";
import process from "node:process";
import { Cache } from "edge-caches";

const { GATEWAY_URL, GATEWAY_TOKEN } = process.env;
assert.ok(GATEWAY_URL && GATEWAY_TOKEN, "run me with tests/with-servers.mjs");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => performance.timeOrigin + performance.now();
let n = 0;
const prefix = () => `bus${process.pid}_${n++}`;

/** Resolves once `cache` (created with an onEvent pushing into `events`) is subscribed. */
async function subscribed(cache) {
  for (let i = 0; i < 200 && !cache.stats.busUp; i++) await sleep(10);
  assert.ok(cache.stats.busUp, "the bus stream is up");
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

it("another process's 1,000 writes each reach this near tier: time from the write resolving to the drop", async () => {
  const COUNT = 1000;
  const keyPrefix = prefix();
  const arrivals = [];
  const reader = new Cache(GATEWAY_URL, {
    token: GATEWAY_TOKEN,
    keyPrefix,
    near: { ttl: 60, bus: true },
    onEvent: (e) => e.type === "invalidate" && arrivals.push({ at: now(), keys: e.keys }),
  });
  await reader.connect();
  try {
    await oneThousandWrites(reader, keyPrefix, arrivals, COUNT);
  } finally {
    await reader.disconnect(); // an open stream would keep the test process alive
  }
});

async function oneThousandWrites(reader, keyPrefix, arrivals, COUNT) {
  await subscribed(reader);
  const writer = fork(new URL("./writer.mjs", import.meta.url), { env: { ...process.env, BUS_PREFIX: keyPrefix, BUS_COUNT: String(COUNT) } });
  const resolved = [];
  const done = new Promise((resolve, reject) => {
    writer.on("message", (m) => {
      if (m.ready) writer.send("go");
      else if (m.done) resolve();
      else resolved[m.i] = m.resolved;
    });
    writer.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`writer exited ${code}`))));
  });
  try {
    await done;
    for (let i = 0; i < 100 && arrivals.length < COUNT; i++) await sleep(10);
  } finally {
    writer.kill();
  }
  assert.equal(arrivals.length, COUNT, "one message per write, none lost");
  assert.ok(arrivals.every((a) => a.keys.length === 1 && a.keys[0] === `${keyPrefix}::k`));
  // The PUBLISH runs with the SET, before the writer has its answer: a message may arrive first.
  const raw = resolved.map((t, i) => arrivals[i].at - t);
  const early = raw.filter((d) => d <= 0).length;
  const latencies = raw.map((d) => Math.max(0, d)).sort((a, b) => a - b);
  const [p50, p99, max] = [percentile(latencies, 50), percentile(latencies, 99), latencies.at(-1)];
  console.log(
    `bus: write resolved -> near entry dropped in another process: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${max.toFixed(2)} ms over ${COUNT} writes (${early} dropped before the writer had its answer)`,
  );
  assert.equal(await reader.get("k"), COUNT - 1, "the next read fetches the last value");
}

it("with the stream cut, serves no longer than near.ttl; once it is back, drops the whole near tier", async () => {
  const keyPrefix = prefix();
  // A fetch that is honest about being a fault: it can cut the /subscribe streams it opened and
  // refuse new ones; every other request goes through.
  let refuse = false;
  const streams = new Set();
  const cuttable = (url, init) => {
    if (!String(url).includes("/subscribe/")) return fetch(url, init);
    if (refuse) return Promise.reject(new TypeError("fetch failed (refused by the test)"));
    const controller = new AbortController();
    init.signal?.addEventListener("abort", () => controller.abort());
    streams.add(controller);
    return fetch(url, { ...init, signal: controller.signal });
  };
  const states = [];
  const reader = new Cache(GATEWAY_URL, { token: GATEWAY_TOKEN, keyPrefix, fetch: cuttable, near: { ttl: 1, bus: true }, onEvent: (e) => e.type === "bus" && states.push(e.state) });
  const writer = new Cache(GATEWAY_URL, { token: GATEWAY_TOKEN, keyPrefix, near: { ttl: 1, bus: true } });
  await Promise.all([reader.connect(), writer.connect()]);
  try {
    await cutAndBack(reader, writer, keyPrefix, states, streams, (r) => (refuse = r));
  } finally {
    await Promise.all([reader.disconnect(), writer.disconnect()]);
  }
});

async function cutAndBack(reader, writer, keyPrefix, states, streams, setRefuse) {
  await subscribed(reader);
  // Written without the bus: no message can arrive after the reads below.
  const plain = new Cache(GATEWAY_URL, { token: GATEWAY_TOKEN, keyPrefix });
  await plain.connect();
  await plain.setMany({ k: "old", j: "j" });
  assert.equal(await reader.get("k"), "old");
  const cachedAt = Date.now();
  setRefuse(true);
  for (const stream of streams) stream.abort();
  for (let i = 0; i < 100 && reader.stats.busUp; i++) await sleep(10);
  assert.deepEqual(states, ["up", "down"]);
  await writer.set("k", "new");
  await sleep(200);
  assert.equal(await reader.get("k"), "old", "no message while the stream is down: served within near.ttl");
  await sleep(Math.max(0, cachedAt + 1050 - Date.now()));
  assert.equal(await reader.get("k"), "new", "never past near.ttl");
  // Back: the near tier is dropped, a fresh entry too.
  assert.equal(await reader.get("j"), "j");
  const before = reader.stats.requests;
  assert.equal(await reader.get("j"), "j");
  assert.equal(reader.stats.requests, before, "j is served from the near tier");
  setRefuse(false);
  await subscribed(reader);
  assert.deepEqual(states, ["up", "down", "up"]);
  assert.equal(await reader.get("j"), "j");
  assert.equal(reader.stats.requests, before + 1, "after the gap, j was read again");
}
