//! The in-memory backend: a bounded least-recently-used map of stored keys to JSON text, with
//! per-key expiry. Time comes in as milliseconds (`Date.now()` in the wasm build) because
//! `std::time` panics on wasm32-unknown-unknown.
//!
//! Expired entries are dropped when they are next touched, and otherwise age out of the LRU
//! order (`crate::lru`) like any other entry, so the store never holds more than `max_entries`.

use crate::prelude::*;

use alloc::rc::Rc;
use core::mem::take;

use crate::error::{Code, Error, Result};
use crate::lru::Lru;
use crate::number::{self, Numbers};
use crate::backend::rest::commands::decimal;
use crate::backend::rest::json::write_str;
use crate::ops::{Entry, Op, Outcome};

/// The default bound on entries: enough for a per-isolate cache, small enough for the 128 MB
/// a Worker gets.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;

struct Stored {
    value: String,
    /// Milliseconds since the epoch; `None` for never.
    expires_at: Option<f64>,
    /// A tagged entry's stamp keys with the stamps they had when it was written (`crate::tags`).
    /// A `Vec` (made at its length) rather than a boxed slice, whose shrink and clone are code
    /// of their own in the wasm; shared by the entries of one `setMany` (the `Vec`'s clone was
    /// code of its own too).
    tags: Option<Rc<Vec<(String, String)>>>,
}

pub struct MemoryStore {
    entries: Lru<Stored>,
    /// The last stamp given: every stamp is new. Stamps are entries too (as on Redis, where
    /// they are keys): bounded by `max_entries`, marked used with the entries that hold them, and an
    /// evicted one makes its entries read as missing.
    last_stamp: u64,
}

