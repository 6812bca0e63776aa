// The worst answers a server (or a proxy in front of it) can give, through a fetch that is
// honest about being a stub: each one rejects the call with a coded CacheError, and the same
// wasm instance then serves the next call correctly (a panic would have killed it for good).
import { it } from "node:test";
import assert from "node:assert/strict";
import { Cache, CacheError } from "edge-caches";
import { reply } from "./stub.mjs";

const deep = "[".repeat(10_000) + "]".repeat(10_000);
const ALL = ["get", "getMany", "incr", "touch"];
const calls = {
  get: (c) => c.get("k"),
  getMany: (c) => c.getMany(["a", "b"]),
  incr: (c) => c.incr("n"),
  touch: (c) => c.touch("k"),
};
// [what, status, body, code (for the first call it is bad for), the calls it is bad for (an answer can be fine for one
// call and wrong for another: {"result":42} is a good incr)]
const BAD_ANSWERS = [
  ["truncated JSON", 200, '{"result":"{\\"a\\":1', "PROTOCOL"],
  ["empty body", 200, "", "PROTOCOL"],
  ["wrong type for get", 200, '{"result":42}', "PROTOCOL", ["get", "getMany"]],
  ["wrong type for getMany", 200, '{"result":"not an array"}', "PROTOCOL", ["getMany", "touch"]],
  ["array of the wrong length", 200, '{"result":["1"]}', "PROTOCOL"],
  ["huge number", 200, `{"result":${"9".repeat(5000)}}`, "PROTOCOL"],
  ["nested garbage", 200, deep, "PROTOCOL"],
  ["object without result", 200, '{"resul":null}', "PROTOCOL"],
  ["invalid escapes", 200, '{"result":"\\uZZZZ"}', "PROTOCOL"],
  ["non-JSON 400 body", 400, "Bad Request", "PROTOCOL"],
  ["non-string error", 400, '{"error":{"nested":true}}', "PROTOCOL"],
  // A 502 (and 504) says the server lost its upstream's answer: the command may have run.
  ["HTML 502 page", 502, "<html><body><h1>502 Bad Gateway</h1></body></html>", "NETWORK"],
  ["HTML 200 page", 200, "<!doctype html><title>captive portal</title>", "PROTOCOL"],
  ["401 with HTML", 401, "<html>Unauthorized</html>", "AUTH"],
  ["418", 418, "I'm a teapot", "SERVER"],
  ["binary garbage", 200, "\u0000\u0001\ufffd\ufffd{", "PROTOCOL"],
];

it(`${BAD_ANSWERS.length} bad answers reject with a code and leave the instance serving`, async () => {
  let next = null;
  const fetch = async (url, init) => {
    const [status, body] = next ?? [200, reply(url, JSON.stringify({ result: JSON.stringify({ fine: true }) }))];
    next = null;
    return new Response(body, { status });
  };
  const cache = new Cache("https://bad-answers.invalid", { token: "t", fetch, retries: 0 });
  await cache.connect();
  for (const [what, status, body, code, badFor = ALL] of BAD_ANSWERS) {
    for (const name of badFor) {
      const call = calls[name];
      next = [status, body];
      await assert.rejects(call(cache), (error) => {
        assert.ok(error instanceof CacheError, `${what}, ${name}: ${error}`);
        assert.ok(["PROTOCOL", "SERVER", "AUTH", "NETWORK"].includes(error.code), `${what}: ${error.code}`);
        return true;
      });
    }
    next = [status, body];
    await assert.rejects(calls[badFor[0]](cache), (e) => e.code === code, what);
    assert.deepEqual(await cache.get("k"), { fine: true }, `after ${what} the next call is served`);
  }
});

it("a body that never ends is a TIMEOUT, and the next call is served", async () => {
  let stall = true;
  const fetch = async (url, init) => {
    if (stall) {
      stall = false;
      // Half a reply, then nothing; like a real fetch, the body fails when the signal fires.
      const body = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"result":'));
          init.signal.addEventListener("abort", () => controller.error(init.signal.reason));
        },
      });
      return new Response(body);
    }
    return new Response(reply(url, '{"result":"1"}'));
  };
  const cache = new Cache("https://stall.invalid", { token: "t", fetch, timeout: 100, retries: 0 });
  await cache.connect();
  await assert.rejects(cache.get("k"), (e) => e instanceof CacheError && e.code === "TIMEOUT");
  assert.equal(await cache.get("k"), 1);
});

