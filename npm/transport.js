// The REST transport: sends the engine's requests with fetch, one at a time or the calls of one
// tick batched into one /pipeline request, each with its timeout, and waits between retries as
// the engine says. What an answer means, and whether a failure may be retried, is the engine's
// (src/engine/answer.rs): this file hands it [status, bytes] or how the fetch failed.
import { FetchFailure } from "./wasm.js";

// Most commands in one pipeline request: the gateway's own default limit.
const MAX_BATCH = 1000;
// Most characters of commands in one pipeline request. A UTF-16 unit is at most 3 bytes of
// UTF-8, so a request stays under 768 KiB: below Upstash's 1 MB (and the gateway's 8 MiB).
const MAX_BATCH_CHARS = 256 * 1024;

// `RestRequest.flags` (src/wasm.rs): the route in the two low bits (`Route` in
// src/engine/plan.rs), whether it must not run twice, and its command count from bit 3 up.
const ROUTE_MASK = 3;
const PIPELINED = 1; // goes inside a /pipeline request, alone or batched
const PIPELINE = 2; // a list of commands of its own, to /pipeline alone
const ONCE = 4;

export class Transport {
  #engine;
  #headers;
  #timeout;
  #autoPipeline;
  #emit; // the cache's onEvent, or undefined
  #queue = []; // single-command requests waiting for this tick's /pipeline request
  #flush = () => this.#sendQueued();
  #closed = false; // the engine was freed: answers are dropped, nothing is retried
  /** HTTP requests sent (retries included), for `cache.stats`. */
  requests = 0;
  /** Upstash's read-your-writes token: the last one a response carried, sent on each request. */
  syncToken = "";
  /** The endpoint, its Authorization header and the fetch to use (the bus's stream too). */
  url;
  authorization;
  fetch;

  // `url` and `token`: the endpoint and the token, as url.js read them and the engine checked
  // them; `options`: { timeout, autoPipeline, fetch } (checked by arguments.js); `emit`: the
  // cache's onEvent (exceptions already caught), or undefined.
  constructor(engine, url, token, options, emit) {
    this.#emit = emit;
    this.#engine = engine;
    this.url = url;
    this.authorization = `Bearer ${token}`;
    this.#headers = { Authorization: this.authorization, "Content-Type": "application/json" };
    this.fetch = options.fetch;
    this.#timeout = options.timeout;
    this.#autoPipeline = options.autoPipeline;
  }

