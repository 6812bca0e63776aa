// µs per sequential `get` with globalThis.fetch stubbed (one `new Response` per call), for the
// variant client and edge-caches, each in a fresh process, ROUNDS rounds taking turns.
// Usage: node cost.mjs VARIANT_DIR EDGE_CACHES_DIR   (or, in a child: node cost.mjs --child ...)
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

const ROUNDS = 5;
const CALLS = 20000;
const ANSWER = JSON.stringify({ result: JSON.stringify({ id: 1, name: "Ada" }) });

if (process.argv[2] === "--child") {
  const [, , , which, dir, withOptions] = process.argv;
  globalThis.fetch = async () => new Response(ANSWER);
  let get;
  if (which === "variant") {
    const { initSync, Client } = await import(`${dir}/variant.min.js`);
    initSync({ module: readFileSync(`${dir}/variant_bg.wasm`) });
    const client = new Client("http://bench.invalid", "t");
    get = withOptions === "1" ? (k) => client.get(k, { version: "2", fresh: false }) : (k) => client.get(k, undefined);
  } else {
    const { Cache } = await import(`${dir}/node.js`);
    const cache = new Cache("http://bench.invalid", { token: "t" });
    await cache.connect();
    get = withOptions === "1" ? (k) => cache.get(k, undefined, { version: "2", fresh: false }) : (k) => cache.get(k);
  }
  for (let i = 0; i < CALLS; i++) await get("k");
  const t0 = performance.now();
  for (let i = 0; i < CALLS; i++) await get("k");
  console.log(((performance.now() - t0) * 1000) / CALLS);
} else {
  const [, , variantDir, edgeDir] = process.argv;
  const runs = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [which, dir] of round % 2 ? [["edge-caches", edgeDir], ["variant", variantDir]] : [["variant", variantDir], ["edge-caches", edgeDir]]) {
      for (const withOptions of ["0", "1"]) {
        const us = Number(execFileSync(process.execPath, [new URL(import.meta.url).pathname, "--child", which, dir, withOptions], { encoding: "utf8" }).trim());
        (runs[`${which}${withOptions === "1" ? " with options" : ""}`] ??= []).push(us);
      }
    }
  }
  for (const [name, us] of Object.entries(runs)) {
    const sorted = [...us].sort((a, b) => a - b);
    console.log(`${name}: median ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} µs per get (runs: ${us.map((u) => u.toFixed(1)).join(", ")})`);
  }
}
