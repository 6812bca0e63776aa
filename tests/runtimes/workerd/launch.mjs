// Runs a worker in the real workerd: bundles it with esbuild as wrangler would (the workerd
// export condition; the .wasm stays a module of its own, which workerd compiles at load time),
// writes a workerd config, and serves it on a free port of 127.0.0.1.
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as esbuild from "esbuild";

const root = resolve(import.meta.dirname, "../../..");
const workerdBin = join(root, "node_modules/.bin/workerd");
const wasm = join(root, "node_modules/edge-caches/edge_caches_bg.wasm");

/** A port of 127.0.0.1 that is free now. */
export async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

/** Starts `entry` in workerd with text `bindings`; resolves { url, stop, output }. */
export async function startWorker(entry, bindings = {}) {
  const dir = mkdtempSync(join(tmpdir(), "edge-caches-workerd-"));
  await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    external: ["*.wasm", "node:*"],
    outfile: join(dir, "worker.js"),
    logLevel: "error",
  });
  copyFileSync(wasm, join(dir, "edge_caches_bg.wasm"));
  const port = await freePort();
  const textBindings = Object.entries(bindings)
    .map(([name, text]) => `(name = ${JSON.stringify(name)}, text = ${JSON.stringify(text)})`)
    .join(", ");
  writeFileSync(
    join(dir, "config.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "edge_caches_bg.wasm", wasm = embed "edge_caches_bg.wasm"),
  ],
  bindings = [${textBindings}],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["nodejs_compat"],
  globalOutbound = "internet",
);
`,
  );
  const child = spawn(workerdBin, ["serve", join(dir, "config.capnp"), "--experimental"], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  const stop = () => {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) break;
    try {
      await fetch(url, { method: "HEAD" });
      return { url, stop, output: () => output };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  stop();
  throw new Error(`workerd did not start:\n${output}`);
}