impl MemoryStore {
    /// `hash_key` should be random (see `Lru::new`).
    pub fn new(max_entries: usize, hash_key: [u64; 2]) -> Self {
        MemoryStore { entries: Lru::new(max_entries, hash_key), last_stamp: 0 }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn execute(&mut self, op: Op, now: f64, numbers: &dyn Numbers) -> Result<Outcome> {
        let expiry = |ttl_ms: Option<u64>| ttl_ms.map(|ms| now + ms as f64);
        Ok(match op {
            Op::Get { key } => Outcome::Value(self.live(&key, now).map(|e| e.value.clone())),
            Op::Set(entry) => {
                self.store(entry, now);
                Outcome::Done
            }
            Op::Add(entry) => Outcome::Bool(self.add(entry, now).is_none()),
            Op::GetOrAdd(entry) => Outcome::Value(self.add(entry, now)),
            Op::GetMany { keys } => {
                let mut values = Vec::with_capacity(keys.len());
                for key in &keys {
                    values.push(self.live(key, now).map(|e| e.value.clone()));
                }
                Outcome::Values(values)
            }
            Op::SetMany { mut keys, mut values, ttl_ms, stamps } => {
                let tags = self.tags(&stamps);
                for (key, value) in keys.iter_mut().zip(&mut values) {
                    self.entries.insert(take(key), Stored { value: take(value), expires_at: expiry(ttl_ms), tags: tags.clone() });
                }
                Outcome::Done
            }
            Op::DeleteMany { keys } => {
                for key in &keys {
                    self.entries.remove(key);
                }
                Outcome::Done
            }
            Op::Clear { prefix: None } => {
                self.entries.clear();
                Outcome::Done
            }
            Op::Clear { prefix: Some(prefix) } => {
                self.entries.remove_where(|k| k.starts_with(&prefix));
                Outcome::Done
            }
            Op::Touch { key, ttl_ms } => match self.live(&key, now) {
                Some(e) => {
                    e.expires_at = expiry(ttl_ms);
                    Outcome::Bool(true)
                }
                None => Outcome::Bool(false),
            },
            Op::Incr { key, delta } => {
                let value = match self.live(&key, now) {
                    Some(e) if e.tags.is_some() => return Err(tagged_not_a_number()),
                    // In place: an existing key keeps its expiry.
                    Some(e) => {
                        let value = number::add(Some(&e.value), delta, numbers)?;
                        e.value = value.clone();
                        value
                    }
                    None => {
                        let value = number::add(None, delta, numbers)?;
                        self.entries.insert(key, Stored { value: value.clone(), expires_at: None, tags: None });
                        value
                    }
                };
                Outcome::Value(Some(value))
            }
            Op::Invalidate { mut stamps } => {
                for key in &mut stamps {
                    let stamp = self.next_stamp();
                    self.entries.insert(take(key), stamp);
                }
                Outcome::Done
            }
            Op::Lock { key, token, ttl_ms } => Outcome::Bool(self.add(Entry { key, value: token, ttl_ms: Some(ttl_ms), stamps: Vec::new() }, now).is_none()),
            Op::Unlock { key, token } => {
                if self.live(&key, now).is_some_and(|e| e.value == token) {
                    self.entries.remove(&key);
                }
                Outcome::Done
            }
            Op::GetExpiring { key } => {
                // As the REST backend answers: `[text, PTTL]`.
                let mut json = String::from("[");
                match self.live(&key, now) {
                    Some(e) => {
                        write_str(&mut json, &e.value);
                        json.push(',');
                        match e.expires_at {
                            Some(at) => json.push_str(&decimal((at - now) as u64)),
                            None => json.push_str("-1"),
                        }
                    }
                    None => json.push_str("null,-2"),
                }
                json.push(']');
                Outcome::Json(json)
            }
        })
    }

    /// Stores `entry`, written at `now`.
    fn store(&mut self, Entry { key, value, ttl_ms, stamps }: Entry, now: f64) {
        let tags = self.tags(&stamps);
        self.entries.insert(key, Stored { value, expires_at: ttl_ms.map(|ms| now + ms as f64), tags });
    }

    /// Stores `entry` unless its key holds a live value, which it gives back instead.
    fn add(&mut self, entry: Entry, now: f64) -> Option<String> {
        if let Some(e) = self.live(&entry.key, now) {
            return Some(e.value.clone());
        }
        self.store(entry, now);
        None
    }

    /// A new entry's tags: each stamp key with its stamp now (made if it has none).
    fn tags(&mut self, stamps: &[String]) -> Option<Rc<Vec<(String, String)>>> {
        if stamps.is_empty() {
            return None;
        }
        let mut tags = Vec::with_capacity(stamps.len());
        for key in stamps {
            let stamp = match self.entries.get(key) {
                Some(stamp) => stamp.value.clone(),
                None => {
                    let stamp = self.next_stamp();
                    let value = stamp.value.clone();
                    self.entries.insert(key.clone(), stamp);
                    value
                }
            };
            tags.push((key.clone(), stamp));
        }
        Some(Rc::new(tags))
    }

    /// A new stamp, stored as an entry of its own (its key is reserved).
    fn next_stamp(&mut self) -> Stored {
        self.last_stamp += 1;
        Stored { value: decimal(self.last_stamp), expires_at: None, tags: None }
    }

    /// The entry of a key that has not expired, marked as most recently used. Expired entries
    /// are dropped when touched, and otherwise age out of the LRU order like any other.
    /// A tagged entry one of whose tags was invalidated since it was written is dead: dropped
    /// the same way.
    /// Its stamps are marked used with it: a stamp that aged out of the order while its
    /// entries were read would take them with it.
    fn live(&mut self, key: &str, now: f64) -> Option<&mut Stored> {
        let entry = self.entries.peek(key)?;
        let expired = entry.expires_at.is_some_and(|at| at <= now);
        let tags = entry.tags.clone();
        if expired || tags.is_some_and(|tags| tags.iter().any(|(k, stamp)| self.entries.get(k).map(|s| &s.value) != Some(stamp))) {
            self.entries.remove(key);
            return None;
        }
        self.entries.get(key)
    }
}

/// As the REST backend's incr script answers: a tagged entry's text is not a number.
fn tagged_not_a_number() -> Error {
    Error::cache(Code::NotANumber, &["the stored value is not a number (it was written with tags)"])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;
    use crate::number::StdNumbers;

    fn run(store: &mut MemoryStore, op: Op, now: f64) -> Outcome {
        store.execute(op, now, &StdNumbers).unwrap()
    }
    fn get(store: &mut MemoryStore, key: &str, now: f64) -> Option<String> {
        match run(store, Op::Get { key: key.into() }, now) {
            Outcome::Value(v) => v,
            other => panic!("{other:?}"),
        }
    }
    fn set(store: &mut MemoryStore, key: &str, value: &str, ttl_ms: Option<u64>, now: f64) {
        run(store, Op::Set(Entry { key: key.into(), value: value.into(), ttl_ms, stamps: Vec::new() }), now);
    }

    #[test]
    fn expiry_is_exact_to_the_millisecond() {
        let mut s = MemoryStore::new(10, [7, 11]);
        set(&mut s, "k", "1", Some(100), 1000.0);
        assert_eq!(get(&mut s, "k", 1099.0).as_deref(), Some("1"));
        assert_eq!(get(&mut s, "k", 1100.0), None);
        assert!(s.is_empty(), "an expired entry is dropped when touched");
    }

    #[test]
    fn least_recently_used_is_evicted_first() {
        let mut s = MemoryStore::new(3, [7, 11]);
        for k in ["a", "b", "c"] {
            set(&mut s, k, "1", None, 0.0);
        }
        get(&mut s, "a", 0.0); // a is now the most recent; b the least
        set(&mut s, "d", "1", None, 0.0);
        assert_eq!(s.len(), 3);
        assert_eq!(get(&mut s, "b", 0.0), None);
        for k in ["a", "c", "d"] {
            assert!(get(&mut s, k, 0.0).is_some(), "{k}");
        }
    }

    #[test]
    fn add_and_get_or_add_respect_live_keys_only() {
        let mut s = MemoryStore::new(10, [7, 11]);
        let add = |s: &mut MemoryStore, v: &str, now| run(s, Op::Add(Entry { key: "k".into(), value: v.into(), ttl_ms: Some(10), stamps: Vec::new() }), now);
        assert_eq!(add(&mut s, "1", 0.0), Outcome::Bool(true));
        assert_eq!(add(&mut s, "2", 5.0), Outcome::Bool(false));
        assert_eq!(add(&mut s, "3", 10.0), Outcome::Bool(true), "expired counts as missing");
        let goa = run(&mut s, Op::GetOrAdd(Entry { key: "k".into(), value: "4".into(), ttl_ms: None, stamps: Vec::new() }), 11.0);
        assert_eq!(goa, Outcome::Value(Some("3".into())));
        let goa = run(&mut s, Op::GetOrAdd(Entry { key: "n".into(), value: "4".into(), ttl_ms: None, stamps: Vec::new() }), 11.0);
        assert_eq!(goa, Outcome::Value(None));
        assert_eq!(get(&mut s, "n", 11.0).as_deref(), Some("4"));
    }

    #[test]
    fn touch_never_creates_and_incr_keeps_expiry() {
        let mut s = MemoryStore::new(10, [7, 11]);
        assert_eq!(run(&mut s, Op::Touch { key: "k".into(), ttl_ms: Some(5) }, 0.0), Outcome::Bool(false));
        assert!(s.is_empty());
        set(&mut s, "k", "5", Some(100), 0.0);
        let r = run(&mut s, Op::Incr { key: "k".into(), delta: 2.0 }, 1.0);
        assert_eq!(r, Outcome::Value(Some("7".into())));
        assert_eq!(get(&mut s, "k", 100.0), None, "incr kept the 100 ms expiry");
        assert_eq!(run(&mut s, Op::Touch { key: "t".into(), ttl_ms: None }, 0.0), Outcome::Bool(false));
        set(&mut s, "t", "1", Some(10), 0.0);
        assert_eq!(run(&mut s, Op::Touch { key: "t".into(), ttl_ms: None }, 5.0), Outcome::Bool(true));
        assert!(get(&mut s, "t", 1e12).is_some(), "touch with no ttl persists");
    }

    #[test]
    fn incr_on_a_non_number_changes_nothing() {
        let mut s = MemoryStore::new(10, [7, 11]);
        set(&mut s, "k", "\"5\"", None, 0.0);
        let err = s.execute(Op::Incr { key: "k".into(), delta: 1.0 }, 0.0, &StdNumbers).unwrap_err();
        assert_eq!(err.code(), Some(Code::NotANumber));
        assert_eq!(get(&mut s, "k", 0.0).as_deref(), Some("\"5\""));
    }

    #[test]
    fn a_lock_is_taken_once_until_it_expires_or_its_holder_frees_it() {
        let mut s = MemoryStore::new(10, [7, 11]);
        let lock = |s: &mut MemoryStore, token: &str, now| run(s, Op::Lock { key: "l".into(), token: token.into(), ttl_ms: 10 }, now);
        let unlock = |s: &mut MemoryStore, token: &str| run(s, Op::Unlock { key: "l".into(), token: token.into() }, 1.0);
        assert_eq!(lock(&mut s, "a", 0.0), Outcome::Bool(true));
        assert_eq!(lock(&mut s, "b", 1.0), Outcome::Bool(false));
        unlock(&mut s, "b");
        assert_eq!(lock(&mut s, "b", 2.0), Outcome::Bool(false), "only its holder frees it");
        assert_eq!(lock(&mut s, "b", 10.0), Outcome::Bool(true), "expired");
        unlock(&mut s, "b");
        assert_eq!(lock(&mut s, "c", 11.0), Outcome::Bool(true));
        set(&mut s, "k", "1", Some(100), 0.0);
        assert_eq!(run(&mut s, Op::GetExpiring { key: "k".into() }, 40.0), Outcome::Json("[\"1\",60]".into()));
        set(&mut s, "n", "\"a\"", None, 0.0);
        assert_eq!(run(&mut s, Op::GetExpiring { key: "n".into() }, 40.0), Outcome::Json(r#"["\"a\"",-1]"#.into()));
        assert_eq!(run(&mut s, Op::GetExpiring { key: "m".into() }, 40.0), Outcome::Json("[null,-2]".into()));
    }

    #[test]
    fn clear_with_a_prefix_leaves_other_keys() {
        let mut s = MemoryStore::new(10, [7, 11]);
        for k in ["app:1:a", "app::b", "apple::c", "::d"] {
            set(&mut s, k, "1", None, 0.0);
        }
        run(&mut s, Op::Clear { prefix: Some("app:".into()) }, 0.0);
        assert_eq!(s.len(), 2);
        assert!(get(&mut s, "apple::c", 0.0).is_some());
        run(&mut s, Op::Clear { prefix: None }, 0.0);
        assert!(s.is_empty());
    }

    #[test]
    fn an_invalidated_tag_kills_the_entries_written_with_it_before() {
        let mut s = MemoryStore::new(10, [7, 11]);
        let tagged =
            |key: &str, tags: &[&str]| Op::Set(Entry { key: key.into(), value: "1".into(), ttl_ms: None, stamps: tags.iter().map(|t| (*t).to_owned()).collect() });
        run(&mut s, tagged("a", &["t:u1"]), 0.0);
        run(&mut s, tagged("b", &["t:u1", "t:u2"]), 0.0);
        run(&mut s, tagged("c", &["t:u2"]), 0.0);
        set(&mut s, "d", "1", None, 0.0);
        run(&mut s, Op::Invalidate { stamps: vec!["t:u1".into()] }, 0.0);
        assert_eq!((get(&mut s, "a", 0.0), get(&mut s, "b", 0.0)), (None, None));
        assert!(get(&mut s, "c", 0.0).is_some() && get(&mut s, "d", 0.0).is_some());
        run(&mut s, tagged("a", &["t:u1"]), 0.0);
        assert!(get(&mut s, "a", 0.0).is_some(), "written after the invalidation");
        let add = Op::Add(Entry { key: "c".into(), value: "2".into(), ttl_ms: None, stamps: Vec::new() });
        run(&mut s, Op::Invalidate { stamps: vec!["t:u2".into()] }, 0.0);
        assert_eq!(run(&mut s, add, 0.0), Outcome::Bool(true), "add stores over a dead entry");
        assert_eq!(s.execute(Op::Incr { key: "a".into(), delta: 1.0 }, 0.0, &StdNumbers).unwrap_err().code(), Some(Code::NotANumber));
        // Clearing a prefix removes its stamps: what was written before reads as missing.
        run(&mut s, tagged("p:x", &["p:#tags:t"]), 0.0);
        run(&mut s, Op::Clear { prefix: Some("p:".into()) }, 0.0);
        assert!(s.entries.peek("p:#tags:t").is_none());
    }

    /// Stamps are entries of the one LRU: bounded with the rest, and an evicted stamp makes its
    /// entries read as missing, never as live.
    #[test]
    fn stamps_are_bounded_entries() {
        let mut s = MemoryStore::new(3, [7, 11]);
        for i in 0..20 {
            run(&mut s, Op::Invalidate { stamps: vec![format!("#tags:{i}")] }, 0.0);
        }
        assert_eq!(s.len(), 3);
        let tagged = Op::Set(Entry { key: "a".into(), value: "1".into(), ttl_ms: None, stamps: vec!["#tags:t".into()] });
        run(&mut s, tagged, 0.0);
        assert!(get(&mut s, "a", 0.0).is_some());
        // Two more entries: the stamp, least recently used, goes.
        set(&mut s, "b", "1", None, 0.0);
        set(&mut s, "c", "1", None, 0.0);
        assert!(s.entries.peek("#tags:t").is_none() && get(&mut s, "a", 0.0).is_none());
    }

    /// A read tagged entry keeps its stamp as recent as itself: new keys evict what was not
    /// read, not the stamp of what was.
    #[test]
    fn reading_a_tagged_entry_keeps_its_stamp() {
        let mut s = MemoryStore::new(3, [7, 11]);
        run(&mut s, Op::Set(Entry { key: "a".into(), value: "1".into(), ttl_ms: None, stamps: vec!["#tags:t".into()] }), 0.0);
        for i in 0..5 {
            set(&mut s, &format!("x{i}"), "1", None, 0.0);
            assert!(get(&mut s, "a", 0.0).is_some(), "after x{i}");
        }
    }
}
