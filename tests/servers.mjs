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

/** The gateway `bin` on `port` in front of `redis` (a URL), with `token`, once it listens. */
export async function startGateway(bin, port, redis, token) {
  for (let attempt = 0; attempt < 10; attempt++) {
    const child = track(
      spawn(bin, ["--listen", `127.0.0.1:${port}`, "--redis", redis], {
        env: { ...process.env, EDGE_CACHES_TOKEN: token },
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
