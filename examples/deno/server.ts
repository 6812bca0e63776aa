// A Deno server that caches an expensive computation (the n-th prime) with getOrSet: in Redis
// through Upstash's REST API when UPSTASH_REDIS_REST_URL / _TOKEN are set, else in memory.
//   deno add npm:edge-caches
//   deno run --allow-net --allow-env server.ts
import { Cache } from "edge-caches";

const cache = Deno.env.get("UPSTASH_REDIS_REST_URL")
  ? Cache.fromEnv(undefined, { keyPrefix: "primes", ttl: 3600 })
  : new Cache("memory://", { keyPrefix: "primes", ttl: 3600 });
await cache.connect();

function nthPrime(n: number): number {
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

Deno.serve({ port: Number(Deno.env.get("PORT") ?? 8000), hostname: "127.0.0.1" }, async (request) => {
  const n = Number(new URL(request.url).searchParams.get("n") ?? "1000");
  if (!Number.isInteger(n) || n < 1 || n > 100_000) {
    return new Response("n must be an integer from 1 to 100000", { status: 400 });
  }
  let computed = false;
  const prime = await cache.getOrSet<number>(`nth:${n}`, () => {
    computed = true;
    return nthPrime(n);
  });
  return Response.json({ n, prime, computed });
});
