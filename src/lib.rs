//! edge-caches: the cache API of the Python async-caches library, for JavaScript on edge
//! runtimes, compiled to WebAssembly. docs/architecture.md follows a call through it.
//!
//! - `engine`: what every call means (checks, keys, backend dispatch, reading answers).
//! - `keys`, `ttl`, `number`, `error`, `ops`: the rules the engine applies. (The cache URL is
//!   read in JavaScript, by the runtime's URL parser: npm/url.js.)
//! - `backend`: one module per backend (memory, dummy, rest), each carrying out `ops::Op`s; the
//!   REST one sans I/O: commands out, answers in.
//! - `wasm` (wasm32 only): the wasm-bindgen boundary, which converts JavaScript values to the
//!   engine's types and back, and nothing else.
//!
//! The shipped wasm is built without std: std's panic machinery formats messages that nobody
//! reads (a wasm panic is a trap either way), and that formatting code was a large share of the
//! download. The code uses `alloc` and `core` only; host builds and the wasm test harness
//! (feature `std`) link std as usual. `scripts/build-wasm.sh` goes further on a pinned nightly
//! (core built with panics that abort in place, docs/decisions/0014); the code builds on stable.

#![cfg_attr(all(target_arch = "wasm32", not(feature = "std")), no_std)]

extern crate alloc;

/// What std's prelude brings and a crate without std imports: `use crate::prelude::*`.
mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec;
    pub use alloc::vec::Vec;
}

pub mod backend;
pub mod bus;
pub mod engine;
pub mod error;
pub mod keys;
pub mod lru;
mod text;
pub mod near;
pub mod number;
pub mod ops;
pub mod tags;
pub mod ttl;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

// A TLSF allocator instead of the dlmalloc that std brings: smaller, constant time per
// allocation and free whatever the heap's fragmentation (a free-list allocator was smaller
// still but searches its list: docs/performance.md). Its lock is a no-op in wasm without
// threads, which is ours.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: rlsf::SmallGlobalTlsf = rlsf::SmallGlobalTlsf::new();

/// Nothing JavaScript can pass in reaches a panic (tests/fuzz.rs holds every decoder to that);
/// if one did, the instance traps as it would with std, without the message-formatting code.
/// (The shipped build's panics trap where they happen and never call this: 0014.)
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
#[panic_handler]
fn panic(_: &::core::panic::PanicInfo) -> ! {
    ::core::arch::wasm32::unreachable()
}
