// Section 10, compression: for JSON values of about 1 KB, 100 KB and 1 MB, the stored text's size
// with `compress: true` against plain, and the client CPU of a `set` and a `get` each way, with
// `fetch` stubbed in-process (it answers a get with the stored text the set sent, so the get
// decompresses what the set compressed). And the largest value of this kind that fits one
// request under Upstash's 1 MB request limit, plain and compressed.
import { edgeCachesEntry, median, writeSection } from "./lib.mjs";

const { Cache } = await import(edgeCachesEntry());
const ROUNDS = Number(process.env.BENCH_COMPRESSION_ROUNDS ?? 5);
const LIMIT = 1_000_000; // Upstash: the largest request body, in bytes

// API-like JSON: records with ids, names and a few repeated fields (compresses as such data does).
function value(bytes) {
  const rows = [];
  let size = 10;
  for (let i = 0; size < bytes; i++) {
    const row = { id: i, name: `user ${i}`, email: `user${i}@example.com`, active: i % 3 !== 0, score: (i * 7919) % 1000, tags: ["a", i % 2 ? "b" : "c"] };
    size += JSON.stringify(row).length + 1;
    rows.push(row);
  }
  return { rows };
}

// A cache whose fetch keeps the last SET's stored text and answers GETs with it.
async function stubbed(compress) {
  let stored = null;
  let lastBody = 0;
  const fetch = async (url, init) => {
    lastBody = new TextEncoder().encode(init.body).length;
    const command = JSON.parse(init.body);
    const one = Array.isArray(command[0]) ? command[0] : command;
    if (one[0] === "SET") {
      stored = one[2];
      return new Response('{"result":"OK"}');
    }
    return new Response(JSON.stringify({ result: stored }));
  };
  const cache = new Cache("https://bench.invalid", { token: "t", fetch, ...(compress ? { compress: true } : {}) });
  await cache.connect();
  return { cache, stored: () => stored, body: () => lastBody };
}

async function timed(calls, fn) {
  const start = performance.now();
  for (let i = 0; i < calls; i++) await fn();
  return ((performance.now() - start) * 1000) / calls;
}

const sizes = { "1 KB": 1_000, "100 KB": 100_000, "1 MB": 1_000_000 };
const rows = {};
for (const [label, bytes] of Object.entries(sizes)) {
  const v = value(bytes);
  const calls = bytes >= 1_000_000 ? 20 : bytes >= 100_000 ? 200 : 2000;
  const row = { jsonBytes: JSON.stringify(v).length };
  for (const compress of [false, true]) {
    const { cache, stored } = await stubbed(compress);
    await cache.set("k", v);
    const storedBytes = stored().length;
    const sets = [];
    const gets = [];
    for (let r = 0; r < ROUNDS; r++) {
      sets.push(await timed(calls, () => cache.set("k", v)));
      gets.push(await timed(calls, () => cache.get("k")));
    }
    row[compress ? "compressed" : "plain"] = { storedBytes, setUs: median(sets), getUs: median(gets), setRuns: sets, getRuns: gets };
  }
  row.ratio = row.compressed.storedBytes / row.plain.storedBytes;
  rows[label] = row;
  process.stderr.write(`  compression: ${label}: stored ${row.plain.storedBytes} -> ${row.compressed.storedBytes} B\n`);
}

// The largest value of this kind whose set fits one request of at most LIMIT bytes.
async function largest(compress) {
  const { cache, body } = await stubbed(compress);
  let low = 1_000;
  let high = compress ? 40_000_000 : 2_000_000;
  while (high - low > Math.max(1000, low / 100)) {
    const mid = Math.floor((low + high) / 2);
    await cache.set("k", value(mid));
    if (body() <= LIMIT) low = mid;
    else high = mid;
  }
  return JSON.stringify(value(low)).length;
}
const fits = { plain: await largest(false), compressed: await largest(true) };
process.stderr.write(`  compression: largest value in a 1 MB request: ${fits.plain} plain, ${fits.compressed} compressed\n`);

writeSection("compression", {
  description: `JSON records (ids, names, emails, flags, scores, tags), fetch stubbed in-process; median of ${ROUNDS} rounds (20 calls at 1 MB, 200 at 100 KB, 2,000 at 1 KB)`,
  rows,
  fits,
  limitBytes: LIMIT,
});
