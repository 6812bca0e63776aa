// A fault-injecting HTTP proxy for the fault test: it sits between edge-caches and the gateway
// and, per request, forwards it as it is or delays it, drops the connection (before or after
// forwarding), holds the answer, or answers 502/503 itself without forwarding. It can also stop
// listening (connection refused) and listen again on the same port. The mode is switched by the
// test at run time with `setMode()`; every request takes the mode in force when it arrives.
//
// It also keeps the facts the test needs to judge the client: for every increment it saw, per
// stored key, how many were forwarded (`sent`: may have run) and how many the gateway answered
// with a result (`ok`: ran exactly once). Its own answers carry `x-fault-proxy: self`, the
// gateway's are passed on with `x-fault-proxy: pass`, so a client-side fetch wrapper can tell
// who said 5xx.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// The SHA-1 edge-caches sends its incr script by: `Script::Incr` in
// src/backend/rest/commands.rs, built from these files.
const LUA = new URL("../../src/backend/rest/lua/", import.meta.url);
const INCR_SCRIPT = ["live", "incr"].map((n) => readFileSync(new URL(`${n}.lua`, LUA), "utf8")).join("");
const INCR_SHA1 = createHash("sha1").update(INCR_SCRIPT).digest("hex");

/**
 * Mode fields (all optional; one random draw per request picks at most one fault, in this order):
 *   error       probability of answering 502 or 503 itself, never forwarding
 *   dropBefore  probability of closing the connection without forwarding
 *   dropAfter   probability of forwarding, reading the gateway's full answer, then closing the
 *               connection instead of answering (the command ran; the client cannot know)
 *   truncate    probability of forwarding, then sending the status line, the full length and
 *               only half the gateway's body before closing the connection
 *   garble      probability of forwarding, then answering 200 with half the gateway's body
 *               (not JSON) as if it were all of it
 *   shape       probability of forwarding, then answering 200 with JSON of the wrong shape (a
 *               pipeline's answer missing its last result; `{}` for a single command)
 *   stall       probability of forwarding, then sending the status line, the full length and
 *               half the body, and nothing more (the connection stays open until the client
 *               gives up, or 10 s)
 *   hold        probability of forwarding at once and holding the answer `holdMs`
 *   late        probability of waiting `lateMs` before forwarding (not forwarded if the client
 *               has gone by then)
 *   delay       [min, max] ms before forwarding every request that drew no fault above
 */
export class FaultProxy {
  constructor(upstream) {
    this.upstream = new URL(upstream);
    this.mode = {};
    this.port = 0;
    this.server = null;
    this.sockets = new Set();
    this.refusing = false;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
    this.stats = {
      requests: 0,
      forwarded: 0,
      selfError: 0,
      droppedBefore: 0,
      droppedAfter: 0,
      truncated: 0,
      stalled: 0,
      garbled: 0,
      misshaped: 0,
      held: 0,
      late: 0,
      delayed: 0,
      abandoned: 0,
      upstreamRefused: 0,
      upstreamLost: 0,
      upstreamStatus: {},
    };
    /** stored key -> { sent, ok } for INCRBYFLOAT commands */
    this.incr = new Map();
    /** upstream answers with status >= 500, with the label in force (see `label`) */
    this.upstream5xx = [];
    this.label = "";
  }

  async listen(port = 0) {
    const server = http.createServer((req, res) => this.#handle(req, res));
    server.keepAliveTimeout = 30_000;
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    await new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.server = server;
    this.port = server.address().port;
    this.refusing = false;
    return this;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  setMode(mode = {}) {
    this.mode = mode;
  }

  /** Stops listening and drops every open connection, at once (synchronously). */
  refuse() {
    this.refusing = true;
    if (this.server) {
      this.server.close();
      this.server = null;
    }
    for (const socket of this.sockets) socket.destroy();
  }

  /** Listens again on the same port. */
  async accept() {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.listen(this.port);
        return;
      } catch (error) {
        if (attempt >= 20) throw error;
        await sleep(25);
      }
    }
  }

  async close() {
    this.refuse();
    this.agent.destroy();
  }

