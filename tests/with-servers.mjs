// Usage: node tests/with-servers.mjs CMD [ARGS...]
//
// Runs CMD with a fresh redis-server and edge-caches-gateway in front of it, started by
// tests/servers.mjs (the one way the JavaScript suites and the benchmark start servers), on free
// ports of 127.0.0.1 with random tokens, and stops both when CMD ends, fails or is interrupted.
// Exits with CMD's status. CMD gets:
//   REDIS_URL, REDIS_PORT                  the Redis
//   GATEWAY_URL                            http://127.0.0.1:PORT (with --allow-origin '*', for
//                                          the browser tests)
//   GATEWAY_TOKEN, GATEWAY_READONLY_TOKEN  the tokens for every command, and for reads only
//   GATEWAY_BIN                            the gateway binary
// The gateway is built with `cargo build --profile gateway` unless GATEWAY_BIN names a binary.
// (The gateway's own Rust tests start theirs in gateway/tests/common: `cargo test` runs alone.)
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { freePort, killAll, startGateway, startRedis, track } from "./servers.mjs";

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error("usage: node tests/with-servers.mjs CMD [ARGS...]");
  process.exit(2);
}
const root = fileURLToPath(new URL("..", import.meta.url));
let bin = process.env.GATEWAY_BIN;
if (!bin) {
  execFileSync("cargo", ["build", "--quiet", "--profile", "gateway", "-p", "edge-caches-gateway"], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  bin = `${process.env.CARGO_TARGET_DIR ?? `${root}target`}/gateway/edge-caches-gateway`;
}
if (!existsSync(bin)) {
  console.error(`with-servers: no gateway binary at ${bin}`);
  process.exit(1);
}

const token = () => randomBytes(24).toString("hex");
const redisPort = await freePort();
await startRedis(redisPort);
const redisUrl = `redis://127.0.0.1:${redisPort}`;
const gatewayToken = token();
const readonlyToken = token();
const gatewayPort = await freePort();
// Tokens go through the environment, not argv, so `ps` does not show them.
await startGateway(bin, gatewayPort, redisUrl, gatewayToken, ["--allow-origin", "*"], { EDGE_CACHES_READONLY_TOKEN: readonlyToken });

const child = track(
  spawn(cmd, args, {
    stdio: "inherit",
    env: {
      ...process.env,
      REDIS_URL: redisUrl,
      REDIS_PORT: String(redisPort),
      GATEWAY_URL: `http://127.0.0.1:${gatewayPort}`,
      GATEWAY_TOKEN: gatewayToken,
      GATEWAY_READONLY_TOKEN: readonlyToken,
      GATEWAY_BIN: bin,
    },
  }),
);
const status = await new Promise((resolve) => {
  child.once("error", (error) => {
    console.error(`with-servers: ${cmd}: ${error.message}`);
    resolve(127);
  });
  child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
});
killAll();
process.exit(status);
