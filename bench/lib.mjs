// Shared by the benchmark's sections: the three clients behind one interface, a small model of
// the Upstash REST protocol (to answer stubbed requests correctly), statistics and output.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

// `make bench BASELINE=DIR` (BENCH_BASELINE_DIR) adds another build of edge-caches, a packed
// package directory, beside this one: a change measured before and after in one run.
export const BASELINE = "edge-caches (baseline)";
export const CLIENTS = ["edge-caches", ...(process.env.BENCH_BASELINE_DIR ? [BASELINE] : []), "@upstash/redis", "raw fetch"];

// The value every section stores: a small object, as the issue asks.
export const SMALL = { id: 1, name: "Ada", tags: ["a", "b"] };

/**
 * The edge-caches package measured. run.sh copies the npm-packed package once at the start
 * (EDGE_CACHES_DIR) so every section measures the same build even if pkg/ is rebuilt meanwhile;
 * the entry is the one Node's resolution picks ("node" condition of the package's exports).
 */
export function edgeCachesEntry(dir = process.env.EDGE_CACHES_DIR) {
  if (!dir) return "edge-caches";
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const exp = pkg.exports["."];
  return pathToFileURL(join(dir, typeof exp === "string" ? exp : exp.node ?? exp.default)).href;
}

/**
 * One client behind a uniform interface. Each method is the client's idiomatic call for the
 * same operation; keys are given bare (edge-caches stores them as "::key", the others as "key").
 * `fetchFn` is only for edge-caches (its `fetch` option); the others use the global fetch.
 */
export async function makeClient(name, url, token, { fetchFn } = {}) {
  if (name === "edge-caches" || name === BASELINE) {
    const { Cache } = await import(edgeCachesEntry(name === BASELINE ? process.env.BENCH_BASELINE_DIR : undefined));
    const cache = new Cache(url, fetchFn ? { token, fetch: fetchFn } : { token });
    await cache.connect();
    return {
      raw: cache,
      get: (k) => cache.get(k),
      set: (k, v, ttl) => cache.set(k, v, { ttl }),
      getMany: (keys) => cache.getMany(keys),
      incr: (k) => cache.incr(k),
    };
  }
  if (name === "@upstash/redis") {
    const { Redis } = await import("@upstash/redis");
    const redis = new Redis({ url, token, enableAutoPipelining: true });
    return {
      raw: redis,
      get: (k) => redis.get(k),
      set: (k, v, ttl) => redis.set(k, v, { ex: ttl }),
      getMany: (keys) => redis.mget(...keys),
      incr: (k) => redis.incr(k),
    };
  }
  if (name === "raw fetch") {
    // The floor: one hand-written fetch per command, no checks beyond what the issue lists.
    const headers = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
    const call = async (command) => {
      const res = await fetch(url, { method: "POST", headers, body: JSON.stringify(command) });
      return (await res.json()).result;
    };
    return {
      raw: null,
      get: async (k) => {
        const r = await call(["GET", k]);
        return r === null ? null : JSON.parse(r);
      },
      set: async (k, v, ttl) => {
        await call(["SET", k, JSON.stringify(v), "PX", Math.round(ttl * 1000)]);
      },
      getMany: async (keys) => (await call(["MGET", ...keys])).map((r) => (r === null ? null : JSON.parse(r))),
      incr: async (k) => Number(await call(["INCRBYFLOAT", k, "1"])),
    };
  }
  throw new Error(`unknown client ${name}`);
}

// ---- A model of the REST protocol, to answer a stubbed fetch the way a server would. ----

function headerValue(headers, name) {
  if (!headers) return undefined;
  if (typeof headers.get === "function") return headers.get(name) ?? undefined;
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

function b64(result) {
  if (typeof result === "string") return result === "OK" ? result : Buffer.from(result).toString("base64");
  if (Array.isArray(result)) return result.map(b64);
  return result;
}

/** Runs one command on `store` (a Map of strings) as Redis would; supports what the bench sends. */
// edge-caches' incr script and its SHA-1 (src/backend/rest/commands.rs, INCR_JSON_NUMBER): the
// model runs it as INCRBYFLOAT on a JSON number.
export const INCR_SCRIPT =
  "local v=redis.call('GET',KEYS[1]) if v then local i=(v:sub(1,1)=='-') and 2 or 1 local e=select(2,v:find('^0',i)) or select(2,v:find('^[1-9]%d*',i)) if e then e=select(2,v:find('^%.%d+',e+1)) or e e=select(2,v:find('^[eE][+-]?%d+',e+1)) or e end if e~=#v then return redis.error_reply('ERR the stored value is not a JSON number') end end return redis.call('INCRBYFLOAT',KEYS[1],ARGV[1])";
const INCR_SHA1 = createHash("sha1").update(INCR_SCRIPT).digest("hex");

export function runCommand(store, command) {
  const [name, ...args] = command.map(String);
  if (/^EVAL(SHA)?$/i.test(name) && (args[0] === INCR_SHA1 || args[0] === INCR_SCRIPT) && args[1] === "1") {
    return runCommand(store, ["INCRBYFLOAT", args[2], args[3]]);
  }
  switch (name.toUpperCase()) {
    case "GET":
      return store.get(args[0]) ?? null;
    case "MGET":
      return args.map((k) => store.get(k) ?? null);
    case "SET": {
      const flags = args.slice(2).map((a) => a.toUpperCase());
      const old = store.get(args[0]) ?? null;
      if (flags.includes("NX") && old !== null) return flags.includes("GET") ? old : null;
      store.set(args[0], args[1]);
      return flags.includes("GET") ? old : "OK";
    }
    case "INCR":
    case "INCRBY": {
      const n = Number(store.get(args[0]) ?? 0) + (name.toUpperCase() === "INCR" ? 1 : Number(args[1]));
      store.set(args[0], String(n));
      return n;
    }
    case "INCRBYFLOAT": {
      const n = Number(store.get(args[0]) ?? 0) + Number(args[1]);
      store.set(args[0], String(n));
      return String(n);
    }
    default:
      throw new Error(`the protocol model does not know ${name}`);
  }
}

/** The response body a REST server gives for one request (body style, /pipeline). */
export function answer(store, url, init) {
  const path = new URL(url).pathname;
  const body = JSON.parse(init.body);
  const base64 = String(headerValue(init.headers, "upstash-encoding") ?? "").toLowerCase() === "base64";
  const enc = (r) => (base64 ? b64(r) : r);
  if (path === "/pipeline") return JSON.stringify(body.map((c) => ({ result: enc(runCommand(store, c)) })));
  if (path === "/" || path === "") return JSON.stringify({ result: enc(runCommand(store, body)) });
  throw new Error(`unexpected path ${path}`);
}

// ---- Statistics and output ----

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile of an already sorted array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Writes a section's result to $BENCH_OUT/<name>.json (or stdout when BENCH_OUT is unset). */
export function writeSection(name, data) {
  const text = JSON.stringify(data, null, 2);
  if (process.env.BENCH_OUT) writeFileSync(join(process.env.BENCH_OUT, `${name}.json`), text + "\n");
  else console.log(text);
}

/** Deterministic PRNG (mulberry32), so every client gets the same workload. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
