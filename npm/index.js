// Browsers and bundlers: `new URL(..., import.meta.url)` is how Vite, webpack and esbuild find
// the .wasm to ship, and how a browser fetches it without a bundler. It compiles while it
// downloads, or from its bytes where the server does not send it as application/wasm (which
// streaming compilation requires). Instantiated with initSync, as in the other entries: the
// glue's own async loader is then left out of the bundle (1 KB gzipped).
import { initSync } from "./edge_caches.js";

const response = await fetch(new URL("./edge_caches_bg.wasm", import.meta.url));
if (!response.ok) throw new Error(`edge-caches: fetching its .wasm failed with HTTP ${response.status}`);
let module;
try {
  module = await WebAssembly.compileStreaming(response.clone());
} catch {
  module = await WebAssembly.compile(await response.arrayBuffer());
}
initSync({ module });

export { Cache, CacheError } from "./edge_caches.js";
