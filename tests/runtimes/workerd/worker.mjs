// A Cloudflare Worker that runs the conformance cases inside workerd and answers with the
// results as JSON: GET /?url=memory://conformance, or /?url=http://gateway&token=...
import { Cache, CacheError } from "edge-caches";
import { defineConformance } from "../../conformance/cases.mjs";

export default {
  async fetch(request) {
    const params = new URL(request.url).searchParams;
    const cases = [];
    const path = [];
    // The two functions of node:test the suite uses, collecting instead of running.
    const describe = (name, options, body) => {
      if (typeof options === "function") [body, options] = [options, {}];
      if (options?.skip) return;
      path.push(name);
      body();
      path.pop();
    };
    const it = (name, body) => cases.push({ name: [...path, name].join(" > "), body });
    defineConformance({
      describe,
      it,
      Cache,
      CacheError,
      url: params.get("url") ?? "memory://conformance",
      token: params.get("token") ?? undefined,
    });
    const results = [];
    for (const { name, body } of cases) {
      try {
        await body();
        results.push({ name, ok: true });
      } catch (error) {
        results.push({ name, ok: false, error: String(error?.stack ?? error) });
      }
    }
    return Response.json(results);
  },
};
