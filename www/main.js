// The playground: every method of the Cache on one page, with what each call returned and,
// on REST, every HTTP request it made. The package is imported as a user would (bundled by
// esbuild from node_modules/edge-caches), so this page is also a check that the bundle works.
import { Cache, CacheError } from "edge-caches";

const $ = (selector) => document.querySelector(selector);
const MAX_ROWS = 200;

let cache = null;
let cacheLabel = "";
let currentCall = "";
let requestCount = 0;
let resultCount = 0;

// ---- showing values

const OPTIONS = new WeakSet(); // option objects built here, shown as `{ ttl: 60 }`
function options(object) {
  OPTIONS.add(object);
  return object;
}

function show(value) {
  if (value === undefined) return "undefined";
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  if (typeof value === "function") return value.name || "function";
  if (OPTIONS.has(value)) {
    return `{ ${Object.entries(value).map(([k, v]) => `${k}: ${show(v)}`).join(", ")} }`;
  }
  return JSON.stringify(value);
}

function showError(error) {
  if (error instanceof CacheError) return `CacheError ${error.code}: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `thrown: ${show(error)}`;
}

function addResult(call, outcome, text, ms) {
  const item = document.createElement("li");
  item.dataset.seq = ++resultCount;
  item.dataset.outcome = outcome;
  item.dataset.method = call.match(/^(?:new Cache|\w+)/)[0];
  for (const [cls, content] of [["call", call], ["value", text], ["ms", `${ms.toFixed(1)} ms`]]) {
    const span = document.createElement(cls === "ms" ? "span" : "code");
    span.className = cls;
    span.textContent = content;
    item.append(span);
  }
  const list = $("#results");
  list.prepend(item);
  list.replaceChildren(...[...list.children].slice(0, MAX_ROWS));
}

// ---- parsing the inputs

// JSON where it parses, else the text itself (so `hello` is the string "hello").
function json(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// Empty: omitted. `null`: null. A number: that number. Anything else is passed on as text, so
// the cache's own argument checks answer (a TypeError), not the page.
function optionalNumber(text) {
  const t = text.trim();
  if (t === "") return undefined;
  if (t === "null") return null;
  const n = Number(t);
  return Number.isNaN(n) && t !== "NaN" ? t : n;
}

function inputs() {
  return {
    key: $("#key").value,
    value: json($("#value").value),
    ttl: optionalNumber($("#ttl").value),
    delta: optionalNumber($("#delta").value),
    keys: $("#keys").value.split(",").map((k) => k.trim()).filter((k) => k !== ""),
    mapping: json($("#mapping").value),
  };
}

const withTtl = (ttl) => (ttl === undefined ? [] : [options({ ttl })]);
const optional = (value) => (value === undefined ? [] : [value]);

// Each method's arguments, from the inputs.
const ARGUMENTS = {
  get: (a) => [a.key],
  set: (a) => [a.key, a.value, ...withTtl(a.ttl)],
  add: (a) => [a.key, a.value, ...withTtl(a.ttl)],
  getOrSet: (a) => [a.key, a.value, ...withTtl(a.ttl)],
  getMany: (a) => [a.keys],
  setMany: (a) => [a.mapping, ...withTtl(a.ttl)],
  delete: (a) => [a.key],
  deleteMany: (a) => [a.keys],
  clear: () => [],
  touch: (a) => [a.key, ...optional(a.ttl)],
  incr: (a) => [a.key, ...optional(a.delta)],
  decr: (a) => [a.key, ...optional(a.delta)],
  disconnect: () => [],
};

// ---- running calls, one at a time

function setBusy(busy) {
  $("#methods").disabled = busy || cache === null;
  $("#connect").disabled = busy;
}

function updateStatus() {
  const status = $("#status");
  if (cache === null) {
    status.textContent = "not connected";
    status.dataset.state = "idle";
  } else if (cache.connected) {
    status.textContent = `connected: ${cacheLabel}`;
    status.dataset.state = "connected";
  } else {
    status.textContent = `disconnected: ${cacheLabel}`;
    status.dataset.state = "idle";
  }
}

async function record(call, action) {
  setBusy(true);
  currentCall = call;
  const start = performance.now();
  try {
    const result = await action();
    addResult(call, "ok", show(result), performance.now() - start);
  } catch (error) {
    addResult(call, "error", showError(error), performance.now() - start);
  } finally {
    currentCall = "";
    setBusy(false);
    updateStatus();
  }
}

function runMethod(name) {
  const args = ARGUMENTS[name](inputs());
  return record(`${name}(${args.map(show).join(", ")})`, () => cache[name](...args));
}

// ---- the REST request log: a fetch that records what the cache sends

async function recordingFetch(input, init = {}) {
  const row = addRequest(input, init);
  const start = performance.now();
  try {
    const response = await fetch(input, init);
    finishRequest(row, String(response.status), performance.now() - start);
    return response;
  } catch (error) {
    finishRequest(row, error.name, performance.now() - start);
    throw error;
  }
}

function addRequest(input, init) {
  const url = new URL(typeof input === "string" ? input : input.url);
  const body = typeof init.body === "string" ? init.body : "";
  const row = document.createElement("tr");
  const cells = [++requestCount, currentCall, init.method ?? "GET", url.pathname, body, "…", ""];
  for (const [i, value] of cells.entries()) {
    const text = String(value);
    const cell = document.createElement("td");
    cell.className = ["n", "call", "method", "path", "command", "status", "ms"][i];
    cell.textContent = text.length > 160 ? `${text.slice(0, 160)}…` : text;
    if (i === 4) cell.title = text;
    row.append(cell);
  }
  const tbody = $("#requests tbody");
  tbody.prepend(row);
  tbody.replaceChildren(...[...tbody.children].slice(0, MAX_ROWS));
  return row;
}

function finishRequest(row, status, ms) {
  if (!/^2\d\d$/.test(status)) row.dataset.failed = "";
  row.querySelector(".status").textContent = status;
  row.querySelector(".ms").textContent = ms.toFixed(1);
}

// ---- connecting

function backend() {
  return document.querySelector('input[name="backend"]:checked').value;
}

function syncBackendInputs() {
  const rest = backend() === "rest";
  $("#rest-url").disabled = !rest;
  $("#rest-token").disabled = !rest;
}

async function connect() {
  const rest = backend() === "rest";
  const url = rest ? $("#rest-url").value.trim() : backend();
  const opts = options({});
  if ($("#key-prefix").value !== "") opts.keyPrefix = $("#key-prefix").value;
  if (rest) {
    opts.token = $("#rest-token").value;
    opts.fetch = recordingFetch;
  }
  const shown = options({ ...opts });
  if (rest) shown.token = "•••";
  if (cache?.connected) await cache.disconnect();
  cache = null;
  await record(`new Cache(${show(url)}, ${show(shown)}).connect()`, async () => {
    const created = new Cache(url, opts);
    cache = created;
    cacheLabel = url;
    return created.connect();
  });
}

for (const radio of document.querySelectorAll('input[name="backend"]')) {
  radio.addEventListener("change", syncBackendInputs);
}
$("#connection").addEventListener("submit", (event) => {
  event.preventDefault();
  connect();
});
for (const button of document.querySelectorAll("#methods button")) {
  button.addEventListener("click", () => runMethod(button.dataset.method));
}

// The module runs once the wasm is instantiated (the package awaits it at its top level).
syncBackendInputs();
setBusy(false);
updateStatus();
document.body.dataset.ready = "true";
