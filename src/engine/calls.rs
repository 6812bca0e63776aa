//! The call surface: one method per cache call. Each checks its arguments (argument errors
//! come first: a bad call is a bug whatever the state), then the state (`connect()`), then the
//! caller's signal, and hands the op to `run` (`plan.rs`).

use crate::prelude::*;

use super::{aborted_error, not_connected, CallOptions, Engine, Host, Step};
use crate::backend::rest::commands::Script;
use crate::backend::rest::json;
use crate::error::{Error, Result};
use crate::keys::{self, VersionGiven};
use crate::near::Lookup;
use crate::ops::{Entry, Op, Outcome};
use crate::tags;
use crate::ttl::TtlGiven;

impl<H: Host> Engine<H> {
    pub fn get(&self, key: &str, call: CallOptions) -> Result<Step> {
        let key = self.key(key, &call.version)?;
        self.admit(&call)?;
        self.get_stored(key, call.fresh)
    }

    /// `value`: the JSON text to store.
    pub fn set(&self, key: &str, value: String, call: CallOptions) -> Result<Step> {
        let entry = self.entry(key, value, &call)?;
        self.run(Op::Set(entry))
    }

    /// Stores only when the key is missing, expired or dead: `Bool(stored)`.
    pub fn add(&self, key: &str, value: String, call: CallOptions) -> Result<Step> {
        let entry = self.entry(key, value, &call)?;
        self.run(Op::Add(entry))
    }

    /// `getOrSet` with a plain default, in one step: `Value(None)` when `value` was stored, else
    /// the value that was there.
    pub fn get_or_set(&self, key: &str, value: String, call: CallOptions) -> Result<Step> {
        let entry = self.entry(key, value, &call)?;
        if let Some(near) = self.near.as_ref().filter(|_| !call.fresh) {
            // A value the near tier has is a hit; a missing key is stored as on a miss.
            if let Lookup::Fresh(Some(text)) = near.borrow_mut().lookup(&entry.key, self.host.now_ms()) {
                return Ok(self.near_hit(&entry.key, text));
            }
            // Asked and not answered: the backend answers, as for any near miss.
            self.count(|s| s.near_misses += 1);
        }
        self.run(Op::GetOrAdd(entry))
    }

    /// `getOrSet` with a function default: admits the call and gives the stored key, for the
    /// `get_stored` and `add_stored` steps taken around computing the value (once per stored
    /// key, however many calls overlap). Those steps belong to an admitted call, so they are
    /// not refused after a `disconnect()`.
    pub fn get_or_set_key(&self, key: &str, call: CallOptions) -> Result<String> {
        Ok(self.entry(key, String::new(), &call)?.key)
    }

    pub fn get_stored(&self, stored_key: String, fresh: bool) -> Result<Step> {
        if let Some(near) = &self.near {
            return self.near_read(near, vec![stored_key], false, fresh);
        }
        self.run(Op::Get { key: stored_key })
    }

    /// `call`: as given to `get_or_set_key`, which checked it (its ttl and tags are used).
    /// `in_full`: the script itself rather than its SHA-1, for a lock's holder, whose unlock
    /// shares the pipeline: a NOSCRIPT answer would have the unlock run before the add.
    pub fn add_stored(&self, stored_key: String, value: String, call: CallOptions, in_full: bool) -> Result<Step> {
        let ttl_ms = self.ttl_ms(call.ttl)?;
        let stamps = self.stamps(call.tags.as_deref())?;
        let step = self.run(Op::Add(Entry { key: stored_key, value, ttl_ms, stamps }))?;
        Ok(match step {
            Step::Send(mut request) if in_full => {
                if let Some(body) = Script::in_full(&request.body) {
                    request.body = body;
                }
                Step::Send(request)
            }
            step => step,
        })
    }

    /// `getOrSet`'s refresh ahead of expiry: stores over the value there.
    pub fn set_stored(&self, stored_key: String, value: String, call: CallOptions) -> Result<Step> {
        let ttl_ms = self.ttl_ms(call.ttl)?;
        let stamps = self.stamps(call.tags.as_deref())?;
        self.run(Op::Set(Entry { key: stored_key, value, ttl_ms, stamps }))
    }

    /// The ttl a `getOrSet` call stores with, in ms (-1: never), for `refreshAhead`.
    pub fn entry_ttl_ms(&self, call: CallOptions) -> Result<f64> {
        Ok(self.ttl_ms(call.ttl)?.map_or(-1.0, |ms| ms as f64))
    }

    /// `getOrSet`'s `refreshAhead` without the near tier: the value with its remaining life,
    /// `Json` `[text or null, ms]` (ms as Redis's PTTL: -1 for no expiry, -2 for missing).
    pub fn get_expiring(&self, stored_key: String) -> Result<Step> {
        self.run(Op::GetExpiring { key: stored_key })
    }

