// The near tier's stale-while-revalidate through the Cache class, over a fetch that is honest
// about being a stub (tests/near holds the tier over a real gateway): getMany serves stale
// entries at once when it has nothing to fetch, and refreshes them in one background request.
import { it } from "node:test";
import assert from "node:assert/strict";
import { Cache } from "edge-caches";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

it("getMany serves stale entries at once and refreshes them together in the background", async () => {
  let version = 1;
  const sent = [];
  // The near read's script answers [value, pttl, ...] for its keys.
  const fetch = async (url, init) => {
    const body = JSON.parse(init.body);
    const commands = String(url).endsWith("/pipeline") ? body : [body];
    sent.push(commands.map((c) => c.slice(3).join(",")));
    const answers = commands.map((c) => ({ result: c.slice(3).flatMap((key) => [JSON.stringify(`${key}@${version}`), -1]) }));
    return new Response(JSON.stringify(String(url).endsWith("/pipeline") ? answers : answers[0]));
  };
  const cache = new Cache("https://swr.invalid", { token: "t", fetch, near: { ttl: 0.05, swr: 10 } });
  await cache.connect();
  assert.deepEqual(await cache.getMany(["a", "b"]), { a: "::a@1", b: "::b@1" });
  version = 2;
  await sleep(80);
  const waits = [];
  const stale = await cache.getMany(["a", "b"], { waitUntil: (p) => waits.push(p) });
  assert.deepEqual(stale, { a: "::a@1", b: "::b@1" }, "served at once, stale");
  assert.equal(waits.length, 1, "one refresh, handed to waitUntil");
  await Promise.all(waits);
  assert.deepEqual(sent.at(-1), ["::a,::b"], "both keys in one background read");
  assert.deepEqual(await cache.getMany(["a", "b"]), { a: "::a@2", b: "::b@2" }, "refreshed");
  assert.equal(cache.stats.staleServed, 2);
});
