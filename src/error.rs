//! Errors as data: every failure carries the class JavaScript will see (`TypeError`,
//! `RangeError` or `CacheError`) and, for a `CacheError`, a stable `code` that callers can
//! branch on. The one conversion into a JavaScript value is the boundary's (`crate::wasm`).

use crate::prelude::*;

/// Which JavaScript error a failure becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An argument of the wrong type: a `TypeError`.
    Type,
    /// A number out of range (ttl, delta, option): a `RangeError`.
    Range,
    /// Anything else: a `CacheError` with this code.
    Cache(Code),
}

/// The documented `CacheError` codes. Their strings are part of the public API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Code {
    /// A call before `connect()` or after `disconnect()`.
    NotConnected,
    /// `connect()` on a connected cache.
    AlreadyConnected,
    /// A bad URL or option, found when the cache is constructed.
    Config,
    /// `incr`/`decr` on a stored value that is not a number, or a result that is not finite.
    NotANumber,
    /// The request failed on the way (connection refused or dropped).
    Network,
    /// The request took longer than the `timeout` option.
    Timeout,
    /// The caller's `signal` aborted the call.
    Aborted,
    /// The server refused the token (401/403).
    Auth,
    /// The server answered with an error (Redis error reply, 5xx).
    Server,
    /// The server's answer was not what the protocol promises.
    Protocol,
    /// The backend does not support this call (the `dummy://` backend's `incr`).
    Unsupported,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::NotConnected => "NOT_CONNECTED",
            Code::AlreadyConnected => "ALREADY_CONNECTED",
            Code::Config => "CONFIG",
            Code::NotANumber => "NOT_A_NUMBER",
            Code::Network => "NETWORK",
            Code::Timeout => "TIMEOUT",
            Code::Aborted => "ABORTED",
            Code::Auth => "AUTH",
            Code::Server => "SERVER",
            Code::Protocol => "PROTOCOL",
            Code::Unsupported => "UNSUPPORTED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
}

pub type Result<T> = core::result::Result<T, Error>;

// Messages are joined from parts instead of `format!`: core::fmt is a large share of a small
// wasm binary, and these messages are all fixed text plus a name. A plain loop rather than
// `concat`, whose generic copy (with its overflow panics) was 1 KB of wasm.
fn join(parts: &[&str]) -> String {
    let mut message = String::new();
    for part in parts {
        message.push_str(part);
    }
    message
}

// The constructors are never inlined: an error is built at some seventy places, and a call
// each is 0.1 KB less gzipped wasm than the construction copied into each (docs/performance.md).
impl Error {
    #[inline(never)]
    pub fn type_error(parts: &[&str]) -> Self {
        Error { kind: Kind::Type, message: join(parts) }
    }
    #[inline(never)]
    pub fn range_error(parts: &[&str]) -> Self {
        Error { kind: Kind::Range, message: join(parts) }
    }
    #[inline(never)]
    pub fn cache(code: Code, parts: &[&str]) -> Self {
        Error { kind: Kind::Cache(code), message: join(parts) }
    }
    /// The `CacheError` code, if this is one.
    pub fn code(&self) -> Option<Code> {
        match self.kind {
            Kind::Cache(code) => Some(code),
            _ => None,
        }
    }
}