  /** The cache was freed: requests in flight are dropped when they settle (their calls were rejected). */
  close() {
    this.#closed = true;
    for (const item of this.#queue.splice(0)) item.request.free();
  }

  // Sends `request` (an engine `RestRequest`) and calls `done` once with what the engine made
  // of the answer, or of the fetch's failure: an outcome, the next request, or a Failure.
  // With automatic pipelining, a single command waits for the other calls of this tick.
  send(request, done) {
    const flags = request.flags;
    const route = flags & ROUTE_MASK;
    const item = { request, body: request.body, once: (flags & ONCE) !== 0, pipelined: route === PIPELINED, commands: flags >>> 3, done };
    if (route === PIPELINE) return this.#sendAlone(item, "/pipeline");
    if (!this.#autoPipeline) return item.pipelined ? this.#sendBatch([item]) : this.#sendAlone(item, "");
    const leads = this.#queue.length === 0;
    this.#queue.push(item);
    // The first request of a tick sends once the others have queued theirs.
    if (leads) queueMicrotask(this.#flush);
  }

  // `then` (optional) runs once the request has settled.
  #sendAlone(item, path, then) {
    this.#post(
      path,
      item.body,
      item.once,
      // For events: clear()'s walk sends a DEL and the next SCAN as a pipeline of its own.
      path === "" ? 1 : 2,
      ([status, bytes]) => {
        if (this.#closed) return item.request.free();
        item.done(this.#engine.read(item.request, status, bytes));
        then?.();
      },
      (how, detail) => {
        if (this.#closed) return item.request.free();
        item.done(this.#failed(item.request, how, detail));
        then?.();
      },
    );
  }

  // Sends the queued requests in call order: up to MAX_BATCH commands or MAX_BATCH_CHARS at a
  // time. Those beyond wait for this request, so that order holds across requests too.
  #sendQueued() {
    const queue = this.#queue;
    let n = 0;
    let chars = 0;
    // A single command larger than the cap still goes out, alone.
    while (n < queue.length && n < MAX_BATCH && (n === 0 || chars + queue[n].body.length < MAX_BATCH_CHARS)) {
      chars += queue[n].body.length + 1;
      n++;
    }
    const batch = queue.splice(0, n);
    const then = queue.length > 0 ? this.#flush : undefined;
    if (n === 1 && !batch[0].pipelined) return this.#sendAlone(batch[0], "", then);
    this.#sendBatch(batch, then);
  }

  // Requests as one /pipeline request (a request that is `pipelined` alone too).
  #sendBatch(batch, then) {
    this.#post(
      "/pipeline",
      "[" + batch.map((item) => item.body).join(",") + "]",
      batch.some((item) => item.once),
      this.#emit === undefined ? 0 : batch.reduce((n, item) => n + item.commands, 0),
      ([status, bytes]) => {
        if (this.#closed) return batch.forEach((item) => item.request.free());
        for (const item of batch) this.#engine.pipelined(item.request);
        const read = this.#engine.readPipeline(status, bytes);
        batch.forEach((item, i) => item.done(read[i]));
        then?.();
      },
      (how, detail) => {
        if (this.#closed) return batch.forEach((item) => item.request.free());
        for (const item of batch) item.done(this.#failed(item.request, how, detail));
        then?.();
      },
    );
  }

  // What the engine makes of a request that got no answer; `how` is undefined when even
  // describing the fetch's error threw (`detail` is then what it threw, and the call's error).
  // Either way the engine hears of it: a write's near-tier marks end only there.
  #failed(request, how, detail) {
    if (how !== undefined) return this.#engine.unanswered(request, how, detail);
    const step = this.#engine.unanswered(request, FetchFailure.Network, "the fetch failed");
    step?.free?.();
    return detail;
  }

  // One HTTP request, retried as the engine says. `answered` gets [status, bytes] (a 5xx given
  // up on too: the engine reads it as SERVER), `failed` how the fetch failed and what it said
  // (see #failed); exactly one is called, once.
  #post(path, body, once, commands, answered, failed) {
    const emit = this.#emit;
    const attempt = (n) => {
      if (this.#closed) return failed(FetchFailure.Aborted, "the cache was freed");
      this.requests++;
      const started = emit === undefined ? 0 : performance.now();
      const sent = (status) => emit?.({ type: "request", ms: performance.now() - started, commands, status, attempt: n });
      post(
        this.fetch,
        this.url + path,
        // The newest token as the request leaves, not as it was queued.
        this.syncToken === "" ? this.#headers : { ...this.#headers, "Upstash-Sync-Token": this.syncToken },
        body,
        this.#timeout,
        (answer) => {
          sent(answer[0]);
          if (answer[2]) this.syncToken = answer[2];
          if (answer[0] < 500) answered(answer);
          // 502/504: the request reached the server, whose answer from Redis never came (the
          // gateway says so): it may have run, as after a network failure.
          else if (answer[0] === 502 || answer[0] === 504) retry(n, FetchFailure.Network, lostAnswer(answer));
          else retry(n, FetchFailure.Status5xx, answer);
        },
        (thrown) => {
          sent(0);
          let how;
          let outcome;
          try {
            [how, outcome] = failure(thrown);
          } catch (unreadable) {
            // A fetch that failed with something that cannot even be described (a message that
            // is a Symbol): the call fails with what describing it threw.
            return failed(undefined, unreadable);
          }
          retry(n, how, outcome);
        },
      );
    };
    const retry = (n, how, outcome) => {
      if (this.#closed) return failed(how, outcome);
      const delay = this.#engine.retryAfter(how, n, once);
      if (delay !== undefined) {
        emit?.({ type: "retry", attempt: n + 1, reason: REASONS[how], delayMs: delay });
        sleep(delay).then(() => attempt(n + 1));
      }
      else if (how === FetchFailure.Status5xx) answered(outcome);
      else failed(how, outcome);
    };
    attempt(0);
  }
}

// Why a request is sent again, as a `retry` event says it.
const REASONS = {
  [FetchFailure.Network]: "network",
  [FetchFailure.Unsent]: "unsent",
  [FetchFailure.Status5xx]: "status",
  [FetchFailure.Timeout]: "timeout",
  [FetchFailure.Aborted]: "aborted",
};

// What a 502 or 504 said, as a network failure's detail.
function lostAnswer([status, bytes]) {
  let text = "";
  try {
    text = new TextDecoder().decode(bytes.subarray(0, 300));
  } catch {}
  return `HTTP ${status} ${text}`.trim();
}

// One HTTP request: `answered` gets [status, body bytes], `failed` the error; exactly one of
// them is called, once. Callbacks rather than a returned promise: each promise between the
// fetch and the caller is another turn of the microtask queue (docs/performance.md). The engine
// reads the bytes as they came, never decoded into a JavaScript string to be encoded back. Only
// method, headers, body and signal are set: Workers reject `cache`, `mode` and `credentials` on
// many compatibility dates. The global fetch is looked up per call, so a fetch installed after
// import (a test stub, a polyfill) is the one used.
//
// The fetch is cancelled through an AbortController shared by the requests of a period (a
// controller per request costs more than the rest of the transport). When a request times out,
// its controller is retired and aborted once none of its requests can still succeed in time, so
// a request never loses its answer because another was late. A controller is also retired after
// LEASE_REQUESTS requests: Node's fetch adds a listener to a request's signal and removes it only
// when the request is garbage-collected, so one signal for every request would gather thousands
// (and Node warns past 10: the Node entry hands in events.setMaxListeners, see `useNode`).
let lease = null; // { controller, waiting: requests not yet settled, late: one timed out, uses }
const LEASE_REQUESTS = 32;
let setMaxListeners = null;

function newLease() {
  const controller = new AbortController();
  setMaxListeners?.(LEASE_REQUESTS, controller.signal);
  return { controller, waiting: 0, late: false, uses: 0 };
}

function post(fetchFn, url, headers, body, timeoutMs, answered, failed) {
  const current = (lease ??= newLease());
  current.waiting++;
  if (++current.uses === LEASE_REQUESTS) lease = null;
  // Settles the request once: the answer, or the timeout, whichever comes first.
  let deadline;
  const settle = (done, late) => (value) => {
    if (deadline === undefined) return;
    unwatch(deadline);
    deadline = undefined;
    if (late) {
      current.late = true;
      if (lease === current) lease = null;
    }
    try {
      done(value);
    } finally {
      if (--current.waiting === 0 && current.late) current.controller.abort();
    }
  };
  const expire = settle(failed, true);
  const fail = settle(failed, false);
  const done = settle(answered, false);
  deadline = watch(timeoutMs, () => expire(new DOMException(`no answer within ${timeoutMs} ms`, "TimeoutError")));
  let answer;
  try {
    answer = (fetchFn ?? fetch)(url, { method: "POST", headers, body, signal: current.controller.signal });
  } catch (error) {
    // A given fetch that throws instead of rejecting: settled now, not when the timer fires.
    return fail(error);
  }
  // Not `.then(response => response.arrayBuffer())`: a promise returned from a reaction is
  // adopted in two more turns of the queue. Whatever a given fetch resolves with, a throw here
  // fails the request (nothing may escape as an unhandled rejection).
  Promise.resolve(answer).then((response) => {
    let status, reading, token;
    try {
      status = response.status;
      token = response.headers?.get("upstash-sync-token");
      reading = response.arrayBuffer();
    } catch (error) {
      return fail(error);
    }
    Promise.resolve(reading).then((bytes) => {
      let reply;
      try {
        reply = [status, new Uint8Array(bytes), token];
      } catch (error) {
        return fail(error);
      }
      done(reply);
    }, fail);
  }, fail);
}

// Request deadlines. Where a timer can be unref'd (Node and Bun), the requests with the same
// timeout wait in one queue, in the order of their deadlines, under one timer set for the
// oldest; when none is waiting the timer is unref'd and left to lapse instead of cleared (Node
// keeps a timer list per duration, and making and dropping one per call is costly). Elsewhere
// each request has its own timer: in Workers a timer belongs to the event that set it, so one
// shared across events could be gone when a later event needs it, and Deno's test sanitizer
// counts a lapsing timer as a leak.
let sharedTimers = false;
// timeout ms -> { items: deadlines in order, head: the first that may be waiting, waiting, timer }
// (the timer is unref'd exactly when `waiting` is 0)
const queues = new Map();

// What the Node (and Bun) entry hands in: there timers can be unref'd, so requests share them,
// and node:events' setMaxListeners (see `post`).
export function useNode(events) {
  sharedTimers = true;
  setMaxListeners = events.setMaxListeners;
}

function watch(ms, expire) {
  if (!sharedTimers) return setTimeout(expire, ms);
  let queue = queues.get(ms);
  if (queue === undefined) queues.set(ms, (queue = { items: [], head: 0, waiting: 0, timer: undefined }));
  const deadline = { at: performance.now() + ms, expire, queue };
  queue.items.push(deadline);
  if (queue.timer === undefined) queue.timer = setTimeout(lapse, ms, queue);
  else if (queue.waiting === 0) queue.timer.ref();
  queue.waiting++;
  return deadline;
}

function unwatch(deadline) {
  if (!sharedTimers) return clearTimeout(deadline);
  const queue = deadline.queue;
  deadline.expire = null;
  queue.waiting--;
  const items = queue.items;
  while (queue.head < items.length && items[queue.head].expire === null) queue.head++;
  if (queue.waiting === 0) {
    items.length = 0;
    queue.head = 0;
    queue.timer?.unref();
  } else if (items.length > 64 && items.length > 4 * queue.waiting) {
    // Settled requests behind one still waiting: dropped once they are most of the queue, so
    // a stalled request does not hold a record of every request sent during its timeout.
    queue.items = items.filter((d) => d.expire !== null);
    queue.head = 0;
  }
}

// The queue's timer: expires every request past its deadline, and sets the timer again for the
// oldest still waiting (before expiring them: an expiry's callbacks may send again).
function lapse(queue) {
  queue.timer = undefined;
  const now = performance.now();
  const due = [];
  for (let i = queue.head; i < queue.items.length; i++) {
    const deadline = queue.items[i];
    if (deadline.expire === null) continue;
    if (deadline.at > now) {
      queue.timer = setTimeout(lapse, Math.ceil(deadline.at - now), queue);
      break;
    }
    due.push(deadline);
  }
  for (const deadline of due) deadline.expire?.();
}

// How a failed fetch failed (a `FetchFailure`), and what the error said. `Unsent`: the request
// provably never left (the connection was refused or the name did not resolve), so even an incr
// may be sent again. Each runtime says it its own way: Node's undici in `cause.code`, Bun in
// `code`, Deno and workerd in the message.
const UNSENT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ConnectionRefused"]);
const UNSENT_TEXT = /connection refused|dns error|failed to lookup address/i;

function failure(error) {
  const name = error?.name;
  const cause = error?.cause;
  let how = name === "TimeoutError" ? FetchFailure.Timeout : name === "AbortError" ? FetchFailure.Aborted : FetchFailure.Network;
  if (how === FetchFailure.Network && (UNSENT_CODES.has(cause?.code) || UNSENT_CODES.has(error?.code) || UNSENT_TEXT.test(`${error?.message} ${cause?.message}`))) {
    how = FetchFailure.Unsent;
  }
  // Node's "fetch failed" says nothing by itself: the cause says ECONNREFUSED or the like.
  const detail = cause?.code ?? cause?.message;
  return [how, String(error?.message ?? error) + (detail ? ` (${detail})` : "")];
}

// A retry's backoff, with jitter: between half and all of `ms`.
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms * (0.5 + Math.random() / 2)));
}
