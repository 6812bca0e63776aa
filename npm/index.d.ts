/**
 * edge-caches: the async-caches API for JavaScript on edge runtimes, in WebAssembly.
 * Values are stored as JSON text under `${keyPrefix}:${version}:${key}`.
 */

/** Anything JSON can hold: no undefined (but as an omitted object property), functions, symbols, BigInt, NaN or Infinity. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue | undefined };

/** What a cache stores: a JSON value, or bytes as a whole value (read back as a `Uint8Array`). */
export type CacheValue = JsonValue | Uint8Array | ArrayBuffer;

/** A key version: a string, or an integer (stored as its decimal text). */
export type Version = string | number;

/** The `code` of every `CacheError`. */
export type CacheErrorCode =
  | "NOT_CONNECTED"
  | "ALREADY_CONNECTED"
  | "CONFIG"
  | "NOT_A_NUMBER"
  | "UNSUPPORTED"
  | "NETWORK"
  | "TIMEOUT"
  | "ABORTED"
  | "AUTH"
  | "SERVER"
  | "PROTOCOL";

export declare class CacheError extends Error {
  readonly name: "CacheError";
  readonly code: CacheErrorCode;
  constructor(code: CacheErrorCode, message: string);
}

export interface CacheOptions {
  /** Prefix of every stored key (default: the URL's `key_prefix`, or ""). With a prefix, `clear()` deletes only this cache's keys. */
  keyPrefix?: string;
  /** Default version of keys (default: the URL's, or none). `null`, `""` or `0`: the URL's, as in async-caches. */
  version?: Version | null;
  /** Default ttl in seconds (fractions to the millisecond); `null` or omitted: forever. */
  ttl?: number | null;
  /** memory backend: entries kept before the least recently used are evicted (default 10000). */
  maxEntries?: number;
  /** REST backend: the bearer token. */
  token?: string;
  /** REST backend: per-request timeout in milliseconds (default 5000). */
  timeout?: number;
  /** REST backend: retries (default 2) of a request that failed on the network or with a 5xx, when safe to repeat. */
  retries?: number;
  /** REST backend: send calls made in the same tick as one pipeline request (default true). */
  autoPipeline?: boolean;
  /** REST backend: the fetch function to use instead of the global one. */
  fetch?: typeof fetch;
  /**
   * REST backend: keep what this instance reads and writes in its own memory and serve reads
   * from there. `true`: `{ ttl: 5 }`. Other writers are seen within `ttl` (+ `swr`) seconds.
   */
  near?: boolean | NearOptions;
  /** With `near`: seconds past `near.ttl + near.swr` a read may still serve an entry when the backend fails (default 0). */
  grace?: number;
  /**
   * REST: read through the script that checks tags, so that an entry written with tags is read
   * in one request (default false: a plain GET, and the script after it only for a tagged entry).
   */
  tagged?: boolean;
  /**
   * Store values whose stored text is longer than `threshold` characters (default 1024) gzipped,
   * with the runtime's CompressionStream. Every instance reads compressed entries, whatever its
   * own setting. Default off.
   */
  compress?: boolean | { threshold?: number };
  /** getOrSet's default `hardTimeout`: seconds a factory may take. */
  hardTimeout?: number;
  /** getOrSet's default `lock` (default none). */
  lock?: boolean | { ttl?: number };
  /**
   * Called synchronously with every event (see `CacheEvent`); what it throws (or an async one
   * rejects with) is swallowed.
   * Without it, nothing is recorded.
   */
  onEvent?: (event: CacheEvent) => void;
}

/** What `onEvent` is called with. */
export type CacheEvent = KeyEvent | RequestEvent | RetryEvent | ErrorEvent | BusEvent | InvalidateEvent | LockEvent | TimeoutEvent | RefreshEvent;

/**
 * getOrSet's `lock` on a stored key: `held` (this instance runs the factory), `waiting`
 * (another instance holds it), `expired` (waited the lock's ttl; computing without it).
 */
export interface LockEvent {
  type: "lock";
  key: string;
  state: "held" | "waiting" | "expired";
}

/** A factory past getOrSet's `hardTimeout` (the call rejects) or `softTimeout` (served stale). */
export interface TimeoutEvent {
  type: "timeout";
  key: string;
  timeout: "hard" | "soft";
}

/** This instance took the lock to refresh a key ahead of its expiry (`refreshAhead`). */
export interface RefreshEvent {
  type: "refresh";
  key: string;
}

