//! What the engine's tests share: a host whose clock the test moves by hand, and shorthands.

pub use core::cell::Cell;

pub use super::{BackendGiven, CallOptions, Engine, Host, NamedStores, NearGiven, Options, Request, Route, Stats, Step};
pub use crate::backend::rest::FetchFailure;
pub use crate::error::Result;
pub use crate::keys::VersionGiven;
pub use crate::number::{Numbers, StdNumbers};
pub use crate::ops::Outcome;
pub use crate::ttl::TtlGiven;

pub struct TestHost(pub Cell<f64>);

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

pub fn host(now: f64) -> TestHost {
    TestHost(Cell::new(now))
}

/// `memory://`: a store of its own.
pub const MEMORY: BackendGiven = BackendGiven::Memory { name: None };

/// `https://...`: the engine is not told the endpoint (the transport keeps it).
pub const REST: BackendGiven = BackendGiven::Rest;

/// A connected engine on `backend`, its clock at 1000 ms.
pub fn engine(backend: BackendGiven, options: Options) -> Engine<TestHost> {
    let engine = Engine::new(backend, options, host(1000.0), &NamedStores::default()).unwrap();
    engine.connect().unwrap();
    engine
}

/// A connected REST engine with token "t".
pub fn rest(options: Options) -> Engine<TestHost> {
    engine(REST, Options { token: Some("t".into()), ..options })
}

pub fn done(step: Result<Step>) -> Outcome {
    match step.unwrap() {
        Step::Done(outcome) => outcome,
        other => panic!("{other:?}"),
    }
}

pub fn sent(step: Result<Step>) -> Request {
    match step.unwrap() {
        Step::Send(request) => request,
        other => panic!("{other:?}"),
    }
}

pub fn text(s: &str) -> Option<String> {
    Some(s.to_owned())
}

/// No options.
pub const NONE: CallOptions = CallOptions { ttl: TtlGiven::Default, version: VersionGiven::Default, tags: None, aborted: None, fresh: false };
pub const D: VersionGiven = VersionGiven::Default;

/// Only `ttl`.
pub fn ttl(ttl: TtlGiven) -> CallOptions {
    CallOptions { ttl, ..NONE }
}

/// `fresh: true`.
pub const FRESH: CallOptions = CallOptions { fresh: true, ..NONE };
