// The `Cache` class users import. A call reads its arguments (arguments.js: types checked, values
// as JSON text, options as one object), asks the engine (the wasm `Engine`, src/engine/) once,
// and gets back its outcome (memory, dummy), a `RestRequest` for the transport to send (REST),
// or an error report. The engine reads the answer, which gives the outcome (or, in clear()'s
// walk, the next request). docs/architecture.md follows a call through in full.
import { Engine, RestRequest, abortedError, freedError } from "./wasm.js";
import {
  GET_OR_SET,
  NEAR_READ,
  READ,
  SIGNAL_ONLY,
  TAGGED_WRITE,
  abortReason,
  cacheOptions,
  callOptions,
  checkDelta,
  checkString,
  checkTtl,
  compressText,
  decodeValue,
  encodeValue,
  entryLists,
  entryTexts,
  envValue,
  isObject,
  manyResult,
  stringList,
} from "./arguments.js";
import { Bus } from "./bus.js";
import { CacheError, isReport, thrown, toError } from "./errors.js";
import { Computations } from "./get-or-set.js";
import { Transport } from "./transport.js";
import { REST, readUrl } from "./url.js";

export { CacheError };

const checked = (key) => checkString(key, "key");
const same = (outcome) => outcome;
const value = (dflt) => (text) => (text === null ? dflt : decodeValue(text));
const orNull = value(null);

export class Cache {
  #engine;
  #transport = null; // REST only
  #inFlight = 0;
  #idle = []; // resolvers of disconnect() calls waiting for the calls in flight
  #rejects = new Set(); // of the requests in flight, for free()
  #freed = false;
  #computations; // getOrSet with a function default (get-or-set.js)
  #loading = new Map(); // near tier: stored key -> the promise of the one request reading it
  #near = false;
  #emit; // onEvent, with its exceptions swallowed; undefined without one
  #bus = null; // near.bus on REST: the stream that drops near entries other instances wrote
  #compress = null; // { threshold }: stored texts longer than it are gzipped
  #waiting = null; // while a write's value is being compressed: the calls after it, in call order

  /** `new Cache(url, options?)`: a bad URL or option throws here, not at the first call. */
  constructor(url, options) {
    checkString(url, "url");
    const [backend, location, o] = readUrl(url, cacheOptions(options));
    if (o.onEvent !== undefined) {
      const onEvent = o.onEvent;
      this.#emit = (event) => {
        try {
          // An async callback's rejection is swallowed like a throw.
          const returned = onEvent(event);
          if (typeof returned?.then === "function") returned.then(undefined, () => {});
        } catch {
          // A callback's bug must not break the call it describes.
        }
      };
    }
    try {
      this.#engine = new Engine(backend, location, o);
    } catch (error) {
      throw thrown(error);
    }
    if (backend === REST) this.#transport = new Transport(this.#engine, location, o.token, o.transport, this.#emit);
    if (this.#engine.busChannel !== undefined) this.#bus = new Bus(this.#engine, this.#transport, this.#emit);
    this.#near = this.#engine.hasNearTier;
    this.#compress = o.compress;
    this.#computations = new Computations(this.#engine, (plan, waitUntil) => this.#step(plan, waitUntil), this.#emit, { near: this.#near, compress: o.compress, hardTimeout: o.hardTimeout, lock: o.lock });
  }

