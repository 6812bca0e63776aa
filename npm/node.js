// Node (and Bun): the wasm is read from beside this file, no network.
import { readFileSync } from "node:fs";
import { initSync, shareTimers } from "./edge_caches.js";

initSync({ module: readFileSync(new URL("./edge_caches_bg.wasm", import.meta.url)) });
// Timers here can be unref'd: requests with the same timeout share one (runtime.js, `watch`).
shareTimers();

export { Cache, CacheError } from "./edge_caches.js";
