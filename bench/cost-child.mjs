// One client, one method, in a fresh process: µs per sequential call with globalThis.fetch
// replaced by an in-process stub, so only the client's own work is measured.
// Usage: node bench/cost-child.mjs CLIENT METHOD WARMUP_CALLS CALLS
// Prints one JSON line.
//
// The stub first answers from a model of the protocol (lib.mjs: the body a REST server would
// give for exactly the request the client sent, base64 when the client asks for it), and the
// answers are checked. Then it answers every call with that same canned body in a new Response
// (the model would give the same body again: same key, same command), so the stub's own cost is
// one `new Response(string)` per call, the same for every client. At the end the request sent
// during the timed loop is compared with the checked one.
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { makeClient, answer, SMALL } from "./lib.mjs";

const [clientName, method, warmupArg, callsArg] = process.argv.slice(2);
const WARMUP = Number(warmupArg ?? 20000);
const CALLS = Number(callsArg ?? 20000);
const URL_ = "http://bench.invalid";

const store = new Map();
let canned = null; // the answer body of the timed loop, once checked
let checked = null; // the last request answered by the model, and its answer
let lastUrl = null;
let lastBody = null;
globalThis.fetch = async (url, init) => {
  if (canned !== null) {
    lastUrl = url;
    lastBody = init.body;
    return new Response(canned);
  }
  checked = { url: String(url), body: init.body, headers: init.headers };
  checked.answer = answer(store, String(url), init);
  return new Response(checked.answer);
};

const client = await makeClient(clientName, URL_, "t");
const keys10 = Array.from({ length: 10 }, (_, i) => `k${i}`);

const ops = {
  get: { setup: () => client.set("k", SMALL, 3600), op: () => client.get("k") },
  set: { setup: async () => {}, op: () => client.set("k", SMALL, 60) },
  getMany: {
    setup: async () => {
      for (const k of keys10) await client.set(k, SMALL, 3600);
    },
    op: () => client.getMany(keys10),
  },
  incr: { setup: async () => {}, op: () => client.incr("n") },
};
const { setup, op } = ops[method] ?? assert.fail(`unknown method ${method}`);

function check(result) {
  switch (method) {
    case "get":
      assert.deepEqual(result, SMALL);
      break;
    case "getMany": {
      const values = Array.isArray(result) ? result : keys10.map((k) => result[k]);
      assert.equal(values.length, 10);
      for (const v of values) assert.deepEqual(v, SMALL);
      break;
    }
    case "incr":
      assert.equal(typeof result, "number");
      break;
    default:
      break;
  }
}

// Check phase: the model answers; the results must be right.
await setup();
let result;
for (let i = 0; i < 3; i++) result = await op();
check(result);
const expected = result;
canned = checked.answer; // incr: the model's third answer, given again every call

for (let i = 0; i < WARMUP; i++) await op();
const t0 = performance.now();
for (let i = 0; i < CALLS; i++) result = await op();
const elapsedMs = performance.now() - t0;

// The timed loop sent the checked request and got the checked result.
assert.equal(String(lastUrl), checked.url);
assert.equal(lastBody, checked.body);
assert.deepEqual(result, expected);

console.log(
  JSON.stringify({
    client: clientName,
    method,
    calls: CALLS,
    warmup: WARMUP,
    usPerCall: (elapsedMs * 1000) / CALLS,
    request: { url: checked.url, body: checked.body },
    answer: canned,
  }),
);
