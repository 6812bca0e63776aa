// getOrSet with a function default (docs/decisions/0009): one computation per group of calls
// in this instance, and across instances the lock, the time limits (hardTimeout, softTimeout)
// and refreshAhead. The engine plans each step's op (getStored, lock, addStored, unlock,
// getExpiring...); `step` (the cache's) sends it and resolves with its outcome.
import { LOCK_TTL, compressText, encodeValue } from "./arguments.js";
import { CacheError, toError } from "./errors.js";
import { factoryTimeoutError } from "./wasm.js";

export class Computations {
  #engine;
  #step; // (plan, waitUntil) => outcome or a promise of it
  #emit; // onEvent, or undefined
  #near;
  #compress; // { threshold } or null
  #hardTimeout; // the cache's default: seconds a factory may take
  #lock; // the cache's default lock ttl in seconds (undefined or false: none)
  #computing = new Map(); // group -> { promise, waiting }
  #finishing = new Map(); // groups past their softTimeout -> the stale text served meanwhile
  #refreshing = new Set(); // stored keys being refreshed ahead of expiry by this instance

  constructor(engine, step, emit, { near, compress, hardTimeout, lock }) {
    this.#engine = engine;
    this.#step = step;
    this.#emit = emit;
    this.#near = near;
    this.#compress = compress;
    this.#hardTimeout = hardTimeout;
    this.#lock = lock;
  }

  // This call's share of its group's computation (calls share one only when what they would
  // store agrees (ttl, tags) and they read and compute alike; otherwise each computes, and the
  // first add wins): `{ promise, leave }`, `leave()` once the call stops waiting; or, while a
  // computation goes on past its softTimeout, `{ stale }`, the text its calls were served.
  share(stored, produce, o) {
    const plan = {
      stored,
      produce,
      o,
      hard: o?.hardTimeout ?? this.#hardTimeout,
      soft: o?.softTimeout,
      lock: o?.lock ?? this.#lock,
      ahead: o?.refreshAhead,
    };
    const group = `${stored}\u0000${o?.ttl}\u0000${o?.tags}\u0000${o?.fresh === true}\u0000${plan.hard}\u0000${plan.soft}\u0000${plan.lock}\u0000${plan.ahead}`;
    const stale = this.#finishing.get(group);
    if (stale !== undefined) return { stale };
    let shared = this.#computing.get(group);
    if (shared === undefined) {
      shared = { promise: this.#compute(plan, group), waiting: 0 };
      this.#computing.set(group, shared);
      const forget = () => this.#computing.get(group) === shared && this.#computing.delete(group);
      shared.promise.then(forget, forget);
    }
    // Once no caller waits, the computation blocks no one: the next call starts its own.
    shared.waiting++;
    const leave = () => {
      if (--shared.waiting === 0 && this.#computing.get(group) === shared) this.#computing.delete(group);
    };
    return { promise: shared.promise, leave };
  }

  // getOrSet with a function default, once per group of calls (#getOrSet): the stored text it
  // resolves with. `plan`: the stored key, the factory, the first call's options (`o`,
  // undefined for none) and its limits: `hard` and `soft` timeouts, the `lock`'s ttl and the
  // `ahead` fraction (each undefined when not used; docs/decisions/0009).
  async #compute(plan, group) {
    const { stored, o } = plan;
    // What a soft timeout may serve: taken before the read, which forgets it on a miss.
    const stale = plan.soft !== undefined && this.#near ? this.#engine.staleValue(stored) : undefined;
    const hit = plan.ahead === undefined ? await this.#step(() => this.#engine.getStored(stored, o?.fresh ?? false), o?.waitUntil) : await this.#readAhead(plan);
    if (hit !== null) return hit;
    const missed = plan.lock ? this.#locked(plan) : this.#produce(plan);
    if (stale === undefined) return missed;
    // A factory slower than softTimeout: the call is served the stale value, and the factory
    // goes on (handed to waitUntil); until it is done, calls of the group are served it too.
    const timer = after(plan.soft, SOFT);
    let first;
    try {
      first = await Promise.race([missed, timer.promise]);
    } finally {
      timer.cancel();
    }
    if (first !== SOFT) return first;
    const late = missed.then(
      () => undefined,
      () => undefined,
    );
    this.#emitEvent({ type: "timeout", key: stored, timeout: "soft" });
    this.#finishing.set(group, stale);
    late.then(() => this.#finishing.get(group) === stale && this.#finishing.delete(group));
    o?.waitUntil?.(late);
    return stale;
  }

  // The factory's value, stored (added: a value another writer stored meanwhile wins).
  async #produce(plan) {
    const { stored, o } = plan;
    const text = await this.#run(plan);
    return this.#kept(stored, text, await this.#step(() => this.#engine.addStored(stored, text, o, false)));
  }

  // What getOrSet resolves with after its add: `text` when the add stored it, else the value
  // another writer stored meanwhile (the first add wins).
  async #kept(stored, text, added) {
    if (added) return text;
    const now = await this.#step(() => this.#engine.getStored(stored, true));
    return now === null ? text : now;
  }

