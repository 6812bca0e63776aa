//! What a cache call asks of a backend, after the engine has checked the arguments and built
//! the stored keys: one `Op` in, one `Outcome` out. Backends differ only in how they carry an
//! `Op` out (in memory, or as Redis commands over REST), so every backend answers the same
//! conformance suite.
//!
//! Values travel as their JSON text, exactly as they are stored.

use crate::prelude::*;

/// One entry a write stores: what `set`, `add` and `getOrSet` share.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    /// The value's JSON text.
    pub value: String,
    /// `None`: never expires.
    pub ttl_ms: Option<u64>,
    /// The stamp keys of the entry's tags (`crate::tags`), empty for an untagged entry.
    pub stamps: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// -> `Value`
    Get { key: String },
    /// -> `Done`
    Set(Entry),
    /// Store only when missing, expired or dead (a tag invalidated). -> `Bool` (stored)
    Add(Entry),
    /// `getOrSet` with a plain value, in one step: store when missing, else keep what is there.
    /// -> `Value` (the value that was already there; `None` when this one was stored)
    GetOrAdd(Entry),
    /// -> `Values`, in the order of `keys`
    GetMany { keys: Vec<String> },
    /// `values[i]` is stored at `keys[i]` (the same length: the engine checks). -> `Done`
    SetMany { keys: Vec<String>, values: Vec<String>, ttl_ms: Option<u64>, stamps: Vec<String> },
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
    /// `getOrSet`'s lock: stores `token` at the lock's key only when it is free, for `ttl_ms`.
    /// -> `Bool` (taken)
    Lock { key: String, token: String, ttl_ms: u64 },
    /// Frees a lock, only while it still holds `token` (it may have expired and been taken).
    /// -> `Done`
    Unlock { key: String, token: String },
    /// A live value with its remaining life. -> `Json` `[text or null, ms]`, ms as Redis's
    /// PTTL (-1: no expiry, -2: missing)
    GetExpiring { key: String },
}

impl Op {
    /// Whether running the op twice leaves the same state and answer as running it once: only
    /// then may a request that might have reached the server be sent again. `Add`/`GetOrAdd`
    /// would answer "already there" the second time, `Incr` would count twice. (`Touch` sets an
    /// expiry relative to now, so a repeat only moves it by the retry delay.)
    pub fn idempotent(&self) -> bool {
        !matches!(self, Op::Add(_) | Op::GetOrAdd(_) | Op::Incr { .. } | Op::Lock { .. })
    }

    /// The stored keys the op may change: `Some(keys)` (none for a read), or `None` when it
    /// may change any key (`clear()`, `invalidateTags`). The near tier marks them, the bus
    /// publishes them. (A lock is not an entry: no reader of the key needs to know.)
    pub fn written_keys(&self) -> Option<Vec<String>> {
        Some(match self {
            Op::Get { .. } | Op::GetMany { .. } | Op::GetExpiring { .. } | Op::Lock { .. } | Op::Unlock { .. } => Vec::new(),
            Op::Set(entry) | Op::Add(entry) | Op::GetOrAdd(entry) => vec![entry.key.clone()],
            Op::Touch { key, .. } | Op::Incr { key, .. } => vec![key.clone()],
            Op::SetMany { keys, .. } | Op::DeleteMany { keys } => keys.clone(),
            Op::Clear { .. } | Op::Invalidate { .. } => return None,
        })
    }

    /// The stored keys whose values the op's outcome gives, for `onEvent`.
    pub fn read_keys(&self) -> Option<Vec<String>> {
        match self {
            Op::Get { key } | Op::GetOrAdd(Entry { key, .. }) | Op::GetExpiring { key } => Some(vec![key.clone()]),
            Op::GetMany { keys } => Some(keys.clone()),
            _ => None,
        }
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
