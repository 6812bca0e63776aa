// Servers a test starts and stops itself (the faults test kills and restarts them; the near
// tier's test kills a gateway): redis-server and the gateway on free ports of 127.0.0.1, killed
// when the test process exits however it exits.
import { spawn } from "node:child_process";
import net from "node:net";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));


const children = new Set();
export function killAll() {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {}
  }
}
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

export function track(child) {
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}

export async function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await exited;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function redisPing(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let reply = "";
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (d) => {
      reply += d;
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
  });
}

export async function startRedis(port) {
  for (let attempt = 0; attempt < 5; attempt++) {
    const child = track(
      spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", ""], {
        stdio: "ignore",
      }),
    );
    for (let i = 0; i < 100 && child.exitCode === null; i++) {
      if (await redisPing(port)) return child;
      await sleep(30);
    }
    await stop(child);
    await sleep(100);
  }
  throw new Error(`redis-server did not start on port ${port}`);
}

/**
 * The gateway `bin` on `port` in front of `redis` (a URL, or a list with --cluster/--sentinel
 * in `extra`), with `token` (and `env`), once it listens.
 */
export async function startGateway(bin, port, redis, token, extra = [], env = {}) {
  for (let attempt = 0; attempt < 10; attempt++) {
    const child = track(
      spawn(bin, ["--listen", `127.0.0.1:${port}`, "--redis", redis, ...extra], {
        env: { ...process.env, EDGE_CACHES_TOKEN: token, ...env },
        stdio: ["ignore", "ignore", "pipe"],
      }),
    );
    let log = "";
    const ready = await new Promise((resolve) => {
      child.stderr.on("data", (d) => {
        log += d;
        if (/listening on/.test(log)) resolve(true);
      });
      child.once("exit", () => resolve(false));
    });
    if (ready) {
      child.stderr.resume();
      return child;
    }
    await stop(child);
    await sleep(100);
  }
  throw new Error(`the gateway did not start on port ${port}`);
}

/** A free port below 55535 whose +10000 is free too (a cluster node listens on both). */
export async function freeClusterPort(taken = new Set()) {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    if (taken.has(port)) continue;
    if ((await portIsFree(port)) && (await portIsFree(port + 10000))) return port;
  }
}

function portIsFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

function redisServer(port, dir, extra) {
  return track(
    // Replicas sync at once (the default waits 5 s for more replicas to share one transfer).
    spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", dir, "--logfile", "", "--repl-diskless-sync-delay", "0", ...extra], {
      stdio: "ignore",
    }),
  );
}

async function waitForPing(port, child) {
  for (let i = 0; i < 200 && child.exitCode === null; i++) {
    if (await redisPing(port)) return;
    await sleep(25);
  }
  throw new Error(`redis on port ${port} did not start`);
}

/** redis-cli's answer to `args` on `port`. */
export function redisCli(port, ...args) {
  return new Promise((resolve, reject) => {
    const child = spawn("redis-cli", ["-p", String(port), ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`redis-cli ${args.join(" ")}: ${out}`))));
  });
}

/**
 * A command's raw RESP answer from Redis on `port` ("" when it does not answer): no process is
 * spawned, so it works while the machine is busy. Enough for small answers (ROLE, INFO, CLUSTER
 * INFO): a bulk string is read whole, anything else is its first chunk.
 */