/** `near.bus`: the stream is subscribed (`up`) or was lost (`down`; it is reopened with backoff). */
export interface BusEvent {
  type: "bus";
  state: "up" | "down";
}

/** `near.bus`: another instance's write dropped these near entries (stored keys), or all (`null`). */
export interface InvalidateEvent {
  type: "invalidate";
  keys: string[] | null;
}

/** A read key: found (`hit`), missing (`miss`), or served stale from the near tier (`stale`). */
export interface KeyEvent {
  type: "hit" | "miss" | "stale";
  /** The key as stored: `${keyPrefix}:${version}:${key}`. */
  key: string;
  /** Which tier answered. */
  tier: "near" | "backend";
}

/** One HTTP request (each retry is one more), when it was answered or failed. */
export interface RequestEvent {
  type: "request";
  /** Milliseconds from sending to the answer (or the failure). */
  ms: number;
  /** Commands it carried. */
  commands: number;
  /** The HTTP status; 0 when no answer came. */
  status: number;
  /** 0 for the first try, then 1, 2... */
  attempt: number;
}

/** A request about to be sent again, after `delayMs`. */
export interface RetryEvent {
  type: "retry";
  attempt: number;
  reason: "network" | "unsent" | "status" | "timeout" | "aborted";
  delayMs: number;
}

/** A call rejected with a `CacheError`. */
export interface ErrorEvent {
  type: "error";
  code: CacheErrorCode;
  message: string;
}

export interface NearOptions {
  /** Seconds an entry is served without a request (default 5). */
  ttl?: number;
  /** Seconds more it is served stale while one background request refreshes it (default 0). */
  swr?: number;
  /** Entries kept before the least recently used are dropped (default 10000). */
  maxEntries?: number;
  /**
   * Publish this instance's writes on the key prefix's channel and listen to the others' (a
   * stream opened on `connect()`, closed on `disconnect()`): their writes drop this instance's
   * near entries within milliseconds. For long-lived processes (Node, Deno, Bun), not Workers.
   */
  bus?: boolean;
}

export interface ReadOptions extends VersionOption {
  /** Skip the near tier: read the backend (and keep what it says). */
  fresh?: boolean;
  /** Given the promise of a background refresh (near.swr), e.g. a Worker's `ctx.waitUntil.bind(ctx)`. */
  waitUntil?: (promise: Promise<unknown>) => void;
}

/** `cache.stats`: counters since construction. */
export interface CacheStats {
  /** Reads the near tier answered (a key of getMany counts once). */
  nearHits: number;
  /** Reads it sent on to the backend. */
  nearMisses: number;
  /** Stale values served: while refreshing (near.swr), or because the backend failed (grace). */
  staleServed: number;
  /** HTTP requests sent, retries included. */
  requests: number;
  /** `near.bus`: whether the stream is subscribed now. */
  busUp: boolean;
}

export interface CallOptions {
  /**
   * Rejects the call with `CacheError` `ABORTED` when it fires (at once if already aborted, and
   * then nothing is done). A command already queued or sent may still run on the server.
   */
  signal?: AbortSignal;
}

export interface VersionOption extends CallOptions {
  /** Version of the key for this call; omitted, `null`, `""` or `0`: the cache's default (async-caches' `version or self.version`). */
  version?: Version | null;
}

export interface WriteOptions extends VersionOption {
  /** Seconds until the key expires; `null`: never, even if the cache has a default ttl. */
  ttl?: number | null;
}

export interface TaggedWriteOptions extends WriteOptions {
  /** Tags of the entry (at most 64): `invalidateTags` with one of them makes it a miss. */
  tags?: readonly string[];
}

export interface GetOrSetOptions extends TaggedWriteOptions, Omit<ReadOptions, keyof VersionOption> {
  /**
   * Seconds a factory may take (default: the cache's `hardTimeout`, else no limit): past it the
   * call rejects with `TIMEOUT`, the key is free for the next call, and a late value is not stored.
   */
  hardTimeout?: number;
  /**
   * With a stale value at hand (the near tier's, read or written within `near.ttl + near.swr +
   * grace`): a factory slower than this many seconds lets the call resolve with it, while the
   * factory finishes in the background (handed to `waitUntil`) and stores its value.
   */
  softTimeout?: number;
  /**
   * On a miss, one caller across every instance sharing the store runs the factory; the others
   * wait for its value up to the lock's `ttl` (seconds, default 10), then compute for
   * themselves. `false` overrides the cache's default.
   */
  lock?: boolean | { ttl?: number };
  /**
   * A fraction of the ttl (0 < f < 1): a read within the last `f` of the entry's ttl returns the
   * value and refreshes it in the background, one instance at a time (under the lock).
   */
  refreshAhead?: number;
}

