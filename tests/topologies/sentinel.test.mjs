// The gateway in front of a primary and a replica watched by three sentinels (real
// redis-server processes on loopback, started and stopped by this file): the REST conformance
// suite through `--sentinel`, then the primary killed under 64 callers until the sentinels
// promote the replica, which the gateway follows without a restart.
//
//   node --test tests/topologies/sentinel.test.mjs   (after `make build`)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, killAll, redisRaw, startGateway, startSentinels } from "../servers.mjs";
import { GATEWAY_BIN, hammer, runSuite } from "./common.mjs";

const token = randomBytes(24).toString("hex");
const dir = mkdtempSync(join(tmpdir(), "edge-caches-sentinel-"));
let topology;
let url;

before(async () => {
  topology = await startSentinels(dir, "mymaster");
  const port = await freePort();
  await startGateway(GATEWAY_BIN, port, topology.urls.join(","), token, ["--sentinel", "mymaster", "--redis-timeout-ms", "2000"]);
  url = `http://127.0.0.1:${port}`;
});
after(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

test("the REST conformance suite passes through Sentinel", async () => {
  await runSuite(["tests/conformance/conformance.test.mjs"], { EDGE_CACHES_URL: url, EDGE_CACHES_TOKEN: token });
});

test("failover: the primary killed under 64 callers; the gateway follows the promoted replica", { timeout: 60_000 }, async () => {
  const result = await hammer(url, token, {
    async fault() {
      topology.primary.child.kill("SIGKILL");
      // Over once the sentinels name the replica as the primary.
      for (let i = 0; i < 600; i++) {
        const named = await Promise.all(topology.sentinels.map((s) => redisRaw(s.port, "sentinel", "get-master-addr-by-name", "mymaster")));
        if (named.every((n) => n.includes(`\r\n${topology.replica.port}\r\n`))) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error("the sentinels did not promote the replica");
    },
  });
  assert.ok(result.failedDuringFault > 0, "the kill was felt");
});
