//! edge-caches: the cache API of the Python async-caches library, for JavaScript on edge
//! runtimes, compiled to WebAssembly.
//!
//! - `core`: keys, options, ttl, operations, number rules, errors. No JavaScript.
//! - `backend`: one module per backend (memory, dummy, rest), each carrying out `core::ops::Op`s.
//! - `backend::rest`: the REST protocol as plain Rust, sans I/O: commands out, answers in.
//! - `js` (wasm32 only): the wasm-bindgen boundary, the synchronous `Core` class that the
//!   JavaScript `Cache` (npm/cache.js: promises, fetch, pipelining) drives.

pub mod backend;
pub mod core;

#[cfg(target_arch = "wasm32")]
mod js;
#[cfg(target_arch = "wasm32")]
pub use js::Core;

// Talc instead of the dlmalloc that std brings: 6.8 KB less wasm (2.6 KB gzipped), and no
// slower per call in A/Bs of get/set/getMany/incr. Single-threaded wasm only, which is ours.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