export declare class Cache {
  /**
   * @param url `memory://` (a store of its own), `memory://NAME` (shared by every cache of
   *   that name in this realm), `dummy://` (stores nothing), or `http(s)://host` (Upstash-style
   *   REST). The query may set `ttl`, `version` and `key_prefix`; `options` win over it.
   * @throws {CacheError} code `CONFIG` for a bad URL; `TypeError`/`RangeError` for bad options.
   */
  constructor(url: string, options?: CacheOptions);

  /**
   * A REST cache from `UPSTASH_REDIS_REST_URL` and `UPSTASH_REDIS_REST_TOKEN` (or
   * `KV_REST_API_URL` and `KV_REST_API_TOKEN`), read from `env` (a Workers env) when given,
   * else from `process.env` or `Deno.env`.
   * @throws {CacheError} code `CONFIG` when the URL or token is not set.
   */
  static fromEnv(env?: Record<string, unknown> | null, options?: CacheOptions): Cache;

  /** Whether the cache is connected. */
  readonly connected: boolean;

  /** Connects (no round trip). Rejects with `ALREADY_CONNECTED` when connected. */
  connect(): Promise<void>;
  /** Stops new calls (`NOT_CONNECTED`) and resolves once the calls in flight that someone awaits have settled. */
  disconnect(): Promise<void>;

  /** Counters since construction (near tier and requests). */
  readonly stats: CacheStats;
  /**
   * Upstash's read-your-writes token: the newest a response carried, sent on every request.
   * Set it to carry it to another `Cache` or instance. `""` until a response carries one.
   */
  syncToken: string;

  /** The cached value, or `null` when the key is missing or expired. */
  get<T = unknown>(key: string): Promise<T | null>;
  /** The cached value, or `defaultValue` when the key is missing or expired. */
  get<T = unknown, D = T>(key: string, defaultValue: D, options?: ReadOptions): Promise<T | D>;

  set(key: string, value: CacheValue, options?: TaggedWriteOptions): Promise<void>;
  /** Stores only when the key is missing, expired or invalidated; resolves whether it stored. */
  add(key: string, value: CacheValue, options?: TaggedWriteOptions): Promise<boolean>;

  /**
   * The cached value; on a miss, stores `defaultValue` (called, and awaited, when it is a
   * function: once for the overlapping calls of a key whose `ttl`, `tags` and `fresh` agree,
   * while one of them awaits it) and returns it. A value another writer stored meanwhile wins.
   */
  getOrSet<T extends JsonValue | Uint8Array>(key: string, defaultValue: T | (() => T | PromiseLike<T>), options?: GetOrSetOptions): Promise<T>;

  /** Every requested key mapped to its value, or `null` when missing or expired. */
  getMany<T = unknown, K extends string = string>(keys: readonly K[], options?: ReadOptions): Promise<Record<K, T | null>>;
  setMany(mapping: Record<string, CacheValue> | Map<string, CacheValue>, options?: TaggedWriteOptions): Promise<void>;
  /**
   * Every entry written with one of `tags` before now reads as missing, through any instance
   * (another instance's near tier within its `near.ttl`; this one's at once). One request.
   */
  invalidateTags(tags: readonly string[], options?: CallOptions): Promise<void>;

  delete(key: string, options?: VersionOption): Promise<void>;
  deleteMany(keys: readonly string[], options?: VersionOption): Promise<void>;
  /** With a `keyPrefix`, deletes that prefix's keys; without one, everything in the store. */
  clear(options?: CallOptions): Promise<void>;

  /**
   * New expiry for an existing key: `ttl` seconds; omitted: the default ttl (or never);
   * `null`: never. Resolves whether the key existed; never creates one.
   */
  touch(key: string, ttl?: number | null, options?: VersionOption): Promise<boolean>;

  /** Adds `delta` (default 1; a missing key counts as 0) and resolves the new value. */
  incr(key: string, delta?: number, options?: VersionOption): Promise<number>;
  /** Subtracts `delta` (default 1; a missing key counts as 0) and resolves the new value. */
  decr(key: string, delta?: number, options?: VersionOption): Promise<number>;

  /** `await using cache = ...`: disconnects if connected. */
  [Symbol.asyncDispose](): Promise<void>;

  /** Frees the wasm memory of this cache object: calls in flight and every later call reject with `NOT_CONNECTED`. */
  free(): void;
}
