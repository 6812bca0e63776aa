//! The part of edge-caches that knows nothing of JavaScript: keys, options, ttl arithmetic,
//! the operations a backend carries out, number rules and errors. Tested with `cargo test`.

pub mod config;
pub mod error;
pub mod keys;
pub mod number;
pub mod ops;
pub mod ttl;
