// The bus's listening side (`near: { bus: true }`): one stream per cache over the REST
// protocol's pub/sub (`POST /subscribe/<channel>`, server-sent events, as Upstash and the
// gateway serve it), whose messages the engine reads (src/bus.rs) to drop near entries. The
// stream is reopened with backoff when it ends; after a gap the whole near tier is dropped
// (messages may have been missed), and meanwhile near.ttl bounds staleness as without the bus.

const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5000;

export class Bus {
  #engine;
  #fetch;
  #url;
  #headers;
  #emit;
  #controller = null; // while listening
  #up = false;

  // `transport`: the cache's, whose endpoint, token and fetch the stream uses.
  constructor(engine, transport, emit) {
    this.#engine = engine;
    this.#fetch = transport.fetch;
    this.#url = `${transport.url}/subscribe/${encodeURIComponent(engine.busChannel)}`;
    this.#headers = { Authorization: transport.authorization, Accept: "text/event-stream" };
    this.#emit = emit;
  }

  /** Whether the stream is open and subscribed. */
  get up() {
    return this.#up;
  }

  start() {
    if (this.#controller !== null) return;
    const controller = new AbortController();
    this.#controller = controller;
    this.#listen(controller.signal);
  }

  stop() {
    this.#controller?.abort();
    this.#controller = null;
  }

  async #listen(signal) {
    let backoff = FIRST_BACKOFF_MS;
    let gap = false; // the stream was open before: what came meanwhile is unknown
    while (!signal.aborted) {
      try {
        const response = await (this.#fetch ?? fetch)(this.#url, { method: "POST", headers: this.#headers, signal });
        if (response.status !== 200 || response.body === null) {
          await response.body?.cancel();
          throw new Error(`HTTP ${response.status}`);
        }
        await this.#read(response.body, signal, () => {
          if (gap) this.#engine.busReset();
          gap = true;
          backoff = FIRST_BACKOFF_MS;
          this.#up = true;
          this.#emit?.({ type: "bus", state: "up" });
        });
      } catch {
        // Ended, refused or unreachable: reopened below, unless stopped.
      }
      if (this.#up) {
        this.#up = false;
        this.#emit?.({ type: "bus", state: "down" });
      }
      if (signal.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }

  // Reads server-sent events until the stream ends: `data: subscribe,<channel>,1` once
  // subscribed (`subscribed` is called), then `data: message,<channel>,<text>` per message.
  async #read(body, signal, subscribed) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    const onAbort = () => reader.cancel().catch(() => {});
    signal.addEventListener("abort", onAbort, { once: true });
    const message = `message,${this.#engine.busChannel},`;
    let buffered = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffered += value;
        let end;
        while ((end = buffered.indexOf("\n")) !== -1) {
          const line = buffered.slice(0, end).replace(/\r$/, "");
          buffered = buffered.slice(end + 1);
          if (!line.startsWith("data: ")) continue;
          const data = line.slice(6);
          if (data.startsWith(message)) this.#deliver(data.slice(message.length));
          else if (data.startsWith("subscribe,")) subscribed();
        }
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  #deliver(text) {
    const dropped = this.#engine.busMessage(text);
    if (dropped !== undefined) this.#emit?.({ type: "invalidate", keys: dropped });
  }
}
