// What a caller passes, read before anything crosses into wasm: the type of every argument and
// option is checked here (a TypeError), so the wasm boundary takes strings, numbers and
// booleans; what the values mean (ranges, URL, keys) is checked by the engine in Rust.
// Values are turned into their JSON text here too: the engine has JSON.stringify already, so
// the wasm need not carry a JSON library.

// A key (or version, prefix, token, URL) must be a well-formed string: converting a lone
// surrogate to UTF-8 would silently turn distinct keys into the same one.
export function checkString(value, what) {
  if (typeof value !== "string") throw new TypeError(`${what} must be a string, got ${describe(value)}`);
  if (!value.isWellFormed()) throw new TypeError(`${what} is not well-formed Unicode (it has a lone surrogate)`);
  return value;
}

// A list of keys (or tags) as the engine takes it: one JSON text, one crossing for the whole
// list. An array only: a string is iterable too, so "any iterable" would take getMany("abc") as
// three keys.
export function stringList(list, what = "key") {
  if (!Array.isArray(list)) throw new TypeError(`${what}s must be an array of strings`);
  for (let i = 0; i < list.length; i++) checkString(list[i], what);
  return JSON.stringify(list);
}

// setMany's mapping (a plain object or a Map) as the engine takes it: the JSON texts of its
// keys and of its values' texts.
export function entryLists(mapping) {
  const [keys, values] = entryTexts(mapping);
  return [JSON.stringify(keys), JSON.stringify(values)];
}

// setMany's mapping as two arrays: the keys (checked) and the stored text of each value.
export function entryTexts(mapping) {
  let entries;
  if (mapping instanceof Map) entries = [...mapping];
  else if (isObject(mapping)) entries = Object.entries(mapping);
  else throw new TypeError("setMany takes a plain object or a Map of keys to values");
  const keys = new Array(entries.length);
  const values = new Array(entries.length);
  for (let i = 0; i < entries.length; i++) {
    keys[i] = checkString(entries[i][0], "key");
    values[i] = encodeValue(entries[i][1]);
  }
  return [keys, values];
}

// A plain object: not null, not an array.
export const isObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);

// An optional argument of type `type` (undefined, or a TypeError naming `what`).
function optional(value, type, what, unit = "") {
  if (value !== undefined && typeof value !== type) throw new TypeError(`${what} must be a ${type}${unit}`);
}

// An options object naming only `allowed` options. Unknown names are a TypeError: a misspelt
// `verison` silently reading another key, or a `keyPrefx` silently ignored, would be worse.
function checkOptions(options, allowed) {
  if (!isObject(options)) throw new TypeError("options must be an object");
  for (const name of Object.keys(options)) {
    if (!allowed.includes(name)) throw new TypeError(`unknown option '${name}' (known: ${allowed.join(", ")})`);
  }
}

// The options each method takes.
export const TAGGED_WRITE = ["ttl", "version", "signal", "tags"];
export const READ = ["version", "signal"];
export const NEAR_READ = ["version", "signal", "fresh", "waitUntil"];
export const NEAR_WRITE = ["ttl", "version", "signal", "fresh", "waitUntil", "tags"];
export const GET_OR_SET = [...NEAR_WRITE, "hardTimeout", "softTimeout", "lock", "refreshAhead"];
export const SIGNAL_ONLY = ["signal"];

// The options the engine reads (src/wasm.rs, `call_options`), one bit each in `given`: it reads
// only those the caller gave, each a crossing from wasm into JavaScript.
const GIVEN_TTL = 1;
const GIVEN_VERSION = 2;
const GIVEN_TAGS = 4;
const GIVEN_FRESH = 8;
const GIVEN_ABORTED = 16;