  // The engine's notes of what reads found, as events.
  #drain() {
    const notes = this.#engine.takeEvents();
    for (let i = 0; i < notes.length; i += 2) this.#emit(keyEvent(notes[i], notes[i + 1]));
  }

  // A call's error, as an `error` event when it is a CacheError.
  #failure(error) {
    if (this.#emit !== undefined && error instanceof CacheError) this.#emit({ type: "error", code: error.code, message: error.message });
    return error;
  }

  /** Upstash's read-your-writes token ("" until a response carries one); see the README. */
  get syncToken() {
    return this.#transport?.syncToken ?? "";
  }

  set syncToken(token) {
    if (typeof token !== "string") throw new TypeError("syncToken must be a string");
    if (this.#transport) this.#transport.syncToken = token;
  }

  /** Counters since construction: near-tier hits and misses, stale values served, HTTP requests. */
  get stats() {
    const [nearHits, nearMisses, staleServed] = this.#engine.stats;
    return {
      nearHits,
      nearMisses,
      staleServed,
      requests: this.#transport?.requests ?? 0,
      busUp: this.#bus?.up ?? false,
    };
  }

  /**
   * A REST cache from UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN (or Vercel's
   * KV_REST_API_URL and KV_REST_API_TOKEN), read from `env` or else process.env / Deno.env.
   * A token in `options` wins over the environment's.
   */
  static fromEnv(env, options) {
    const read = (names) => envValue(env, names[0]) ?? envValue(env, names[1]);
    const url = read(["UPSTASH_REDIS_REST_URL", "KV_REST_API_URL"]);
    if (url === undefined) throw new CacheError("CONFIG", "UPSTASH_REDIS_REST_URL (or KV_REST_API_URL) is not set");
    const token = read(["UPSTASH_REDIS_REST_TOKEN", "KV_REST_API_TOKEN"]);
    const plain = options === undefined || options === null || isObject(options);
    const withToken = token !== undefined && plain && options?.token === undefined ? { ...options, token } : options;
    return new this(url, withToken);
  }

  get connected() {
    return !this.#freed && this.#engine.connected;
  }

  connect() {
    if (this.#freed) return Promise.reject(toError(freedError()));
    const refused = this.#engine.connect();
    if (refused !== undefined) return Promise.reject(toError(refused));
    this.#bus?.start();
    return Promise.resolve();
  }

  /** Stops admitting calls at once and resolves when the calls in flight have settled. */
  disconnect() {
    if (this.#freed) return Promise.reject(toError(freedError()));
    const refused = this.#engine.disconnect();
    if (refused !== undefined) return Promise.reject(toError(refused));
    this.#bus?.stop();
    return this.#inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.#idle.push(resolve));
  }

  // `await using cache = new Cache(...)`: disconnects, and is a no-op when already disconnected.
  async [Symbol.asyncDispose ?? Symbol.for("Symbol.asyncDispose")]() {
    if (this.connected) await this.disconnect();
  }

  /**
   * Frees the engine's wasm memory. Calls in flight reject with NOT_CONNECTED at once (their
   * requests may still run), and so does every later call.
   */
  free() {
    if (this.#freed) return;
    this.#freed = true;
    this.#bus?.stop();
    this.#transport?.close();
    const error = toError(freedError());
    for (const reject of this.#rejects) reject(error);
    this.#rejects.clear();
    this.#engine.free();
    this.#inFlight = 0;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  get(key, dflt, options) {
    // `get(key)` misses with null, as the Python original's None.
    return this.#call(options, NEAR_READ, (o) => this.#engine.get(checked(key), o), dflt === undefined ? orNull : value(dflt));
  }

  set(key, val, options) {
    if (this.#compress !== null) return this.#write(val, (text) => this.#call(options, TAGGED_WRITE, (o) => this.#engine.set(checked(key), text, o), same, true));
    return this.#call(options, TAGGED_WRITE, (o) => this.#engine.set(checked(key), encodeValue(val), o), same);
  }

  add(key, val, options) {
    if (this.#compress !== null) return this.#write(val, (text) => this.#call(options, TAGGED_WRITE, (o) => this.#engine.add(checked(key), text, o), same, true));
    return this.#call(options, TAGGED_WRITE, (o) => this.#engine.add(checked(key), encodeValue(val), o), same);
  }

  /**
   * A plain default is stored in one step (store-if-missing, else read what is there); a
   * function default is computed only on a miss, once per key however many calls overlap (they
   * share the first call's result), and then added, so a value another writer stored meanwhile
   * wins.
   */
  getOrSet(key, dflt, options) {
    if (this.#waiting !== null) return this.#after(undefined, () => this.#getOrSet(key, dflt, options));
    return this.#getOrSet(key, dflt, options);
  }

  #getOrSet(key, dflt, options) {
    if (typeof dflt !== "function") {
      if (this.#compress !== null) return this.#write(dflt, (text) => this.#call(options, GET_OR_SET, (o) => this.#engine.getOrSet(checked(key), text, o), value(dflt), true));
      return this.#call(options, GET_OR_SET, (o) => this.#engine.getOrSet(checked(key), encodeValue(dflt), o), value(dflt), true);
    }
    let o;
    let stored;
    try {
      this.#live();
      o = callOptions(options, GET_OR_SET);
      stored = this.#engine.getOrSetKey(checked(key), o);
    } catch (error) {
      return Promise.reject(error);
    }
    if (isReport(stored)) return Promise.reject(this.#failure(toError(stored)));
    const call = this.#computations.share(stored, dflt, o);
    if (call.stale !== undefined) return Promise.resolve(decodeValue(call.stale));
    // Each caller waits until the computation settles or its own signal fires; disconnect()
    // does not wait for a computation no one awaits (if it settles later, its value is still
    // added).
    this.#inFlight++;
    let waiting = true;
    const leave = () => {
      if (!waiting) return;
      waiting = false;
      this.#settled();
      call.leave();
    };
    call.promise.then(leave, leave);
    // The calls share the stored text; each decodes a copy of its own.
    const result = this.#signal(call.promise.then(decodeValue), o?.signal);
    result.catch(leave);
    return result;
  }

  getMany(keys, options) {
    let names;
    const plan = (o) => {
      const step = this.#engine.getMany(stringList(keys), o);
      names = keys.slice(); // as the caller spelt them, as they were at the call
      return step;
    };
    return this.#call(options, NEAR_READ, plan, (texts) => manyResult(names, texts));
  }

  /** `mapping` is a plain object or a `Map` of keys to values. */
  setMany(mapping, options) {
    if (this.#compress !== null) {
      let keys, texts;
      try {
        [keys, texts] = entryTexts(mapping);
      } catch (error) {
        return Promise.reject(error);
      }
      const { threshold } = this.#compress;
      const write = (stored) => this.#call(options, TAGGED_WRITE, (o) => this.#engine.setMany(JSON.stringify(keys), JSON.stringify(stored), o), same, true);
      if (texts.every((text) => text.length <= threshold) && this.#waiting === null) return write(texts);
      return this.#after(Promise.all(texts.map((text) => (text.length > threshold ? compressText(text) : text))), write);
    }
    const plan = (o) => {
      const [keys, values] = entryLists(mapping);
      return this.#engine.setMany(keys, values, o);
    };
    return this.#call(options, TAGGED_WRITE, plan, same);
  }

  /** Every entry written with one of `tags` before now reads as missing, through any instance. */
  invalidateTags(tags, options) {
    return this.#call(options, SIGNAL_ONLY, (o) => this.#engine.invalidateTags(stringList(tags, "tag"), o), same);
  }

  delete(key, options) {
    return this.#call(options, READ, (o) => this.#engine.delete(checked(key), o), same);
  }

  deleteMany(keys, options) {
    return this.#call(options, READ, (o) => this.#engine.deleteMany(stringList(keys), o), same);
  }

  /** With a key prefix, deletes only this cache's keys; without one, everything in the store. */
  clear(options) {
    return this.#call(options, SIGNAL_ONLY, (o) => this.#engine.clear(o), same);
  }

  touch(key, ttl, options) {
    return this.#call(options, READ, (o) => this.#engine.touch(checked(key), checkTtl(ttl), o), same);
  }

  incr(key, delta, options) {
    return this.#call(options, READ, (o) => this.#engine.incr(checked(key), checkDelta(delta), o), same);
  }

  decr(key, delta, options) {
    return this.#call(options, READ, (o) => this.#engine.incr(checked(key), -(checkDelta(delta) ?? 1), o), same);
  }

  // One call: its `options` (of the names `allowed`) are read into one object (undefined when
  // none were given), then `plan` checks its other arguments and asks the engine, which answers
  // with the outcome, a request or an error report. `finish` makes the method's result from the
  // outcome.
  #call(options, allowed, plan, finish, ordered = false) {
    if (this.#waiting !== null && !ordered) return this.#after(undefined, () => this.#call(options, allowed, plan, finish, true));
    let o;
    let step;
    try {
      this.#live();
      o = callOptions(options, allowed);
      step = plan(o);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#emit !== undefined) this.#drain();
    if (step instanceof RestRequest) return this.#signal(this.#send(step, finish), o?.signal);
    if (isReport(step)) return Promise.reject(this.#failure(toError(step)));
    if (isRefresh(step)) step = this.#refresh(step, o?.waitUntil);
    try {
      return Promise.resolve(finish(step));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  // A write of `val`'s stored text (`write(text)` makes the call): compressed first when it is
  // longer than `compress.threshold`, the calls made meanwhile waiting behind it in call order.
  #write(val, write) {
    let text;
    try {
      text = encodeValue(val);
    } catch (error) {
      return Promise.reject(error);
    }
    const big = text.length > this.#compress.threshold;
    if (!big && this.#waiting === null) return write(text);
    return this.#after(big ? compressText(text) : text, write);
  }

  // `start(value)` once `ready` (a value, or a promise of it) is and the calls before it have
  // started: what keeps calls in call order behind a write being compressed. The calls that are
  // ready start together, in one turn, so they share one request as calls of one tick do.
  #after(ready, start) {
    const waiting = (this.#waiting ??= []);
    return new Promise((resolve) => {
      const call = { ready: !(ready instanceof Promise), value: ready, failed: false, start, resolve };
      waiting.push(call);
      if (call.ready) {
        if (waiting.length === 1) this.#startReady();
        return;
      }
      ready.then(
        (value) => Object.assign(call, { ready: true, value }),
        (error) => Object.assign(call, { ready: true, value: error, failed: true }),
      ).then(() => this.#startReady());
    });
  }

  #startReady() {
    const waiting = this.#waiting;
    while (waiting.length > 0 && waiting[0].ready) {
      const call = waiting.shift();
      call.resolve(call.failed ? Promise.reject(call.value) : call.start(call.value));
    }
    if (waiting.length === 0 && this.#waiting === waiting) this.#waiting = null;
  }

  // Throws NOT_CONNECTED once the cache is freed (its engine is gone).
  #live() {
    if (this.#freed) throw toError(freedError());
  }

  // A call's `signal` ends the wait early (the request itself goes on: a batched command may
  // already be on its way).
  #signal(promise, signal) {
    return signal === undefined ? promise : withSignal(promise, signal);
  }

  #settled() {
    if (this.#freed) return; // free() let go of the count
    if (--this.#inFlight === 0 && this.#idle.length > 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  // A request to the call's result, counted in flight until it settles. What the engine makes
  // of an answer may be another request (clear()'s walk): that is sent in turn.
  #request(request, finish) {
    this.#inFlight++;
    return new Promise((resolve, reject) => {
      this.#rejects.add(reject);
      const done = (result) => {
        if (this.#emit !== undefined) this.#drain();
        if (result instanceof RestRequest) return this.#transport.send(result, done);
        this.#rejects.delete(reject);
        this.#settled();
        if (isReport(result)) return reject(this.#failure(toError(result)));
        // What describing a fetch's failure threw.
        if (result instanceof Error) return reject(result);
        try {
          resolve(finish(result));
        } catch (error) {
          reject(error);
        }
      };
      this.#transport.send(request, done);
    });
  }

  // A request, or with the near tier, the one request already reading its key. Only reads
  // planned at one epoch share (src/engine/plan.rs, `shared_key`): a read that starts after a
  // write of this instance ended must not be answered by one that started before it.
  #send(request, finish) {
    const key = this.#near ? request.sharedKey : undefined;
    if (key === undefined) return this.#request(request, finish);
    const group = `${request.sharedEpoch}:${key}`;
    let loading = this.#loading.get(group);
    if (loading === undefined) {
      loading = this.#request(request, same);
      this.#loading.set(group, loading);
      const forget = () => this.#loading.delete(group);
      loading.then(forget, forget);
    } else {
      request.free();
      // This call's read is answered by the shared request: the backend's hit or miss.
      if (this.#emit !== undefined) loading.then((text) => this.#emit({ type: text === null ? "miss" : "hit", key, tier: "backend" }), () => {});
    }
    return loading.then(finish);
  }

  // A stale value served now, and its refresh sent in the background (handed to `waitUntil`,
  // a Worker's ctx.waitUntil, so that the refresh may finish after the response).
  #refresh([stale, request], waitUntil) {
    const refreshing = this.#request(request, same).catch(() => undefined);
    waitUntil?.(refreshing);
    return stale;
  }

  // An admitted call's next step (`plan` asks the engine): its outcome, or a promise of it.
  #step(plan, waitUntil) {
    this.#live();
    const step = plan();
    if (this.#emit !== undefined) this.#drain();
    if (step instanceof RestRequest) return this.#send(step, same);
    if (isReport(step)) return Promise.reject(this.#failure(toError(step)));
    if (isRefresh(step)) return this.#refresh(step, waitUntil);
    return step;
  }

}

// The engine's `[stale value, refresh request]` (src/wasm.rs, `step`): no outcome is an array
// whose second item is a request.
const isRefresh = (step) => Array.isArray(step) && step[1] instanceof RestRequest;

// The engine's note of what a read found for a key (`KeyEvent` in src/engine/events.rs) as an event.
const KEY_EVENTS = [
  ["hit", "backend"],
  ["miss", "backend"],
  ["hit", "near"],
  ["miss", "near"],
  ["stale", "near"],
];
function keyEvent(kind, key) {
  const [type, tier] = KEY_EVENTS[kind];
  return { type, key, tier };
}

// The calls waiting on each signal. One listener per signal, however many calls share it (a
// listener per call would make Node warn past ten), removed when the last call settles.
const waiting = new WeakMap(); // signal -> { rejects: Set, onAbort }

// Rejects with ABORTED when the signal fires first; the work itself goes on.
function withSignal(promise, signal) {
  return new Promise((resolve, reject) => {
    let entry = waiting.get(signal);
    if (entry === undefined) {
      const rejects = new Set();
      const onAbort = () => {
        waiting.delete(signal);
        for (const rejectOne of rejects) rejectOne(toError(abortedError(abortReason(signal))));
      };
      entry = { rejects, onAbort };
      waiting.set(signal, entry);
      signal.addEventListener("abort", onAbort, { once: true });
    }
    entry.rejects.add(reject);
    const settle = (done) => (outcome) => {
      entry.rejects.delete(reject);
      if (entry.rejects.size === 0 && waiting.get(signal) === entry) {
        waiting.delete(signal);
        signal.removeEventListener("abort", entry.onAbort);
      }
      done(outcome);
    };
    promise.then(settle(resolve), settle(reject));
  });
}
