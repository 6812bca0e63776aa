//! The options, as the wasm boundary hands them over: the constructor's in one `Options`, each
//! call's in one `CallOptions`, both read once from the JavaScript object the caller passed.
//! A new option is a field here and the code that uses it.

use crate::prelude::*;

use crate::backend::memory::DEFAULT_MAX_ENTRIES;
use crate::error::{Error, Result};
use crate::keys::VersionGiven;
use crate::near::NearPolicy;
use crate::number::is_safe_integer;
use crate::ttl::{self, TtlGiven};

/// The backend the cache URL names, as npm/url.js reads it (the runtime's URL parser: the
/// wasm carries none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendGiven {
    /// `memory://` (a store of its own) or `memory://NAME` (one store per NAME in a realm).
    Memory { name: Option<String> },
    /// `dummy://`: stores nothing.
    Dummy,
    /// `http://` or `https://`: an Upstash-style REST endpoint (which the transport keeps; the
    /// engine needs only the token, to check it).
    Rest,
}

/// The constructor's options, each `None` (or `Default`) when not given. The URL's query and
/// token are merged in already (npm/url.js: the options win, as in async-caches).
#[derive(Debug, Clone, PartialEq, Default)]
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

/// The `near` option as given: seconds, unchecked; `None` takes the default. (Checked, it is
/// the tier's `NearPolicy`.)
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NearGiven {
    pub ttl: Option<f64>,
    pub swr: Option<f64>,
    pub max_entries: Option<f64>,
    /// Publish this instance's writes on the key prefix's channel, and drop near entries when
    /// another instance's arrive (`crate::bus`).
    pub bus: bool,
}

/// One call's options. Each method uses those it takes (npm/arguments.js refuses the others).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallOptions {
    pub ttl: TtlGiven,
    pub version: VersionGiven,
    /// The JSON text of an array of strings (`crate::tags`), or `None`.
    pub tags: Option<String>,
    /// The reason text of the caller's signal, when it had fired before the call.
    pub aborted: Option<String>,
    /// Skip the near tier: read the backend, and keep what it says.
    pub fresh: bool,
}

/// `near: true`: values up to 5 seconds old are served from this instance's memory.
pub const NEAR_DEFAULT_TTL_MS: u64 = 5000;

/// Retries when none are given: enough to ride out a dropped connection or a restarting
/// server, few enough that a dead endpoint fails within a second or so.
pub const DEFAULT_RETRIES: u32 = 2;

/// The largest `maxEntries`: beyond it the memory store would outgrow a wasm32 address space.
const MAX_ENTRIES_LIMIT: f64 = (1u64 << 31) as f64;

/// `maxEntries` (or `near.maxEntries`, named `what`), checked.
pub fn max_entries(given: Option<f64>, what: &str) -> Result<usize> {
    match given {
        None => Ok(DEFAULT_MAX_ENTRIES),
        Some(n) if is_safe_integer(n) && (1.0..=MAX_ENTRIES_LIMIT).contains(&n) => Ok(n as usize),
        Some(_) => Err(Error::range_error(&[what, " must be an integer from 1 to 2^31"])),
    }
}

pub fn retries(given: Option<f64>) -> Result<u32> {
    match given {
        None => Ok(DEFAULT_RETRIES),
        Some(n) if is_safe_integer(n) && (0.0..=10.0).contains(&n) => Ok(n as u32),
        Some(_) => Err(Error::range_error(&["retries must be an integer from 0 to 10"])),
    }
}

