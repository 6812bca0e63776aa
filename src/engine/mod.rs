//! The engine: everything a cache call means, in plain Rust. It takes typed arguments (the
//! wasm boundary, `crate::wasm`, only converts JavaScript values into them), checks their rules,
//! builds the stored keys, and then either carries the op out at once (memory, dummy) or says
//! what request to send (REST) and, given the answer, what it means. It never waits: the
//! JavaScript transport sends and retries, and comes back with the answer (`read`).
//!
//! A call is `method(...) -> Result<Step>`; a `Step` is the outcome, or a `Request` to send whose
//! answer `read` turns into the next `Step` (only `clear()`'s walk takes several).
//!
//! - `options`: the constructor's and each call's options, and their checks;
//! - `calls`: the call surface (one method per cache call);
//! - `plan`: what to send for an op (`Request`), and lists too long for one request;
//! - `answer`: what an answer, or a request that got none, means for its call;
//! - `near_calls`: reads and writes through the near tier, and the bus's messages;
//! - `events`: what reads found for `onEvent`, and the counters of `stats`.

use crate::prelude::*;

use alloc::rc::Rc;
use core::cell::{Cell, RefCell};

use crate::backend::memory::MemoryStore;
use crate::bus::Bus;
use crate::error::{Code, Error, Result};
use crate::keys::KeyBuilder;
use crate::near::Near;
use crate::number::Numbers;
use crate::ops::Outcome;

mod answer;
mod calls;
mod events;
mod near_calls;
mod options;
mod plan;
#[cfg(test)]
mod testing;

pub use events::{KeyEvent, Stats};
pub use options::{BackendGiven, CallOptions, NearGiven, Options, DEFAULT_RETRIES, NEAR_DEFAULT_TTL_MS};
pub use plan::{Request, Route, MAX_REQUEST_BYTES};

/// What the engine needs of the place it runs in: the clock, randomness, and number text
/// (`Numbers`; in wasm, JavaScript's own, so numbers print exactly as `JSON.stringify` does).
pub trait Host: Numbers {
    /// Milliseconds since the epoch.
    fn now_ms(&self) -> f64;
    /// 64 random bits, for the memory store's hash key.
    fn random_u64(&self) -> u64;
}

/// A memory store, shared by the caches of one `memory://NAME`.
pub type SharedStore = Rc<RefCell<MemoryStore>>;

/// The `memory://NAME` stores of one JavaScript realm (the wasm boundary keeps one). Few
/// names: a list is enough.
#[derive(Default)]
pub struct NamedStores(RefCell<Vec<(String, SharedStore)>>);

impl NamedStores {
    pub const fn new() -> Self {
        NamedStores(RefCell::new(Vec::new()))
    }

    /// The store named `name`, made on first use.
    fn get_or_make(&self, name: String, make: impl FnOnce() -> MemoryStore) -> SharedStore {
        let mut stores = self.0.borrow_mut();
        if let Some((_, store)) = stores.iter().find(|(n, _)| *n == name) {
            return store.clone();
        }
        let store = Rc::new(RefCell::new(make()));
        stores.push((name, store.clone()));
        store
    }
}

enum Backend {
    Memory(SharedStore),
    Dummy,
    /// The transport (npm/transport.js) holds the endpoint and the token: the engine only checks
    /// the token, and plans the requests.
    Rest,
}

/// What a call does next.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// The call is done: its outcome.
    Done(Outcome),
    /// Send this request and `read` its answer.
    Send(Request),
    /// The call is done with this (stale) outcome; send the request in the background to
    /// refresh the near tier (its answer is read like any other, and its outcome dropped).
    Refresh(Outcome, Request),
}

pub struct Engine<H: Host> {
    host: H,
    keys: KeyBuilder,
    default_ttl_ms: Option<u64>,
    backend: Backend,
    retries: u32,
    connected: Cell<bool>,
    /// `MAX_REQUEST_BYTES` (smaller in tests).
    request_limit: usize,
    /// REST only: on the other backends every read is already in memory (or nowhere).
    near: Option<RefCell<Near>>,
    stats: Cell<Stats>,
    /// With `onEvent` only: without it, reads note nothing.
    events: Option<RefCell<Vec<(KeyEvent, String)>>>,
    /// With `near.bus` (and so only with a near tier).
    bus: Option<Bus>,
    /// The `tagged` option.
    tagged: bool,
}

