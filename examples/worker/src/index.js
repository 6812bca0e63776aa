// A Cloudflare Worker that caches an expensive computation (the n-th prime) in Redis through
// Upstash's REST API. `wrangler dev` / `wrangler deploy` with the secrets
// UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN set. `/stats` answers this isolate's
// hit ratio, counted from the cache's events.
import { Cache } from "edge-caches";

let cache; // one per isolate: it holds no request-bound objects, so it can outlive a request
const reads = { hit: 0, miss: 0, stale: 0 };
let requests = 0;

export default {
  async fetch(request, env) {
    if (!cache) {
      const onEvent = (event) => {
        if (event.type in reads) reads[event.type]++;
        else if (event.type === "request") requests++;
      };
      cache = Cache.fromEnv(env, { keyPrefix: "primes", ttl: 3600, onEvent });
      await cache.connect();
    }
    const url = new URL(request.url);
    if (url.pathname === "/stats") {
      const total = reads.hit + reads.miss + reads.stale;
      return Response.json({ ...reads, requests, hitRatio: total === 0 ? null : (reads.hit + reads.stale) / total });
    }
    const n = Number(url.searchParams.get("n") ?? "1000");
    if (!Number.isInteger(n) || n < 1 || n > 100_000) {
      return new Response("n must be an integer from 1 to 100000", { status: 400 });
    }
    let computed = false;
    const prime = await cache.getOrSet(`nth:${n}`, () => {
      computed = true;
      return nthPrime(n);
    });
    return Response.json({ n, prime, computed });
  },
};

function nthPrime(n) {
  for (let candidate = 2, found = 0; ; candidate++) {
    let isPrime = true;
    for (let d = 2; d * d <= candidate; d++) {
      if (candidate % d === 0) {
        isPrime = false;
        break;
      }
    }
    if (isPrime && ++found === n) return candidate;
  }
}