/// The `near` and `grace` options, checked.
pub fn near_policy(given: NearGiven, grace: Option<f64>) -> Result<NearPolicy> {
    let ttl_ms = match given.ttl {
        None => NEAR_DEFAULT_TTL_MS,
        Some(seconds) => ttl::seconds_to_ms(seconds).map_err(|_| Error::range_error(&["near.ttl must be a positive finite number of seconds"]))?,
    };
    let span = |seconds: Option<f64>, what: &str| match seconds {
        None => Ok(0),
        Some(s) if s == 0.0 => Ok(0),
        Some(s) => ttl::seconds_to_ms(s).map_err(|_| Error::range_error(&[what, " must be a finite number of seconds, 0 or more"])),
    };
    Ok(NearPolicy {
        ttl_ms,
        swr_ms: span(given.swr, "near.swr")?,
        grace_ms: span(grace, "grace")?,
        max_entries: max_entries(given.max_entries, "near.maxEntries")?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::error::{Code, Kind};

    #[test]
    fn a_calls_version_wins_over_the_caches_unless_false_in_python() {
        let key = |e: &Engine<TestHost>, version: VersionGiven| e.get_or_set_key("k", CallOptions { version, ..CallOptions::default() }).unwrap();
        let e = engine(MEMORY, Options { key_prefix: Some("app".into()), version: VersionGiven::Number(2.0), ..Options::default() });
        assert_eq!(key(&e, VersionGiven::Text("v".into())), "app:v:k");
        assert_eq!(key(&e, D), "app:2:k");
        assert_eq!(key(&e, VersionGiven::Text(String::new())), "app:2:k");
        assert_eq!(key(&e, VersionGiven::Number(0.0)), "app:2:k");
        let e = engine(MEMORY, Options { version: VersionGiven::Number(0.0), ..Options::default() });
        assert_eq!(key(&e, D), "::k");
    }

    #[test]
    fn bad_options_are_refused_with_their_class() {
        let stores = NamedStores::default();
        let kind = |backend: BackendGiven, options: Options| Engine::new(backend, options, host(0.0), &stores).err().map(|e| e.kind);
        assert_eq!(kind(REST, Options::default()), Some(Kind::Cache(Code::Config)), "REST needs a token");
        assert_eq!(kind(REST, Options { token: Some(String::new()), ..Options::default() }), Some(Kind::Cache(Code::Config)));
        assert_eq!(kind(MEMORY, Options { ttl: TtlGiven::Seconds(0.0), ..Options::default() }), Some(Kind::Range));
        assert_eq!(kind(MEMORY, Options { max_entries: Some(0.0), ..Options::default() }), Some(Kind::Range));
        assert_eq!(kind(MEMORY, Options { max_entries: Some(1.5), ..Options::default() }), Some(Kind::Range));
        assert_eq!(kind(REST, Options { token: Some("t".into()), retries: Some(11.0), ..Options::default() }), Some(Kind::Range));
        assert_eq!(kind(MEMORY, Options { version: VersionGiven::Number(0.5), ..Options::default() }), Some(Kind::Range));
        assert_eq!(kind(REST, Options { token: Some("tok".into()), ..Options::default() }), None);
        for bad in ["a\r\nX-Evil: 1", "a b", "tok\u{0}", "t\u{e9}"] {
            let error = Engine::new(REST, Options { token: Some(bad.into()), ..Options::default() }, host(0.0), &stores).err().expect(bad);
            assert_eq!(error.kind, Kind::Cache(Code::Config), "{bad:?}");
            assert!(!error.message.contains(bad), "the message never holds the token");
        }
    }

    #[test]
    fn near_options_are_checked_and_do_nothing_on_memory() {
        let stores = NamedStores::default();
        let kind = |options: Options| Engine::new(REST, Options { token: Some("t".into()), ..options }, host(0.0), &stores).err().map(|e| e.kind);
        let near = |n: NearGiven| Options { near: Some(n), ..Options::default() };
        assert_eq!(kind(near(NearGiven { ttl: Some(0.0), ..NearGiven::default() })), Some(Kind::Range));
        assert_eq!(kind(near(NearGiven { swr: Some(-1.0), ..NearGiven::default() })), Some(Kind::Range));
        assert_eq!(kind(near(NearGiven { max_entries: Some(0.5), ..NearGiven::default() })), Some(Kind::Range));
        assert_eq!(kind(Options { grace: Some(f64::NAN), ..near(NearGiven::default()) }), Some(Kind::Range));
        assert_eq!(kind(Options { grace: Some(1.0), ..Options::default() }), Some(Kind::Cache(Code::Config)));
        assert_eq!(kind(near(NearGiven { swr: Some(0.0), ..NearGiven::default() })), None);
        let memory = engine(MEMORY, near(NearGiven::default()));
        done(memory.set("k", "1".into(), NONE));
        assert_eq!(done(memory.get("k", NONE)), Outcome::Value(text("1")));
        assert_eq!(memory.stats(), Stats::default());
    }
}
