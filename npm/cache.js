// The `Cache` class users import: the event-loop half of edge-caches. The wasm `Core`
// (src/js/core.rs) decides everything a call means: it checks the arguments, builds the keys,
// carries memory and dummy ops out at once, plans each REST command and reads each answer,
// and says which failures may be retried. This file only does what needs the event loop:
// promises, fetch, timeouts, the one-tick pipelining and the waits between retries. A call
// calls into wasm once to plan (then reads the `pending` number the plan left) and once to
// read its answer, and never waits inside wasm. Those two methods return their error object
// instead of throwing it (see src/js/core.rs): `failed` tells it from an outcome. A key is
// checked here, before the core gets it as text.
//
// "@@RUNTIME@@" is replaced by scripts/package.mjs with the path wasm-bindgen gave runtime.js,
// so CacheError is the very class the wasm throws (one module, one class, `instanceof` works).
import { Core } from "./edge_caches.js";
import { CacheError, callOptions, checkString, decodeValue, failure, manyResult, post, sleep, withSignal } from "@@RUNTIME@@";

export { CacheError };

// Most commands in one pipeline request: the gateway's own default limit, so that a burst of
// calls in one tick goes out as one request.
const MAX_BATCH = 1000;
// Most characters of commands in one pipeline request. JavaScript counts UTF-16 units, and a
// unit is at most 3 bytes of UTF-8, so a request stays under 768 KiB: below the gateway's
// default 1 MiB and Upstash's 1 MB.
const MAX_BATCH_CHARS = 256 * 1024;

// `Core.retryAfter`'s names for how a request failed.
const NETWORK = 0;
const UNSENT = 1;
const STATUS_5XX = 2;
const FINAL = 3;

// What `Core.pending` says of the text a method returned (src/backend/rest/commands.rs,
// `Expect::code`; src/backend/rest/mod.rs, `Walk::code`): 0, the call is done; above 0, a
// command whose reply kind is `code % 8` and which must not be sent twice when `code % 16 >= 8`;
// below 0, a step of clear()'s SCAN walk.
const EXPECT_VALUE = 1;
const EXPECT_VALUES = 4;
const WALK_PIPELINE = -2;
const mayRepeat = (code) => code % 16 < 8;

// The options each method takes (runtime.js, `callOptions`).
const WRITE = ["ttl", "version", "signal"];
const READ = ["version", "signal"];
const SIGNAL_ONLY = ["signal"];

const FROM_CORE = Symbol("edge-caches core");
// A TypeError for anything but a well-formed string.
const checked = (key) => checkString(key, "key");
// What the core returned is its error (an outcome is never an Error).
const failed = (outcome) => outcome instanceof Error;
const same = (outcome) => outcome;
const value = (dflt) => (text) => (text === null ? dflt : decodeValue(text));
const orNull = value(null);

// A REST answer carries stored texts as JSON, escapes and all (a get's text or null, a
// getMany's array): the engine's JSON.parse unescapes them far faster than wasm could.
function read(code, outcome) {
  const kind = code % 8;
  return kind === EXPECT_VALUE || kind === EXPECT_VALUES ? JSON.parse(outcome) : outcome;
}

// Only a finite number is an answer to incr: a server that sent a 5000-digit number or a word
// must not make incr resolve with Infinity or a string.
function number(text) {
  const n = typeof text === "string" ? decodeValue(text) : undefined;
  if (typeof n === "number" && Number.isFinite(n)) return n;
  throw new CacheError("PROTOCOL", "the backend gave an answer of the wrong kind");
}

export class Cache {
  #core;
  #inFlight = 0;
  #idle = []; // resolvers of disconnect() calls waiting for the calls in flight
  #computing = new Map(); // getOrSet with a function default: stored key -> shared promise
  #queue = []; // REST calls waiting for this tick's pipeline request: { body, code, finish, resolve, reject }
  #flush = () => this.#sendQueued();
  // The REST endpoint, read from the core once.
  #url;
  #headers;
  #fetch;
  #timeout;
  #autoPipeline;

