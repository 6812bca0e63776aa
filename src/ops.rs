//! What a cache call asks of a backend, after the engine has checked the arguments and built
//! the stored keys: one `Op` in, one `Outcome` out. Backends differ only in how they carry an
//! `Op` out (in memory, or as Redis commands over REST), so every backend answers the same
//! conformance suite.
//!
//! Values travel as their JSON text, exactly as they are stored.

use crate::prelude::*;

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// -> `Value`
    Get { key: String },
    /// -> `Done`. `stamps`, here and below: the stamp keys of the entry's tags (`crate::tags`),
    /// empty for an untagged entry.
    Set { key: String, value: String, ttl_ms: Option<u64>, stamps: Vec<String> },
    /// Store only when missing, expired or dead (a tag invalidated). -> `Bool` (stored)
    Add { key: String, value: String, ttl_ms: Option<u64>, stamps: Vec<String> },
    /// `getOrSet` with a plain value, in one step: store when missing, else keep what is there.
    /// -> `Value` (the value that was already there; `None` when this one was stored)
    GetOrAdd { key: String, value: String, ttl_ms: Option<u64>, stamps: Vec<String> },
    /// -> `Values`, in the order of `keys`
    GetMany { keys: Vec<String> },
    /// -> `Done`
    SetMany { entries: Vec<(String, String)>, ttl_ms: Option<u64>, stamps: Vec<String> },
    /// -> `Done`
    DeleteMany { keys: Vec<String> },
    /// Delete every key that starts with `prefix`, or everything without one. -> `Done`
    Clear { prefix: Option<String> },
    /// New expiry for an existing key, never creating one. -> `Bool` (the key existed)
    Touch { key: String, ttl_ms: Option<u64> },
    /// Add `delta` (a missing key counts as 0), keeping the expiry. -> `Value` (the new number)
    Incr { key: String, delta: f64 },
    /// Every entry written with one of these stamp keys' tags before now reads as missing.
    /// -> `Done`
    Invalidate { stamps: Vec<String> },
}

impl Op {
    /// Whether running the op twice leaves the same state and answer as running it once: only
    /// then may a request that might have reached the server be sent again. `Add`/`GetOrAdd`
    /// would answer "already there" the second time, `Incr` would count twice. (`Touch` sets an
    /// expiry relative to now, so a repeat only moves it by the retry delay.)
    pub fn idempotent(&self) -> bool {
        !matches!(self, Op::Add { .. } | Op::GetOrAdd { .. } | Op::Incr { .. })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done,
    Bool(bool),
    Value(Option<String>),
    Values(Vec<Option<String>>),
    /// What `incr` resolves with (the backends answer with the number's text; the engine
    /// reads it).
    Number(f64),
    /// The REST backend's `Value` or `Values`, as JSON still to be parsed (`"text"`, `null`,
    /// `["text",null]`): the stored texts arrive escaped in the reply, and JavaScript's
    /// JSON.parse unescapes them far faster than wasm can.
    Json(String),
}
