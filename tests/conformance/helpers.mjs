// Fresh caches for each conformance case. Every cache gets a key prefix of its own, so cases
// never see each other's keys, whichever backend they share.

// `near`: every cache of the suite with the near tier on (the suite holds unchanged: a cache
// sees its own writes at once).
export function makeHelpers({ Cache, url, token, near = false }) {
  const isRest = /^https?:/.test(url);
  const isMemory = url.startsWith("memory:");
  // Random, not process.pid: the suite also runs inside a Worker, which has no process.
  const run = Math.random().toString(36).slice(2, 8);
  let counter = 0;
  const uniquePrefix = () => `t${run}_${counter++}`;

  function newCache(options = {}, cacheUrl = url) {
    const base = { ...(isRest && token ? { token } : {}), ...(near ? { near: true } : {}) };
    return new Cache(cacheUrl, { ...base, keyPrefix: uniquePrefix(), ...options });
  }

  async function open(options = {}, cacheUrl = url) {
    const cache = newCache(options, cacheUrl);
    await cache.connect();
    return cache;
  }

  return { isRest, isMemory, uniquePrefix, newCache, open, sleep, deferred };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A promise and its resolver, to hold a call in flight. */
export function deferred() {
  let resolve;
  const promise = new Promise((r) => (resolve = r));
  return { promise, resolve };
}
