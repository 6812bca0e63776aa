// Node (and Bun): the wasm is read from beside this file, no network.
import { setMaxListeners } from "node:events";
import { readFileSync } from "node:fs";
import { initSync, useNode } from "./edge_caches.js";


initSync({ module: readFileSync(new URL("./edge_caches_bg.wasm", import.meta.url)) });
// Timers here can be unref'd, so requests with the same timeout share one (transport.js,
// `watch`); and a signal warns past 10 listeners unless its limit is raised (transport.js, `post`).
useNode({ setMaxListeners });

export { Cache, CacheError } from "./edge_caches.js";