  #count(map, key) {
    map[key] = (map[key] ?? 0) + 1;
  }

  /** The keys of a request body's increments (a command or a pipeline): INCRBYFLOAT, or the
   * script edge-caches sends for incr (EVAL of a script that calls INCRBYFLOAT, or EVALSHA of
   * it: INCR_SHA1 in src/backend/rest/commands.rs), with one key. */
  #incrKeys(body) {
    let parsed;
    try {
      parsed = JSON.parse(body);
    } catch {
      return [];
    }
    if (!Array.isArray(parsed)) return [];
    const commands = Array.isArray(parsed[0]) ? parsed : [parsed];
    return commands.map((c) => {
      const name = String(c[0]).toUpperCase();
      if (name === "INCRBYFLOAT") return String(c[1]);
      if (name === "EVAL" && String(c[1]).includes("INCRBYFLOAT") && c[2] === "1") return String(c[3]);
      if (name === "EVALSHA" && c[1] === INCR_SHA1 && c[2] === "1") return String(c[3]);
      return null;
    });
  }

  #incrEntry(key) {
    let entry = this.incr.get(key);
    if (!entry) this.incr.set(key, (entry = { sent: 0, ok: 0 }));
    return entry;
  }

  async #handle(req, res) {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const mode = this.mode;
    const socket = req.socket;
    this.stats.requests++;

    let draw = Math.random();
    const pick = (p) => {
      if (!p) return false;
      if (draw < p) {
        draw = Infinity; // one fault per request
        return true;
      }
      draw -= p;
      return false;
    };
    if (pick(mode.error)) {
      this.stats.selfError++;
      const status = this.stats.selfError % 2 ? 502 : 503;
      res.writeHead(status, { "content-type": "text/html", "x-fault-proxy": "self" });
      res.end(`<html><body>${status} from the fault proxy</body></html>`);
      return;
    }
    if (pick(mode.dropBefore)) {
      this.stats.droppedBefore++;
      socket.destroy();
      return;
    }
    const dropAfter = pick(mode.dropAfter);
    const truncate = pick(mode.truncate);
    const garble = pick(mode.garble);
    const shape = pick(mode.shape);
    const stall = pick(mode.stall);
    const hold = pick(mode.hold);
    const late = pick(mode.late);
    if (late) {
      this.stats.late++;
      await sleep(mode.lateMs);
    } else if (!dropAfter && !truncate && !garble && !shape && !stall && !hold && mode.delay) {
      this.stats.delayed++;
      const [min, max] = mode.delay;
      await sleep(min + Math.random() * (max - min));
    }
    if (socket.destroyed) {
      this.stats.abandoned++;
      return;
    }

    const incrKeys = this.#incrKeys(body.toString("utf8"));
    let answer;
    try {
      answer = await this.#forward(req, body);
    } catch (error) {
      if (error.code === "ECONNREFUSED") {
        // Nothing reached the gateway: answer as a load balancer would.
        this.stats.upstreamRefused++;
        res.writeHead(502, { "content-type": "text/html", "x-fault-proxy": "self" });
        res.end("<html><body>502: the gateway refused the connection</body></html>");
        return;
      }
      // The request may have reached the gateway: the client must not get an answer either.
      this.stats.upstreamLost++;
      for (const key of incrKeys) if (key !== null) this.#incrEntry(key).sent++;
      socket.destroy();
      return;
    }
    this.stats.forwarded++;
    this.#count(this.stats.upstreamStatus, answer.status);
    if (answer.status >= 500) this.upstream5xx.push({ status: answer.status, label: this.label });
    this.#countIncr(incrKeys, answer);

    if (dropAfter) {
      this.stats.droppedAfter++;
      socket.destroy();
      return;
    }
    if (truncate || stall) {
      this.stats[truncate ? "truncated" : "stalled"]++;
      res.writeHead(answer.status, { "content-type": "application/json", "content-length": answer.body.length, "x-fault-proxy": "pass" });
      res.write(answer.body.subarray(0, answer.body.length >> 1));
      setTimeout(() => socket.destroy(), truncate ? 5 : 10_000).unref();
      return;
    }
    if (garble || shape) {
      let bad = answer.body.subarray(0, answer.body.length >> 1);
      if (garble) this.stats.garbled++;
      else {
        this.stats.misshaped++;
        let parsed;
        try {
          parsed = JSON.parse(answer.body.toString("utf8"));
        } catch {}
        bad = Buffer.from(Array.isArray(parsed) && parsed.length > 0 ? JSON.stringify(parsed.slice(0, -1)) : "{}");
      }
      res.writeHead(200, { "content-type": "application/json", "x-fault-proxy": "pass" });
      res.end(bad);
      return;
    }
    if (hold) {
      this.stats.held++;
      await sleep(mode.holdMs);
    }
    if (socket.destroyed) return;
    res.writeHead(answer.status, {
      "content-type": answer.headers["content-type"] ?? "application/json",
      "x-fault-proxy": "pass",
    });
    res.end(answer.body);
  }

  /** Counts the INCRBYFLOAT commands of a forwarded request: sent, and ok when each has a result. */
  #countIncr(incrKeys, answer) {
    if (!incrKeys.some((k) => k !== null)) return;
    let results = null;
    if (answer.status === 200) {
      try {
        const parsed = JSON.parse(answer.body.toString("utf8"));
        results = Array.isArray(parsed) ? parsed : [parsed];
      } catch {
        results = null;
      }
    }
    incrKeys.forEach((key, i) => {
      if (key === null) return;
      const entry = this.#incrEntry(key);
      entry.sent++;
      const item = results?.[i];
      if (item && typeof item === "object" && "result" in item && !("error" in item)) entry.ok++;
    });
  }

  #forward(req, body) {
    return new Promise((resolve, reject) => {
      const upstream = http.request(
        {
          host: this.upstream.hostname,
          port: this.upstream.port,
          method: req.method,
          path: req.url,
          agent: this.agent,
          headers: {
            authorization: req.headers.authorization ?? "",
            "content-type": req.headers["content-type"] ?? "application/json",
            "content-length": body.length,
          },
        },
        (response) => {
          const chunks = [];
          response.on("data", (chunk) => chunks.push(chunk));
          response.on("end", () => resolve({ status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks) }));
          response.on("error", reject);
          response.on("aborted", () => reject(Object.assign(new Error("upstream aborted"), { code: "ECONNRESET" })));
        },
      );
      upstream.on("error", reject);
      upstream.end(body);
    });
  }
}

export async function startProxy(upstream, port = 0) {
  return new FaultProxy(upstream).listen(port);
}
