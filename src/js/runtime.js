// The JavaScript half of the wasm boundary (src/js/mod.rs imports these functions).
// JSON and type checks stay in JavaScript: the engine already has them, so the wasm need not
// carry a JSON library, and a value crosses into wasm once, as the text that gets stored.

export class CacheError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "CacheError";
    this.code = code;
  }
}

export function cacheError(code, message) {
  return new CacheError(code, message);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const isWellFormed = String.prototype.isWellFormed
  ? (s) => s.isWellFormed()
  : (s) => !LONE_SURROGATE.test(s);

// A key (or version, or prefix) must be a well-formed string: converting a lone surrogate to
// UTF-8 would silently turn distinct keys into the same one.
export function checkString(value, what) {
  if (typeof value !== "string") {
    throw new TypeError(`${what} must be a string, got ${describe(value)}`);
  }
  if (!isWellFormed(value)) {
    throw new TypeError(`${what} is not well-formed Unicode (it has a lone surrogate)`);
  }
  return value;
}

// A list of keys, checked here and handed to the core as one JSON text: one crossing for the
// whole list instead of one per key (about a micro-second of a getMany of ten). An array only:
// a string is iterable too, so "any iterable" would take getMany("abc") as three keys.
export function keyList(keys) {
  if (!Array.isArray(keys)) throw new TypeError("keys must be an array of strings");
  for (let i = 0; i < keys.length; i++) checkString(keys[i], "key");
  return JSON.stringify(keys);
}

// An options object naming only `allowed` options (an array of names). Unknown names are a
// TypeError: a misspelt `verison` silently reading another key, or a `keyPrefx` silently
// ignored, would be worse.
function checkOptions(options, allowed) {
  if (typeof options !== "object" || options === null || Array.isArray(options)) throw new TypeError("options must be an object");
  for (const name of Object.keys(options)) {
    if (!allowed.includes(name)) throw new TypeError(`unknown option '${name}' (known: ${allowed.join(", ")})`);
  }
}

// The constructor's options, for the core (src/js/settings.rs), which names them in one
// comma-separated list and then reads each.
export function checkOptionNames(options, list) {
  checkOptions(options, list.split(","));
}

// A call's options, as the core takes them: `{ ttl, version, signal }` for writes, `{ version,
// signal }` for reads, `{ signal }` for clear(), each read once. Read here, not in wasm: from
// there each property is a crossing, and each name a string to make (reading `{ ttl }` cost
// 2.4 µs of a 5 µs `set` in the core). The core checks `ttl` and `version` themselves.
const NO_OPTIONS = Object.freeze({ ttl: undefined, version: undefined, signal: undefined });

export function callOptions(options, allowed) {
  if (options === undefined || options === null) return NO_OPTIONS;
  checkOptions(options, allowed);
  const signal = options.signal;
  if (signal !== undefined && !isAbortSignal(signal)) throw new TypeError("signal must be an AbortSignal");
  return { ttl: options.ttl, version: options.version, signal };
}

function describe(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value;
}

// JSON.stringify silently turns NaN and the infinities into null and drops undefined,
// functions and symbols; a cache that did the same would hand back something else than was
// stored. The replacer refuses them instead (BigInt and cycles JSON.stringify refuses itself).
function strictReplacer(key, value) {
  switch (typeof value) {
    case "number":
      if (!Number.isFinite(value)) {
        throw new RangeError(`cannot store ${value}${where(key)}: JSON has no NaN or Infinity`);
      }
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

// The replacer costs a call from the engine's JSON.stringify into JavaScript per value (7% of
// a `set` of a small object with a stubbed fetch, in a profile). Plain data is checked by a walk the
// JIT compiles instead and then stringified without one; anything else (a toJSON, a class
// instance, a Map, a boxed number, a cycle, very deep nesting) takes the replacer, which gives
// the same text and the precise error.
export function encodeValue(value) {
  return isPlainJson(value, 0) ? JSON.stringify(value) : JSON.stringify(value, strictReplacer);
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

// A value another client wrote that is not JSON comes back as the raw string.
export function decodeValue(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// getMany's answer: each requested key, as the caller spelt it, to its decoded value or null.
// A key named "__proto__" is defined as an own property like any other instead of replacing
// the result's prototype (a plain loop otherwise: Object.fromEntries over pairs costs more).
export function manyResult(keys, texts) {
  const result = {};
  for (let i = 0; i < keys.length; i++) {
    const value = texts[i] === null ? null : decodeValue(texts[i]);
    if (keys[i] === "__proto__") {
      Object.defineProperty(result, keys[i], { value, writable: true, enumerable: true, configurable: true });
    } else {
      result[keys[i]] = value;
    }
  }
  return result;
}

export const parseNumber = Number;
export const formatNumber = String;

// One HTTP request of the REST backend (npm/cache.js sends through this): `answered` gets
// [status, body bytes], `failed` the error; exactly one of them is called, once. Callbacks
// rather than a returned promise: each promise between the fetch and the caller is another
// turn of the microtask queue (a `get` with a stubbed fetch: 20.6 -> 19.1 µs, medians of seven
// alternating runs, when the promise chain gave way to these callbacks). The
// core reads the bytes as they came, so an answer is never decoded into a JavaScript string
// only to be encoded back into wasm memory. Only method, headers, body and signal are set:
// Cloudflare Workers reject `cache`, `mode` and `credentials` on many compatibility dates. The
// global fetch is looked up per call, so a fetch installed after import (a test stub, a
// polyfill) is the one used.
//
// The timeout fails the request (see `watch`). The fetch itself is cancelled
// through an AbortController shared by the requests of a period: making a controller and its
// signal costs about 3 µs in Node (a tenth of a whole call with a stubbed fetch), and Node's
// AbortSignal.timeout() about 50 µs. When a request times out, its controller is retired
// (later requests get a new one) and aborted once none of its requests can still succeed in
// time, so a request never loses its answer because another one was late. A controller is also
// retired after LEASE_REQUESTS requests: Node's fetch (undici) adds an abort listener to the
// signal of each request and removes it only when that request is garbage-collected, so one
// signal for every request gathered up to thousands of listeners, each new request scanned them
// all, and Node printed MaxListenersExceededWarning under load (tests/rest: "is never given a
// signal that many requests listen on"). Against the gateway, rotating took one caller from
// 2,750 to 2,939 calls/s, and 64 callers without pipelining from 9.1 to 6.6 s for 32,000 gets
// (medians of five alternating runs); a controller every 32 requests costs about 0.1 µs each.
// In Node a signal warns past 10 listeners (events.defaultMaxListeners), and a fetch of the
// caller's listens on each request's signal as undici does, without raising the limit as
// undici does: the Node entry hands in events.setMaxListeners (see `useNode`), and each
// controller's limit is raised to the requests it serves.
let lease = null; // { controller, waiting: requests not yet settled, late: one timed out, uses }
const LEASE_REQUESTS = 32;
let setMaxListeners = null;

function newLease() {
  const controller = new AbortController();
  setMaxListeners?.(LEASE_REQUESTS, controller.signal);
  return { controller, waiting: 0, late: false, uses: 0 };
}

export function post(fetchFn, url, headers, body, timeoutMs, answered, failed) {
  const current = (lease ??= newLease());
  current.waiting++;
  if (++current.uses === LEASE_REQUESTS) lease = null;
  // Settles the request once: the answer, or the timeout, whichever comes first.
  let deadline;
  const settle = (done, late) => (value) => {
    if (deadline === undefined) return;
    unwatch(deadline);
    deadline = undefined;
    if (late) {
      current.late = true;
      if (lease === current) lease = null;
    }
    try {
      done(value);
    } finally {
      if (--current.waiting === 0 && current.late) current.controller.abort();
    }
  };
  const expire = settle(failed, true);
  const fail = settle(failed, false);
  const done = settle(answered, false);
  deadline = watch(timeoutMs, () => expire(new DOMException(`no answer within ${timeoutMs} ms`, "TimeoutError")));
  let answer;
  try {
    answer = (fetchFn ?? fetch)(url, { method: "POST", headers, body, signal: current.controller.signal });
  } catch (error) {
    // A given fetch that throws instead of rejecting: settled now, not when the timer fires.
    return fail(error);
  }
  // Not `.then(response => response.arrayBuffer())`: a promise returned from a reaction is
  // adopted in two more turns of the queue. Whatever a given fetch resolves with, a throw here
  // fails the request (nothing may escape as an unhandled rejection).
  Promise.resolve(answer).then((response) => {
    let status, reading;
    try {
      status = response.status;
      reading = response.arrayBuffer();
    } catch (error) {
      return fail(error);
    }
    Promise.resolve(reading).then((bytes) => {
      let reply;
      try {
        reply = [status, new Uint8Array(bytes)];
      } catch (error) {
        return fail(error);
      }
      done(reply);
    }, fail);
  }, fail);
}

// Request deadlines. Where a timer can be unref'd (Node and Bun, which node.js is the entry
// of), the requests with the same timeout wait in one queue, in the order they were sent and so
// in the order of their deadlines, under one timer set for the oldest; when none is waiting the
// timer is unref'd and left to lapse instead of cleared, so a caller awaiting call after call
// does not make and drop a timer each time. In Node that was about 2 µs of a 19 µs `get` with
// a stubbed fetch: Node keeps a timer list per duration, and a list made and dropped on every
// call is the costly part. Elsewhere each request has its own timer: in Workers a timer belongs
// to the request (the event) that set it and is cancelled with it, so one shared across events
// could be gone when a later event's request needs it, and Deno's test sanitizer counts a
// lapsing timer as a leak.
let sharedTimers = false;
// timeout ms -> { items: deadlines in order, head: the first that may be waiting, waiting, timer }
// (the timer is unref'd exactly when `waiting` is 0)
const queues = new Map();

// What the Node (and Bun) entry hands in: there timers can be unref'd, so requests share them,
// and node:events' setMaxListeners (see `post`).
export function useNode(events) {
  sharedTimers = true;
  setMaxListeners = events.setMaxListeners;
}

function watch(ms, expire) {
  if (!sharedTimers) return setTimeout(expire, ms);
  let queue = queues.get(ms);
  if (queue === undefined) queues.set(ms, (queue = { items: [], head: 0, waiting: 0, timer: undefined }));
  const deadline = { at: performance.now() + ms, expire, queue };
  queue.items.push(deadline);
  if (queue.timer === undefined) queue.timer = setTimeout(lapse, ms, queue);
  else if (queue.waiting === 0) queue.timer.ref();
  queue.waiting++;
  return deadline;
}

function unwatch(deadline) {
  if (!sharedTimers) return clearTimeout(deadline);
  const queue = deadline.queue;
  deadline.expire = null;
  queue.waiting--;
  const items = queue.items;
  while (queue.head < items.length && items[queue.head].expire === null) queue.head++;
  if (queue.waiting === 0) {
    items.length = 0;
    queue.head = 0;
    queue.timer?.unref();
  } else if (items.length > 64 && items.length > 4 * queue.waiting) {
    // Settled requests behind one still waiting: dropped once they are most of the queue, so
    // a stalled request does not hold a record of every request sent during its timeout.
    queue.items = items.filter((d) => d.expire !== null);
    queue.head = 0;
  }
}

// The queue's timer: expires every request past its deadline, and sets the timer again for the
// oldest still waiting (before expiring them: an expiry's callbacks may send again).
function lapse(queue) {
  queue.timer = undefined;
  const now = performance.now();
  const due = [];
  for (let i = queue.head; i < queue.items.length; i++) {
    const deadline = queue.items[i];
    if (deadline.expire === null) continue;
    if (deadline.at > now) {
      queue.timer = setTimeout(lapse, Math.ceil(deadline.at - now), queue);
      break;
    }
    due.push(deadline);
  }
  for (const deadline of due) deadline.expire?.();
}

// How a failed request failed: "TIMEOUT", "ABORTED" or "NETWORK", what the error said, and
// whether the request provably never left (the connection was refused or the name did not
// resolve: then even an incr may be sent again). Each runtime says it its own way: Node's
// undici in `cause.code`, Bun in `code`, Deno and workerd in the message.
const UNSENT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ConnectionRefused"]);
const UNSENT_TEXT = /connection refused|dns error|failed to lookup address/i;

export function failure(error) {
  const name = error?.name;
  const kind = name === "TimeoutError" ? "TIMEOUT" : name === "AbortError" ? "ABORTED" : "NETWORK";
  const cause = error?.cause;
  const unsent =
    kind === "NETWORK" &&
    (UNSENT_CODES.has(cause?.code) || UNSENT_CODES.has(error?.code) || UNSENT_TEXT.test(`${error?.message} ${cause?.message}`));
  // Node's "fetch failed" says nothing by itself: the cause says ECONNREFUSED or the like.
  const detail = cause?.code ?? cause?.message;
  const message = String(error?.message ?? error) + (detail ? ` (${detail})` : "");
  return [kind, message, unsent];
}

// A retry's backoff, with jitter: between half and all of `ms`.
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms * (0.5 + Math.random() / 2)));
}

// A call with a `signal`: rejects with ABORTED when the signal fires first. The work itself
// goes on (a batched command may already be on its way), but the caller stops waiting.
export function withSignal(promise, signal) {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(abortedError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    const settle = (done) => (value) => {
      signal.removeEventListener("abort", onAbort);
      done(value);
    };
    promise.then(settle(resolve), settle(reject));
  });
}

export function abortedError(signal) {
  return new CacheError("ABORTED", `the call was aborted${reasonText(signal.reason)}`);
}

function reasonText(reason) {
  if (reason === undefined) return "";
  return `: ${reason?.message ?? String(reason)}`;
}

function isAbortSignal(value) {
  return typeof AbortSignal === "function" ? value instanceof AbortSignal : typeof value?.addEventListener === "function" && "aborted" in value;
}

// An environment variable: from `env` when given (a Workers env), else process.env (Node,
// Bun), else Deno.env (which throws without --allow-env: then it is simply not set).
export function envValue(env, name) {
  if (env !== undefined && env !== null) {
    const value = env[name];
    return typeof value === "string" ? value : undefined;
  }
  const fromProcess = globalThis.process?.env?.[name];
  if (typeof fromProcess === "string") return fromProcess;
  try {
    return globalThis.Deno?.env?.get(name);
  } catch {
    return undefined;
  }
}
