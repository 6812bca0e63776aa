//! The wasm-bindgen boundary: the `Cache` class that JavaScript sees.
//!
//! Every method checks its arguments first (a bad call rejects with a `TypeError` or
//! `RangeError` and has done nothing), then is admitted only on a connected cache, and returns a
//! Promise. State is shared through `Rc` with short `RefCell` borrows that never live across an
//! `.await` or a call into JavaScript: overlapping calls are the normal case here, and a
//! `&mut self` method held across an await would panic with "recursive use of an object".

mod args;
mod cache;
pub(crate) mod runtime;
mod settings;

pub use cache::Cache;