    /// With the near tier: how long the backend keeps a key the tier has, as it learned when it
    /// read or wrote it (ms; -1 for no expiry), or `None` when the tier does not know.
    pub fn remaining_ms(&self, stored_key: &str) -> Option<f64> {
        let expiry = self.near.as_ref()?.borrow_mut().expiry(stored_key)?;
        Some(expiry.map_or(-1.0, |at| at - self.host.now_ms()))
    }

    /// With the near tier: a value `softTimeout` may serve while a factory runs (`Near::stale`).
    pub fn stale_value(&self, stored_key: &str) -> Option<String> {
        self.near.as_ref()?.borrow_mut().stale(stored_key, self.host.now_ms())
    }

    /// The key of `getOrSet`'s lock on a stored key (one the caller's `get_or_set_key` gave).
    pub fn lock_key(&self, stored_key: &str) -> String {
        self.keys.lock_key(stored_key)
    }

    /// Takes the lock `lock_key` for `ttl_ms` (whole, from JavaScript) as `token`, unless another holds it: `Bool(taken)`.
    pub fn lock(&self, lock_key: String, token: String, ttl_ms: f64) -> Result<Step> {
        // JavaScript checks the range; a cast saturates, it never panics.
        self.run(Op::Lock { key: lock_key, token, ttl_ms: (ttl_ms as u64).max(1) })
    }

    /// Releases the lock `lock_key` if it is still `token`'s.
    pub fn unlock(&self, lock_key: String, token: String) -> Result<Step> {
        self.run(Op::Unlock { key: lock_key, token })
    }

    /// `keys`: the JSON text of an array of strings. `Values`, in the order of `keys`.
    pub fn get_many(&self, keys: &str, call: CallOptions) -> Result<Step> {
        let keys = self.key_list(keys, &call.version)?;
        self.admit(&call)?;
        if let Some(near) = self.near.as_ref().filter(|_| !keys.is_empty()) {
            return self.near_read(near, keys, true, call.fresh);
        }
        self.run(Op::GetMany { keys })
    }

    /// `keys` and `values`: the JSON texts of two arrays of strings of the same length, the
    /// keys and the JSON text of each value.
    pub fn set_many(&self, keys: &str, values: &str, call: CallOptions) -> Result<Step> {
        let ttl_ms = self.ttl_ms(call.ttl)?;
        let keys = self.key_list(keys, &call.version)?;
        let values = json::string_list(values, "").filter(|v| v.len() == keys.len()).ok_or_else(not_a_list)?;
        let stamps = self.stamps(call.tags.as_deref())?;
        self.admit(&call)?;
        self.run(Op::SetMany { keys, values, ttl_ms, stamps })
    }

    /// `tags`: the JSON text of an array of strings. Every entry written with one of them
    /// before now reads as missing, through any instance; this instance's near tier is emptied
    /// (its entries do not carry their tags).
    pub fn invalidate_tags(&self, tags: &str, call: CallOptions) -> Result<Step> {
        let stamps = self.stamp_keys(Some(tags), tags::MAX_INVALIDATED, "invalidateTags takes at most 1000 tags a call")?;
        self.admit(&call)?;
        if stamps.is_empty() {
            return Ok(Step::Done(Outcome::Done));
        }
        self.run(Op::Invalidate { stamps })
    }

    pub fn delete(&self, key: &str, call: CallOptions) -> Result<Step> {
        let key = self.key(key, &call.version)?;
        self.admit(&call)?;
        self.run(Op::DeleteMany { keys: vec![key] })
    }

    pub fn delete_many(&self, keys: &str, call: CallOptions) -> Result<Step> {
        let keys = self.key_list(keys, &call.version)?;
        self.admit(&call)?;
        self.run(Op::DeleteMany { keys })
    }

    /// With a key prefix, deletes only this cache's keys; without one, everything in the store.
    pub fn clear(&self, call: CallOptions) -> Result<Step> {
        self.admit(&call)?;
        self.run(Op::Clear { prefix: self.keys.clear_prefix() })
    }

    /// `ttl`: the call's own argument (not an option). `Bool(existed)`.
    pub fn touch(&self, key: &str, ttl: TtlGiven, call: CallOptions) -> Result<Step> {
        let ttl_ms = self.ttl_ms(ttl)?;
        let key = self.key(key, &call.version)?;
        self.admit(&call)?;
        self.run(Op::Touch { key, ttl_ms })
    }

    /// `incr` (and `decr`, with the delta negated): `delta` 1 when omitted. `Number`.
    pub fn incr(&self, key: &str, delta: Option<f64>, call: CallOptions) -> Result<Step> {
        let delta = match delta {
            None => 1.0,
            Some(d) if d.is_finite() => d,
            Some(_) => return Err(Error::range_error(&["delta must be a finite number"])),
        };
        let key = self.key(key, &call.version)?;
        self.admit(&call)?;
        self.run(Op::Incr { key, delta })
    }