impl<H: Host> Engine<H> {
    /// A cache on `backend`, not yet connected. A bad option is a `RangeError` (or `CONFIG`).
    pub fn new(backend: BackendGiven, options: Options, host: H, stores: &NamedStores) -> Result<Self> {
        let version = options.version.check(&host)?;
        let keys = KeyBuilder::new(options.key_prefix.unwrap_or_default(), version);
        if crate::keys::reserved(&keys.stem(None, 0)) {
            return Err(crate::keys::reserved_error());
        }
        let default_ttl_ms = options.ttl.check()?.resolve(None);
        let max_entries = options::max_entries(options.max_entries, "maxEntries")?;
        let retries = options::retries(options.retries)?;
        if options.token.as_deref() == Some("") {
            return Err(Error::cache(Code::Config, &["token must not be empty"]));
        }
        let new_store = || MemoryStore::new(max_entries, [host.random_u64(), host.random_u64()]);
        let backend = match backend {
            BackendGiven::Memory { name: None } => Backend::Memory(Rc::new(RefCell::new(new_store()))),
            BackendGiven::Memory { name: Some(name) } => Backend::Memory(stores.get_or_make(name, new_store)),
            BackendGiven::Dummy => Backend::Dummy,
            BackendGiven::Rest => match options.token {
                // It goes into a header: anything else would fail every request, with the
                // runtime's message quoting it.
                Some(token) if !token.bytes().all(|b| b.is_ascii_graphic()) => {
                    return Err(Error::cache(Code::Config, &["the token is not a valid HTTP header value (printable ASCII, no spaces)"]))
                }
                Some(_) => Backend::Rest,
                None => return Err(Error::cache(Code::Config, &["the REST backend needs a token: options.token, or https://:TOKEN@host"])),
            },
        };
        let policy = match options.near {
            Some(given) => Some(options::near_policy(given, options.grace)?),
            None if options.grace.is_some() => return Err(Error::cache(Code::Config, &["grace needs the near option (it serves near entries)"])),
            None => None,
        };
        // The near tier only in front of REST: the other backends are memory already.
        let near = policy.filter(|_| matches!(backend, Backend::Rest)).map(|p| RefCell::new(Near::new(p, [host.random_u64(), host.random_u64()])));
        let bus = options.near.filter(|given| given.bus && near.is_some()).map(|_| Bus::new(keys.prefix(), host.random_u64()));
        Ok(Engine {
            host,
            keys,
            default_ttl_ms,
            backend,
            retries,
            connected: Cell::new(false),
            request_limit: MAX_REQUEST_BYTES,
            near,
            stats: Cell::new(Stats::default()),
            events: options.events.then(|| RefCell::new(Vec::new())),
            bus,
            tagged: options.tagged,
        })
    }

    /// Whether reads go through a near tier (REST with the `near` option).
    pub fn has_near_tier(&self) -> bool {
        self.near.is_some()
    }

    pub fn connected(&self) -> bool {
        self.connected.get()
    }

    /// Needs no round trip: the REST backend is stateless HTTP, the memory store is here.
    pub fn connect(&self) -> Result<()> {
        if self.connected.replace(true) {
            return Err(Error::cache(Code::AlreadyConnected, &["the cache is already connected"]));
        }
        Ok(())
    }

    /// Stops admitting calls (the JavaScript side then waits for the calls in flight).
    pub fn disconnect(&self) -> Result<()> {
        if !self.connected.replace(false) {
            return Err(not_connected());
        }
        Ok(())
    }
}

fn not_connected() -> Error {
    Error::cache(Code::NotConnected, &["the cache is not connected: call connect() first"])
}

/// The error of a call in flight when its cache was freed, or made after.
pub fn freed_error() -> Error {
    Error::cache(Code::NotConnected, &["the cache was freed"])
}

/// The error of a call whose signal fired (`reason`: its text, or empty).
pub fn aborted_error(reason: &str) -> Error {
    let separator = if reason.is_empty() { "" } else { ": " };
    Error::cache(Code::Aborted, &["the call was aborted", separator, reason])
}
