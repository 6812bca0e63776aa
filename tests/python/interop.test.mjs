// A Python service and an edge worker on one Redis: the real async-caches 0.3.0 (from PyPI, in
// the virtual environment scripts/setup.sh makes) talks to Redis directly, edge-caches through
// the gateway in front of it. Every row says what async-caches does; where the two differ by
// design, the row pins the difference (the README lists them). Run by scripts/with-servers.sh
// (REDIS_URL, GATEWAY_URL, GATEWAY_TOKEN).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { Cache } from "edge-caches";

const { REDIS_URL, GATEWAY_URL, GATEWAY_TOKEN } = process.env;
assert.ok(REDIS_URL && GATEWAY_URL && GATEWAY_TOKEN, "run me with scripts/with-servers.sh");
const PYTHON = new URL("../../.build/python/bin/python", import.meta.url).pathname;

let n = 0;
const prefix = () => `py${process.pid}_${n++}`;

// The Python peer (peer.py): one process for the whole file, one JSON line a call.
let peer;
before(() => {
  const child = spawn(PYTHON, [new URL("./peer.py", import.meta.url).pathname], { stdio: ["pipe", "pipe", "inherit"] });
  const waiting = [];
  createInterface({ input: child.stdout }).on("line", (line) => waiting.shift()(JSON.parse(line)));
  peer = {
    child,
    ask: (request) =>
      new Promise((resolve) => {
        waiting.push(resolve);
        child.stdin.write(JSON.stringify(request) + "\n");
      }),
  };
});
after(() => peer.child.stdin.end());

// NaN, the infinities and whole floats cross to and from Python as { $float: text }.
const float = (text) => ({ $float: text });
const fromPython = (value) => {
  if (Array.isArray(value)) return value.map(fromPython);
  if (value && typeof value === "object") {
    if (Object.keys(value).length === 1 && "$float" in value) return { nan: NaN, inf: Infinity, "-inf": -Infinity }[value.$float];
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromPython(v)]));
  }
  return value;
};

/** async-caches' Cache(url, **options), and a call on it: resolves with its result, or rejects with its exception's class name. */
function python(options = {}, query = "") {
  const cache = { url: REDIS_URL + query, ...options };
  const call = async (op, args = [], kwargs = {}) => {
    const reply = await peer.ask({ cache, op, args, kwargs });
    if (reply.error) throw Object.assign(new Error(`${reply.error}: ${reply.message}`), { pythonError: reply.error });
    return fromPython(reply.result);
  };
  return new Proxy({}, { get: (_, op) => (...args) => (args.length && isKwargs(args.at(-1)) ? call(op, args.slice(0, -1), args.at(-1).kwargs) : call(op, args)) });
}
const kw = (kwargs) => ({ kwargs });
const isKwargs = (x) => x && typeof x === "object" && "kwargs" in x && Object.keys(x).length === 1;

async function edge(options = {}, query = "") {
  const cache = new Cache(GATEWAY_URL + query, { token: GATEWAY_TOKEN, ...options });
  await cache.connect();
  return cache;
}

/** edge-caches and async-caches with one fresh key prefix: `{ p, e, py }`. */
async function pair() {
  const p = prefix();
  return { p, e: await edge({ keyPrefix: p }), py: python({ key_prefix: p }) };
}

