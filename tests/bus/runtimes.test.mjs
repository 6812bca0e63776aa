// The bus in each long-lived runtime (Node, Deno and Bun run this file through
// tests/with-servers.sh): another instance's writes reach this instance's near tier over the
// gateway's /subscribe stream, read with the runtime's own fetch and streams. (bus.test.mjs
// measures the delay between two Node processes and cuts the stream.)
import { it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { Cache } from "edge-caches";

const { GATEWAY_URL, GATEWAY_TOKEN } = process.env;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `read` until it resolves with `want`, for at most 3 s; returns what it read last. */
async function eventually(read, want) {
  let got;
  for (let i = 0; i < 300 && (got = await read()) !== want; i++) await sleep(10);
  return got;
}

it("another instance's writes, clear() and invalidateTags reach this near tier at once", { skip: !GATEWAY_URL && "run me with tests/with-servers.mjs" }, async () => {
  const keyPrefix = `busrt${Math.random().toString(36).slice(2)}`;
  const open = async (onEvent) => {
    const cache = new Cache(GATEWAY_URL, { token: GATEWAY_TOKEN, keyPrefix, near: { ttl: 60, bus: true }, onEvent });
    await cache.connect();
    return cache;
  };
  const invalidated = [];
  const reader = await open((e) => e.type === "invalidate" && invalidated.push(...(e.keys ?? ["*"])));
  const writer = await open();
  try {
    for (let i = 0; i < 200 && !(reader.stats.busUp && writer.stats.busUp); i++) await sleep(10);
    assert.ok(reader.stats.busUp, "the reader's stream is up");
    await writer.set("k", 1);
    // (Its message, arriving after the read below, would drop what that read stored.)
    for (let i = 0; i < 300 && !invalidated.includes(`${keyPrefix}::k`); i++) await sleep(10);
    assert.ok(invalidated.includes(`${keyPrefix}::k`), "the reader heard of the write");
    assert.equal(await reader.get("k"), 1);
    const requests = reader.stats.requests;
    assert.equal(await reader.get("k"), 1);
    assert.equal(reader.stats.requests, requests, "a near hit: without the bus it would serve 1 for 60 s");
    await writer.set("k", 2);
    assert.equal(await eventually(() => reader.get("k"), 2), 2);
    await writer.set("t", "tagged", { tags: ["x"] });
    assert.equal(await eventually(() => reader.get("t"), "tagged"), "tagged");
    await writer.invalidateTags(["x"]);
    assert.equal(await eventually(() => reader.get("t"), null), null);
    await writer.clear();
    assert.equal(await eventually(() => reader.get("k"), null), null);
  } finally {
    // (An open stream would keep the process alive.)
    await Promise.all([reader.disconnect(), writer.disconnect()]);
  }
});