  /** `new Cache(url, options?)`: a bad URL or option throws here, not at the first call. */
  constructor(url, options) {
    const core = url === FROM_CORE ? options : new Core(url, options);
    this.#core = core;
    if (core.rest) {
      this.#url = core.url;
      this.#headers = core.headers;
      this.#fetch = core.fetch;
      this.#timeout = core.timeout;
      this.#autoPipeline = core.autoPipeline;
    }
  }

  static fromEnv(env, options) {
    return new Cache(FROM_CORE, Core.fromEnv(env, options));
  }

  get connected() {
    return this.#core.connected;
  }

  connect() {
    try {
      this.#core.connect();
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Stops admitting calls at once and resolves when the calls in flight have settled. */
  disconnect() {
    try {
      this.#core.disconnect();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.#idle.push(resolve));
  }

  // `await using cache = new Cache(...)`: disposing disconnects, and is a no-op when the cache
  // is already disconnected.
  async [Symbol.asyncDispose ?? Symbol.for("Symbol.asyncDispose")]() {
    if (this.connected) await this.disconnect();
  }

  get(key, dflt, options) {
    // `get(key)` misses with null, as the Python original's None.
    return this.#call(options, READ, (o) => this.#core.get(checked(key), o.version, o.signal), dflt === undefined ? orNull : value(dflt));
  }

  set(key, val, options) {
    return this.#call(options, WRITE, (o) => this.#core.set(checked(key), val, o.ttl, o.version, o.signal), same);
  }

  add(key, val, options) {
    return this.#call(options, WRITE, (o) => this.#core.add(checked(key), val, o.ttl, o.version, o.signal), same);
  }

  /**
   * A plain default is stored in one step (store-if-missing, else read what is there); a
   * function default is computed only on a miss, once per key however many calls overlap (they
   * share the first call's result), and then added, so a value another writer stored meanwhile
   * wins.
   */
  getOrSet(key, dflt, options) {
    if (typeof dflt !== "function") {
      return this.#call(options, WRITE, (o) => this.#core.getOrSet(checked(key), dflt, o.ttl, o.version, o.signal), value(dflt));
    }
    let o;
    let stored;
    try {
      o = callOptions(options, WRITE);
      stored = this.#core.getOrSetKey(checked(key), o.ttl, o.version, o.signal);
    } catch (error) {
      return Promise.reject(error);
    }
    let shared = this.#computing.get(stored);
    if (shared === undefined) {
      const ttl = this.#core.ttl;
      shared = this.#compute(stored, dflt, ttl);
      this.#computing.set(stored, shared);
      const forget = () => this.#computing.delete(stored);
      shared.then(forget, forget);
    }
    return this.#signal(this.#watch(shared, same), o.signal);
  }

  getMany(keys, options) {
    let names;
    const plan = (o) => {
      const texts = this.#core.getMany(keys, o.version, o.signal);
      names = keys.slice(); // as the caller spelt them, as they were at the call
      return texts;
    };
    return this.#call(options, READ, plan, (texts) => manyResult(names, texts));
  }

  /** `mapping` is a plain object or a `Map` of keys to values. */
  setMany(mapping, options) {
    return this.#call(options, WRITE, (o) => this.#core.setMany(mapping, o.ttl, o.version, o.signal), same);
  }

  delete(key, options) {
    return this.#call(options, READ, (o) => this.#core.delete(checked(key), o.version, o.signal), same);
  }

  deleteMany(keys, options) {
    return this.#call(options, READ, (o) => this.#core.deleteMany(keys, o.version, o.signal), same);
  }

  /** With a key prefix, deletes only this cache's keys; without one, everything in the store. */
  clear(options) {
    return this.#call(options, SIGNAL_ONLY, (o) => this.#core.clear(o.signal), same);
  }

  touch(key, ttl, options) {
    return this.#call(options, READ, (o) => this.#core.touch(checked(key), ttl, o.version, o.signal), same);
  }

  incr(key, delta, options) {
    return this.#call(options, READ, (o) => this.#core.incrBy(checked(key), delta, o.version, o.signal, 1), number);
  }

  decr(key, delta, options) {
    return this.#call(options, READ, (o) => this.#core.incrBy(checked(key), delta, o.version, o.signal, -1), number);
  }

  // One call: its `options` (of the names `allowed`) are read, then `plan` checks its key and
  // asks the core with them; a bad call, or one on a disconnected cache or with an aborted
  // signal, fails there having done nothing (the core returns its error, thrown here). What
  // the core returns otherwise is the outcome (memory, dummy) or a request to make (REST);
  // `finish` makes the method's result.
  #call(options, allowed, plan, finish) {
    let o;
    let planned;
    try {
      o = callOptions(options, allowed);
      planned = plan(o);
      if (failed(planned)) throw planned;
    } catch (error) {
      return Promise.reject(error);
    }
    const code = this.#core.pending;
    if (code === 0) {
      try {
        return Promise.resolve(finish(planned));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const promise = code < 0 ? this.#watch(this.#walk(planned, code), finish) : this.#request(planned, code, finish);
    return this.#signal(promise, o.signal);
  }

  // A call's `signal` ends the wait early (the request itself goes on: a batched command may
  // already be on its way).
  #signal(promise, signal) {
    return signal === undefined ? promise : withSignal(promise, signal);
  }

  #started() {
    this.#inFlight++;
  }

  #settled() {
    if (--this.#inFlight === 0 && this.#idle.length > 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  // Counts a call of several steps in flight until it settles.
  #watch(promise, finish) {
    this.#started();
    return promise.then(
      (outcome) => {
        this.#settled();
        return finish(outcome);
      },
      (error) => {
        this.#settled();
        throw error;
      },
    );
  }

  // A planned command (or a text the core gave at once), to its outcome.
  #outcome(planned) {
    if (failed(planned)) return Promise.reject(planned);
    const code = this.#core.pending;
    return code === 0 ? planned : this.#request(planned, code, same);
  }

  async #compute(stored, produce, ttl) {
    const hit = await this.#outcome(this.#core.getKey(stored));
    if (hit !== null) return decodeValue(hit);
    const computed = await produce();
    if (await this.#outcome(this.#core.addKey(stored, computed, ttl))) return computed;
    // Another writer stored the key meanwhile: its value wins.
    const now = await this.#outcome(this.#core.getKey(stored));
    return now === null ? computed : decodeValue(now);
  }

  // One REST command to the call's result (`finish` of its outcome), counted in flight until
  // it settles: with automatic pipelining, queued for this tick's request.
  #request(body, code, finish) {
    this.#started();
    return new Promise((resolve, reject) => {
      const call = { body, code, finish, resolve, reject };
      if (!this.#autoPipeline) {
        this.#sendOne(call);
        return;
      }
      const leads = this.#queue.length === 0;
      this.#queue.push(call);
      // The first call of a tick sends once the others have queued theirs.
      if (leads) queueMicrotask(this.#flush);
    });
  }

  // A call's outcome, or the error it got, settles it.
  #settle(call, ok, outcome) {
    this.#settled();
    if (!ok) return call.reject(outcome);
    try {
      call.resolve(call.finish(read(call.code, outcome)));
    } catch (thrown) {
      call.reject(thrown);
    }
  }

