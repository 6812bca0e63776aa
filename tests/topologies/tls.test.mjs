// The gateway over TLS (rediss://) to redis-server's own TLS, with certificates made here by
// openssl: a CA, a server certificate for 127.0.0.1, a client certificate (the Redis asks for
// one), and a second CA that signed nothing the Redis has. One Redis, a 3-master cluster and a
// primary with three sentinels, each listening on TLS only (`--port 0`), so whatever the gateway
// serves went over TLS. Runs the REST conformance suite over each; a certificate that does not verify, or a missing client
// certificate, stops the gateway at start with the reason.
//
//   node --test tests/topologies/tls.test.mjs   (after `make build`; needs redis-server built
//   with TLS, redis-cli, openssl, and the gateway at target/gateway/edge-caches-gateway)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cache } from "edge-caches";
import { freeClusterPort, freePort, killAll, startGateway, track } from "../servers.mjs";
import { GATEWAY_BIN, runSuite } from "./common.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const token = randomBytes(24).toString("hex");
const dir = mkdtempSync(join(tmpdir(), "edge-caches-tls-"));
const file = (name) => join(dir, name);
let single; // { port, url }
let cluster; // { ports, url }
let sentinel; // { url }

// A CA (`name`.pem, `name`.key), and a key and certificate it signs: `leaf`.pem, `leaf`.key.
function openssl(...args) {
  execFileSync("openssl", args, { stdio: "ignore" });
}
function makeCa(name) {
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", file(`${name}.key`), "-out", file(`${name}.pem`), "-days", "2", "-subj", `/CN=${name}`);
}
function makeLeaf(ca, leaf, extensions) {
  openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", file(`${leaf}.key`), "-out", file(`${leaf}.csr`), "-subj", `/CN=${leaf}`);
  writeFileSync(file(`${leaf}.ext`), extensions);
  openssl("x509", "-req", "-in", file(`${leaf}.csr`), "-CA", file(`${ca}.pem`), "-CAkey", file(`${ca}.key`), "-CAcreateserial", "-out", file(`${leaf}.pem`), "-days", "2", "-extfile", file(`${leaf}.ext`));
}

const serverTls = ["--tls-cert-file", file("server.pem"), "--tls-key-file", file("server.key"), "--tls-ca-cert-file", file("ca.pem")];
const cliTls = ["--tls", "--cacert", file("ca.pem"), "--cert", file("client.pem"), "--key", file("client.key")];
const gatewayTls = ["--tls-ca", file("ca.pem"), "--tls-cert", file("client.pem"), "--tls-key", file("client.key")];

