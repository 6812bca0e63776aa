// Node (and Bun): the wasm is read from beside this file, no network.
import { readFileSync } from "node:fs";
import { initSync } from "./edge_caches.js";

initSync({ module: readFileSync(new URL("./edge_caches_bg.wasm", import.meta.url)) });

export { Cache, CacheError } from "./cache.js";