  // `then` (optional) runs once the call has settled.
  #sendOne(call, then) {
    this.#send(
      "",
      call.body,
      mayRepeat(call.code),
      ([status, body]) => {
        let ok;
        let outcome;
        try {
          outcome = this.#core.reply(call.code, status, body);
          ok = !failed(outcome);
        } catch (error) {
          // The core returns its errors; this would be the wasm itself failing (a trap).
          ok = false;
          outcome = error;
        }
        this.#settle(call, ok, outcome);
        then?.();
      },
      (error) => {
        this.#settle(call, false, error);
        then?.();
      },
    );
  }

  // Sends the queued commands, in call order: up to MAX_BATCH commands or MAX_BATCH_CHARS at a
  // time. Commands beyond that wait for this request, so that order holds across requests too
  // (and the calls of later ticks queue behind them).
  #sendQueued() {
    const queue = this.#queue;
    let n = 0;
    let chars = 0;
    // A single command larger than the cap still goes out, alone.
    while (n < queue.length && n < MAX_BATCH && (n === 0 || chars + queue[n].body.length < MAX_BATCH_CHARS)) {
      chars += queue[n].body.length + 1;
      n++;
    }
    const batch = queue.splice(0, n);
    const then = queue.length > 0 ? this.#flush : undefined;
    if (n === 1) this.#sendOne(batch[0], then);
    else this.#sendPipeline(batch, then);
  }

  #sendPipeline(batch, then) {
    const body = "[" + batch.map((call) => call.body).join(",") + "]";
    const failAll = (error) => {
      for (const call of batch) this.#settle(call, false, error);
    };
    this.#send(
      "/pipeline",
      body,
      batch.every((call) => mayRepeat(call.code)),
      ([status, body]) => {
        let outcomes;
        try {
          outcomes = this.#core.replies(batch.map((call) => call.code), status, body);
        } catch (error) {
          // The whole request failed: every call in it fails the same way.
          failAll(error);
          then?.();
          return;
        }
        batch.forEach((call, i) => (outcomes[i] instanceof CacheError ? this.#settle(call, false, outcomes[i]) : this.#settle(call, true, outcomes[i])));
        then?.();
      },
      (error) => {
        failAll(error);
        then?.();
      },
    );
  }

  // clear() with a key prefix over REST: the core's SCAN walk, one request after another.
  async #walk(body, code) {
    for (;;) {
      const [status, answer] = await new Promise((resolve, reject) =>
        this.#send(code === WALK_PIPELINE ? "/pipeline" : "", body, true, resolve, reject),
      );
      body = this.#core.clearNext(code, status, answer);
      if (body === undefined) return undefined;
      code = this.#core.pending;
    }
  }

  // One HTTP request, retried as the core says (network errors and 5xx answers, with backoff;
  // a request that must not run twice only when it provably never left). `answered` gets
  // [status, body bytes] (a 5xx answer given up on too: the core reads it as SERVER), `failed`
  // the CacheError; exactly one is called, once. Callbacks, not promises: see `post`.
  #send(path, body, idempotent, answered, failed) {
    const attempt = (n) =>
      post(
        this.#fetch,
        this.#url + path,
        this.#headers,
        body,
        this.#timeout,
        (answer) => (answer[0] < 500 ? answered(answer) : retry(n, STATUS_5XX, answer)),
        (thrown) => {
          let how;
          let error;
          try {
            const [kind, message, unsent] = failure(thrown);
            const what = kind === "TIMEOUT" ? "the request timed out: " : kind === "ABORTED" ? "the request was aborted: " : "the request failed: ";
            error = new CacheError(kind, what + message);
            how = kind !== "NETWORK" ? FINAL : unsent ? UNSENT : NETWORK;
          } catch (unreadable) {
            // A fetch that failed with something that cannot even be described (a message
            // that is a Symbol): the call fails with what describing it threw.
            [how, error] = [FINAL, unreadable];
          }
          retry(n, how, error);
        },
      );
    const retry = (n, how, outcome) => {
      const delay = this.#core.retryAfter(how, n, idempotent);
      if (delay !== undefined) sleep(delay).then(() => attempt(n + 1));
      else if (how === STATUS_5XX) answered(outcome);
      else failed(outcome);
    };
    attempt(0);
  }
}
