// Cloudflare Workers (workerd): compiling wasm from bytes at run time is refused there ("Wasm
// code generation disallowed by embedder"), so the .wasm comes in as a static import, which
// wrangler and workerd configs turn into a WebAssembly.Module, and is instantiated with initSync.
// Nothing else runs at module top level (no I/O, no randomness: Workers forbid both there).
import wasmModule from "./edge_caches_bg.wasm";
import { initSync } from "./edge_caches.js";

initSync({ module: wasmModule });

export { Cache, CacheError } from "./edge_caches.js";
