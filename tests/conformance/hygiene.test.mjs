// What a misconfigured or misbehaving caller cannot leak or break: a token that is not a valid
// HTTP header value is refused when the cache is made (never quoted in an error), and an async
// onEvent callback that rejects is swallowed like one that throws.
import { it } from "node:test";
import assert from "node:assert/strict";
import { Cache, CacheError } from "edge-caches";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

it("a token that is not a valid header value is CONFIG at construction, and never quoted", () => {
  for (const token of ["secret\r\nX-Evil: 1", "sec ret", "secret\u0000", "sécret"]) {
    assert.throws(
      () => new Cache("https://hygiene.invalid", { token }),
      (e) => e instanceof CacheError && e.code === "CONFIG" && !e.message.includes("secret") && !e.message.includes("sec ret"),
      JSON.stringify(token),
    );
  }
});

it("an async onEvent that rejects is swallowed like one that throws", async () => {
  const unhandled = [];
  const onUnhandled = (e) => unhandled.push(e);
  process.on?.("unhandledRejection", onUnhandled);
  try {
    let calls = 0;
    const cache = new Cache("memory://", {
      onEvent: async () => {
        calls++;
        throw new Error("the callback's bug");
      },
    });
    await cache.connect();
    await cache.set("k", 1);
    assert.equal(await cache.get("k"), 1);
    await sleep(20);
    assert.ok(calls > 0);
    assert.deepEqual(unhandled, []);
  } finally {
    process.off?.("unhandledRejection", onUnhandled);
  }
});