// A call's options, each checked and read once into one object of one shape (the engine's
// `CallOptions`), or undefined when none were given (the engine then takes its defaults
// without reading anything). `fresh` skips the near tier; `waitUntil` is given the promise of a
// background refresh (a Worker's ctx.waitUntil); `tags` becomes the JSON text of the list;
// `aborted` is the reason text of a signal that has already fired (the engine refuses the
// call). A new option is a field here (and a bit, if the engine reads it) and in index.d.ts.
export function callOptions(options, allowed) {
  if (options === undefined || options === null) return undefined;
  checkOptions(options, allowed);
  const { ttl, version, signal, fresh, waitUntil, tags, hardTimeout, softTimeout, refreshAhead } = options;
  if (signal !== undefined && !isAbortSignal(signal)) throw new TypeError("signal must be an AbortSignal");
  checkSeconds(hardTimeout, "hardTimeout");
  checkSeconds(softTimeout, "softTimeout");
  if (refreshAhead !== undefined && typeof refreshAhead !== "number") throw new TypeError("refreshAhead must be a fraction of the ttl");
  if (refreshAhead !== undefined && !(refreshAhead > 0 && refreshAhead < 1)) throw new RangeError("refreshAhead must be more than 0 and less than 1");
  optional(fresh, "boolean", "fresh");
  optional(waitUntil, "function", "waitUntil");
  const aborted = abortReason(signal);
  return {
    given:
      (ttl === undefined ? 0 : GIVEN_TTL) |
      (version === undefined ? 0 : GIVEN_VERSION) |
      (tags === undefined ? 0 : GIVEN_TAGS) |
      (fresh === undefined ? 0 : GIVEN_FRESH) |
      (aborted === undefined ? 0 : GIVEN_ABORTED),
    ttl: checkTtl(ttl),
    version: checkVersion(version),
    tags: tags === undefined ? undefined : stringList(tags, "tag"),
    fresh: fresh === true,
    aborted,
    signal,
    waitUntil,
    // getOrSet only (cache.js): seconds a factory may take, seconds before a stale value is
    // served meanwhile, the lock's ttl (false: none), the part of the ttl refreshed ahead.
    hardTimeout,
    softTimeout,
    lock: checkLock(options.lock),
    refreshAhead,
  };
}

// getOrSet's timeouts (per call, or the cache's default): seconds, positive, at most what
// setTimeout can wait.
function checkSeconds(seconds, what) {
  if (seconds === undefined) return;
  optional(seconds, "number", what, " of seconds");
  if (!(seconds > 0 && seconds <= 2_147_483)) throw new RangeError(`${what} must be more than 0 and at most 2147483 seconds`);
}

// Seconds a getOrSet lock lasts unless `lock: { ttl }` says: long enough for most factories,
// short enough that a crashed holder delays its waiters little.
export const LOCK_TTL = 10;

// getOrSet's `lock`: undefined (the cache's default), false (none), or the lock's ttl in seconds
// (true: LOCK_TTL).
function checkLock(lock) {
  if (lock === undefined || lock === false) return lock;
  if (lock === true) return LOCK_TTL;
  if (!isObject(lock)) throw new TypeError("lock must be true, false or { ttl }");
  checkOptions(lock, ["ttl"]);
  const { ttl = LOCK_TTL } = lock;
  checkSeconds(ttl, "lock.ttl");
  return ttl;
}

// undefined (the default), null (never) or a number of seconds.
export function checkTtl(ttl) {
  if (ttl === undefined || ttl === null || typeof ttl === "number") return ttl;
  throw new TypeError("ttl must be a number of seconds or null");
}

// undefined (the default), null (none), a string or an integer.
function checkVersion(version) {
  if (version === undefined || version === null || typeof version === "number") return version;
  if (typeof version === "string") return checkString(version, "version");
  throw new TypeError("version must be a string or an integer");
}

// incr/decr's delta: undefined (1) or a number.
export function checkDelta(delta) {
  if (delta === undefined || typeof delta === "number") return delta;
  throw new TypeError("delta must be a number");
}

const CACHE_OPTIONS = ["keyPrefix", "version", "ttl", "maxEntries", "token", "timeout", "retries", "autoPipeline", "fetch", "near", "grace", "onEvent", "tagged", "compress", "hardTimeout", "lock"];
const NEAR_NUMBERS = ["ttl", "swr", "maxEntries"];
const NEAR_OPTIONS = [...NEAR_NUMBERS, "bus"];

// The constructor's options with their types checked: the one object the engine reads them
// from (src/wasm.rs, `CacheOptions`). `timeout`, `autoPipeline` and `fetch` are the transport's,
// used (and so checked) in JavaScript only; `timeout` defaults to 5000 ms: long enough for a
// slow region, short enough that a hung connection does not hold a call long.
export function cacheOptions(options) {
  if (options === undefined || options === null) options = {};
  checkOptions(options, CACHE_OPTIONS);
  const { keyPrefix, maxEntries, token, timeout = 5000, retries, autoPipeline = true, fetch } = options;
  if (keyPrefix !== undefined) checkString(keyPrefix, "keyPrefix");
  if (token !== undefined) checkString(token, "token");
  optional(maxEntries, "number", "maxEntries");
  optional(retries, "number", "retries");
  optional(timeout, "number", "timeout", " of milliseconds");
  // setTimeout takes a 32-bit signed integer of milliseconds, and more than a day is a mistake.
  if (!(timeout > 0 && timeout <= 86_400_000)) throw new RangeError("timeout must be from 1 to 86400000 milliseconds");
  optional(autoPipeline, "boolean", "autoPipeline");
  optional(fetch, "function", "fetch");
  optional(options.onEvent, "function", "onEvent");
  optional(options.tagged, "boolean", "tagged");
  const near = nearOptions(options.near);
  optional(options.grace, "number", "grace", " of seconds");
  checkSeconds(options.hardTimeout, "hardTimeout");
  return {
    hardTimeout: options.hardTimeout,
    lock: checkLock(options.lock),
    compress: compressOptions(options.compress),
    near,
    grace: options.grace,
    onEvent: options.onEvent,
    tagged: options.tagged === true,
    keyPrefix,
    version: checkVersion(options.version),
    ttl: checkTtl(options.ttl),
    maxEntries,
    token,
    retries,
    transport: { timeout: Math.ceil(timeout), autoPipeline, fetch },
  };
}

