// What an edge app ships of @upstash/redis for the benchmark's use (bundled by size.mjs with
// esbuild: bundle, minify, format esm, platform browser).
import { Redis } from "@upstash/redis";

export async function handler(url, token) {
  const redis = new Redis({ url, token, enableAutoPipelining: true });
  await redis.set("user:1", { name: "Ada" }, { ex: 60 });
  const user = await redis.get("user:1");
  const many = await redis.mget("user:1", "user:2");
  const hits = await redis.incr("hits");
  return { user, many, hits };
}
