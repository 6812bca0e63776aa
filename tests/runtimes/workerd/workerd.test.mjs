// The conformance suite inside the real Cloudflare Workers runtime (workerd from npm), on
// memory:// and, when the harness provides a gateway, on REST.
import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { startWorker } from "./launch.mjs";

let worker;
before(async () => {
  worker = await startWorker(new URL("./worker.mjs", import.meta.url).pathname);
});
after(() => worker?.stop());

async function conformance(query) {
  const response = await fetch(`${worker.url}/?${new URLSearchParams(query)}`);
  assert.equal(response.status, 200, worker.output());
  const results = await response.json();
  const failed = results.filter((r) => !r.ok);
  assert.deepEqual(failed, [], failed.map((f) => `${f.name}\n${f.error}`).join("\n\n"));
  assert.ok(results.length >= 30, `ran ${results.length} cases`);
}

it("passes the conformance suite on memory:// inside workerd", () => conformance({ url: "memory://conformance" }));

it("passes the conformance suite on REST (gateway + Redis) inside workerd", { skip: !process.env.GATEWAY_URL && "needs scripts/with-servers.sh" }, () =>
  conformance({ url: process.env.GATEWAY_URL, token: process.env.GATEWAY_TOKEN }));

it("serves the second request from the near tier, with no request of its own", { skip: !process.env.GATEWAY_URL && "needs scripts/with-servers.sh" }, async () => {
  const { GATEWAY_URL, GATEWAY_TOKEN } = process.env;
  const prefix = `workerd${process.pid}`;
  await fetch(GATEWAY_URL, {
    method: "POST",
    headers: { Authorization: `Bearer ${GATEWAY_TOKEN}` },
    body: JSON.stringify(["SET", `${prefix}::k`, '{"from":"redis"}']),
  });
  // The near tier reads by a script's SHA-1: a server that lacks it (an earlier suite may have
  // flushed its scripts) answers NOSCRIPT and gets it in full, one request more. Load it first.
  const { Cache } = await import("edge-caches");
  const warm = new Cache(GATEWAY_URL, { token: GATEWAY_TOKEN, near: true });
  await warm.connect();
  await warm.get("warm");
  const near = await startWorker(new URL("./near-worker.mjs", import.meta.url).pathname);
  try {
    const ask = async () => (await fetch(`${near.url}/?${new URLSearchParams({ url: GATEWAY_URL, token: GATEWAY_TOKEN, prefix })}`)).json();
    const first = await ask();
    assert.deepEqual(first.value, { from: "redis" }, near.output());
    assert.equal(first.sent, 1);
    const second = await ask();
    assert.deepEqual(second.value, { from: "redis" });
    assert.equal(second.sent, 1, "no request for the second");
    assert.deepEqual([second.stats.nearHits, second.stats.nearMisses], [1, 1]);
  } finally {
    near.stop();
  }
});