// Stored texts longer than this many characters are compressed when `compress` is on: below
// about 1 KiB gzip's header and base64 make a text longer, not shorter.
const COMPRESS_THRESHOLD = 1024;

// `compress`: undefined or false (off), true (the default threshold), or { threshold }. Used in
// JavaScript only (cache.js), where the runtime's CompressionStream is.
function compressOptions(compress) {
  if (compress === undefined || compress === false) return null;
  if (compress === true) return { threshold: COMPRESS_THRESHOLD };
  if (!isObject(compress)) throw new TypeError("compress must be true, false or an object");
  checkOptions(compress, ["threshold"]);
  const { threshold = COMPRESS_THRESHOLD } = compress;
  optional(threshold, "number", "compress.threshold", " of characters");
  if (!(threshold >= 0 && threshold <= Number.MAX_SAFE_INTEGER)) throw new RangeError("compress.threshold must be 0 or more characters");
  return { threshold };
}

// `near`: undefined or false (off), true (the defaults), or { ttl, swr, maxEntries } numbers.
function nearOptions(near) {
  if (near === undefined || near === false) return undefined;
  if (near === true) return {};
  if (!isObject(near)) throw new TypeError("near must be true, false or an object");
  checkOptions(near, NEAR_OPTIONS);
  for (const name of NEAR_NUMBERS) {
    optional(near[name], "number", `near.${name}`);
  }
  optional(near.bus, "boolean", "near.bus");
  return near;
}

function describe(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value;
}

// Bytes (a whole value that is a Uint8Array or an ArrayBuffer) are stored as this marker and
// their base64: no JSON text starts with `#` (docs/decisions/0007).
const BYTES = "#bytes:";

// JSON.stringify silently turns NaN and the infinities into null, drops undefined, functions
// and symbols, and writes a Map, a Set or a typed array as `{}` or `{"0":1,...}`; a cache that
// did the same would hand back something else than was stored. The replacer refuses them
// instead (BigInt and cycles JSON.stringify refuses itself).
function strictReplacer(key, value) {
  switch (typeof value) {
    case "object":
      if (value instanceof Map || value instanceof Set || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
        const what = value.constructor?.name ?? "binary object";
        const hint = key === "" ? ": only a Uint8Array or an ArrayBuffer is stored as bytes" : ": bytes are stored only as a whole value";
        throw new TypeError(`cannot store a ${what}${where(key)}${key === "" && (value instanceof Map || value instanceof Set) ? ": JSON has no " + what : hint}`);
      }
      return value;
    case "number":
      if (!Number.isFinite(value)) throw new RangeError(`cannot store ${value}${where(key)}: JSON has no NaN or Infinity`);
      return value;
    case "undefined":
      // An object property that is undefined is left out, as JSON does: that is what an
      // optional field means. Anywhere else it would turn into null or vanish.
      if (key !== "" && !Array.isArray(this)) return undefined;
      throw new TypeError(`cannot store undefined${where(key)}`);
    case "function":
    case "symbol":
      throw new TypeError(`cannot store a ${typeof value}${where(key)}: it is not JSON`);
    case "bigint":
      throw new TypeError(`cannot store a BigInt${where(key)}: JSON has no BigInt (store it as a string)`);
    default:
      return value;
  }
}

function where(key) {
  return key === "" ? "" : ` (at "${key}")`;
}

// A value's JSON text. The replacer is a call from the engine's JSON.stringify into JavaScript
// per value, so plain data is checked by a walk the JIT compiles and then stringified without
// one; anything else (a toJSON, a class instance, a Map, a cycle, deep nesting) takes the
// replacer, which gives the same text and the precise error.
export function encodeValue(value) {
  if (value instanceof Uint8Array) return BYTES + toBase64(value);
  if (value instanceof ArrayBuffer) return BYTES + toBase64(new Uint8Array(value));
  return isPlainJson(value, 0) ? JSON.stringify(value) : JSON.stringify(value, strictReplacer);
}