function tlsRedis(port, extra = []) {
  const nodeDir = join(dir, String(port));
  mkdirSync(nodeDir, { recursive: true });
  return track(
    spawn("redis-server", ["--port", "0", "--tls-port", String(port), ...serverTls, "--tls-auth-clients", "yes", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", nodeDir, "--logfile", "", ...extra], { stdio: "ignore" }),
  );
}

function cli(port, ...args) {
  try {
    return execFileSync("redis-cli", [...cliTls, "-p", String(port), ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch {
    return "";
  }
}

async function until(what, check) {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await sleep(50);
  }
  throw new Error(`${what} did not happen`);
}

before(async () => {
  makeCa("ca");
  makeCa("other-ca");
  makeLeaf("ca", "server", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  makeLeaf("ca", "client", "extendedKeyUsage=clientAuth\n");

  const port = await freePort();
  tlsRedis(port);
  await until("the TLS Redis answering", () => cli(port, "ping") === "PONG");
  single = { port, url: `http://127.0.0.1:${await freePort()}` };
  await startGateway(GATEWAY_BIN, Number(new URL(single.url).port), `rediss://127.0.0.1:${port}`, token, gatewayTls);

  const taken = new Set();
  const ports = [];
  for (let i = 0; i < 3; i++) {
    const p = await freeClusterPort(taken);
    taken.add(p);
    ports.push(p);
    tlsRedis(p, ["--tls-cluster", "yes", "--tls-replication", "yes", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000"]);
  }
  for (const p of ports) await until(`node ${p} answering`, () => cli(p, "ping") === "PONG");
  execFileSync("redis-cli", [...cliTls, "-p", String(ports[0]), "--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"], { stdio: "ignore" });
  await until("the cluster's slots all served", () => ports.every((p) => cli(p, "cluster", "info").includes("cluster_state:ok")));
  cluster = { ports, url: `http://127.0.0.1:${await freePort()}` };
  await startGateway(GATEWAY_BIN, Number(new URL(cluster.url).port), ports.map((p) => `rediss://127.0.0.1:${p}`).join(","), token, ["--cluster", ...gatewayTls]);

  // Sentinel: a TLS primary and three sentinels on TLS only, which reach it over TLS too.
  const primary = await freePort();
  tlsRedis(primary);
  await until("the sentinels' primary answering", () => cli(primary, "ping") === "PONG");
  const sentinels = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const conf = file(`sentinel-${port}.conf`);
    const tlsLines = serverTls.map((arg, j) => (j % 2 === 0 ? `${arg.slice(2)} ` : `${arg}\n`)).join("");
    writeFileSync(conf, `port 0\ntls-port ${port}\n${tlsLines}tls-replication yes\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor mymaster 127.0.0.1 ${primary} 2\nsentinel down-after-milliseconds mymaster 500\n`);
    track(spawn("redis-server", [conf, "--sentinel"], { stdio: "ignore" }));
    sentinels.push(port);
  }
  for (const p of sentinels) await until(`sentinel ${p} answering`, () => cli(p, "sentinel", "get-master-addr-by-name", "mymaster").includes(String(primary)));
  sentinel = { url: `http://127.0.0.1:${await freePort()}` };
  await startGateway(GATEWAY_BIN, Number(new URL(sentinel.url).port), sentinels.map((p) => `rediss://127.0.0.1:${p}`).join(","), token, ["--sentinel", "mymaster", ...gatewayTls]);
});
after(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

test("one Redis over TLS: the REST conformance suite passes through the gateway", async () => {
  await runSuite(["tests/conformance/conformance.test.mjs"], { EDGE_CACHES_URL: single.url, EDGE_CACHES_TOKEN: token });
});

test("a Redis Cluster over TLS: the REST conformance suite passes through the gateway", async () => {
  await runSuite(["tests/conformance/conformance.test.mjs"], { EDGE_CACHES_URL: cluster.url, EDGE_CACHES_TOKEN: token, EDGE_CACHES_CLUSTER: "1" });
  // Keys in every master's slots, each written and read back.
  const cache = new Cache(cluster.url, { token, keyPrefix: "tls" });
  await cache.connect();
  const entries = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, i]));
  await cache.setMany(entries);
  assert.deepEqual(await cache.getMany(Object.keys(entries)), entries);
  const counts = ports().map((p) => Number(cli(p, "dbsize")));
  assert.ok(counts.every((n) => n > 0), `keys on every master: ${counts}`);
});
const ports = () => cluster.ports;

test("Sentinel over TLS (to the sentinels and to the primary they name): the REST conformance suite passes", async () => {
  await runSuite(["tests/conformance/conformance.test.mjs"], { EDGE_CACHES_URL: sentinel.url, EDGE_CACHES_TOKEN: token });
});

// The gateway's exit code and what it printed, when it stops by itself within 10 s.
async function startFails(extra, redis = `rediss://127.0.0.1:${single.port}`) {
  const child = track(
    spawn(GATEWAY_BIN, ["--listen", `127.0.0.1:${await freePort()}`, "--redis", redis, "--redis-timeout-ms", "3000", ...extra], {
      env: { ...process.env, EDGE_CACHES_TOKEN: token },
      stdio: ["ignore", "ignore", "pipe"],
    }),
  );
  let log = "";
  child.stderr.on("data", (d) => (log += d));
  const code = await Promise.race([new Promise((resolve) => child.once("exit", resolve)), sleep(10_000).then(() => "still running")]);
  child.kill("SIGKILL");
  return { code, log };
}

test("a Redis certificate no trusted CA signed stops the gateway at start, saying so", async () => {
  const { code, log } = await startFails(["--tls-ca", file("other-ca.pem"), "--tls-cert", file("client.pem"), "--tls-key", file("client.key")]);
  assert.equal(code, 1, log);
  assert.match(log, /TLS to 127\.0\.0\.1:\d+ failed: .*(certificate|UnknownIssuer)/i);
  // The platform's roots do not hold this project's test CA either.
  const platform = await startFails(["--tls-cert", file("client.pem"), "--tls-key", file("client.key")]);
  assert.equal(platform.code, 1, platform.log);
  assert.match(platform.log, /TLS to .* failed/);
});

test("a Redis that asks for a client certificate, given none, stops the gateway at start", async () => {
  const { code, log } = await startFails(["--tls-ca", file("ca.pem")]);
  assert.equal(code, 1, log);
  assert.match(log, /TLS to .* failed/);
});

test("TLS flags without rediss://, and rediss:// beside redis://, are refused before anything connects", async () => {
  const plain = await startFails(["--tls-ca", file("ca.pem")], `redis://127.0.0.1:${single.port}`);
  assert.equal(plain.code, 2);
  assert.match(plain.log, /for rediss:\/\/ URLs/);
  const mixed = await startFails(["--cluster"], `rediss://127.0.0.1:${cluster.ports[0]},redis://127.0.0.1:${cluster.ports[1]}`);
  assert.equal(mixed.code, 2);
  assert.match(mixed.log, /mixes rediss:\/\/ and redis:\/\//);
});