describe("values", () => {
  // Each value either side can write, read back by the other.
  const VALUES = [
    ["a string", "text"],
    ["a string that looks like a number", "123"],
    ["one that looks like a float", "1.5"],
    ["one that looks like JSON", '{"a": 1}'],
    ["the empty string", ""],
    ["an int", 42],
    ["a negative int", -7],
    ["the largest safe integer", 2 ** 53 - 1],
    ["a float", 1.5],
    ["a large float", 1e300],
    ["a small float", -2.5e-8],
    ["true", true],
    ["false", false],
    ["null / None", null],
    ["an array", [1, "two", [3]]],
    ["an object", { a: 1, b: [1, 2], c: { d: null } }],
    ["unicode", "é日本🚀"],
    ["unicode keys", { "é": "ü" }],
  ];

  it("every value edge-caches writes, async-caches reads as the same value", async () => {
    const { e, py } = await pair();
    for (const [what, value] of VALUES) {
      await e.set(what, value);
      assert.deepEqual(await py.get(what), value, what);
    }
  });

  it("every value async-caches writes, edge-caches reads as the same value", async () => {
    const { e, py } = await pair();
    for (const [what, value] of VALUES) {
      await py.set(what, value);
      assert.deepEqual(await e.get(what, "missing"), value, what);
    }
    // Python floats: 1.0 is stored as "1.0" and reads as the number 1.
    await py.set("whole float", float("1.0"));
    assert.equal(await e.get("whole float"), 1);
  });

  it("Python's NaN and Infinity, anywhere in a value, read as those numbers", async () => {
    const { p, e, py } = await pair();
    await py.set("nan", float("nan"));
    await py.set("inf", float("inf"));
    await py.set("nested", { a: [float("nan"), float("-inf")], s: "NaN" });
    assert.equal(await py.raw_get(`${p}::nan`), "NaN", "what Python stores");
    assert.ok(Number.isNaN(await e.get("nan")));
    assert.equal(await e.get("inf"), Infinity);
    assert.deepEqual(await e.get("nested"), { a: [NaN, -Infinity], s: "NaN" });
    assert.deepEqual(await e.getMany(["nan", "inf"]), { nan: NaN, inf: Infinity });
  });

  it("the same values, not the same bytes: Python writes spaces, \\u escapes and 1.0", async () => {
    const { p, e, py } = await pair();
    const value = { a: 1, b: [1, 2], c: "é" };
    await py.set("py", value);
    await e.set("edge", value);
    assert.equal(await py.raw_get(`${p}::py`), '{"a": 1, "b": [1, 2], "c": "\\u00e9"}');
    assert.equal(await py.raw_get(`${p}::edge`), '{"a":1,"b":[1,2],"c":"é"}');
    await py.set("f", float("1.0"));
    await e.set("f2", 1.0);
    assert.equal(await py.raw_get(`${p}::f`), "1.0");
    assert.equal(await py.raw_get(`${p}::f2`), "1");
  });
});

describe("keys", () => {
  it("prefix and version make the key async-caches makes, for every kind of version", async () => {
    // [cache version (Python's version=, edge's version option), call version]
    const CASES = [
      [undefined, undefined],
      ["v1", undefined],
      [2, undefined],
      [0, undefined],
      ["", undefined],
      [null, undefined],
      ["v1", "v2"],
      ["v1", 3],
      ["v1", 0],
      ["v1", ""],
      ["v1", null],
      [0, 5],
      [undefined, "0"],
    ];
    for (const [cacheVersion, callVersion] of CASES) {
      const p = prefix();
      const what = `cache ${cacheVersion} call ${callVersion}`;
      const pyOptions = { key_prefix: p, ...(cacheVersion === undefined ? {} : { version: cacheVersion }) };
      const e = await edge({ keyPrefix: p, ...(cacheVersion === undefined ? {} : { version: cacheVersion }) });
      const py = python(pyOptions);
      const pyCall = callVersion === undefined ? [] : [kw({ version: callVersion })];
      const edgeCall = callVersion === undefined ? undefined : { version: callVersion };
      await e.set("k", "from edge", edgeCall);
      assert.equal(await py.get("k", null, ...pyCall), "from edge", what);
      await py.set("j", "from python", ...pyCall);
      assert.equal(await e.get("j", null, edgeCall), "from python", what);
      const key = await py.make_key("k", ...(callVersion === undefined ? [] : [callVersion]));
      assert.equal(await py.raw_get(key), '"from edge"', `${what}: ${key}`);
    }
  });

  it("URL query options: the same keys, and an option that is false leaves the URL's", async () => {
    const p = prefix();
    const query = `?key_prefix=${p}&version=7`;
    const e = await edge({}, query);
    const py = python({}, query);
    await e.set("k", 1);
    assert.equal(await py.get("k"), 1);
    assert.equal(await py.make_key("k"), `${p}:7:k`);
    // version=0 / "" and key_prefix="" in the options leave the URL's, in both.
    const e0 = await edge({ version: 0, keyPrefix: "" }, query);
    const py0 = python({ version: 0, key_prefix: "" }, query);
    assert.equal(await py0.make_key("k"), `${p}:7:k`);
    assert.equal(await e0.get("k"), 1);
  });
});