  // The factory run once (within `hard`), as the text to store.
  async #run(plan) {
    let value;
    try {
      value = await withLimit(plan.produce(), plan.hard);
    } catch (error) {
      if (error instanceof CacheError && error.code === "TIMEOUT") this.#emitEvent({ type: "timeout", key: plan.stored, timeout: "hard" });
      throw error;
    }
    const plain = encodeValue(value);
    return this.#compress !== null && plain.length > this.#compress.threshold ? await compressText(plain) : plain;
  }

  // A miss under `lock`: one caller across the instances that share the store runs the factory;
  // the others poll for its value, taking the lock over if it is freed without one, and
  // compute for themselves once they have waited the lock's ttl. Each round is one request:
  // the lock's SET NX and then a read of the key, in one pipeline (calls of one tick share
  // one), so that a lock freed by a holder that stored its value is never taken without
  // seeing that value.
  async #locked(plan) {
    const { stored } = plan;
    const lockKey = this.#engine.lockKey(stored);
    const token = lockToken();
    const ttlMs = Math.ceil(plan.lock * 1000);
    const deadline = Date.now() + ttlMs;
    let delay = FIRST_POLL_MS;
    for (let first = true; ; first = false) {
      const [taken, text] = await Promise.all([this.#step(() => this.#engine.lock(lockKey, token, ttlMs)), this.#step(() => this.#engine.getStored(stored, true))]);
      if (text !== null) {
        // The holder stored it and freed the lock just before this round took it.
        if (taken) {
          const unlocking = this.#unlock(lockKey, token);
          plan.o?.waitUntil?.(unlocking);
        }
        return text;
      }
      if (taken) {
        this.#emitEvent({ type: "lock", key: stored, state: "held" });
        return this.#holding(plan, lockKey, token);
      }
      if (first) this.#emitEvent({ type: "lock", key: stored, state: "waiting" });
      const left = deadline - Date.now();
      if (left <= 0) {
        this.#emitEvent({ type: "lock", key: stored, state: "expired" });
        return this.#produce(plan);
      }
      await sleep(Math.min(delay * (0.75 + Math.random() / 2), left));
      delay = Math.min(delay * 2, MAX_POLL_MS);
    }
  }

  // Frees a lock this instance holds: sent at once (in the tick of the call, so that it shares
  // the request of a write made beside it), never failing (a lock not freed expires).
  #unlock(lockKey, token) {
    try {
      return Promise.resolve(this.#step(() => this.#engine.unlock(lockKey, token))).catch(() => {});
    } catch {
      return Promise.resolve();
    }
  }

  // The lock's holder: the factory's value added and the lock freed in one request (calls of
  // one tick share one), or on failure the lock freed at once, for a waiter to take over.
  async #holding(plan, lockKey, token) {
    const { stored, o } = plan;
    let text;
    try {
      text = await this.#run(plan);
    } catch (error) {
      // Freed before the call rejects: a caller that ends its process then leaves no lock.
      await this.#unlock(lockKey, token);
      throw error;
    }
    const [added] = await Promise.all([this.#step(() => this.#engine.addStored(stored, text, o, true)), this.#unlock(lockKey, token)]);
    return this.#kept(stored, text, added);
  }

  // A read for `refreshAhead`: the value, and when it is within the last `ahead` part of its
  // ttl, a refresh in the background (#refreshAhead).
  async #readAhead(plan) {
    const { stored, o } = plan;
    let text;
    let remaining;
    if (this.#near) {
      text = await this.#step(() => this.#engine.getStored(stored, o?.fresh ?? false), o?.waitUntil);
      remaining = text === null ? undefined : this.#engine.remainingMs(stored);
    } else {
      [text, remaining] = await this.#step(() => this.#engine.getExpiring(stored));
    }
    if (text === null || remaining === undefined || remaining < 0) return text;
    const ttl = this.#engine.entryTtlMs(o);
    if (typeof ttl === "number" && ttl > 0 && remaining < plan.ahead * ttl) this.#refreshAhead(plan);
    return text;
  }

  // A refresh ahead of expiry, in the background (handed to waitUntil): under the lock, so that
  // one instance at a time runs the factory; stored over the current value.
  #refreshAhead(plan) {
    const { stored, o } = plan;
    if (this.#refreshing.has(stored)) return;
    this.#refreshing.add(stored);
    const refresh = async () => {
      const lockKey = this.#engine.lockKey(stored);
      const token = lockToken();
      const ttlMs = Math.ceil((plan.lock || LOCK_TTL) * 1000);
      // The lock, and the key's life as it is now: another instance may have just refreshed it.
      const [taken, [, remaining]] = await Promise.all([this.#step(() => this.#engine.lock(lockKey, token, ttlMs)), this.#step(() => this.#engine.getExpiring(stored))]);
      if (!taken) return;
      if (remaining >= 0 && remaining >= plan.ahead * this.#engine.entryTtlMs(o)) return this.#unlock(lockKey, token);
      this.#emitEvent({ type: "refresh", key: stored });
      try {
        const text = await this.#run(plan);
        await Promise.all([this.#step(() => this.#engine.setStored(stored, text, o)), this.#unlock(lockKey, token)]);
      } catch {
        await this.#unlock(lockKey, token);
      }
    };
    const refreshing = refresh()
      .catch(() => undefined)
      .finally(() => this.#refreshing.delete(stored));
    o?.waitUntil?.(refreshing);
  }

  #emitEvent(event) {
    if (this.#emit !== undefined) this.#emit(event);
  }
}

// A getOrSet waiting for another instance's lock polls after this many ms, then twice as
// long each time up to MAX_POLL_MS (with jitter, so that waiters spread out).
const FIRST_POLL_MS = 20;
const MAX_POLL_MS = 200;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A lock holder's token: unique enough that no other holder's unlock frees it.
const lockToken = () => `${Date.now().toString(36)}.${Math.random().toString(36).slice(2)}`;

// What a softTimeout's timer resolves with.
const SOFT = Symbol("soft");

// `value` once `seconds` have passed (cancel() stops the timer).
function after(seconds, value) {
  let timer;
  const promise = new Promise((resolve) => {
    timer = setTimeout(() => resolve(value), seconds * 1000);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

// `promise`, or a TIMEOUT once `seconds` have passed without it settling.
function withLimit(promise, seconds) {
  if (seconds === undefined) return promise;
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(toError(factoryTimeoutError())), seconds * 1000);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
