// Section 9, what tags and events cost. Tags: µs per sequential awaited call and HTTP requests
// per call against the gateway and a real Redis, an untagged entry beside tagged ones (the read
// script checks each tag's stamp in Redis) and invalidateTags. Events: a `get`'s client CPU with
// `fetch` stubbed in-process (a honest stub: one canned answer per request, as section 1 does),
// without a callback and with one, and on memory:// the same.
import { edgeCachesEntry, median, SMALL, writeSection } from "./lib.mjs";

const { GATEWAY_URL, GATEWAY_TOKEN } = process.env;
if (!GATEWAY_URL) throw new Error("run inside scripts/with-servers.sh");
const { Cache } = await import(edgeCachesEntry());

const ROUNDS = Number(process.env.BENCH_TAGS_ROUNDS ?? 5);
const CALLS = Number(process.env.BENCH_TAGS_CALLS ?? 2000);

async function timed(calls, fn) {
  const start = performance.now();
  for (let i = 0; i < calls; i++) await fn(i);
  return ((performance.now() - start) * 1000) / calls;
}

// Tags, against the gateway: a cache with the defaults (a plain GET, the checking script after
// it only for a tagged entry) and one with `tagged: true` (the script at once).
const keyPrefix = `benchtags${process.pid}`;
const cache = new Cache(GATEWAY_URL, { token: GATEWAY_TOKEN, keyPrefix });
const tagged = new Cache(GATEWAY_URL, { token: GATEWAY_TOKEN, keyPrefix, tagged: true });
await Promise.all([cache.connect(), tagged.connect()]);
const eight = Array.from({ length: 8 }, (_, i) => `t${i}`);
const rows = [
  { call: "get, untagged entry", setup: () => cache.set("plain", SMALL), run: () => cache.get("plain") },
  { call: "get, untagged entry, `tagged: true`", setup: () => cache.set("plain", SMALL), run: () => tagged.get("plain"), cache: tagged },
  { call: "get, entry with 1 tag, `tagged: true`", setup: () => cache.set("one", SMALL, { tags: ["t0"] }), run: () => tagged.get("one"), cache: tagged },
  { call: "get, entry with 8 tags, `tagged: true`", setup: () => cache.set("eight", SMALL, { tags: eight }), run: () => tagged.get("eight"), cache: tagged },
  { call: "get, entry with 1 tag, defaults", setup: () => cache.set("one", SMALL, { tags: ["t0"] }), run: () => cache.get("one") },
  { call: "set, untagged", run: () => cache.set("w", SMALL) },
  { call: "set with 1 tag", run: () => cache.set("w1", SMALL, { tags: ["w"] }) },
  { call: "set with 8 tags", run: () => cache.set("w8", SMALL, { tags: eight }) },
  { call: "invalidateTags([1 tag])", run: () => cache.invalidateTags(["w"]) },
];
for (const row of rows) {
  await row.setup?.();
  await timed(200, row.run); // warm: the scripts loaded, the connections open
}
const tags = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const row of rows) {
    await row.setup?.();
    const counted = row.cache ?? cache;
    const before = counted.stats.requests;
    const us = await timed(CALLS, row.run);
    const entry = (tags[row.call] ??= { runs: [], requestsPerCall: 0 });
    entry.runs.push(us);
    entry.requestsPerCall = (counted.stats.requests - before) / CALLS;
  }
  process.stderr.write(`  tags: round ${round + 1}/${ROUNDS} done\n`);
}
for (const entry of Object.values(tags)) entry.usPerCall = median(entry.runs);
await Promise.all([cache.disconnect(), tagged.disconnect()]);

// Events: client CPU of a get, fetch stubbed.
const ONE = JSON.stringify({ result: JSON.stringify(SMALL) });
const stub = async (url) => new Response(String(url).endsWith("/pipeline") ? `[${ONE}]` : ONE);
let seen = 0;
const onEvent = () => {
  seen++;
};
const variants = {
  "REST, no onEvent": new Cache("http://bench.invalid", { token: "t", fetch: stub }),
  "REST, onEvent": new Cache("http://bench.invalid", { token: "t", fetch: stub, onEvent }),
  "memory://, no onEvent": new Cache("memory://"),
  "memory://, onEvent": new Cache("memory://", { onEvent }),
};
for (const [name, c] of Object.entries(variants)) {
  await c.connect();
  if (name.startsWith("memory")) await c.set("k", SMALL); // the stub answers every REST get with it
}
const events = {};
const EVENT_CALLS = CALLS * 5;
for (const c of Object.values(variants)) await timed(EVENT_CALLS, () => c.get("k"));
for (let round = 0; round < ROUNDS * 2; round++) {
  for (const [name, c] of Object.entries(variants)) (events[name] ??= { runs: [] }).runs.push(await timed(EVENT_CALLS, () => c.get("k")));
}
for (const entry of Object.values(events)) entry.usPerCall = median(entry.runs);

writeSection("tagsEvents", {
  description:
    "Tags: µs per sequential awaited call against the gateway and redis-server on loopback (median of rounds) and HTTP requests per call. Events: µs per get with fetch stubbed in-process, without and with an onEvent callback",
  rounds: ROUNDS,
  callsPerRun: CALLS,
  eventCallsPerRun: EVENT_CALLS,
  eventsSeen: seen,
  tags,
  events,
});
