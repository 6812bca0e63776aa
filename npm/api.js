// What every entry exports, once its runtime has instantiated the wasm.
// The runtime placeholder below is replaced by scripts/package.mjs with the path wasm-bindgen gave runtime.js,
// so CacheError is the very class the wasm throws (one module, one class, `instanceof` works).
import { Cache } from "./edge_caches.js";
export { CacheError } from "@@RUNTIME@@";

// `await using cache = new Cache(...)`: disposing disconnects, and is a no-op when the cache
// is already disconnected, so a `disconnect()` before the end of the block is no error.
const asyncDispose = Symbol.asyncDispose ?? Symbol.for("Symbol.asyncDispose");
Object.defineProperty(Cache.prototype, asyncDispose, {
  value: async function () {
    if (this.connected) await this.disconnect();
  },
  writable: true,
  configurable: true,
});

export { Cache };