export function redisRaw(port, ...args) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let reply = "";
    const done = () => {
      socket.destroy();
      resolve(reply);
    };
    socket.setTimeout(1000, done);
    socket.on("error", done);
    socket.on("connect", () => socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join("")}`));
    socket.on("data", (d) => {
      reply += d;
      const bulk = /^\$(\d+)\r\n/.exec(reply);
      if (!bulk || Buffer.byteLength(reply) >= bulk[0].length + Number(bulk[1]) + 2) done();
    });
  });
}

/**
 * A Redis Cluster on loopback: `masters` masters with one replica each, made by
 * `redis-cli --cluster create`, in a temporary directory. Resolves once every slot is served.
 * Returns { nodes: [{ port, child }], urls, masterPorts() }.
 */
export async function startCluster(dir, masters = 3, nodeTimeoutMs = 1000) {
  const taken = new Set();
  const nodes = [];
  for (let i = 0; i < masters * 2; i++) {
    const port = await freeClusterPort(taken);
    taken.add(port);
    const nodeDir = `${dir}/${port}`;
    await import("node:fs/promises").then((fs) => fs.mkdir(nodeDir, { recursive: true }));
    const child = redisServer(port, nodeDir, ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", String(nodeTimeoutMs)]);
    nodes.push({ port, child });
  }
  for (const node of nodes) await waitForPing(node.port, node.child);
  await redisCli(nodes[0].port, "--cluster", "create", ...nodes.map((n) => `127.0.0.1:${n.port}`), "--cluster-replicas", "1", "--cluster-yes");
  // Whole once every node says so and every replica has synced (a replica that never synced
  // cannot be promoted).
  for (let i = 0; i < 400; i++) {
    const states = await Promise.all(nodes.map((n) => redisRaw(n.port, "cluster", "info")));
    const links = await Promise.all(nodes.map((n) => redisRaw(n.port, "info", "replication")));
    const synced = links.filter((l) => l.includes("role:slave")).every((l) => l.includes("master_link_status:up"));
    if (states.every((s) => s.includes("cluster_state:ok")) && synced && links.filter((l) => l.includes("role:slave")).length === masters) break;
    await sleep(50);
  }
  return {
    nodes,
    urls: nodes.map((n) => `redis://127.0.0.1:${n.port}`),
    /** Ports of the nodes that are masters now (a node that does not answer is left out). */
    async masterPorts() {
      const roles = await Promise.all(nodes.map((n) => redisRaw(n.port, "role")));
      return nodes.filter((_, i) => roles[i].startsWith("*3\r\n$6\r\nmaster")).map((n) => n.port);
    },
  };
}

/**
 * A primary, a replica and three sentinels watching them as `name`. Returns
 * { primary, replica, sentinels: [{ port, child }], urls (the sentinels') }.
 */
export async function startSentinels(dir, name = "mymaster", downAfterMs = 500) {
  const fs = await import("node:fs/promises");
  await fs.mkdir(dir, { recursive: true });
  const primary = { port: await freePort() };
  primary.child = redisServer(primary.port, dir, []);
  await waitForPing(primary.port, primary.child);
  const replica = { port: await freePort() };
  replica.child = redisServer(replica.port, dir, ["--replicaof", "127.0.0.1", String(primary.port)]);
  await waitForPing(replica.port, replica.child);
  for (let i = 0; i < 400 && !(await redisRaw(replica.port, "info", "replication")).includes("master_link_status:up"); i++) await sleep(25);
  const sentinels = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const conf = `${dir}/sentinel-${port}.conf`;
    await fs.writeFile(
      conf,
      [`port ${port}`, "bind 127.0.0.1", `dir ${dir}`, `sentinel monitor ${name} 127.0.0.1 ${primary.port} 2`, `sentinel down-after-milliseconds ${name} ${downAfterMs}`, `sentinel failover-timeout ${name} 5000`, ""].join("\n"),
    );
    const child = track(spawn("redis-server", [conf, "--sentinel"], { stdio: "ignore" }));
    sentinels.push({ port, child });
  }
  for (const s of sentinels) await waitForPing(s.port, s.child);
  // The sentinels know the replica before the test relies on a failover.
  for (let i = 0; i < 400; i++) {
    const known = await Promise.all(sentinels.map((s) => redisRaw(s.port, "sentinel", "replicas", name)));
    if (known.every((k) => k.includes(String(replica.port)))) break;
    await sleep(50);
  }
  return { primary, replica, sentinels, urls: sentinels.map((s) => `redis://127.0.0.1:${s.port}`) };
}