function toBase64(bytes) {
  let binary = "";
  // fromCharCode takes its arguments on the stack: a chunk at a time.
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

const MAX_PLAIN_DEPTH = 64;

// True when JSON.stringify would write `value` exactly as it is: strings, finite numbers,
// booleans, null, arrays of those and plain objects of those (an undefined property is left
// out, as the replacer allows).
function isPlainJson(value, depth) {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value);
    case "object": {
      if (value === null) return true;
      if (depth === MAX_PLAIN_DEPTH || typeof value.toJSON === "function") return false;
      const proto = Object.getPrototypeOf(value);
      if (proto === Array.prototype) {
        for (let i = 0; i < value.length; i++) if (!isPlainJson(value[i], depth + 1)) return false;
        return true;
      }
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key of Object.keys(value)) {
        const item = value[key];
        if (item !== undefined && !isPlainJson(item, depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

// A compressed entry: `#gzip:` and the base64 of the gzip of the stored text it holds (JSON, or
// bytes' marked text). Every instance reads one, whatever its own `compress` (decisions/0008).
const GZIP = "#gzip:";

/** The stored form of `text`, gzipped with the runtime's own CompressionStream. */
export async function compressText(text) {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return GZIP + toBase64(new Uint8Array(await new Response(stream).arrayBuffer()));
}

async function decompressed(text) {
  const stream = new Blob([fromBase64(text.slice(GZIP.length))]).stream().pipeThrough(new DecompressionStream("gzip"));
  return decodeValue(await new Response(stream).text());
}

// A stored text as the value it holds (a promise of it for a compressed entry). Python's
// json.dumps writes NaN, Infinity and -Infinity (JSON has no such numbers): those are read as
// the numbers Python meant. Any other text that is not JSON, written by another client, comes
// back as the raw string.
export function decodeValue(text) {
  if (text.charCodeAt(0) === 35 && text.startsWith(GZIP)) return decompressed(text);
  if (text.charCodeAt(0) === 35 && text.startsWith(BYTES)) {
    try {
      return fromBase64(text.slice(BYTES.length));
    } catch {
      return text;
    }
  }
  try {
    return JSON.parse(text);
  } catch {
    return pythonJson(text) ?? text;
  }
}

// `text` with Python's NaN, Infinity and -Infinity outside strings, or undefined. Each such
// token is replaced by a string no stored text can hold (it carries a random tag), which the
// reviver turns back into the number.
function pythonJson(text) {
  const tag = `\u0000edge-caches ${Math.random()}:`;
  const numbers = { NaN, Infinity, "-Infinity": -Infinity };
  let out = "";
  let start = 0;
  let found = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      // Past the string: an escaped quote does not end it.
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
      continue;
    }
    const token = c === "N" ? "NaN" : c === "I" ? "Infinity" : c === "-" && text[i + 1] === "I" ? "-Infinity" : null;
    if (token === null || !text.startsWith(token, i)) continue;
    out += text.slice(start, i) + JSON.stringify(tag + token);
    i += token.length - 1;
    start = i + 1;
    found = true;
  }
  if (!found) return undefined;
  try {
    return JSON.parse(out + text.slice(start), (key, value) =>
      typeof value === "string" && value.startsWith(tag) ? numbers[value.slice(tag.length)] : value,
    );
  } catch {
    return undefined;
  }
}

// getMany's answer: each requested key, as the caller spelt it, to its decoded value or null.
// A key named "__proto__" is defined as an own property like any other instead of replacing
// the result's prototype.
export function manyResult(keys, texts) {
  const values = texts.map((text) => (text === null ? null : decodeValue(text)));
  if (values.some((value) => value instanceof Promise)) return Promise.all(values).then((all) => keyed(keys, all));
  return keyed(keys, values);
}

function keyed(keys, values) {
  const result = {};
  for (let i = 0; i < keys.length; i++) {
    const value = values[i];
    if (keys[i] === "__proto__") {
      Object.defineProperty(result, keys[i], { value, writable: true, enumerable: true, configurable: true });
    } else {
      result[keys[i]] = value;
    }
  }
  return result;
}

function isAbortSignal(value) {
  return typeof AbortSignal === "function" ? value instanceof AbortSignal : typeof value?.addEventListener === "function" && "aborted" in value;
}

// What the engine takes of a call's signal: undefined unless it has fired, then its reason's text.
export function abortReason(signal) {
  if (signal === undefined || !signal.aborted) return undefined;
  const reason = signal.reason;
  return reason === undefined ? "" : String(reason?.message ?? reason);
}

// An environment variable: from `env` when given (a Workers env), else process.env (Node,
// Bun), else Deno.env (which throws without --allow-env: then it is simply not set).
export function envValue(env, name) {
  if (env !== undefined && env !== null) {
    const value = env[name];
    return typeof value === "string" && value !== "" ? value : undefined;
  }
  const fromProcess = globalThis.process?.env?.[name];
  if (typeof fromProcess === "string" && fromProcess !== "") return fromProcess;
  try {
    return globalThis.Deno?.env?.get(name) || undefined;
  } catch {
    return undefined;
  }
}
