// One instance of the stampede tests and benchmark (tests/stampede/, bench/stampede.mjs): a
// process of its own with a Cache on the gateway. Given its job (JSON in STAMPEDE_JOB), it makes
// its cache and opens a connection, says `{ ready }` over IPC, and on "go" runs the job and
// answers with what happened:
//   job: { prefix, cache: constructor options, calls: [{ key, options, factory, after, giveUp }],
//          loop: { ms, every, keys: [[key, weight]...], options, factory } }
//   factory: { ms, value, mode: "ok" | "throw" | "hang" }
//   answer: { results: [{ ok, value | code, ms, at }], runs: [{ start, end }], events, counts }
// Times are on one clock for every process (performance.timeOrigin + now).
import process from "node:process";
import { Cache } from "edge-caches";

const { GATEWAY_URL, GATEWAY_TOKEN } = process.env;
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const job = JSON.parse(process.env.STAMPEDE_JOB);
const events = [];
const cache = new Cache(GATEWAY_URL, { token: GATEWAY_TOKEN, keyPrefix: job.prefix, ...job.cache, onEvent: (e) => e.type !== "request" && events.push(e) });
await cache.connect();
// Started, compiled and connected before the others are told to go: what is measured is the
// calls, not the process's start on a busy machine.
await cache.get("warm-up");
events.length = 0;

process.on("message", async (go) => {
  if (go !== "go") return;
  const runs = [];
  // What calls hand to `waitUntil` (options `waitUntil: true`), awaited before answering.
  const background = [];
  const factory = ({ ms, value, mode = "ok" }) => async () => {
    const run = { start: now(), end: null };
    runs.push(run);
    if (mode === "hang") return new Promise(() => {});
    await sleep(ms);
    run.end = now();
    if (mode === "throw") throw new Error("the factory failed");
    return value ?? `${process.pid}@${run.start}`;
  };
  const call = async ({ key, options, factory: f, after = 0, giveUp }) => {
    if (after) await sleep(after);
    const started = now();
    try {
      const calling = cache.getOrSet(key, factory(f), options?.waitUntil ? { ...options, waitUntil: (p) => background.push(p) } : options);
      // A call that never settles (a factory that hangs) is left after `giveUp` ms.
      const value = giveUp === undefined ? await calling : await Promise.race([calling, sleep(giveUp).then(() => Promise.reject(new Error("GAVE_UP")))]);
      return { ok: true, value, ms: now() - started, at: started };
    } catch (error) {
      return { ok: false, code: error.code ?? error.message, ms: now() - started, at: started };
    }
  };
  let results = [];
  let counts;
  if (job.calls) results = await Promise.all(job.calls.map(call));
  if (job.loop) ({ results, counts } = await loop(cache, job.loop, call, events));
  await Promise.all(background);
  process.send({ results, runs, events: job.loop ? [] : events, counts });
  // disconnect() waits for the requests in flight (a lock being freed), not for a factory that
  // never settles.
  await Promise.race([cache.disconnect(), sleep(1000)]);
  process.disconnect();
  process.exit(0);
});

// Calls for `ms`, one every `every` ms, each on a key drawn by weight: each call's time, and
// the count of each kind of event (`refresh`, `held`, `waiting`: the miss path's lock events).
async function loop(cache, { ms, every, keys, options, factory }, call, events) {
  const total = keys.reduce((sum, [, w]) => sum + w, 0);
  const pick = () => {
    let r = Math.random() * total;
    for (const [key, w] of keys) if ((r -= w) < 0) return key;
    return keys[keys.length - 1][0];
  };
  const end = now() + ms;
  const pending = [];
  while (now() < end) {
    pending.push(call({ key: pick(), options, factory }));
    await sleep(every);
  }
  const results = (await Promise.all(pending)).map(({ ok, ms, at }) => ({ ok, ms, at }));
  const counts = { refresh: 0, held: 0, waiting: 0, expired: 0 };
  for (const e of events) {
    if (e.type === "refresh") counts.refresh++;
    if (e.type === "lock") counts[e.state]++;
  }
  return { results, counts };
}

process.send({ ready: true });
