// The examples, each run in its runtime: the Worker in workerd (REST through the gateway), the
// Deno server in Deno (in memory, and on REST), and the Node demo that `make demo` runs.
import { it } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import process from "node:process";
import { resolve } from "node:path";
import { freePort, startWorker } from "../runtimes/workerd/launch.mjs";

const root = resolve(import.meta.dirname, "../..");
const rest = process.env.GATEWAY_URL ? { UPSTASH_REDIS_REST_URL: process.env.GATEWAY_URL, UPSTASH_REDIS_REST_TOKEN: process.env.GATEWAY_TOKEN } : null;
const THOUSANDTH_PRIME = 7919;

async function twice(base) {
  const n = 1000 + Math.floor(Math.random() * 1000); // a key no earlier run has cached
  const first = await (await fetch(`${base}/?n=${n}`)).json();
  const second = await (await fetch(`${base}/?n=${n}`)).json();
  assert.equal(first.computed, true, "the first request computes");
  assert.equal(second.computed, false, "the second is served from the cache");
  assert.equal(second.prime, first.prime);
  const known = await (await fetch(`${base}/?n=1000`)).json();
  assert.equal(known.prime, THOUSANDTH_PRIME);
}

it("the Cloudflare Worker example caches with getOrSet in workerd", { skip: !rest && "needs scripts/with-servers.sh" }, async () => {
  const worker = await startWorker(resolve(root, "examples/worker/src/index.js"), rest);
  try {
    await twice(worker.url);
  } finally {
    worker.stop();
  }
});

async function denoServer(env) {
  const port = await freePort();
  const child = spawn(resolve(root, "node_modules/.bin/deno"), ["run", "--allow-net=127.0.0.1", "--allow-env", resolve(root, "examples/deno/server.ts")], {
    cwd: root,
    env: { ...process.env, UPSTASH_REDIS_REST_URL: "", ...env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200 && child.exitCode === null; i++) {
    try {
      await fetch(`${base}/?n=1`);
      return { base, stop: () => child.kill("SIGKILL") };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill("SIGKILL");
  throw new Error(`the Deno example did not start:\n${output}`);
}

it("the Deno server example caches with getOrSet, in memory", async () => {
  const server = await denoServer({});
  try {
    await twice(server.base);
  } finally {
    server.stop();
  }
});

it("the Deno server example caches with getOrSet, on REST", { skip: !rest && "needs scripts/with-servers.sh" }, async () => {
  const server = await denoServer(rest);
  try {
    await twice(server.base);
  } finally {
    server.stop();
  }
});

it("the Node demo prints what each method returned", () => {
  const out = execFileSync("node", [resolve(root, "examples/demo.mjs")], { encoding: "utf8" });
  for (const line of [
    /get\("user:1"\)\s+-> \{"name":"Ada"\}/,
    /add\("user:1", "other"\)\s+-> false/,
    /getOrSet\("report", \(\) => never called\)\s+-> \{"total":42\}/,
    /getMany\(\["a", "b", "nope"\]\)\s+-> \{"a":1,"b":\[2,3\],"nope":null\}/,
    /decr\("hits", 0.5\)\s+-> 10.5/,
    /set\("bad", NaN\)\s+-> rejects: RangeError/,
    /incr\("user:1"\)\s+-> rejects: CacheError NOT_A_NUMBER/,
    /get\("user:1"\)\s+-> rejects: CacheError NOT_CONNECTED/,
  ]) {
    assert.match(out, line);
  }
});
