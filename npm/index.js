// Browsers and bundlers: `new URL(..., import.meta.url)` is how Vite, webpack and esbuild find
// the .wasm to ship, and how a browser fetches it without a bundler.
import init from "./edge_caches.js";

await init({ module_or_path: new URL("./edge_caches_bg.wasm", import.meta.url) });

export { Cache, CacheError } from "./edge_caches.js";