describe("calls across the two", () => {
  it("ttl both ways: seconds become the same expiry", async () => {
    const { p, e, py } = await pair();
    await e.set("e", 1, { ttl: 30 });
    await py.set("p", 1, kw({ ttl: 30 }));
    for (const key of ["e", "p"]) {
      const pttl = await py.raw_pttl(`${p}::${key}`);
      assert.ok(pttl > 29_000 && pttl <= 30_000, `${key}: ${pttl}`);
    }
    await e.set("short", 1, { ttl: 0.2 });
    assert.equal(await py.get("short"), 1);
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(await py.get("short", "gone"), "gone");
    // A cache's default ttl, both ways.
    const ed = await edge({ keyPrefix: p, ttl: 40 });
    const pd = python({ key_prefix: p, ttl: 40 });
    await ed.set("de", 1);
    await pd.set("dp", 1);
    for (const key of ["de", "dp"]) assert.ok((await py.raw_pttl(`${p}::${key}`)) > 39_000, key);
  });

  it("incr and decr alternate between the two on one counter", async () => {
    const { e, py } = await pair();
    await py.set("n", 5);
    assert.equal(await e.incr("n"), 6);
    assert.equal(await py.incr("n", 2), 8, "Python's INCRBY reads edge-caches' integer");
    assert.equal(await e.decr("n", 3), 5);
    assert.equal(await py.decr("n"), 4);
    assert.equal(await e.incr("n", 0.5), 4.5);
    assert.equal(await py.incr("n", 1.5), 6, "a float delta is INCRBYFLOAT in Python too");
    assert.equal(await e.get("n"), 6);
    // Differences by design: Python's incr raises on a missing key (edge-caches starts at 0),
    // and its integer incr refuses a stored float.
    await assert.rejects(py.incr("missing"), (err) => err.pythonError === "ValueError");
    assert.equal(await e.incr("missing"), 1);
    await e.set("f", 1.5);
    await assert.rejects(py.incr("f", 1), (err) => err.pythonError === "ReplyError");
  });

  it("add, getMany / get_many, deleteMany / delete_many and touch, both ways", async () => {
    const { p, e, py } = await pair();
    await py.set("a", "python");
    assert.equal(await e.add("a", "edge"), false);
    await e.set("b", "edge");
    assert.equal(await py.add("b", "python"), false);
    assert.equal(await py.add("c", "python"), true);
    assert.equal(await e.add("d", "edge"), true);
    assert.deepEqual(await e.getMany(["a", "b", "c", "d", "x"]), { a: "python", b: "edge", c: "python", d: "edge", x: null });
    assert.deepEqual(await py.get_many(["a", "b", "c", "d", "x"]), { a: "python", b: "edge", c: "python", d: "edge", x: null });
    await py.set_many({ m1: 1, m2: [2] });
    await e.setMany({ m3: { three: 3 } });
    assert.deepEqual(await e.getMany(["m1", "m2", "m3"]), { m1: 1, m2: [2], m3: { three: 3 } });
    assert.deepEqual(await py.get_many(["m1", "m2", "m3"]), { m1: 1, m2: [2], m3: { three: 3 } });
    await e.deleteMany(["a", "m1"]);
    await py.delete_many(["b", "m2"]);
    assert.deepEqual(await py.get_many(["a", "b", "m1", "m2", "c"]), { a: null, b: null, m1: null, m2: null, c: "python" });
    assert.equal(await e.touch("c", 50), true);
    assert.ok((await py.raw_pttl(`${p}::c`)) > 49_000);
    assert.equal(await py.touch("d", 60), true);
    assert.ok((await py.raw_pttl(`${p}::d`)) > 59_000);
    assert.equal(await py.touch("gone", 5), false);
    assert.equal(await e.touch("gone", 5), false);
  });

  it("bytes, compressed and tagged entries: async-caches cannot read them (a JSON error)", async () => {
    const { p, e, py } = await pair();
    await e.set("bytes", new Uint8Array([0, 1, 254, 255]));
    await assert.rejects(py.get("bytes"), (err) => err.pythonError === "JSONDecodeError", "async-caches json.loads the stored text");
    assert.equal(await py.raw_get(await py.make_key("bytes")), "#bytes:AAH+/w==");
    await e.set("tagged", { a: 1 }, { tags: ["t"] });
    await assert.rejects(py.get("tagged"), (err) => err.pythonError === "JSONDecodeError");
    const zipped = await edge({ keyPrefix: p, compress: { threshold: 10 } });
    await zipped.set("zipped", { text: "x".repeat(100) });
    await assert.rejects(py.get("zipped"), (err) => err.pythonError === "JSONDecodeError");
    assert.deepEqual(await e.get("zipped"), { text: "x".repeat(100) }, "while edge-caches reads it");
  });

  it("getOrSet: a stored null is a hit for edge-caches, a miss for async-caches", async () => {
    const { e, py } = await pair();
    await py.set("k", "there");
    assert.equal(await e.getOrSet("k", "default"), "there");
    await e.getOrSet("new", () => ({ made: "by edge" }));
    assert.deepEqual(await py.get_or_set("new", "python default"), { made: "by edge" });
    await e.set("null", null);
    assert.equal(await e.getOrSet("null", "default"), null);
    assert.equal(await py.get_or_set("null", "default"), "default", "Python's get_or_set takes None for a miss (and overwrites)");
    assert.equal(await e.get("null"), "default");
  });

  it("clear() with a prefix deletes that prefix's keys, whoever wrote them, and nothing else", async () => {
    const p = prefix();
    const other = prefix();
    const e = await edge({ keyPrefix: p });
    const py = python({ key_prefix: p });
    const pyOther = python({ key_prefix: other });
    await py.set("a", 1);
    await py.set("b", 2, kw({ version: 3 }));
    await e.set("c", 3);
    await pyOther.set("a", "kept");
    await e.clear();
    assert.deepEqual(await py.get_many(["a", "c"]), { a: null, c: null });
    assert.equal(await py.get("b", null, kw({ version: 3 })), null);
    assert.equal(await pyOther.get("a"), "kept");
  });

  it("lists longer than one request can carry: getMany of 76,000 keys, setMany of 40,000 entries", async () => {
    const { e, py } = await pair();
    const entries = Object.fromEntries(Array.from({ length: 40_000 }, (_, i) => [`key${i}`, { i }]));
    await e.setMany(entries);
    assert.deepEqual(await py.get("key39999"), { i: 39_999 });
    const keys = Array.from({ length: 76_000 }, (_, i) => `key${i}`);
    const values = await e.getMany(keys);
    assert.equal(Object.keys(values).length, 76_000);
    assert.deepEqual([values.key0, values.key39999, values.key40000, values.key75999], [{ i: 0 }, { i: 39_999 }, null, null]);
    await e.deleteMany(keys);
    assert.equal(await py.get("key123"), null);
  });

  // Last: async-caches' clear() is FLUSHDB whatever its prefix (suites run one file at a time).
  it("async-caches' clear() empties the whole database, whatever its key_prefix", async () => {
    const e = await edge({ keyPrefix: prefix() });
    await e.set("elsewhere", 1);
    await python({ key_prefix: prefix() }).clear();
    assert.equal(await e.get("elsewhere"), null);
  });
});
