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
// edge-caches' scripts, as `Script::text` in src/backend/rest/commands.rs builds them from the
// files in src/backend/rest/lua, with the command each stands for in the model (which stores no
// tagged entries: a tagged entry's checks are Redis's to run).
const LUA = new URL("../src/backend/rest/lua/", import.meta.url);
const lua = (...names) => names.map((n) => readFileSync(new URL(`${n}.lua`, LUA), "utf8")).join("");
export const SCRIPTS = {
  incr: lua("live", "incr"),
  get: lua("live", "get"),
  getMany: lua("live", "get_many"),
  getWithPttl: lua("live", "get_with_pttl"),
  add: lua("live", "stamp", "add"),
  setTagged: lua("stamp", "set_tagged"),
  invalidate: lua("stamp", "invalidate"),
};
const BY_SHA1 = new Map(Object.entries(SCRIPTS).flatMap(([name, text]) => [[createHash("sha1").update(text).digest("hex"), name], [text, name]]));
// Earlier texts' SHA-1s, so that `make bench BASELINE=` can measure builds from before a script
// changed: incr's before it checked that its result is exact (commit 42d8755).
BY_SHA1.set("23483d2e0221385b8b4b46b27fdcc0ccf9e48f82", "incr");

// A script of edge-caches' as the plain commands it amounts to on untagged entries.
function runScript(store, script, keys, argv) {
  switch (script) {
    case "incr":
      return runCommand(store, ["INCRBYFLOAT", keys[0], argv[0]]);
    case "get":
      return runCommand(store, ["GET", keys[0]]);
    case "getMany":
      return runCommand(store, ["MGET", ...keys]);
    case "getWithPttl":
      return keys.flatMap((k) => [store.get(k) ?? null, store.has(k) ? -1 : -2]);
    case "add":
      return runCommand(store, ["SET", keys[0], argv[1], "NX", ...(argv[0] === "get" ? ["GET"] : [])]);
    default:
      throw new Error(`the benchmark's model does not run the ${script} script`);
  }
}

export function runCommand(store, command) {
  const [name, ...args] = command.map(String);
  const script = /^EVAL(SHA)?(_RO)?$/i.test(name) ? BY_SHA1.get(args[0]) : undefined;
  if (script !== undefined) {
    const n = Number(args[1]);
    return runScript(store, script, args.slice(2, 2 + n), args.slice(2 + n));
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
