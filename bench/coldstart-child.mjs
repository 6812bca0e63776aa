// One cold start: a fresh Node process, globalThis.fetch stubbed, import the client, construct
// it, and complete one `get` (a hit on a small object). Times are performance.now(), i.e. ms
// since this process started (performance.timeOrigin).
// Usage: node bench/coldstart-child.mjs CLIENT   -> one JSON line
import { performance } from "node:perf_hooks";
const atScript = performance.now();
const { makeClient, answer, SMALL } = await import("./lib.mjs");
import assert from "node:assert/strict";

const clientName = process.argv[2];
// The model store already holds the key as each client spells it.
const store = new Map([
  ["::k", JSON.stringify(SMALL)],
  ["k", JSON.stringify(SMALL)],
]);
globalThis.fetch = async (url, init) => new Response(answer(store, String(url), init));

const client = await makeClient(clientName, "http://bench.invalid", "t");
const ready = performance.now();
const value = await client.get("k");
const firstGet = performance.now();
assert.deepEqual(value, SMALL);
console.log(JSON.stringify({ client: clientName, atScriptMs: atScript, readyMs: ready, firstGetMs: firstGet }));
