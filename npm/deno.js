// Deno: a source-phase import gives the compiled WebAssembly.Module with no file or network
// permission (reading the file with Deno.readFile would need --allow-read).
import source wasmModule from "./edge_caches_bg.wasm";
import { initSync } from "./edge_caches.js";

initSync({ module: wasmModule });

export { Cache, CacheError } from "./edge_caches.js";
