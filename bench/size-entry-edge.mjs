// The same use with edge-caches, bundled by size.mjs the same way (for information: the
// package's shipped files are what the size target counts).
import { Cache } from "edge-caches";

export async function handler(url, token) {
  const cache = new Cache(url, { token });
  await cache.connect();
  await cache.set("user:1", { name: "Ada" }, { ttl: 60 });
  const user = await cache.get("user:1");
  const many = await cache.getMany(["user:1", "user:2"]);
  const hits = await cache.incr("hits");
  return { user, many, hits };
}
