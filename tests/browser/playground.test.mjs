// The playground (www/) in headless Chromium: builds it with esbuild, serves www/dist, clicks
// through every method on memory:// and then on REST (the gateway of scripts/with-servers.sh,
// from GATEWAY_URL/GATEWAY_TOKEN), and checks what the page shows. Any console error or
// warning, or uncaught page error, fails the test.
//
//   node --test tests/browser/playground.test.mjs                         # memory:// only
//   scripts/with-servers.sh node --test tests/browser/playground.test.mjs # and REST
//
// Leaves a screenshot of the session in tests/artifacts/playground.png.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serve } from "../../www/serve.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const screenshot = join(root, "tests", "artifacts", "playground.png");
const { GATEWAY_URL, GATEWAY_TOKEN } = process.env;

let server;
let origin;
let browser;
let page;
const problems = []; // console errors/warnings and page errors, checked after every step
const allowed = []; // console messages a step expects (a 401 the browser logs itself)

before(async () => {
  execFileSync(process.execPath, [join(root, "www", "build.mjs")], { stdio: "inherit" });

  server = await serve();
  origin = `http://127.0.0.1:${server.address().port}`;

  // launch() gives every run a fresh, temporary user data dir (and removes it on close).
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(10_000);
  page.on("console", (message) => {
    if (!["error", "warning"].includes(message.type())) return;
    if (allowed.some((pattern) => pattern.test(message.text()))) return;
    problems.push(`console.${message.type()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.stack ?? error}`));

  await page.goto(`${origin}/`);
  await page.waitForSelector("body[data-ready]");
  assert.equal(await page.textContent("#status"), "not connected");
});

after(async () => {
  await browser?.close();
  server?.close();
});

function noProblems() {
  assert.deepEqual(problems, [], "the page logged errors");
}

const DEFAULTS = { key: "greeting", value: '"hello"', ttl: "", delta: "", keys: "greeting, visits, missing", mapping: '{"a": 1, "b": [true, null]}' };

async function lastSeq() {
  return page.evaluate(() => Number(document.querySelector("#results li")?.dataset.seq ?? 0));
}

async function newestResult(seq) {
  const item = page.locator(`#results li[data-seq="${seq}"]`);
  await item.waitFor();
  const result = {
    outcome: await item.getAttribute("data-outcome"),
    call: await item.locator(".call").textContent(),
    value: await item.locator(".value").textContent(),
  };
  noProblems();
  return result;
}

// Sets every argument input (the defaults unless given; typing only where the text differs),
// clicks the method's button and returns the result the page shows for that click.
async function call(method, inputs = {}) {
  const current = await page.evaluate((ids) => ids.map((id) => document.getElementById(id).value), Object.keys(DEFAULTS));
  for (const [i, [id, value]] of Object.entries({ ...DEFAULTS, ...inputs }).entries()) {
    if (current[i] !== value) await page.fill(`#${id}`, value);
  }
  const seq = (await lastSeq()) + 1;
  await page.click(`#methods button[data-method="${method}"]`);
  return newestResult(seq);
}

async function ok(method, inputs, expected) {
  const result = await call(method, inputs);
  assert.equal(result.outcome, "ok", `${result.call} → ${result.value}`);
  assert.equal(result.value, expected, result.call);
  return result;
}

async function fails(method, inputs, expected) {
  const result = await call(method, inputs);
  assert.equal(result.outcome, "error", `${result.call} → ${result.value}`);
  assert.match(result.value, expected, result.call);
  return result;
}

async function connect({ backend, url = "", token = "", prefix = "playground" }) {
  await page.check(`input[name="backend"][value="${backend}"]`);
  if (backend === "rest") {
    await page.fill("#rest-url", url);
    await page.fill("#rest-token", token);
  }
  await page.fill("#key-prefix", prefix);
  const seq = (await lastSeq()) + 1;
  await page.click("#connect");
  const result = await newestResult(seq);
  assert.equal(result.outcome, "ok", `${result.call} → ${result.value}`);
  assert.ok(!result.call.includes(token) || token === "", "the token is shown on the page");
  return result;
}

async function requestRows() {
  return page.$$eval("#requests tbody tr", (rows) =>
    rows.reverse().map((row) => Object.fromEntries(
      [...row.cells].map((cell) => [cell.className, cell.title || cell.textContent]), // title: untruncated
    )));
}

test("memory://: every method, with the values and errors the page shows", async () => {
  await connect({ backend: "memory://" });
  assert.equal(await page.textContent("#status"), "connected: memory://");

  await ok("get", {}, "null");
  const set = await ok("set", { ttl: "60" }, "undefined");
  assert.equal(set.call, 'set("greeting", "hello", { ttl: 60 })');
  await ok("get", {}, '"hello"');
  await ok("add", { value: '"other"' }, "false");
  await ok("add", { key: "fresh", value: "42" }, "true");
  await ok("get", { key: "fresh" }, "42");

  await ok("incr", { key: "visits" }, "1");
  await ok("incr", { key: "visits", delta: "10" }, "11");
  await ok("decr", { key: "visits", delta: "2.5" }, "8.5");
  await ok("getMany", {}, '{"greeting":"hello","visits":8.5,"missing":null}');

  await ok("setMany", {}, "undefined");
  await ok("getMany", { keys: "a, b" }, '{"a":1,"b":[true,null]}');
  await ok("getOrSet", { key: "report", value: '{"rows": 3}' }, '{"rows":3}');
  await ok("getOrSet", { key: "report", value: "99" }, '{"rows":3}');

  await ok("touch", { ttl: "5" }, "true");
  await ok("touch", { key: "missing" }, "false");

  // Bad input: the error's class and code, and the cache lives on.
  await fails("set", { ttl: "0" }, /^RangeError: /);
  await fails("incr", { key: "greeting" }, /^CacheError NOT_A_NUMBER: /);
  await fails("incr", { key: "visits", delta: "abc" }, /^TypeError: /);
  await fails("setMany", { mapping: "not json" }, /^TypeError: /);
  await ok("get", { key: "visits" }, "8.5");

  await ok("delete", {}, "undefined");
  await ok("get", {}, "null");
  await ok("deleteMany", { keys: "a, b" }, "undefined");
  await ok("getMany", { keys: "a, b, fresh" }, '{"a":null,"b":null,"fresh":42}');
  await ok("clear", {}, "undefined");
  await ok("getMany", { keys: "fresh, report" }, '{"fresh":null,"report":null}');

  await ok("disconnect", {}, "undefined");
  assert.equal(await page.textContent("#status"), "disconnected: memory://");
  await fails("get", {}, /^CacheError NOT_CONNECTED: /);

  assert.equal((await requestRows()).length, 0, "memory:// made HTTP requests");
  await mkdir(join(root, "tests", "artifacts"), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
  noProblems();
});

test("dummy://: writes are accepted, nothing is stored", async () => {
  await connect({ backend: "dummy://" });
  assert.equal(await page.textContent("#status"), "connected: dummy://");
  await ok("set", {}, "undefined");
  await ok("get", {}, "null");
  await ok("add", {}, "false");
  await ok("getOrSet", { value: "7" }, "7");
  await fails("incr", {}, /^CacheError UNSUPPORTED: /);
  await ok("disconnect", {}, "undefined");
  noProblems();
});

test(
  "REST: the same calls through the gateway, each request logged with its latency",
  { skip: GATEWAY_URL && GATEWAY_TOKEN ? false : "GATEWAY_URL/GATEWAY_TOKEN not set: run under scripts/with-servers.sh" },
  async () => {
    // A wrong token: connect() makes no request, the first call is refused (AUTH, a 401).
    await connect({ backend: "rest", url: GATEWAY_URL, token: "wrong-token" });
    allowed.push(/status of 401/);
    await fails("get", {}, /^CacheError AUTH: /);
    allowed.pop();
    let rows = await requestRows();
    assert.equal(rows.length, 1);
    assert.equal(rows[0].status, "401");

    const connected = await connect({ backend: "rest", url: GATEWAY_URL, token: GATEWAY_TOKEN });
    assert.match(connected.call, /token: "•••"/);
    assert.equal(await page.textContent("#status"), `connected: ${GATEWAY_URL}`);

    // incr's script goes by its SHA-1: a server that does not have it yet (this one, now) answers
    // NOSCRIPT inside a /pipeline answer (no HTTP error for Chromium to log), and the first incr
    // sends the script in full: two requests, once.
    const flushed = await fetch(GATEWAY_URL, { method: "POST", headers: { Authorization: `Bearer ${GATEWAY_TOKEN}` }, body: '["SCRIPT","FLUSH"]' });
    assert.deepEqual(await flushed.json(), { result: "OK" });

    // clear() with a prefix walks the keys with SCAN: one request or more.
    let before = (await requestRows()).length;
    await ok("clear", {}, "undefined");
    rows = await requestRows();
    assert.ok(rows.length > before, "clear() sent no request");
    assert.ok(rows.slice(before).every((row) => row.call === "clear()" && row.status === "200"));

    // Each call, what it returns, and the one request it sends (the README's promise), which
    // names the stored keys (`prefix:version:key`). Which Redis commands carry a call is the
    // backend's business (it changes); the page shows whatever was sent.
    const steps = [
      ["get", {}, "null", ["playground::greeting"]],
      ["set", { ttl: "60" }, "undefined", ["playground::greeting"]],
      ["get", {}, '"hello"', ["playground::greeting"]],
      ["add", { value: '"other"' }, "false", ["playground::greeting"]],
      ["incr", { key: "visits" }, "1", ["playground::visits"]],
      ["incr", { key: "visits", delta: "10" }, "11", ["playground::visits"]],
      ["decr", { key: "visits", delta: "2.5" }, "8.5", ["playground::visits"]],
      ["getMany", {}, '{"greeting":"hello","visits":8.5,"missing":null}',
        ["playground::greeting", "playground::visits", "playground::missing"]],
      ["setMany", { ttl: "30" }, "undefined", ["playground::a", "playground::b"]],
      ["getMany", { keys: "a, b" }, '{"a":1,"b":[true,null]}', ["playground::a", "playground::b"]],
      ["getOrSet", { key: "report", value: '{"rows": 3}' }, '{"rows":3}', ["playground::report"]],
      ["getOrSet", { key: "report", value: "99" }, '{"rows":3}', ["playground::report"]],
      ["touch", { ttl: "5" }, "true", ["playground::greeting"]],
      ["touch", { key: "missing" }, "false", ["playground::missing"]],
      ["delete", {}, "undefined", ["playground::greeting"]],
      ["get", {}, "null", ["playground::greeting"]],
      ["deleteMany", { keys: "a, b" }, "undefined", ["playground::a", "playground::b"]],
    ];
    // The script each method sends by its SHA-1: its first use on this fresh server is
    // answered NOSCRIPT, and the script goes again in full.
    const scripts = { getOrSet: "add", add: "add", incr: "incr", decr: "incr" };
    const used = new Set();
    for (const [method, inputs, expected, keys] of steps) {
      before = (await requestRows()).length;
      const result = await ok(method, inputs, expected);
      rows = await requestRows();
      const script = scripts[method];
      const requests = script !== undefined && !used.has(script) ? 2 : 1;
      used.add(script);
      assert.equal(rows.length, before + requests, `${result.call} sent ${rows.length - before} requests`);
      if (requests === 2) assert.match(rows.at(-2).command, /EVALSHA/, "the script by its SHA-1 first");
      const row = rows.at(-1);
      assert.equal(row.call, result.call);
      assert.equal(row.method, "POST");
      assert.match(row.path, /^\/(pipeline|multi-exec)?$/, result.call);
      assert.ok(Array.isArray(JSON.parse(row.command)), `${result.call}: the command is not JSON`);
      for (const key of keys) assert.ok(row.command.includes(`"${key}"`), `${result.call}: ${row.command}`);
      assert.equal(row.status, "200", result.call);
      assert.match(row.ms, /^\d+\.\d$/, `latency of ${result.call}`);
    }

    // Bad input is refused before anything is sent.
    before = (await requestRows()).length;
    await fails("set", { ttl: "0" }, /^RangeError: /);
    allowed.push(/status of 400/); // a Redis error reply comes with HTTP 400, which Chromium logs
    await fails("incr", { key: "report" }, /^CacheError NOT_A_NUMBER: /); // Redis refuses: 1 request
    allowed.pop();
    assert.equal((await requestRows()).length, before + 1);
    assert.doesNotMatch(await page.content(), new RegExp(GATEWAY_TOKEN), "the token is on the page");

    await page.screenshot({ path: screenshot, fullPage: true });
    noProblems();
  },
);
