//! The engine: everything a cache call means, in plain Rust. It takes typed arguments (the
//! wasm boundary, `crate::wasm`, only converts JavaScript values into them), checks their rules,
//! builds the stored keys, and then either carries the op out at once (memory, dummy) or says
//! what request to send (REST) and, given the answer, what it means. It never waits: the
//! JavaScript transport sends and retries, and comes back with the answer (`read`).
//!
//! A call is `method(...) -> Result<Step>`; a `Step` is the outcome, or a `Request` to send whose
//! answer `read` turns into the next `Step` (only `clear()`'s walk takes several).

use crate::prelude::*;

use alloc::boxed::Box;
use alloc::rc::Rc;
use core::cell::{Cell, RefCell};

use crate::backend::dummy;
use crate::backend::memory::{MemoryStore, DEFAULT_MAX_ENTRIES};
use crate::backend::rest::commands::{
    checked_again, decode, holds_tagged, integer, plan, plan_checked, protocol_error, result, script_missing, value, Expect, Reply, Script,
};
use crate::backend::rest::{self, json, Failure, Walk};
use crate::bus::Bus;
use crate::error::{Code, Error, Result};
use crate::keys::{KeyBuilder, VersionGiven};
use crate::near::{Lookup, Near, NearOptions};
use crate::number::{is_json_number, is_safe_integer, Numbers};
use crate::ops::{Op, Outcome};
use crate::tags;
use crate::ttl::{self, TtlGiven};
use crate::url::{parse_url, BackendUrl};

/// What the engine needs of the place it runs in: the clock, randomness, and number text
/// (`Numbers`; in wasm, JavaScript's own, so numbers print exactly as `JSON.stringify` does).
pub trait Host: Numbers {
    /// Milliseconds since the epoch.
    fn now_ms(&self) -> f64;
    /// 64 random bits, for the memory store's hash key.
    fn random_u64(&self) -> u64;
}

/// The constructor's options, each `None` (or `Default`) when not given. They win over the
/// URL's query.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub key_prefix: Option<String>,
    pub version: VersionGiven,
    pub ttl: TtlGiven,
    pub max_entries: Option<f64>,
    pub token: Option<String>,
    pub retries: Option<f64>,
    /// The near tier, off when `None`.
    pub near: Option<NearGiven>,
    /// Seconds past `near.ttl + near.swr` that a read may still serve when the backend fails.
    pub grace: Option<f64>,
    /// Keep what each read found for each key, for `take_events` (the `onEvent` option).
    pub events: bool,
    /// REST: read through the script that checks tags, so that a tagged entry is read in one
    /// request (without it, a plain read that meets one sends the script after it).
    pub tagged: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            key_prefix: None,
            version: VersionGiven::Default,
            ttl: TtlGiven::Default,
            max_entries: None,
            token: None,
            retries: None,
            near: None,
            grace: None,
            events: false,
            tagged: false,
        }
    }
}

/// The `near` option as given: seconds, unchecked; `None` takes the default.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NearGiven {
    pub ttl: Option<f64>,
    pub swr: Option<f64>,
    pub max_entries: Option<f64>,
    /// Publish this instance's writes on the key prefix's channel, and drop near entries when
    /// another instance's arrive (`crate::bus`).
    pub bus: bool,
}

/// `near: true`: values up to 5 seconds old are served from this instance's memory.
pub const NEAR_DEFAULT_TTL_MS: u64 = 5000;

/// Retries when none are given: enough to ride out a dropped connection or a restarting
/// server, few enough that a dead endpoint fails within a second or so.
pub const DEFAULT_RETRIES: u32 = 2;

/// The most bytes of commands one REST request carries: well under the gateway's default
/// `--max-body` (1 MiB) and Upstash's 1 MB. A longer list (`getMany`, `setMany`, `deleteMany`)
/// goes in several requests, one after another.
pub const MAX_REQUEST_BYTES: usize = 512 * 1024;

/// The largest `maxEntries`: beyond it the memory store would outgrow a wasm32 address space.
const MAX_ENTRIES_LIMIT: f64 = (1u64 << 31) as f64;

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
}

