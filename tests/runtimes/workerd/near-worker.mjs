// A Cloudflare Worker with one Cache per isolate and the near tier on: GET
// /?url=...&token=...&prefix=... reads the key "k" and answers with what it read and how many
// requests the cache has sent in this isolate so far.
import { Cache } from "edge-caches";

let cache;
let sent = 0;

export default {
  async fetch(request, env, ctx) {
    const params = new URL(request.url).searchParams;
    if (!cache) {
      const counting = (input, init) => {
        sent++;
        return fetch(input, init);
      };
      cache = new Cache(params.get("url"), { token: params.get("token"), keyPrefix: params.get("prefix"), near: { ttl: 60 }, fetch: counting });
      await cache.connect();
    }
    const value = await cache.get("k", null, { waitUntil: ctx.waitUntil.bind(ctx) });
    return Response.json({ value, sent, stats: cache.stats });
  },
};