it("a request that times out is cancelled, without cutting short the requests beside it", async () => {
  // Requests share an AbortController until one times out (making one per request costs a
  // tenth of a call): here the first stalls, the second answers after the first's deadline.
  const signals = [];
  const fetch = (url, init) => {
    signals.push(init.signal);
    const n = signals.length;
    return new Promise((resolve, reject) => {
      init.signal.addEventListener("abort", () => reject(init.signal.reason));
      if (n === 2) setTimeout(() => resolve(new Response(reply(url, '{"result":"2"}'))), 150); // at 250 ms: after the first's deadline, before its own
      if (n === 3) resolve(new Response(reply(url, '{"result":"3"}')));
    });
  };
  const cache = new Cache("https://stall.invalid", { token: "t", fetch, timeout: 200, retries: 0, autoPipeline: false });
  await cache.connect();
  const first = cache.get("a");
  await new Promise((r) => setTimeout(r, 100));
  const second = cache.get("b");
  await assert.rejects(first, (e) => e instanceof CacheError && e.code === "TIMEOUT");
  assert.equal(signals[0].aborted, false, "not aborted while the second request may still answer in time");
  assert.equal(await second, 2, "the second request kept its own 200 ms");
  assert.equal(signals[0].aborted, true, "the stalled request is cancelled once nothing else uses its signal");
  assert.equal(await cache.get("c"), 3);
  assert.notEqual(signals[2], signals[0], "a request after a timeout gets a fresh signal");
});

it("a fetch that throws instead of rejecting is a NETWORK error, and leaves no timer behind", async () => {
  const signals = [];
  const fetch = (url, init) => {
    signals.push(init.signal);
    if (signals.length === 1) throw new TypeError("not a fetch this time");
    return Promise.resolve(new Response(reply(url, '{"result":"2"}')));
  };
  const cache = new Cache("https://throws.invalid", { token: "t", fetch, timeout: 100, retries: 0 });
  await cache.connect();
  await assert.rejects(cache.get("a"), (e) => e instanceof CacheError && e.code === "NETWORK");
  // Past the first request's timeout: had its timer been left running, it would have counted
  // as a timeout and retired the shared AbortController.
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(await cache.get("b"), 2);
  assert.equal(signals[1], signals[0], "the controller is still the shared one");
  assert.equal(signals[0].aborted, false);
});

it("a fetch that resolves with something else than a Response, or fails with something that cannot be described, fails the call and leaves the instance serving", async () => {
  let next;
  const fetch = async (url) => next(url);
  const cache = new Cache("https://odd.invalid", { token: "t", fetch, timeout: 1000, retries: 0 });
  await cache.connect();
  const fine = (url) => new Response(reply(url, '{"result":"7"}'));
  for (const [what, odd, expected] of [
    ["undefined", () => undefined, (e) => e instanceof CacheError && e.code === "NETWORK"],
    ["an object whose arrayBuffer throws", () => ({ status: 200, arrayBuffer() { throw new Error("no body"); } }), (e) => e instanceof CacheError && e.code === "NETWORK"],
    ["an object whose body is not bytes", () => ({ status: 200, arrayBuffer: async () => "nope" }), (e) => e instanceof CacheError && e.code === "PROTOCOL"],
    // Describing it (the message goes into a template) throws: the call fails with that.
    ["a rejection whose message is a Symbol", () => Promise.reject({ message: Symbol("odd") }), (e) => e instanceof TypeError],
  ]) {
    next = odd;
    await assert.rejects(cache.get("k"), expected, what);
    next = fine;
    assert.equal(await cache.get("k"), 7, `served after ${what}`);
  }
});

it("a write whose fetch fails in a way that cannot be described still ends its near-tier mark", async () => {
  // A near-tier server in a function: near reads answer [value, pttl], writes OK.
  const stored = new Map();
  let odd = false;
  const answer = (c) => {
    if (c[0].startsWith("EVAL")) return { result: c.slice(3).flatMap((k) => [stored.get(k) ?? null, stored.has(k) ? -1 : -2]) };
    if (c[0] === "SET") stored.set(c[1], c[2]);
    return { result: "OK" };
  };
  const fetch = async (url, init) => {
    if (odd) return Promise.reject({ message: Symbol("odd") });
    const body = JSON.parse(init.body);
    return new Response(JSON.stringify(String(url).endsWith("/pipeline") ? body.map(answer) : answer(body)));
  };
  const cache = new Cache("https://odd.invalid", { token: "t", fetch, retries: 0, near: { ttl: 60 } });
  await cache.connect();
  odd = true;
  await assert.rejects(cache.set("k", 1), TypeError);
  odd = false;
  await cache.set("k", 2);
  await cache.clear();
  stored.set("::k", "3");
  assert.equal(await cache.get("k"), 3);
  const hits = cache.stats.nearHits;
  assert.equal(await cache.get("k"), 3);
  assert.equal(cache.stats.nearHits, hits + 1, "the near tier keeps reads again: the failed write's mark ended");
});
