// Request timeouts, through a fetch that is honest about being a stub. In Node and Bun the
// requests with the same timeout share one timer (npm/transport.js, `watch`), left to lapse
// unref'd when nothing waits; in Deno each request has its own. Either way: each request gets
// its whole timeout from when it was sent, a finished call does not keep the process alive,
// and a stalled one still times out with nothing else keeping it alive.
import { it } from "node:test";
import assert from "node:assert/strict";
import { Cache, CacheError } from "edge-caches";
import { reply } from "./stub.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const isTimeout = (e) => e instanceof CacheError && e.code === "TIMEOUT";
// A fetch answering `{"result":"<n>"}` after `delays[n]` ms (never when it is undefined), and
// failing as a real fetch does when its signal fires.
function slowFetch(delays) {
  let n = 0;
  return (url, init) => {
    const mine = ++n;
    return new Promise((resolve, reject) => {
      init.signal.addEventListener("abort", () => reject(init.signal.reason));
      if (delays[mine] !== undefined) setTimeout(() => resolve(new Response(reply(url, `{"result":"${mine}"}`))), delays[mine]);
    });
  };
}

it("a request sent after an earlier one was answered gets its whole timeout", async () => {
  // The first request arms the timer for its own deadline (300 ms) and is answered at once;
  // the second, sent at 150 ms, answers at 400 ms: after the first's deadline, before its own.
  const cache = new Cache("https://slow.invalid", { token: "t", fetch: slowFetch({ 1: 0, 2: 250 }), timeout: 300, retries: 0 });
  await cache.connect();
  assert.equal(await cache.get("a"), 1);
  await sleep(150);
  assert.equal(await cache.get("b"), 2);
});

it("requests with different timeouts each time out at their own", async () => {
  const stalled = { token: "t", fetch: slowFetch({}), retries: 0 };
  const short = new Cache("https://slow.invalid", { ...stalled, timeout: 100 });
  const long = new Cache("https://slow.invalid", { ...stalled, timeout: 400 });
  await Promise.all([short.connect(), long.connect()]);
  const started = Date.now();
  const longCall = long.get("b");
  let longDone = false;
  longCall.catch(() => (longDone = true));
  await assert.rejects(short.get("a"), isTimeout);
  assert.equal(longDone, false, "the 400 ms request is still waiting when the 100 ms one timed out");
  await assert.rejects(longCall, isTimeout);
  assert.ok(Date.now() - started >= 390, `the 400 ms request waited its timeout (${Date.now() - started} ms)`);
});

it("many requests in flight, answered out of order, each time out or answer by their own deadline", async () => {
  // Every 25th request stalls, the others answer within 0-90 ms, out of order; the 200 ms
  // timeout spares them. Enough requests that the answered ones behind a stalled one are
  // dropped from the timer's queue while it still waits.
  const delays = {};
  for (let n = 1; n <= 150; n++) if (n % 25 !== 1) delays[n] = (n * 37) % 91;
  const cache = new Cache("https://slow.invalid", { token: "t", fetch: slowFetch(delays), timeout: 200, retries: 0, autoPipeline: false });
  await cache.connect();
  const outcomes = await Promise.allSettled(Array.from({ length: 150 }, (_, i) => cache.get(`k${i}`)));
  outcomes.forEach((outcome, i) => {
    const n = i + 1;
    if (n % 25 !== 1) assert.deepEqual(outcome, { status: "fulfilled", value: n });
    else assert.ok(outcome.status === "rejected" && isTimeout(outcome.reason), `request ${n}: ${outcome.reason}`);
  });
});

// A child process (Node or Bun; Deno would need --allow-run) doing one call and ending.
const child = typeof Deno === "undefined" ? await import("node:child_process") : null;

function runChild(source, limitMs) {
  return new Promise((resolve, reject) => {
    const proc = child.spawn(process.execPath, ["--input-type=module", "-e", source].slice(process.versions.bun ? 1 : 0), {
      cwd: new URL("../..", import.meta.url).pathname,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    proc.stdout.on("data", (d) => (out += d));
    const killer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`the child was still running after ${limitMs} ms (printed ${JSON.stringify(out)})`));
    }, limitMs);
    proc.on("exit", (code) => {
      clearTimeout(killer);
      resolve({ code, out });
    });
  });
}

const PRELUDE = `import { Cache } from "edge-caches";
const reply = (url, one) => (String(url).endsWith("/pipeline") ? "[" + one + "]" : one);`;

it("a finished call does not keep the process alive until its timeout", { skip: !child }, async () => {
  const { code, out } = await runChild(
    `${PRELUDE}
     const cache = new Cache("https://quick.invalid", { token: "t", timeout: 60000, fetch: async (url) => new Response(reply(url, '{"result":"7"}')) });
     await cache.connect();
     console.log(await cache.get("k"));`,
    20_000,
  );
  assert.deepEqual({ code, out: out.trim() }, { code: 0, out: "7" });
});

it("a stalled call times out even when nothing else keeps the process alive", { skip: !child }, async () => {
  // The first call is answered (the shared timer is then left to lapse, unref'd); the second
  // stalls, with no socket or other timer to keep the process running until its timeout.
  const { code, out } = await runChild(
    `${PRELUDE}
     let calls = 0;
     const fetch = (url) => (++calls === 1 ? Promise.resolve(new Response(reply(url, '{"result":"1"}'))) : new Promise(() => {}));
     const cache = new Cache("https://stalled.invalid", { token: "t", timeout: 200, retries: 0, fetch });
     await cache.connect();
     console.log(await cache.get("a"));
     await cache.get("b").catch((e) => console.log(e.code));`,
    20_000,
  );
  assert.deepEqual({ code, out: out.trim().split("\n") }, { code: 0, out: ["1", "TIMEOUT"] });
});
