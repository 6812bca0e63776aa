// What the topology suites share: the gateway binary, a raw command, running another suite
// against a gateway (and the REST suites, as tests), and 64 callers incrementing counters
// through a fault.
import assert from "node:assert/strict";
import { test } from "node:test";
import { spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Cache } from "edge-caches";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const GATEWAY_BIN = process.env.GATEWAY_BIN ?? resolve(root, "target/gateway/edge-caches-gateway");

/** One command through the gateway at `url`; rejects with Redis's error. */
export async function raw(url, token, command) {
  const response = await fetch(url, { method: "POST", headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify(command) });
  const reply = await response.json();
  if (reply.error) throw new Error(reply.error);
  return reply.result;
}

/**
 * The REST suites as tests of the calling file: the conformance suite (and again with the near
 * tier on), the REST backend's own suite and @upstash/redis's, through the gateway that `env()`
 * names, which stands `where` (in test names: "on the cluster", "in front of Valkey 9.1").
 */
export function restSuites(where, env) {
  test(`the REST conformance suite passes ${where}`, async () => {
    await runSuite(["tests/conformance/conformance.test.mjs"], env());
  });
  test(`... with the near tier on (its reads are a script over many keys)`, async () => {
    await runSuite(["tests/conformance/conformance.test.mjs"], { ...env(), EDGE_CACHES_NEAR: "1" });
  });
  test(`the REST backend's own suite passes ${where} (tags included)`, async () => {
    await runSuite(["tests/rest/rest.test.mjs"], env());
  });
  test(`@upstash/redis's suite passes ${where}`, async () => {
    await runSuite(["tests/gateway/upstash-client.test.mjs"], env());
  });
}

/**
 * Runs test files with `node --test` and `env`; fails with their output unless they all pass
 * within `timeoutMs` (a hung suite is killed and fails with what it printed).
 */
export function runSuite(files, env, timeoutMs = 180_000) {
  // Without the parent's NODE_TEST_CONTEXT: with it, node --test runs as the parent's reporter
  // child and reports success without running the files.
  const { NODE_TEST_CONTEXT, ...inherited } = process.env;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--test", "--test-concurrency=1", "--test-force-exit", "--test-reporter=spec", ...files], {
      cwd: root,
      env: { ...inherited, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${files.join(" ")} did not finish within ${timeoutMs} ms:\n${out.slice(-6000)}`));
    }, timeoutMs);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise();
      else reject(new Error(`${files.join(" ")} failed:\n${out.slice(-6000)}`));
    });
  });
}

const CALLERS = 64;
const ALLOWED = new Set(["SERVER", "NETWORK", "TIMEOUT"]);
const MAY_HAVE_RUN = new Set(["NETWORK", "TIMEOUT"]); // SERVER (503) says it did not run
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * 64 callers, each incrementing its own counter through the gateway, while `fault()` runs
 * (resolving once the topology has recovered); then 1.5 s more. Checks that every failure has
 * an allowed code, that no counter ends above what was acknowledged plus what may have run (no
 * increment applied twice, none applied after a 503), that no call resolved with a count it
 * cannot have, and that every caller is served again after the fault.
 */
export async function hammer(url, token, { fault }) {
  const cache = new Cache(url, { token, keyPrefix: "fo", timeout: 2000 });
  await cache.connect();
  const callers = Array.from({ length: CALLERS }, (_, i) => ({ key: `c${i}`, attempts: 0, acked: 0, mayHaveRun: 0, records: [] }));
  let phase = "before";
  let running = true;
  const loops = callers.map(async (c) => {
    while (running) {
      const start = performance.now();
      const during = phase;
      c.attempts++;
      try {
        const value = await cache.incr(c.key);
        c.acked++;
        c.records.push({ ok: true, value, during, start, attempts: c.attempts });
      } catch (e) {
        if (MAY_HAVE_RUN.has(e.code)) c.mayHaveRun++;
        c.records.push({ ok: false, code: e.code, message: e.message, during, start });
        await sleep(20);
      }
    }
  });
  await sleep(400);
  phase = "fault";
  await fault();
  phase = "after";
  const recovered = performance.now();
  await sleep(1500);
  running = false;
  await Promise.all(loops);

  const finals = await raw(url, token, ["MGET", ...callers.map((c) => `fo::${c.key}`)]);
  let failedDuringFault = 0;
  callers.forEach((c, i) => {
    const final = Number(finals[i] ?? 0);
    const where = `${c.key}: attempts ${c.attempts}, acked ${c.acked}, may have run ${c.mayHaveRun}, final ${final}`;
    for (const r of c.records) {
      if (!r.ok) {
        assert.ok(ALLOWED.has(r.code), `${where}: failed with ${r.code} ${r.message}`);
        if (r.during === "fault") failedDuringFault++;
      } else {
        assert.ok(Number.isInteger(r.value) && r.value >= 1 && r.value <= r.attempts, `${where}: resolved ${r.value} on attempt ${r.attempts}`);
      }
    }
    assert.ok(final <= c.acked + c.mayHaveRun, `applied more than acknowledged + may have run: ${where}`);
    const late = c.records.filter((r) => r.start > recovered + 500);
    assert.ok(late.length > 0 && late.every((r) => r.ok), `${where}: not served again after recovery: ${JSON.stringify(late.filter((r) => !r.ok).slice(0, 2))}`);
  });
  return { failedDuringFault, callers };
}