enum Backend {
    Memory(SharedStore),
    Dummy,
    Rest { endpoint: String, token: String },
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

/// A request for the transport to send: the body, and what the engine needs to read its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// One command (`["GET","k"]`), or for `pipeline()` a list of them.
    pub body: String,
    read: Read,
    /// The command must not run twice (`add`, `incr`...): retried only when provably unsent.
    pub once: bool,
    /// With the bus: `body` is the command, a comma and a PUBLISH of what it changes (two
    /// commands, always sent inside a `/pipeline` request; the PUBLISH's answer is not read).
    pub publishes: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Read {
    Reply(Expect),
    /// A read of these keys, with `onEvent`: `Reply`, and each key's hit or miss noted.
    Keys(Box<(Expect, Vec<String>)>),
    Walk(Walk),
    /// One part of a list too long for one request: the parts still to send, and for `getMany`
    /// the values read so far.
    Part(Box<Parts>),
    /// A read through the near tier: the keys it fetches with their PTTL, and for `getMany`
    /// what the near tier already had for each requested key (`None` where fetched).
    Near(Box<NearRead>),
    /// A write through the near tier: what its keys hold once it succeeds.
    Write(Box<NearWrite>),
}

impl Read {
    /// How to decode the answer, for the reads whose answer is one op's reply.
    fn expect(&self) -> Option<Expect> {
        match self {
            Read::Reply(expect) => Some(*expect),
            Read::Keys(read) => Some(read.0),
            Read::Part(parts) => Some(parts.expect),
            Read::Write(write) => Some(write.expect),
            Read::Walk(_) | Read::Near(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct NearRead {
    fetch: Vec<String>,
    epoch: u64,
    many: Option<Vec<Option<Option<String>>>>,
    /// A stale-while-revalidate refresh: no caller waits for it, so a failure serves nothing.
    background: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct NearWrite {
    expect: Expect,
    keys: Vec<String>,
    /// The values written (`None`: the keys were deleted).
    values: Option<Vec<String>>,
    ttl_ms: Option<u64>,
    epoch: u64,
}

#[derive(Debug, Clone, PartialEq)]
struct Parts {
    expect: Expect,
    /// `getMany` with `onEvent`: its keys, to note what each found.
    keys: Vec<String>,
    /// The ops still to send, the next one last.
    rest: Vec<Op>,
    /// `getMany`: the JSON texts of the values read so far, comma-separated.
    values: String,
}

impl Request {
    /// Sent to `/pipeline`, on its own. Any other request is one command, which the transport
    /// may batch with others into one `/pipeline` request.
    pub fn pipeline(&self) -> bool {
        matches!(self.read, Read::Walk(walk) if walk.is_pipeline())
    }

    /// Sent inside a `/pipeline` request, alone or with others, never as a request of its own:
    /// a script sent by its SHA-1, whose NOSCRIPT answer is then the command's own entry rather
    /// than an HTTP 400 (which browsers log in the console).
    pub fn pipelined(&self) -> bool {
        self.publishes || self.body.starts_with(r#"["EVALSHA"#)
    }

    /// The commands in `body`: 1, or 2 with a PUBLISH.
    pub fn commands(&self) -> usize {
        1 + usize::from(self.publishes)
    }

    /// For a near-tier read of one key: the key, so that concurrent reads of it can share one
    /// request.
    pub fn shared_key(&self) -> Option<&str> {
        match &self.read {
            Read::Near(read) if read.many.is_none() => read.fetch.first().map(String::as_str),
            _ => None,
        }
    }
}

/// What a read found for one key, kept for the `onEvent` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEvent {
    /// The backend had the key.
    Hit = 0,
    Miss = 1,
    /// The near tier answered: a value, or that the key is missing.
    NearHit = 2,
    NearMiss = 3,
    /// The near tier served a value past `near.ttl` (stale-while-revalidate, or grace).
    Stale = 4,
}

/// Counters since construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub near_hits: u64,
    pub near_misses: u64,
    pub stale_served: u64,
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
    /// A cache for `url` (`memory://`, `memory://NAME`, `dummy://`, `http(s)://host`), not yet
    /// connected. A bad URL is a `CONFIG` error, a bad option a `RangeError` (or `CONFIG`).
    pub fn new(url: &str, options: Options, host: H, stores: &NamedStores) -> Result<Self> {
        let parsed = parse_url(url)?;
        // As async-caches: an option that is false in Python (None, "", 0) leaves the URL's.
        let version = options.version.check(&host)?.or(parsed.version);
        let key_prefix = options.key_prefix.filter(|p| !p.is_empty()).or(parsed.key_prefix).unwrap_or_default();
        let keys = KeyBuilder::new(key_prefix, version);
        let default_ttl_ms = options.ttl.check()?.resolve(parsed.ttl_ms);
        let max_entries = match options.max_entries {
            None => DEFAULT_MAX_ENTRIES,
            Some(n) if is_safe_integer(n) && (1.0..=MAX_ENTRIES_LIMIT).contains(&n) => n as usize,
            Some(_) => return Err(Error::range_error(&["maxEntries must be an integer from 1 to 2^31"])),
        };
        let retries = match options.retries {
            None => DEFAULT_RETRIES,
            Some(n) if is_safe_integer(n) && (0.0..=10.0).contains(&n) => n as u32,
            Some(_) => return Err(Error::range_error(&["retries must be an integer from 0 to 10"])),
        };
        if options.token.as_deref() == Some("") {
            return Err(Error::cache(Code::Config, &["token must not be empty"]));
        }
        let backend = match parsed.backend {
            BackendUrl::Memory { name: None } => Backend::Memory(Rc::new(RefCell::new(new_store(&host, max_entries)))),
            BackendUrl::Memory { name: Some(name) } => {
                let mut stores = stores.0.borrow_mut();
                let store = match stores.iter().find(|(n, _)| *n == name) {
                    Some((_, store)) => store.clone(),
                    None => {
                        let store = Rc::new(RefCell::new(new_store(&host, max_entries)));
                        stores.push((name, store.clone()));
                        store
                    }
                };
                Backend::Memory(store)
            }
            BackendUrl::Dummy => Backend::Dummy,
            BackendUrl::Rest { endpoint, token } => match options.token.or(token) {
                Some(token) => Backend::Rest { endpoint, token },
                None => return Err(Error::cache(Code::Config, &["the REST backend needs a token: options.token, or https://:TOKEN@host"])),
            },
        };
        let near = match options.near {
            Some(given) => Some(near_options(given, options.grace)?),
            None if options.grace.is_some() => return Err(Error::cache(Code::Config, &["grace needs the near option (it serves near entries)"])),
            None => None,
        };
        let near = near.filter(|_| matches!(backend, Backend::Rest { .. })).map(|o| RefCell::new(Near::new(o, [host.random_u64(), host.random_u64()])));
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

    /// The REST endpoint and its token; `None` for memory and dummy.
    pub fn endpoint(&self) -> Option<(&str, &str)> {
        match &self.backend {
            Backend::Rest { endpoint, token } => Some((endpoint, token)),
            _ => None,
        }
    }

    pub fn connected(&self) -> bool {
        self.connected.get()
    }

    pub fn stats(&self) -> Stats {
        self.stats.get()
    }

    /// The channel this instance's near tier listens on (with `near.bus`).
    pub fn bus_channel(&self) -> Option<&str> {
        self.bus.as_ref().map(Bus::channel)
    }

    /// A message on the bus channel: the near entries it names are dropped (reads sent before
    /// it store nothing for them), or all of them. What was dropped: `None` when the message
    /// was this instance's own or not one of ours, `Some(None)` for everything.
    pub fn bus_message(&self, text: &str) -> Option<Option<Vec<String>>> {
        let (Some(bus), Some(near)) = (&self.bus, &self.near) else { return None };
        let dropped = bus.read(text)?;
        let mut near = near.borrow_mut();
        match &dropped {
            // Marked as by a write of this instance: not served, and older reads store nothing.
            Some(keys) => {
                near.begin_write(keys);
            }
            None => near.clear(),
        }
        Some(dropped)
    }

    /// The bus stream was down (it may have missed messages): the near tier is emptied.
    pub fn bus_reset(&self) {
        if let Some(near) = &self.near {
            near.borrow_mut().clear();
        }
    }

    /// What reads found for each key since the last call (with the `events` option).
    pub fn take_events(&self) -> Vec<(KeyEvent, String)> {
        self.events.as_ref().map(|e| core::mem::take(&mut *e.borrow_mut())).unwrap_or_default()
    }

    fn note(&self, event: KeyEvent, key: &str) {
        if let Some(events) = &self.events {
            events.borrow_mut().push((event, key.to_owned()));
        }
    }

    /// Notes a read's hit or miss for each of `keys` from its outcome (the backend's answer).
    fn note_found(&self, keys: &[String], outcome: &Outcome) {
        let Some(events) = &self.events else { return };
        let found: Vec<bool> = match outcome {
            Outcome::Value(value) => vec![value.is_some()],
            Outcome::Values(values) => values.iter().map(Option::is_some).collect(),
            Outcome::Json(text) if keys.len() == 1 && !text.starts_with('[') => vec![text != "null"],
            Outcome::Json(text) => match json::parse(text) {
                Some(json::Json::Array(items)) => items.iter().map(|i| !matches!(i, json::Json::Null)).collect(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        let mut events = events.borrow_mut();
        for (key, hit) in keys.iter().zip(found) {
            events.push((if hit { KeyEvent::Hit } else { KeyEvent::Miss }, key.clone()));
        }
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

    // Every call method takes the checked key (or the JSON text of a list of them) and
    // `aborted`: `None`, or the text of the reason of the caller's signal, which fired before
    // the call. Argument errors come first (a bad call is a bug whatever the state), then the
    // state, then the signal.

    /// `fresh`: skip the near tier (read the backend, and keep what it says).
    pub fn get(&self, key: &str, version: VersionGiven, aborted: Option<&str>, fresh: bool) -> Result<Step> {
        let key = self.key(key, version)?;
        self.admit(aborted)?;
        self.get_stored(key, fresh)
    }

    /// `value`: the JSON text to store. `tags`, here and in every write that takes them: `None`,
    /// or the JSON text of an array of strings (`crate::tags`).
    pub fn set(&self, key: &str, value: String, ttl: TtlGiven, version: VersionGiven, tags: Option<&str>, aborted: Option<&str>) -> Result<Step> {
        let (key, ttl_ms, stamps) = self.write(key, ttl, version, tags, aborted)?;
        self.run(Op::Set { key, value, ttl_ms, stamps })
    }

    /// Stores only when the key is missing, expired or dead: `Bool(stored)`.
    pub fn add(&self, key: &str, value: String, ttl: TtlGiven, version: VersionGiven, tags: Option<&str>, aborted: Option<&str>) -> Result<Step> {
        let (key, ttl_ms, stamps) = self.write(key, ttl, version, tags, aborted)?;
        self.run(Op::Add { key, value, ttl_ms, stamps })
    }

    /// `getOrSet` with a plain default, in one step: `Value(None)` when `value` was stored, else
    /// the value that was there.
    #[allow(clippy::too_many_arguments)] // the call's own arguments, as the boundary passes them
    pub fn get_or_set(
        &self,
        key: &str,
        value: String,
        ttl: TtlGiven,
        version: VersionGiven,
        tags: Option<&str>,
        aborted: Option<&str>,
        fresh: bool,
    ) -> Result<Step> {
        let (key, ttl_ms, stamps) = self.write(key, ttl, version, tags, aborted)?;
        if let Some(near) = self.near.as_ref().filter(|_| !fresh) {
            // A value the near tier has is a hit; a missing key is stored as on a miss.
            if let Lookup::Fresh(Some(text)) = near.borrow_mut().lookup(&key, self.host.now_ms()) {
                self.count(|s| s.near_hits += 1);
                self.note(KeyEvent::NearHit, &key);
                return Ok(Step::Done(Outcome::Value(Some(text))));
            }
            // Asked and not answered: the backend answers, as for any near miss.
            self.count(|s| s.near_misses += 1);
        }
        self.run(Op::GetOrAdd { key, value, ttl_ms, stamps })
    }

    /// `getOrSet` with a function default: admits the call and gives the stored key, for the
    /// `get_stored` and `add_stored` steps taken around computing the value (once per stored
    /// key, however many calls overlap). Those steps belong to an admitted call, so they are
    /// not refused after a `disconnect()`.
    pub fn get_or_set_key(&self, key: &str, ttl: TtlGiven, version: VersionGiven, tags: Option<&str>, aborted: Option<&str>) -> Result<String> {
        Ok(self.write(key, ttl, version, tags, aborted)?.0)
    }

    pub fn get_stored(&self, stored_key: String, fresh: bool) -> Result<Step> {
        if let Some(near) = &self.near {
            return self.near_read(near, vec![stored_key], false, fresh);
        }
        self.run(Op::Get { key: stored_key })
    }

    /// `ttl` and `tags`: as given to `get_or_set_key`, which checked them.
    pub fn add_stored(&self, stored_key: String, value: String, ttl: TtlGiven, tags: Option<&str>) -> Result<Step> {
        let ttl_ms = ttl.check()?.resolve(self.default_ttl_ms);
        let stamps = self.stamps(tags)?;
        self.run(Op::Add { key: stored_key, value, ttl_ms, stamps })
    }

    /// `keys`: the JSON text of an array of strings. `Values`, in the order of `keys`.
    pub fn get_many(&self, keys: &str, version: VersionGiven, aborted: Option<&str>, fresh: bool) -> Result<Step> {
        let keys = self.key_list(keys, version)?;
        self.admit(aborted)?;
        if let Some(near) = self.near.as_ref().filter(|_| !keys.is_empty()) {
            return self.near_read(near, keys, true, fresh);
        }
        self.run(Op::GetMany { keys })
    }

    /// `keys` and `values`: the JSON texts of two arrays of strings of the same length, the
    /// keys and the JSON text of each value.
    pub fn set_many(&self, keys: &str, values: &str, ttl: TtlGiven, version: VersionGiven, tags: Option<&str>, aborted: Option<&str>) -> Result<Step> {
        let ttl_ms = ttl.check()?.resolve(self.default_ttl_ms);
        let keys = self.key_list(keys, version)?;
        let values = json::string_list(values, "").filter(|v| v.len() == keys.len()).ok_or_else(not_a_list)?;
        let stamps = self.stamps(tags)?;
        self.admit(aborted)?;
        self.run(Op::SetMany { entries: keys.into_iter().zip(values).collect(), ttl_ms, stamps })
    }

    /// `tags`: the JSON text of an array of strings. Every entry written with one of them
    /// before now reads as missing, through any instance; this instance's near tier is emptied
    /// (its entries do not carry their tags).
    pub fn invalidate_tags(&self, tags: &str, aborted: Option<&str>) -> Result<Step> {
        let stamps = self.stamps(Some(tags))?;
        self.admit(aborted)?;
        if stamps.is_empty() {
            return Ok(Step::Done(Outcome::Done));
        }
        self.run(Op::Invalidate { stamps })
    }

    pub fn delete(&self, key: &str, version: VersionGiven, aborted: Option<&str>) -> Result<Step> {
        let key = self.key(key, version)?;
        self.admit(aborted)?;
        self.run(Op::DeleteMany { keys: vec![key] })
    }

    pub fn delete_many(&self, keys: &str, version: VersionGiven, aborted: Option<&str>) -> Result<Step> {
        let keys = self.key_list(keys, version)?;
        self.admit(aborted)?;
        self.run(Op::DeleteMany { keys })
    }

    /// With a key prefix, deletes only this cache's keys; without one, everything in the store.
    pub fn clear(&self, aborted: Option<&str>) -> Result<Step> {
        self.admit(aborted)?;
        self.run(Op::Clear { prefix: self.keys.clear_prefix() })
    }

    /// `Bool(existed)`.
    pub fn touch(&self, key: &str, ttl: TtlGiven, version: VersionGiven, aborted: Option<&str>) -> Result<Step> {
        let (key, ttl_ms, _) = self.write(key, ttl, version, None, aborted)?;
        self.run(Op::Touch { key, ttl_ms })
    }

    /// `incr` (and `decr`, with the delta negated): `delta` 1 when omitted. `Number`.
    pub fn incr(&self, key: &str, delta: Option<f64>, version: VersionGiven, aborted: Option<&str>) -> Result<Step> {
        let delta = match delta {
            None => 1.0,
            Some(d) if d.is_finite() => d,
            Some(_) => return Err(Error::range_error(&["delta must be a finite number"])),
        };
        let key = self.key(key, version)?;
        self.admit(aborted)?;
        self.run(Op::Incr { key, delta })
    }

    /// What the answer to `request` (HTTP `status`, `body` as it came) means.
    pub fn read(&self, request: Request, status: u16, body: &[u8]) -> Result<Step> {
        let body = rest::body_text(body);
        if request.publishes {
            return self.read_pipeline(vec![request], status, body.as_bytes()).pop().unwrap_or_else(|| Err(protocol_error()));
        }
        if request.pipelined() {
            // Sent alone by a transport that does not pipeline: NOSCRIPT is an HTTP 400.
            return match rest::interpret(status, body) {
                Ok(answer) => self.answer(request, answer),
                Err(error) => self.failed(request.read, error, status >= 500),
            };
        }
        if let Some(expect) = request.read.expect() {
            let outcome = rest::reply(expect, status, body)?;
            return self.decoded(request, outcome);
        }
        match rest::interpret(status, body) {
            Ok(answer) => self.answer(request, answer),
            Err(error) => self.failed(request.read, error, status >= 500),
        }
    }

    /// What the answer to a `/pipeline` request of these (single-command) requests means for
    /// each of them, in order. A request that failed as a whole fails each of them (or, for a
    /// near-tier read when the backend failed, serves what grace allows).
    pub fn read_pipeline(&self, requests: Vec<Request>, status: u16, body: &[u8]) -> Vec<Result<Step>> {
        let count = requests.iter().map(Request::commands).sum();
        match rest::pipeline_answers(count, status, rest::body_text(body)) {
            Ok(answers) => {
                let mut answers = answers.into_iter();
                let mut steps = Vec::with_capacity(requests.len());
                for request in requests {
                    let answer = answers.next().unwrap_or(json::Json::Null);
                    if request.publishes {
                        answers.next(); // the PUBLISH's count of receivers
                    }
                    steps.push(self.answer(request, answer));
                }
                steps
            }
            Err(error) => requests.into_iter().map(|request| self.failed(request.read, error.clone(), status >= 500)).collect(),
        }
    }

    /// What a request that got no answer (`failure`; `detail`: what the runtime said) means
    /// for its call: the error, or for a near-tier read, what grace allows.
    pub fn fail(&self, request: Request, failure: Failure, detail: &str) -> Result<Step> {
        let backend_failed = matches!(failure, Failure::Network | Failure::Unsent | Failure::Timeout);
        self.failed(request.read, failure.error(detail), backend_failed)
    }

    /// One command's answer (a request of its own, or its entry in a pipeline). A script sent
    /// by its SHA-1 to a server that does not have it did not run: it goes again in full.
    fn answer(&self, request: Request, answer: json::Json) -> Result<Step> {
        if request.pipelined() && script_missing(&answer) {
            if let Some(body) = Script::in_full(&request.body) {
                return Ok(Step::Send(Request { body, ..request }));
            }
        }
        if let Some(expect) = request.read.expect() {
            let outcome = decode(expect, result(answer)?)?;
            return self.decoded(request, outcome);
        }
        match request.read {
            Read::Walk(walk) => self.walk(walk, answer),
            Read::Near(read) => self.near_answer(*read, result(answer)?),
            // Each has an `expect`, handled above.
            Read::Reply(_) | Read::Keys(_) | Read::Part(_) | Read::Write(_) => Err(protocol_error()),
        }
    }

    /// An op's reply, decoded: sent again as the checking script when a plain read met a tagged
    /// entry (`recheck`), else what it means for the call.
    fn decoded(&self, request: Request, outcome: Outcome) -> Result<Step> {
        if let Some(body) = self.recheck(&request.body, &outcome) {
            return Ok(Step::Send(Request { body, read: request.read, once: false, publishes: false }));
        }
        match request.read {
            Read::Reply(expect) => self.finish(expect, outcome),
            Read::Keys(read) => {
                let (expect, keys) = *read;
                self.note_found(&keys, &outcome);
                self.finish(expect, outcome)
            }
            Read::Part(parts) => self.next_part(*parts, outcome),
            Read::Write(write) => self.written(*write, outcome),
            Read::Walk(_) | Read::Near(_) => Err(protocol_error()),
        }
    }

    /// A request that failed with `error`; `backend_failed`: on the network, by timeout or a 5xx.
    fn failed(&self, read: Read, error: Error, backend_failed: bool) -> Result<Step> {
        let (Read::Near(read), Some(near)) = (read, &self.near) else {
            return Err(error);
        };
        let now = self.host.now_ms();
        // Whatever failed, a refresh of these keys is over (`fallback` says so to the tier).
        let found: Option<Vec<Option<String>>> = read.fetch.iter().map(|key| near.borrow_mut().fallback(key, now)).collect();
        match found {
            Some(found) if backend_failed && !read.background => {
                self.count(|s| s.stale_served += found.len() as u64);
                for key in &read.fetch {
                    self.note(KeyEvent::Stale, key);
                }
                Ok(Step::Done(near_outcome(read.many, found)))
            }
            _ => Err(error),
        }
    }

    /// Milliseconds to wait before retry number `attempt + 1` of a request that failed as
    /// `failure`, or `None` to give up.
    pub fn retry_after(&self, failure: Failure, attempt: u32, once: bool) -> Option<u32> {
        rest::retry_after(failure, attempt, self.retries, !once)
    }

    fn key(&self, key: &str, version: VersionGiven) -> Result<String> {
        Ok(self.keys.build(key, version.check(&self.host)?.as_deref()))
    }

    fn key_list(&self, keys: &str, version: VersionGiven) -> Result<Vec<String>> {
        let stem = self.keys.stem(version.check(&self.host)?.as_deref(), 0);
        json::string_list(keys, &stem).ok_or_else(not_a_list)
    }

    /// A write's stored key, ttl and stamp keys, and the call admitted.
    fn write(&self, key: &str, ttl: TtlGiven, version: VersionGiven, tags: Option<&str>, aborted: Option<&str>) -> Result<(String, Option<u64>, Vec<String>)> {
        let ttl_ms = ttl.check()?.resolve(self.default_ttl_ms);
        let key = self.key(key, version)?;
        let stamps = self.stamps(tags)?;
        self.admit(aborted)?;
        Ok((key, ttl_ms, stamps))
    }

    /// The stamp keys of `tags` (the JSON text of an array of strings), once each.
    fn stamps(&self, tags: Option<&str>) -> Result<Vec<String>> {
        let Some(tags) = tags else {
            return Ok(Vec::new());
        };
        let given = json::string_list(tags, &tags::stem(self.keys.prefix())).ok_or_else(|| Error::type_error(&["tags must be an array of strings"]))?;
        if given.len() > tags::MAX_TAGS {
            return Err(Error::range_error(&["at most 64 tags per entry"]));
        }
        // Once each; at most 64, so a scan (no sort code in the wasm).
        let mut stamps: Vec<String> = Vec::with_capacity(given.len());
        for stamp in given {
            if !stamps.contains(&stamp) {
                stamps.push(stamp);
            }
        }
        Ok(stamps)
    }

    fn admit(&self, aborted: Option<&str>) -> Result<()> {
        if !self.connected.get() {
            return Err(not_connected());
        }
        match aborted {
            Some(reason) => Err(aborted_error(reason)),
            None => Ok(()),
        }
    }

    /// Carries `op` out (memory, dummy) or says what to send (REST).
    fn run(&self, op: Op) -> Result<Step> {
        let incr = matches!(op, Op::Incr { .. });
        let outcome = match &self.backend {
            Backend::Memory(store) => {
                let keys = self.events.as_ref().and_then(|_| read_keys(&op));
                let outcome = store.borrow_mut().execute(op, self.host.now_ms(), &self.host)?;
                if let Some(keys) = keys {
                    self.note_found(&keys, &outcome);
                }
                outcome
            }
            Backend::Dummy => dummy::execute(op)?,
            Backend::Rest { .. } => {
                let write = self.near.as_ref().and_then(|near| begin_write(&mut near.borrow_mut(), &op));
                let publish = self.bus.as_ref().and_then(|bus| bus.publish(&op));
                let step = match (self.plan(op), write) {
                    (Step::Send(Request { body, read: read @ (Read::Reply(_) | Read::Keys(_)), once, publishes }), Some(mut write)) => {
                        write.expect = read.expect().unwrap_or(write.expect);
                        Step::Send(Request { body, read: Read::Write(Box::new(write)), once, publishes })
                    }
                    (step, _) => step,
                };
                return Ok(match (step, publish) {
                    (Step::Send(mut request), Some(publish)) if !request.publishes => {
                        request.body.push(',');
                        request.body.push_str(&publish);
                        request.publishes = true;
                        Step::Send(request)
                    }
                    (step, _) => step,
                });
            }
        };
        Ok(Step::Done(if incr { self.number(outcome)? } else { outcome }))
    }

    fn plan(&self, op: Op) -> Step {
        let (body, read, once) = match op {
            Op::Clear { prefix: Some(prefix) } => {
                let (walk, body) = Walk::start(&prefix);
                (body, Read::Walk(walk), false)
            }
            // Empty lists need no request.
            Op::GetMany { keys } if keys.is_empty() => return Step::Done(Outcome::Values(Vec::new())),
            Op::SetMany { entries, .. } if entries.is_empty() => return Step::Done(Outcome::Done),
            Op::DeleteMany { keys } if keys.is_empty() => return Step::Done(Outcome::Done),
            op => {
                let body = self.command(&op);
                if body.len() > self.request_limit {
                    if let Some(step) = self.plan_parts(&op) {
                        return step;
                    }
                }
                let read = match self.events.as_ref().and_then(|_| read_keys(&op)) {
                    Some(keys) => Read::Keys(Box::new((Expect::of(&op), keys))),
                    None => Read::Reply(Expect::of(&op)),
                };
                (body, read, !op.idempotent())
            }
        };
        Step::Send(Request { body, read, once, publishes: false })
    }

    /// The command for `op`: with `tagged`, reads as the script that checks tags.
    fn command(&self, op: &Op) -> String {
        match plan_checked(op).filter(|_| self.tagged) {
            Some(body) => body,
            None => plan(op, &self.host),
        }
    }

    /// A list too long for one request, as parts of at most `request_limit` bytes sent one
    /// after another (each part's command is atomic, the whole is not); `None` for anything
    /// else, or a list of one.
    fn plan_parts(&self, op: &Op) -> Option<Step> {
        // What the command takes besides its list (its name; setMany's script and ttl).
        let bare = match op {
            Op::GetMany { .. } => Op::GetMany { keys: Vec::new() },
            Op::DeleteMany { .. } => Op::DeleteMany { keys: Vec::new() },
            Op::SetMany { ttl_ms, stamps, .. } => Op::SetMany { entries: Vec::new(), ttl_ms: *ttl_ms, stamps: stamps.clone() },
            _ => return None,
        };
        let limit = self.request_limit.saturating_sub(self.command(&bare).len());
        let mut parts = match op {
            Op::GetMany { keys } => split(keys, limit, |k| json::str_len(k)).into_iter().map(|keys| Op::GetMany { keys }).collect(),
            Op::DeleteMany { keys } => split(keys, limit, |k| json::str_len(k)).into_iter().map(|keys| Op::DeleteMany { keys }).collect(),
            Op::SetMany { entries, ttl_ms, stamps } => split(entries, limit, |(k, v)| json::str_len(k) + json::str_len(v))
                .into_iter()
                .map(|entries| Op::SetMany { entries, ttl_ms: *ttl_ms, stamps: stamps.clone() })
                .collect(),
            _ => Vec::new(),
        };
        if parts.len() < 2 {
            return None;
        }
        parts.reverse();
        let first = parts.pop()?;
        let keys = match op {
            Op::GetMany { keys } if self.events.is_some() => keys.clone(),
            _ => Vec::new(),
        };
        Some(self.send_part(first, Parts { expect: Expect::Ok, keys, rest: parts, values: String::new() }))
    }

    fn send_part(&self, op: Op, mut parts: Parts) -> Step {
        parts.expect = Expect::of(&op);
        Step::Send(Request { body: self.command(&op), read: Read::Part(Box::new(parts)), once: !op.idempotent(), publishes: false })
    }

    /// The next part's request, or the whole list's outcome once the last part is read.
    fn next_part(&self, mut parts: Parts, outcome: Outcome) -> Result<Step> {
        if let Outcome::Json(values) = outcome {
            // A part's values as a JSON array: `[...]`, appended without its brackets.
            let inner = values.get(1..values.len().saturating_sub(1)).unwrap_or_default();
            if !parts.values.is_empty() && !inner.is_empty() {
                parts.values.push(',');
            }
            parts.values.push_str(inner);
        }
        Ok(match parts.rest.pop() {
            Some(op) => self.send_part(op, parts),
            None if matches!(parts.expect, Expect::Values(_)) => {
                let mut values = String::with_capacity(parts.values.len() + 2);
                values.push('[');
                values.push_str(&parts.values);
                values.push(']');
                let outcome = Outcome::Json(values);
                self.note_found(&parts.keys, &outcome);
                Step::Done(outcome)
            }
            None => Step::Done(Outcome::Done),
        })
    }

    /// A read through the near tier: what it has fresh is served; the rest is fetched, with
    /// each key's remaining life, in one request. A single key's stale entry is served, and
    /// refreshed in the background (once: other stale reads meanwhile just serve it).
    fn near_read(&self, near: &RefCell<Near>, keys: Vec<String>, many: bool, fresh: bool) -> Result<Step> {
        let now = self.host.now_ms();
        let mut tier = near.borrow_mut();
        let mut known = Vec::with_capacity(keys.len());
        let mut fetch = Vec::new();
        let mut stats = self.stats.get();
        let mut refresh = None;
        for key in keys {
            match if fresh { Lookup::Miss } else { tier.lookup(&key, now) } {
                Lookup::Fresh(value) => {
                    stats.near_hits += 1;
                    self.note(if value.is_some() { KeyEvent::NearHit } else { KeyEvent::NearMiss }, &key);
                    known.push(Some(value));
                }
                Lookup::Stale { value, refresh: first } if !many => {
                    stats.stale_served += 1;
                    self.note(KeyEvent::Stale, &key);
                    if first {
                        refresh = Some(key);
                    }
                    known.push(Some(value));
                }
                _ => {
                    stats.near_misses += 1;
                    known.push(None);
                    fetch.push(key);
                }
            }
        }
        self.stats.set(stats);
        let epoch = tier.epoch();
        drop(tier);
        if let Some(key) = refresh {
            let request = self.near_request(NearRead { fetch: vec![key], epoch, many: None, background: true });
            return Ok(Step::Refresh(near_outcome(None, known.into_iter().flatten().collect()), request));
        }
        if fetch.is_empty() {
            let known = known.into_iter().map(Option::flatten);
            return Ok(Step::Done(if many { Outcome::Values(known.collect()) } else { Outcome::Value(known.into_iter().next().flatten()) }));
        }
        let request = self.near_request(NearRead { fetch, epoch, many: many.then_some(known), background: false });
        if request.body.len() > self.request_limit {
            // Too many to read with their PTTL in one request: read them as parts, past the
            // near tier (it keeps nothing of them).
            let Read::Near(read) = request.read else {
                return Err(protocol_error());
            };
            return self.run(Op::GetMany { keys: read.fetch });
        }
        Ok(Step::Send(request))
    }

    fn near_request(&self, read: NearRead) -> Request {
        let body = Script::GetWithPttl.command(false, &read.fetch, &[]);
        Request { body, read: Read::Near(Box::new(read)), once: false, publishes: false }
    }

    /// A near-tier read's answer: `[value, pttl, value, pttl, ...]`, kept, and served.
    fn near_answer(&self, read: NearRead, reply: Reply) -> Result<Step> {
        let json::Json::Array(items) = value(reply)? else {
            return Err(protocol_error());
        };
        if items.len() != 2 * read.fetch.len() {
            return Err(protocol_error());
        }
        let mut found = Vec::with_capacity(read.fetch.len());
        let mut items = items.into_iter();
        for _ in 0..read.fetch.len() {
            let text = match items.next() {
                Some(json::Json::Null) => None,
                Some(json::Json::Str(text)) => Some(text.text()),
                _ => return Err(protocol_error()),
            };
            let pttl = integer(&items.next().ok_or_else(protocol_error)?)?;
            found.push((text, pttl));
        }
        let now = self.host.now_ms();
        if let Some(near) = &self.near {
            let mut near = near.borrow_mut();
            for (key, (text, pttl)) in read.fetch.iter().zip(&found) {
                near.store_read(key.clone(), text.clone(), *pttl, read.epoch, now);
                if !read.background {
                    self.note(if text.is_some() { KeyEvent::Hit } else { KeyEvent::Miss }, key);
                }
            }
        }
        Ok(Step::Done(near_outcome(read.many, found.into_iter().map(|(text, _)| text).collect())))
    }

    /// A near-tier write's outcome: what its keys hold now, when the outcome says.
    fn written(&self, write: NearWrite, outcome: Outcome) -> Result<Step> {
        if write.expect == Expect::Value {
            self.note_found(&write.keys, &outcome);
        }
        let applies = match (write.expect, &outcome) {
            (Expect::Ok | Expect::Count, _) => true,
            (Expect::Stored, Outcome::Bool(stored)) => *stored,
            // getOrSet's SET NX GET: null when this value was stored.
            (Expect::Value, Outcome::Json(json)) => json == "null",
            _ => false,
        };
        if let (true, Some(near)) = (applies, &self.near) {
            let now = self.host.now_ms();
            let mut near = near.borrow_mut();
            let values = write.values.map(|v| v.into_iter().map(Some).collect()).unwrap_or_else(|| vec![None; write.keys.len()]);
            for (key, value) in write.keys.into_iter().zip(values) {
                near.store_write(key, value, write.ttl_ms, write.epoch, now);
            }
        }
        self.finish(write.expect, outcome)
    }

    fn count(&self, change: impl FnOnce(&mut Stats)) {
        let mut stats = self.stats.get();
        change(&mut stats);
        self.stats.set(stats);
    }

    /// A plain read (without `tagged`) whose answer holds a tagged entry: its body again as the
    /// script that checks the entry's tags (one more request, only then).
    fn recheck(&self, body: &str, outcome: &Outcome) -> Option<String> {
        if self.tagged || !holds_tagged(outcome) {
            return None;
        }
        checked_again(body)
    }

    fn finish(&self, expect: Expect, outcome: Outcome) -> Result<Step> {
        Ok(Step::Done(if expect == Expect::Number { self.number(outcome)? } else { outcome }))
    }

    /// `incr`'s answer, the new number's text, as the number: only a finite JSON number is one
    /// (a server that sent 5000 digits or a word must not make `incr` resolve with Infinity).
    fn number(&self, outcome: Outcome) -> Result<Outcome> {
        match outcome {
            Outcome::Value(Some(text)) if is_json_number(&text) => {
                let n = self.host.parse(&text);
                if n.is_finite() {
                    return Ok(Outcome::Number(n));
                }
                Err(rest::commands::protocol_error())
            }
            _ => Err(rest::commands::protocol_error()),
        }
    }

    fn walk(&self, walk: Walk, answer: json::Json) -> Result<Step> {
        let prefix = self.keys.clear_prefix().unwrap_or_default();
        Ok(match walk.next(&prefix, answer)? {
            Some((walk, body)) => Step::Send(Request { body, read: Read::Walk(walk), once: false, publishes: false }),
            None => Step::Done(Outcome::Done),
        })
    }
}

/// The keys whose values `op` reads (and its outcome gives), for `onEvent`.
fn read_keys(op: &Op) -> Option<Vec<String>> {
    match op {
        Op::Get { key } | Op::GetOrAdd { key, .. } => Some(vec![key.clone()]),
        Op::GetMany { keys } => Some(keys.clone()),
        _ => None,
    }
}

/// Marks the keys `op` writes in the near tier (`clear` empties it), and says what they hold
/// once it succeeds, when that is known (`expect` is filled in when the op is planned).
fn begin_write(near: &mut Near, op: &Op) -> Option<NearWrite> {
    let (keys, values, ttl_ms) = match op {
        Op::Get { .. } | Op::GetMany { .. } => return None,
        // Near entries do not carry their tags: an invalidation empties the tier.
        Op::Clear { .. } | Op::Invalidate { .. } => {
            near.clear();
            return None;
        }
        // The new value or expiry is the server's: the next read fetches it.
        Op::Touch { key, .. } | Op::Incr { key, .. } => {
            near.begin_write(core::slice::from_ref(key));
            return None;
        }
        Op::Set { key, value, ttl_ms, .. } | Op::Add { key, value, ttl_ms, .. } | Op::GetOrAdd { key, value, ttl_ms, .. } => {
            (vec![key.clone()], Some(vec![value.clone()]), *ttl_ms)
        }
        Op::SetMany { entries, ttl_ms, .. } => {
            let (keys, values) = entries.iter().cloned().unzip();
            (keys, Some(values), *ttl_ms)
        }
        Op::DeleteMany { keys } => (keys.clone(), None, None),
    };
    let epoch = near.begin_write(&keys);
    Some(NearWrite { expect: Expect::Ok, keys, values, ttl_ms, epoch })
}

/// `get`'s outcome (one value) or `getMany`'s (`known`, its gaps filled from `found` in order).
fn near_outcome(many: Option<Vec<Option<Option<String>>>>, found: Vec<Option<String>>) -> Outcome {
    let Some(known) = many else {
        return Outcome::Value(found.into_iter().next().flatten());
    };
    let mut found = found.into_iter();
    Outcome::Values(known.into_iter().map(|k| k.unwrap_or_else(|| found.next().flatten())).collect())
}

/// The `near` and `grace` options, checked.
fn near_options(given: NearGiven, grace: Option<f64>) -> Result<NearOptions> {
    let ttl_ms = match given.ttl {
        None => NEAR_DEFAULT_TTL_MS,
        Some(seconds) => ttl::seconds_to_ms(seconds).map_err(|_| Error::range_error(&["near.ttl must be a positive finite number of seconds"]))?,
    };
    let span = |seconds: Option<f64>, what: &str| match seconds {
        None => Ok(0),
        Some(s) if s == 0.0 => Ok(0),
        Some(s) => ttl::seconds_to_ms(s).map_err(|_| Error::range_error(&[what, " must be a finite number of seconds, 0 or more"])),
    };
    let max_entries = match given.max_entries {
        None => DEFAULT_MAX_ENTRIES,
        Some(n) if is_safe_integer(n) && (1.0..=MAX_ENTRIES_LIMIT).contains(&n) => n as usize,
        Some(_) => return Err(Error::range_error(&["near.maxEntries must be an integer from 1 to 2^31"])),
    };
    Ok(NearOptions { ttl_ms, swr_ms: span(given.swr, "near.swr")?, grace_ms: span(grace, "grace")?, max_entries })
}

/// `items` in runs whose `size`s (plus a comma each) add up to at most `limit`; an item larger
/// than `limit` is a run of its own.
fn split<T: Clone>(items: &[T], limit: usize, size: impl Fn(&T) -> usize) -> Vec<Vec<T>> {
    let mut runs: Vec<Vec<T>> = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for item in items {
        let n = size(item) + 1;
        if !current.is_empty() && bytes + n > limit {
            runs.push(core::mem::take(&mut current));
            bytes = 0;
        }
        bytes += n;
        current.push(item.clone());
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

/// A memory store whose index is keyed at random.
fn new_store(host: &dyn Host, max_entries: usize) -> MemoryStore {
    MemoryStore::new(max_entries, [host.random_u64(), host.random_u64()])
}

fn not_connected() -> Error {
    Error::cache(Code::NotConnected, &["the cache is not connected: call connect() first"])
}

/// The error of a call whose signal fired (`reason`: its text, or empty).
pub fn aborted_error(reason: &str) -> Error {
    let separator = if reason.is_empty() { "" } else { ": " };
    Error::cache(Code::Aborted, &["the call was aborted", separator, reason])
}

// Cannot happen for what npm/cache.js sends (it checks and writes the lists); an error, not a
// panic, if it somehow did.
fn not_a_list() -> Error {
    Error::type_error(&["keys must be an array of strings"])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use crate::number::StdNumbers;

    /// A clock the test moves by hand.
    struct TestHost(Cell<f64>);

    impl Numbers for TestHost {
        fn parse(&self, text: &str) -> f64 {
            StdNumbers.parse(text)
        }
        fn format(&self, value: f64) -> String {
            StdNumbers.format(value)
        }
    }
    impl Host for TestHost {
        fn now_ms(&self) -> f64 {
            self.0.get()
        }
        fn random_u64(&self) -> u64 {
            7
        }
    }

    fn engine(url: &str, options: Options) -> Engine<TestHost> {
        let engine = Engine::new(url, options, TestHost(Cell::new(1000.0)), &NamedStores::default()).unwrap();
        engine.connect().unwrap();
        engine
    }
    fn done(step: Result<Step>) -> Outcome {
        match step.unwrap() {
            Step::Done(outcome) => outcome,
            other => panic!("{other:?}"),
        }
    }
    fn sent(step: Result<Step>) -> Request {
        match step.unwrap() {
            Step::Send(request) => request,
            other => panic!("{other:?}"),
        }
    }
    fn text(s: &str) -> Option<String> {
        Some(s.to_owned())
    }
    const D: VersionGiven = VersionGiven::Default;
    const T: TtlGiven = TtlGiven::Default;

    #[test]
    fn options_win_over_the_url_query() {
        let e = engine("memory://?key_prefix=url&version=1&ttl=60", Options { key_prefix: Some("opt".into()), ..Options::default() });
        assert_eq!(e.get_or_set_key("k", T, D, None, None).unwrap(), "opt:1:k");
        // Options that are false in Python leave the URL's, as async-caches does.
        let e =
            engine("memory://?key_prefix=url&version=1", Options { key_prefix: Some(String::new()), version: VersionGiven::Number(0.0), ..Options::default() });
        assert_eq!(e.get_or_set_key("k", T, D, None, None).unwrap(), "url:1:k");
        assert_eq!(e.get_or_set_key("k", T, VersionGiven::Text(String::new()), None, None).unwrap(), "url:1:k");
        let e = engine("memory://", Options { version: VersionGiven::Number(2.0), ..Options::default() });
        assert_eq!(e.get_or_set_key("k", T, VersionGiven::Text("v".into()), None, None).unwrap(), ":v:k");
        assert_eq!(e.get_or_set_key("k", T, D, None, None).unwrap(), ":2:k");
    }

    #[test]
    fn bad_options_and_urls_are_refused_with_their_class() {
        let host = || TestHost(Cell::new(0.0));
        let stores = NamedStores::default();
        let kind = |url: &str, options: Options| Engine::new(url, options, host(), &stores).err().map(|e| e.kind);
        assert_eq!(kind("redis://x", Options::default()), Some(Kind::Cache(Code::Config)));
        assert_eq!(kind("https://h", Options::default()), Some(Kind::Cache(Code::Config)), "REST needs a token");
        assert_eq!(kind("https://h", Options { token: Some(String::new()), ..Options::default() }), Some(Kind::Cache(Code::Config)));
        assert_eq!(kind("memory://", Options { ttl: TtlGiven::Seconds(0.0), ..Options::default() }), Some(Kind::Range));
        assert_eq!(kind("memory://", Options { max_entries: Some(0.0), ..Options::default() }), Some(Kind::Range));
        assert_eq!(kind("memory://", Options { max_entries: Some(1.5), ..Options::default() }), Some(Kind::Range));
        assert_eq!(kind("https://h", Options { token: Some("t".into()), retries: Some(11.0), ..Options::default() }), Some(Kind::Range));
        assert_eq!(kind("memory://", Options { version: VersionGiven::Number(0.5), ..Options::default() }), Some(Kind::Range));
        assert_eq!(kind("https://:tok@h/", Options::default()), None, "the token may come in the URL");
    }

    #[test]
    fn calls_are_admitted_only_when_connected_and_not_aborted_and_bad_arguments_come_first() {
        let e = Engine::new("memory://", Options::default(), TestHost(Cell::new(0.0)), &NamedStores::default()).unwrap();
        let code = |r: Result<Step>| r.unwrap_err().code();
        assert_eq!(code(e.get("k", D, None, false)), Some(Code::NotConnected));
        assert_eq!(e.set("k", "1".into(), TtlGiven::Seconds(-1.0), D, None, None).unwrap_err().kind, Kind::Range);
        e.connect().unwrap();
        assert_eq!(e.connect().unwrap_err().code(), Some(Code::AlreadyConnected));
        let aborted = e.get("k", D, Some("stop"), false).unwrap_err();
        assert_eq!((aborted.code(), aborted.message.as_str()), (Some(Code::Aborted), "the call was aborted: stop"));
        assert_eq!(e.set("k", "1".into(), T, D, None, Some("")).unwrap_err().message, "the call was aborted");
        assert_eq!(done(e.get("k", D, None, false)), Outcome::Value(None), "the aborted set did nothing");
        assert_eq!(e.incr("k", Some(f64::NAN), D, Some("x")).unwrap_err().kind, Kind::Range);
        e.disconnect().unwrap();
        assert_eq!(code(e.clear(None)), Some(Code::NotConnected));
    }

    #[test]
    fn memory_calls_are_done_at_once_with_the_clock_of_the_host() {
        let e = engine("memory://?ttl=0.5", Options::default());
        assert_eq!(done(e.set("k", "\"v\"".into(), T, D, None, None)), Outcome::Done);
        assert_eq!(done(e.get("k", D, None, false)), Outcome::Value(text("\"v\"")));
        e.host.0.set(1499.0);
        assert_eq!(done(e.get("k", D, None, false)), Outcome::Value(text("\"v\"")));
        e.host.0.set(1500.0);
        assert_eq!(done(e.get("k", D, None, false)), Outcome::Value(None), "the default ttl of the URL");
        assert_eq!(done(e.incr("n", Some(2.5), D, None)), Outcome::Number(2.5));
        assert_eq!(done(e.incr("n", None, D, None)), Outcome::Number(3.5));
        assert_eq!(done(e.set_many(r#"["a","b"]"#, r#"["1","[2]"]"#, TtlGiven::Never, D, None, None)), Outcome::Done);
        e.host.0.set(1e12);
        assert_eq!(done(e.get_many(r#"["b","a","c"]"#, D, None, false)), Outcome::Values(vec![text("[2]"), text("1"), None]));
    }

    #[test]
    fn named_memory_stores_are_shared_and_others_are_not() {
        let stores = NamedStores::default();
        let open = |url: &str| {
            let e = Engine::new(url, Options::default(), TestHost(Cell::new(0.0)), &stores).unwrap();
            e.connect().unwrap();
            e
        };
        let (a, b, c) = (open("memory://shared"), open("memory://shared"), open("memory://"));
        done(a.set("k", "1".into(), T, D, None, None));
        assert_eq!(done(b.get("k", D, None, false)), Outcome::Value(text("1")));
        assert_eq!(done(c.get("k", D, None, false)), Outcome::Value(None));
    }

    #[test]
    fn rest_calls_send_one_command_and_read_its_answer() {
        let e = engine("https://h/", Options { token: Some("t".into()), key_prefix: Some("p".into()), ..Options::default() });
        assert_eq!(e.endpoint(), Some(("https://h", "t")));
        let get = sent(e.get("k", VersionGiven::Number(3.0), None, false));
        assert_eq!((get.body.as_str(), get.once, get.pipeline(), get.pipelined()), (r#"["GET","p:3:k"]"#, false, false, false));
        assert_eq!(done(e.read(get.clone(), 200, br#"{"result":"\"v\""}"#)), Outcome::Json(r#""\"v\"""#.into()));
        assert_eq!(e.read(get, 401, b"").unwrap_err().code(), Some(Code::Auth));
        let incr = sent(e.incr("n", Some(-2.0), D, None));
        assert_eq!((incr.body.as_str(), incr.once), (r#"["EVALSHA","23483d2e0221385b8b4b46b27fdcc0ccf9e48f82","1","p::n","-2"]"#, true));
        assert_eq!(done(e.read(incr.clone(), 200, br#"{"result":"40"}"#)), Outcome::Number(40.0));
        for bad in [&br#"{"result":"1e999"}"#[..], br#"{"result":"forty"}"#, br#"{"result":[5]}"#] {
            assert_eq!(e.read(incr.clone(), 200, bad).unwrap_err().code(), Some(Code::Protocol));
        }
        // A server without the script answers NOSCRIPT (nothing ran): the script goes in full.
        let eval = sent(e.read(incr.clone(), 400, br#"{"error":"NOSCRIPT No matching script. Please use EVAL."}"#));
        assert!(eval.body.starts_with(r#"["EVAL","local function live"#) && eval.once, "{}", eval.body);
        assert_eq!(done(e.read(eval, 200, br#"{"result":"-2"}"#)), Outcome::Number(-2.0));
        let batched = e.read_pipeline(vec![incr.clone()], 200, br#"[{"error":"NOSCRIPT No matching script."}]"#);
        assert!(matches!(&batched[0], Ok(Step::Send(r)) if r.body.starts_with(r#"["EVAL""#)));
        assert_eq!(e.read(incr.clone(), 400, br#"{"error":"ERR the stored value is not a JSON number"}"#).unwrap_err().code(), Some(Code::NotANumber));
        let add = sent(e.add("k", "1".into(), TtlGiven::Seconds(1.5), D, None, None));
        assert_eq!((add.body.as_str(), add.once), (r#"["EVALSHA","83581fedd08bac4bc8a0362eb04a1d423d2b9589","1","p::k","add","1","1500"]"#, true));
        assert_eq!(done(e.get_many("[]", D, None, false)), Outcome::Values(vec![]), "an empty list sends nothing");
    }

    #[test]
    fn a_pipeline_answer_is_read_for_each_request() {
        let e = engine("https://h", Options { token: Some("t".into()), ..Options::default() });
        let requests = [sent(e.get("a", D, None, false)), sent(e.incr("b", None, D, None)), sent(e.touch("c", TtlGiven::Never, D, None))];
        let steps = e.read_pipeline(requests.to_vec(), 200, br#"[{"result":null},{"error":"ERR value is not a valid float"},{"result":1}]"#);
        assert_eq!(steps[0], Ok(Step::Done(Outcome::Json("null".into()))));
        assert_eq!(steps[1].as_ref().unwrap_err().code(), Some(Code::NotANumber));
        assert_eq!(steps[2], Ok(Step::Done(Outcome::Bool(true))));
        for (status, body, code) in [(200, &br#"[{"result":null}]"#[..], Code::Protocol), (503, b"", Code::Server)] {
            let each = e.read_pipeline(requests.to_vec(), status, body);
            assert_eq!(each.len(), 3);
            assert!(each.iter().all(|r| r.as_ref().unwrap_err().code() == Some(code)), "{status}: each request fails as the whole");
        }
    }

    #[test]
    fn clear_with_a_prefix_walks_until_the_answer_says_it_is_done() {
        let e = engine("https://h", Options { token: Some("t".into()), key_prefix: Some("app".into()), ..Options::default() });
        let scan = sent(e.clear(None));
        assert_eq!(scan.body, r#"["SCAN","0","MATCH","app:*","COUNT","1000"]"#);
        let both = sent(e.read(scan, 200, br#"{"result":["9",["app:a"]]}"#));
        assert!(both.pipeline());
        let last = sent(e.read(both, 200, br#"[{"result":1},{"result":["0",["app:b"]]}]"#));
        assert_eq!((last.body.as_str(), last.pipeline()), (r#"["DEL","app:b"]"#, false));
        // A single-command step may be batched with other calls: read from its pipeline entry.
        assert_eq!(e.read_pipeline(vec![last], 200, br#"[{"result":1}]"#), vec![Ok(Step::Done(Outcome::Done))]);
        let unprefixed = engine("https://h", Options { token: Some("t".into()), ..Options::default() });
        assert_eq!(sent(unprefixed.clear(None)).body, r#"["FLUSHDB"]"#);
    }

    #[test]
    fn function_defaults_use_the_stored_key_without_being_refused_after_disconnect() {
        let e = engine("memory://", Options::default());
        let key = e.get_or_set_key("k", TtlGiven::Seconds(0.1), D, None, None).unwrap();
        e.disconnect().unwrap();
        assert_eq!(done(e.get_stored(key.clone(), false)), Outcome::Value(None));
        assert_eq!(done(e.add_stored(key.clone(), "1".into(), TtlGiven::Seconds(0.1), None)), Outcome::Bool(true));
        e.host.0.set(1100.0);
        assert_eq!(done(e.get_stored(key, false)), Outcome::Value(None), "the ttl was applied");
    }

    #[test]
    fn a_list_too_long_for_one_request_goes_in_parts_one_after_another() {
        let mut e = engine("https://h", Options { token: Some("t".into()), ..Options::default() });
        e.request_limit = 40; // bytes of commands per request
        let first = sent(e.get_many(r#"["a","b","c","d","e","f"]"#, D, None, false));
        assert_eq!(first.body, r#"["MGET","::a","::b","::c","::d","::e"]"#);
        let second = sent(e.read(first, 200, br#"{"result":["1",null,"3",null,null]}"#));
        assert_eq!(second.body, r#"["MGET","::f"]"#);
        // A part may be batched with other calls: read from its pipeline entry.
        let last = e.read_pipeline(vec![second], 200, br#"[{"result":["6"]}]"#).pop().unwrap();
        assert_eq!(last, Ok(Step::Done(Outcome::Json(r#"["1",null,"3",null,null,"6"]"#.into()))));
        // A part that fails fails the call; an answer of the wrong length is PROTOCOL.
        let first = sent(e.get_many(r#"["a","b","c","d","e","f"]"#, D, None, false));
        assert_eq!(e.read(first, 200, br#"{"result":["1"]}"#).unwrap_err().code(), Some(Code::Protocol));
        e.request_limit = 130; // the script takes about 105 of them
        let set = sent(e.set_many(r#"["a","b","c"]"#, r#"["1","2","3"]"#, TtlGiven::Seconds(1.0), D, None, None));
        assert!(set.body.ends_with(r#""2","::a","::b","1","2","1000"]"#), "{}", set.body);
        let second = sent(e.read(set, 200, br#"{"result":2}"#));
        assert!(second.body.ends_with(r#""1","::c","3","1000"]"#), "{}", second.body);
        assert_eq!(done(e.read(second, 200, br#"{"result":1}"#)), Outcome::Done);
        e.request_limit = 40; // DEL takes 8 of them
        let del = sent(e.delete_many(r#"["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","b"]"#, D, None));
        assert_eq!(del.body, r#"["DEL","::aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]"#, "an item over the limit goes alone");
        // Short lists stay one request.
        assert_eq!(sent(e.get_many(r#"["a"]"#, D, None, false)).body, r#"["MGET","::a"]"#);
    }

    fn near_engine(near: NearGiven, grace: Option<f64>) -> Engine<TestHost> {
        engine("https://h", Options { token: Some("t".into()), near: Some(near), grace, ..Options::default() })
    }
    const PTTL_BODY: &[u8] = br#"{"result":["\"v\"",-1]}"#;

    #[test]
    fn near_reads_fetch_with_pttl_once_and_then_answer_from_memory() {
        let e = near_engine(NearGiven { ttl: Some(1.0), ..NearGiven::default() }, None);
        let first = sent(e.get("k", D, None, false));
        assert_eq!(first.body, r#"["EVALSHA_RO","333ddf8678e399811fbdedd81486c8628c014efd","1","::k"]"#);
        assert_eq!(first.shared_key(), Some("::k"));
        assert_eq!(done(e.read(first, 200, PTTL_BODY)), Outcome::Value(text("\"v\"")));
        assert_eq!(done(e.get("k", D, None, false)), Outcome::Value(text("\"v\"")), "no request");
        assert!(matches!(e.get("k", D, None, true), Ok(Step::Send(_))), "fresh: true skips the near tier");
        e.host.0.set(2000.0);
        assert!(matches!(e.get("k", D, None, false), Ok(Step::Send(_))), "older than near.ttl");
        assert_eq!(e.stats(), Stats { near_hits: 1, near_misses: 3, stale_served: 0 });
        // A missing key is remembered; a key's own ttl bounds its entry.
        let gone = sent(e.get("gone", D, None, false));
        assert_eq!(done(e.read(gone, 200, br#"{"result":[null,-2]}"#)), Outcome::Value(None));
        assert_eq!(done(e.get("gone", D, None, false)), Outcome::Value(None));
        let short = sent(e.get("short", D, None, false));
        done(e.read(short, 200, br#"{"result":["1",100]}"#));
        e.host.0.set(2100.0);
        assert!(matches!(e.get("short", D, None, false), Ok(Step::Send(_))), "past the key's own ttl");
        // A server without the script gets it in full; nothing ran.
        let noscript = e.read(sent(e.get("x", D, None, false)), 400, br#"{"error":"NOSCRIPT No matching script."}"#);
        assert!(matches!(noscript, Ok(Step::Send(r)) if r.body.starts_with(r#"["EVAL_RO","local function live"#)));
    }

    #[test]
    fn near_get_many_asks_only_for_what_memory_lacks_and_answers_in_order() {
        let e = near_engine(NearGiven::default(), None);
        done(e.read(sent(e.get("b", D, None, false)), 200, br#"{"result":["2",-1]}"#));
        let many = sent(e.get_many(r#"["a","b","c"]"#, D, None, false));
        assert!(many.body.ends_with(r#""2","::a","::c"]"#), "{}", many.body);
        let values = done(e.read(many, 200, br#"{"result":["1",-1,null,-2]}"#));
        assert_eq!(values, Outcome::Values(vec![text("1"), text("2"), None]));
        assert_eq!(done(e.get_many(r#"["c","a"]"#, D, None, false)), Outcome::Values(vec![None, text("1")]), "all from memory");
    }

    #[test]
    fn own_writes_are_seen_at_once_and_failed_writes_drop_the_entry() {
        let e = near_engine(NearGiven::default(), None);
        done(e.read(sent(e.get("k", D, None, false)), 200, PTTL_BODY));
        let set = sent(e.set("k", "\"new\"".into(), TtlGiven::Seconds(0.5), D, None, None));
        assert!(matches!(e.get("k", D, None, false), Ok(Step::Send(_))), "not served while the write is in flight");
        done(e.read(set, 200, br#"{"result":"OK"}"#));
        assert_eq!(done(e.get("k", D, None, false)), Outcome::Value(text("\"new\"")));
        e.host.0.set(1500.0);
        assert!(matches!(e.get("k", D, None, false), Ok(Step::Send(_))), "the write's own ttl");
        let delete = sent(e.delete("d", D, None));
        done(e.read(delete, 200, br#"{"result":1}"#));
        assert_eq!(done(e.get("d", D, None, false)), Outcome::Value(None), "deleted: known missing");
        for write in [sent(e.set("f", "1".into(), T, D, None, None)), sent(e.incr("f", None, D, None))] {
            let _ = e.fail(write, Failure::Timeout, "no answer");
            assert!(matches!(e.get("f", D, None, false), Ok(Step::Send(_))), "an unknown outcome drops the entry");
        }
        let add = sent(e.add("a", "1".into(), T, D, None, None));
        done(e.read(add, 200, br#"{"result":null}"#));
        assert!(matches!(e.get("a", D, None, false), Ok(Step::Send(_))), "add did not store: the value is the server's");
        done(e.clear(None).map(|s| match s {
            Step::Send(r) => e.read(r, 200, br#"{"result":"OK"}"#).unwrap(),
            s => s,
        }));
        assert!(matches!(e.get("d", D, None, false), Ok(Step::Send(_))), "clear() empties the near tier");
    }

    #[test]
    fn stale_while_revalidate_and_stale_if_error() {
        let e = near_engine(NearGiven { ttl: Some(1.0), swr: Some(1.0), ..NearGiven::default() }, Some(10.0));
        done(e.read(sent(e.get("k", D, None, false)), 200, PTTL_BODY));
        e.host.0.set(2500.0);
        let Ok(Step::Refresh(stale, refresh)) = e.get("k", D, None, false) else { panic!("a refresh") };
        assert_eq!(stale, Outcome::Value(text("\"v\"")));
        assert_eq!(done(e.get("k", D, None, false)), Outcome::Value(text("\"v\"")), "one refresh per key");
        // A refresh that fails serves no one and counts nothing; the next stale read refreshes.
        assert_eq!(e.fail(refresh.clone(), Failure::Network, "reset").unwrap_err().code(), Some(Code::Network));
        assert_eq!(e.stats().stale_served, 2);
        assert!(matches!(e.get("k", D, None, false), Ok(Step::Refresh(..))));
        assert_eq!(done(e.read(refresh, 200, br#"{"result":["\"w\"",-1]}"#)), Outcome::Value(text("\"w\"")));
        assert_eq!(done(e.get("k", D, None, false)), Outcome::Value(text("\"w\"")));
        // Past ttl + swr, a read goes out; if the backend fails, grace serves what it had.
        e.host.0.set(6000.0);
        let read = sent(e.get("k", D, None, false));
        assert_eq!(done(e.fail(read.clone(), Failure::Network, "reset")), Outcome::Value(text("\"w\"")));
        assert_eq!(done(e.read(read.clone(), 503, b"")), Outcome::Value(text("\"w\"")));
        assert_eq!(e.read(read.clone(), 401, b"").unwrap_err().code(), Some(Code::Auth), "not when the token is refused");
        assert_eq!(e.fail(read.clone(), Failure::Aborted, "x").unwrap_err().code(), Some(Code::Aborted));
        let each = e.read_pipeline(vec![read], 502, b"");
        assert_eq!(each, vec![Ok(Step::Done(Outcome::Value(text("\"w\""))))]);
        assert_eq!(e.stats().stale_served, 6);
        e.host.0.set(14_500.0); // the refresh's read at 2,500 + ttl + swr + grace
        assert_eq!(e.fail(sent(e.get("k", D, None, false)), Failure::Network, "").unwrap_err().code(), Some(Code::Network), "past grace");
    }

    #[test]
    fn tagged_reads_are_one_request_and_plain_reads_check_only_what_is_tagged() {
        let tagged_entry = br##"{"result":"#tags[[\"::#tags:t\",\"1\"]]\n1"}"##;
        // Without `tagged`: a plain GET; an answer holding a tagged entry sends the script.
        let plain = engine("https://h", Options { token: Some("t".into()), ..Options::default() });
        let get = sent(plain.get("k", D, None, false));
        assert_eq!(get.body, r#"["GET","::k"]"#);
        let again = sent(plain.read(get, 200, tagged_entry));
        assert_eq!(again.body, r#"["EVALSHA_RO","091323b08b42d6e54557583c497cfeaf43f7d2ff","1","::k"]"#);
        assert!(again.pipelined());
        assert_eq!(done(plain.read_pipeline(vec![again], 200, br#"[{"result":null}]"#).pop().unwrap()), Outcome::Json("null".into()));
        let many = sent(plain.get_many(r#"["a","b"]"#, D, None, false));
        let both = r##"{"result":["1","#tags[[\"x\",\"1\"]]\n2"]}"##;
        assert!(sent(plain.read(many, 200, both.as_bytes())).body.starts_with(r#"["EVALSHA_RO","f6f6"#));
        // A value that only contains the marker is no tagged entry.
        let quoted = sent(plain.get("q", D, None, false));
        assert_eq!(done(plain.read(quoted, 200, br##"{"result":"\"#tags[\""}"##)), Outcome::Json(r##""\"#tags[\"""##.into()));
        // With `tagged`: the script at once.
        let tagged = engine("https://h", Options { token: Some("t".into()), tagged: true, ..Options::default() });
        assert!(sent(tagged.get("k", D, None, false)).body.starts_with(r#"["EVALSHA_RO","091323b"#));
        let many = sent(tagged.get_many(r#"["a","b"]"#, D, None, false));
        assert!(many.body.starts_with(r#"["EVALSHA_RO","f6f6"#) && many.pipelined());
        assert_eq!(done(tagged.read_pipeline(vec![many], 200, br#"[{"result":["1",null]}]"#).pop().unwrap()), Outcome::Json(r#"["1",null]"#.into()));
    }

    #[test]
    fn with_the_bus_writes_publish_in_their_request_and_others_messages_drop_near_entries() {
        let e = near_engine(NearGiven { bus: true, ..NearGiven::default() }, None);
        assert_eq!(e.bus_channel(), Some(":#bus"));
        done(e.read(sent(e.get("k", D, None, false)), 200, PTTL_BODY));
        let set = sent(e.set("s", "1".into(), T, D, None, None));
        assert!(set.publishes && set.pipelined() && set.commands() == 2);
        assert!(set.body.starts_with(r#"["SET","::s","1"],["PUBLISH",":#bus",""#) && set.body.ends_with(r#":k[\"::s\"]"]"#), "{}", set.body);
        let read = sent(e.get("x", D, None, false));
        assert!(!read.publishes, "reads publish nothing");
        // The write's answer and the PUBLISH's, in one pipeline with another call's.
        let steps = e.read_pipeline(vec![set, read], 200, br#"[{"result":"OK"},{"result":2},{"result":[null,-2]}]"#);
        assert_eq!(steps, vec![Ok(Step::Done(Outcome::Done)), Ok(Step::Done(Outcome::Value(None)))]);
        assert_eq!(done(e.get("s", D, None, false)), Outcome::Value(text("1")), "its own write, kept");
        // Another instance's message drops what it names; everything for `*`; its own: nothing.
        assert_eq!(e.bus_message(r#"00000000000000aa:k["::k"]"#), Some(Some(vec!["::k".to_owned()])));
        assert!(matches!(e.get("k", D, None, false), Ok(Step::Send(_))), "dropped");
        assert_eq!(done(e.get("s", D, None, false)), Outcome::Value(text("1")));
        assert_eq!(e.bus_message("00000000000000aa:*"), Some(None));
        assert!(matches!(e.get("s", D, None, false), Ok(Step::Send(_))), "everything dropped");
        assert_eq!(e.bus_message("not a message"), None);
        let plain = near_engine(NearGiven::default(), None);
        assert_eq!((plain.bus_channel(), plain.bus_message("00000000000000aa:*")), (None, None));
        assert!(!sent(plain.set("s", "1".into(), T, D, None, None)).publishes);
    }

    #[test]
    fn near_options_are_checked_and_do_nothing_on_memory() {
        let host = || TestHost(Cell::new(0.0));
        let stores = NamedStores::default();
        let kind = |options: Options| Engine::new("https://:t@h", options, host(), &stores).err().map(|e| e.kind);
        let near = |n: NearGiven| Options { near: Some(n), ..Options::default() };
        assert_eq!(kind(near(NearGiven { ttl: Some(0.0), ..NearGiven::default() })), Some(Kind::Range));
        assert_eq!(kind(near(NearGiven { swr: Some(-1.0), ..NearGiven::default() })), Some(Kind::Range));
        assert_eq!(kind(near(NearGiven { max_entries: Some(0.5), ..NearGiven::default() })), Some(Kind::Range));
        assert_eq!(kind(Options { grace: Some(f64::NAN), ..near(NearGiven::default()) }), Some(Kind::Range));
        assert_eq!(kind(Options { grace: Some(1.0), ..Options::default() }), Some(Kind::Cache(Code::Config)));
        assert_eq!(kind(near(NearGiven { swr: Some(0.0), ..NearGiven::default() })), None);
        let memory = engine("memory://", near(NearGiven::default()));
        done(memory.set("k", "1".into(), T, D, None, None));
        assert_eq!(done(memory.get("k", D, None, false)), Outcome::Value(text("1")));
        assert_eq!(memory.stats(), Stats::default());
    }

    #[test]
    fn retries_follow_the_option_and_never_repeat_what_must_run_once() {
        let e = engine("https://h", Options { token: Some("t".into()), retries: Some(1.0), ..Options::default() });
        assert_eq!(e.retry_after(Failure::Network, 0, false), Some(50));
        assert_eq!(e.retry_after(Failure::Network, 1, false), None);
        assert_eq!(e.retry_after(Failure::Status5xx, 0, true), None);
        assert_eq!(e.retry_after(Failure::Unsent, 0, true), Some(50));
        let timed_out = e.fail(sent(e.incr("k", None, D, None)), Failure::Timeout, "5000 ms").unwrap_err();
        assert_eq!((timed_out.code(), timed_out.message.as_str()), (Some(Code::Timeout), "the request timed out: 5000 ms"));
    }
}