    fn key(&self, key: &str, version: &VersionGiven) -> Result<String> {
        let stored = self.keys.build(key, version.check(&self.host)?.as_deref());
        if keys::reserved(&stored) {
            return Err(keys::reserved_error());
        }
        Ok(stored)
    }

    fn key_list(&self, keys: &str, version: &VersionGiven) -> Result<Vec<String>> {
        let stem = self.keys.stem(version.check(&self.host)?.as_deref(), 0);
        let stored = json::string_list(keys, &stem).ok_or_else(not_a_list)?;
        if stored.iter().any(|key| keys::reserved(key)) {
            return Err(keys::reserved_error());
        }
        Ok(stored)
    }

    fn ttl_ms(&self, ttl: TtlGiven) -> Result<Option<u64>> {
        Ok(ttl.check()?.resolve(self.default_ttl_ms))
    }

    /// The entry a write stores (its key, ttl and stamp keys checked), with the call admitted.
    fn entry(&self, key: &str, value: String, call: &CallOptions) -> Result<Entry> {
        let ttl_ms = self.ttl_ms(call.ttl)?;
        let key = self.key(key, &call.version)?;
        let stamps = self.stamps(call.tags.as_deref())?;
        self.admit(call)?;
        Ok(Entry { key, value, ttl_ms, stamps })
    }

    /// The stamp keys of an entry's `tags` (the JSON text of an array of strings), once each.
    fn stamps(&self, tags: Option<&str>) -> Result<Vec<String>> {
        self.stamp_keys(tags, tags::MAX_TAGS, "an entry takes at most 64 tags")
    }

    /// The stamp keys of `tags`, once each; more than `max` is a `RangeError` saying `limit`.
    fn stamp_keys(&self, tags: Option<&str>, max: usize, limit: &str) -> Result<Vec<String>> {
        let Some(tags) = tags else {
            return Ok(Vec::new());
        };
        let mut given = json::string_list(tags, &tags::stem(self.keys.prefix())).ok_or_else(|| Error::type_error(&["tags must be an array of strings"]))?;
        if given.len() > max {
            return Err(Error::range_error(&[limit]));
        }
        // Once each; at most 64, so a scan (no sort code in the wasm).
        let mut stamps: Vec<String> = Vec::with_capacity(given.len());
        for stamp in &mut given {
            if !stamps.contains(stamp) {
                stamps.push(core::mem::take(stamp));
            }
        }
        Ok(stamps)
    }

    fn admit(&self, call: &CallOptions) -> Result<()> {
        if !self.connected.get() {
            return Err(not_connected());
        }
        match &call.aborted {
            Some(reason) => Err(aborted_error(reason)),
            None => Ok(()),
        }
    }
}

