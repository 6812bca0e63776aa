//! The wasm-bindgen boundary: the `Core` class that the JavaScript `Cache` (npm/cache.js)
//! drives, the reading of JavaScript arguments, and the bindings to `runtime.js`.
//!
//! Every method is synchronous and takes `&self` with short `Cell`/`RefCell` uses that never
//! live across a call into JavaScript: a value's `toJSON` may call the cache again, and a
//! `&mut self` method would then throw "recursive use of an object" for good.

mod args;
mod core;
pub(crate) mod runtime;
mod settings;

pub use self::core::Core;