// Cannot happen for what npm/cache.js sends (it checks and writes the lists); an error, not a
// panic, if it somehow did.
fn not_a_list() -> Error {
    Error::type_error(&["keys must be an array of strings"])
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::error::{Code, Kind};

    #[test]
    fn calls_are_admitted_only_when_connected_and_not_aborted_and_bad_arguments_come_first() {
        let e = Engine::new(MEMORY, Options::default(), host(0.0), &NamedStores::default()).unwrap();
        let code = |r: Result<Step>| r.unwrap_err().code();
        let aborted = |reason: &str| CallOptions { aborted: Some(reason.into()), ..NONE };
        assert_eq!(code(e.get("k", NONE)), Some(Code::NotConnected));
        assert_eq!(e.set("k", "1".into(), CallOptions { ttl: TtlGiven::Seconds(-1.0), ..NONE }).unwrap_err().kind, Kind::Range);
        e.connect().unwrap();
        assert_eq!(e.connect().unwrap_err().code(), Some(Code::AlreadyConnected));
        let error = e.get("k", aborted("stop")).unwrap_err();
        assert_eq!((error.code(), error.message.as_str()), (Some(Code::Aborted), "the call was aborted: stop"));
        assert_eq!(e.set("k", "1".into(), aborted("")).unwrap_err().message, "the call was aborted");
        assert_eq!(done(e.get("k", NONE)), Outcome::Value(None), "the aborted set did nothing");
        assert_eq!(e.incr("k", Some(f64::NAN), aborted("x")).unwrap_err().kind, Kind::Range);
        e.disconnect().unwrap();
        assert_eq!(code(e.clear(NONE)), Some(Code::NotConnected));
    }

    #[test]
    fn no_key_version_or_prefix_addresses_a_tag_stamp() {
        let e = engine(MEMORY, Options::default());
        let version = |v: &str| CallOptions { version: VersionGiven::Text(v.into()), ..NONE };
        assert_eq!(e.get("k", version("#tags")).unwrap_err().kind, Kind::Range);
        assert_eq!(e.set("x:#tags:y", "1".into(), NONE).unwrap_err().kind, Kind::Range);
        assert_eq!(e.get_many(r#"["a","b:#tags:c"]"#, NONE).unwrap_err().kind, Kind::Range);
        assert_eq!(e.delete_many(r#"["a"]"#, version("v:#tags")).unwrap_err().kind, Kind::Range);
        assert_eq!(done(e.get("#tags", NONE)), Outcome::Value(None), "a key may be called #tags");
        let stores = NamedStores::default();
        for options in [Options { key_prefix: Some("app:#tags".into()), ..Options::default() }, Options { version: VersionGiven::Text("#tags".into()), ..Options::default() }] {
            assert_eq!(Engine::new(MEMORY, options, host(0.0), &stores).err().map(|e| e.kind), Some(Kind::Range));
        }
    }

    #[test]
    fn memory_calls_are_done_at_once_with_the_clock_of_the_host() {
        let e = engine(MEMORY, Options { ttl: TtlGiven::Seconds(0.5), ..Options::default() });
        assert_eq!(done(e.set("k", "\"v\"".into(), NONE)), Outcome::Done);
        assert_eq!(done(e.get("k", NONE)), Outcome::Value(text("\"v\"")));
        e.host.0.set(1499.0);
        assert_eq!(done(e.get("k", NONE)), Outcome::Value(text("\"v\"")));
        e.host.0.set(1500.0);
        assert_eq!(done(e.get("k", NONE)), Outcome::Value(None), "the default ttl");
        assert_eq!(done(e.incr("n", Some(2.5), NONE)), Outcome::Number(2.5));
        assert_eq!(done(e.incr("n", None, NONE)), Outcome::Number(3.5));
        assert_eq!(done(e.set_many(r#"["a","b"]"#, r#"["1","[2]"]"#, CallOptions { ttl: TtlGiven::Never, ..NONE })), Outcome::Done);
        e.host.0.set(1e12);
        assert_eq!(done(e.get_many(r#"["b","a","c"]"#, NONE)), Outcome::Values(vec![text("[2]"), text("1"), None]));
    }

    #[test]
    fn named_memory_stores_are_shared_and_others_are_not() {
        let stores = NamedStores::default();
        let open = |name: Option<&str>| {
            let e = Engine::new(BackendGiven::Memory { name: name.map(Into::into) }, Options::default(), host(0.0), &stores).unwrap();
            e.connect().unwrap();
            e
        };
        let (a, b, c) = (open(Some("shared")), open(Some("shared")), open(None));
        done(a.set("k", "1".into(), NONE));
        assert_eq!(done(b.get("k", NONE)), Outcome::Value(text("1")));
        assert_eq!(done(c.get("k", NONE)), Outcome::Value(None));
    }

    #[test]
    fn function_defaults_use_the_stored_key_without_being_refused_after_disconnect() {
        let e = engine(MEMORY, Options::default());
        let short = || CallOptions { ttl: TtlGiven::Seconds(0.1), ..NONE };
        let key = e.get_or_set_key("k", short()).unwrap();
        e.disconnect().unwrap();
        assert_eq!(done(e.get_stored(key.clone(), false)), Outcome::Value(None));
        assert_eq!(done(e.add_stored(key.clone(), "1".into(), short(), false)), Outcome::Bool(true));
        e.host.0.set(1100.0);
        assert_eq!(done(e.get_stored(key, false)), Outcome::Value(None), "the ttl was applied");
    }

    #[test]
    fn a_lock_holder_adds_with_the_script_in_full_and_locks_are_not_entries() {
        let e = rest(Options { key_prefix: Some("app".into()), ..Options::default() });
        let key = e.get_or_set_key("k", NONE).unwrap();
        assert!(sent(e.add_stored(key.clone(), "1".into(), NONE, false)).body.starts_with(r#"["EVALSHA","#));
        let full = sent(e.add_stored(key.clone(), "1".into(), NONE, true));
        assert!(full.body.starts_with(r#"["EVAL",""#), "no NOSCRIPT can reorder it after the unlock");
        let lock = e.lock_key(&key);
        assert_eq!(lock, "app:#lock::k");
        let taking = sent(e.lock(lock.clone(), "t".into(), 2500.4));
        assert_eq!(taking.body, r#"["SET","app:#lock::k","t","NX","PX","2500"]"#);
        assert!(taking.once, "never sent twice");
        assert!(e.get_or_set_key("k", CallOptions { version: VersionGiven::Text("#lock".into()), ..NONE }).is_err());
    }
}
