//! The in-memory backend: a bounded least-recently-used map of stored keys to JSON text, with
//! per-key expiry. Time comes in as milliseconds (`Date.now()` in the wasm build) because
//! `std::time` panics on wasm32-unknown-unknown.
//!
//! Expired entries are dropped when they are next touched, and otherwise age out of the LRU
//! order like any other entry, so the store never holds more than `max_entries`.

use crate::prelude::*;

#[allow(deprecated)]
use core::hash::{BuildHasher, SipHasher};
use hashbrown::HashMap;

use crate::error::Result;
use crate::number::{self, Numbers};
use crate::ops::{Op, Outcome};

/// The default bound on entries: enough for a per-isolate cache, small enough for the 128 MB
/// a Worker gets.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;

const NIL: usize = usize::MAX;

struct Node {
    key: String,
    value: String,
    /// Milliseconds since the epoch; `None` for never.
    expires_at: Option<f64>,
    /// Towards the most recently used end.
    prev: usize,
    /// Towards the least recently used end.
    next: usize,
}

/// An LRU list threaded through a slab of nodes: O(1) lookup, touch, insert and eviction
/// without a crate (an LRU crate would bring more code than these lines).
pub struct MemoryStore {
    index: HashMap<String, usize, Keyed>,
    nodes: Vec<Node>,
    free: Vec<usize>,
    head: usize,
    tail: usize,
    max_entries: usize,
}

/// The index's hasher: SipHash-2-4 (core's, which is all this crate needs of it) under a
/// random 128-bit key. SipHash was made for exactly this, keeping keys chosen to collide from
/// being worked out ahead of time, and it is smaller in the wasm than foldhash's string hashing
/// (1.9 KB less raw, 0.7 KB gzipped); per key it costs nanoseconds against the microseconds of
/// a call crossing the wasm boundary. `SipHasher` is deprecated only in favour of std's
/// `DefaultHasher`, which a build without std does not have.
#[derive(Clone)]
struct Keyed(u64, u64);

#[allow(deprecated)]
impl BuildHasher for Keyed {
    type Hasher = SipHasher;
    fn build_hasher(&self) -> SipHasher {
        SipHasher::new_with_keys(self.0, self.1)
    }
}

impl MemoryStore {
    /// `hash_key` should be random (the wasm build takes two `Math.random()`s): without std
    /// there is no source of randomness here, and anything derived from addresses is the same
    /// in every run of a wasm module.
    pub fn new(max_entries: usize, hash_key: [u64; 2]) -> Self {
        Self::with_hasher(max_entries, Keyed(hash_key[0], hash_key[1]))
    }

    fn with_hasher(max_entries: usize, hasher: Keyed) -> Self {
        MemoryStore {
            index: HashMap::with_hasher(hasher),
            nodes: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            max_entries: max_entries.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn execute(&mut self, op: Op, now: f64, numbers: &dyn Numbers) -> Result<Outcome> {
        let expiry = |ttl_ms: Option<u64>| ttl_ms.map(|ms| now + ms as f64);
        Ok(match op {
            Op::Get { key } => Outcome::Value(self.live(&key, now).map(|i| self.nodes[i].value.clone())),
            Op::Set { key, value, ttl_ms } => {
                self.insert(key, value, expiry(ttl_ms));
                Outcome::Done
            }
            Op::Add { key, value, ttl_ms } => {
                let missing = self.live(&key, now).is_none();
                if missing {
                    self.insert(key, value, expiry(ttl_ms));
                }
                Outcome::Bool(missing)
            }
            Op::GetOrAdd { key, value, ttl_ms } => match self.live(&key, now) {
                Some(i) => Outcome::Value(Some(self.nodes[i].value.clone())),
                None => {
                    self.insert(key, value, expiry(ttl_ms));
                    Outcome::Value(None)
                }
            },
            Op::GetMany { keys } => Outcome::Values(
                keys.iter().map(|k| self.live(k, now).map(|i| self.nodes[i].value.clone())).collect(),
            ),
            Op::SetMany { entries, ttl_ms } => {
                for (key, value) in entries {
                    self.insert(key, value, expiry(ttl_ms));
                }
                Outcome::Done
            }
            Op::DeleteMany { keys } => {
                for key in &keys {
                    self.remove(key);
                }
                Outcome::Done
            }
            Op::Clear { prefix } => {
                match prefix {
                    None => *self = MemoryStore::with_hasher(self.max_entries, self.index.hasher().clone()),
                    Some(prefix) => {
                        let doomed: Vec<String> =
                            self.index.keys().filter(|k| k.starts_with(&prefix)).cloned().collect();
                        for key in &doomed {
                            self.remove(key);
                        }
                    }
                }
                Outcome::Done
            }
            Op::Touch { key, ttl_ms } => match self.live(&key, now) {
                Some(i) => {
                    self.nodes[i].expires_at = expiry(ttl_ms);
                    Outcome::Bool(true)
                }
                None => Outcome::Bool(false),
            },
            Op::Incr { key, delta } => {
                let found = self.live(&key, now);
                let current = found.map(|i| self.nodes[i].value.as_str());
                let value = number::add(current, delta, numbers)?;
                match found {
                    // In place: an existing key keeps its expiry.
                    Some(i) => self.nodes[i].value.clone_from(&value),
                    None => self.insert(key, value.clone(), None),
                }
                Outcome::Value(Some(value))
            }
        })
    }

    /// The node of a key that has not expired, marked as most recently used.
    fn live(&mut self, key: &str, now: f64) -> Option<usize> {
        let i = *self.index.get(key)?;
        if self.nodes[i].expires_at.is_some_and(|at| at <= now) {
            self.remove(key);
            return None;
        }
        self.unlink(i);
        self.push_front(i);
        Some(i)
    }

    fn insert(&mut self, key: String, value: String, expires_at: Option<f64>) {
        if let Some(&i) = self.index.get(&key) {
            let node = &mut self.nodes[i];
            node.value = value;
            node.expires_at = expires_at;
            self.unlink(i);
            self.push_front(i);
            return;
        }
        if self.index.len() >= self.max_entries && self.tail != NIL {
            let oldest = self.nodes[self.tail].key.clone();
            self.remove(&oldest);
        }
        let node = Node { key: key.clone(), value, expires_at, prev: NIL, next: NIL };
        let i = match self.free.pop() {
            Some(i) => {
                self.nodes[i] = node;
                i
            }
            None => {
                self.nodes.push(node);
                self.nodes.len() - 1
            }
        };
        self.index.insert(key, i);
        self.push_front(i);
    }

    fn remove(&mut self, key: &str) {
        if let Some(i) = self.index.remove(key) {
            self.unlink(i);
            // Give the memory back now rather than when the slot is reused.
            let node = &mut self.nodes[i];
            node.key = String::new();
            node.value = String::new();
            self.free.push(i);
        }
    }

    fn unlink(&mut self, i: usize) {
        let (prev, next) = (self.nodes[i].prev, self.nodes[i].next);
        if prev == NIL {
            self.head = next;
        } else {
            self.nodes[prev].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.nodes[next].prev = prev;
        }
        self.nodes[i].prev = NIL;
        self.nodes[i].next = NIL;
    }

    fn push_front(&mut self, i: usize) {
        self.nodes[i].next = self.head;
        if self.head != NIL {
            self.nodes[self.head].prev = i;
        }
        self.head = i;
        if self.tail == NIL {
            self.tail = i;
        }
    }
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
        run(store, Op::Set { key: key.into(), value: value.into(), ttl_ms }, now);
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
        let add = |s: &mut MemoryStore, v: &str, now| run(s, Op::Add { key: "k".into(), value: v.into(), ttl_ms: Some(10) }, now);
        assert_eq!(add(&mut s, "1", 0.0), Outcome::Bool(true));
        assert_eq!(add(&mut s, "2", 5.0), Outcome::Bool(false));
        assert_eq!(add(&mut s, "3", 10.0), Outcome::Bool(true), "expired counts as missing");
        let goa = run(&mut s, Op::GetOrAdd { key: "k".into(), value: "4".into(), ttl_ms: None }, 11.0);
        assert_eq!(goa, Outcome::Value(Some("3".into())));
        let goa = run(&mut s, Op::GetOrAdd { key: "n".into(), value: "4".into(), ttl_ms: None }, 11.0);
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

    /// Random operations against a plain model: the LRU links never lose or duplicate an entry.
    #[test]
    fn random_operations_keep_the_index_and_list_consistent() {
        let mut s = MemoryStore::new(8, [7, 11]);
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        for step in 0..20_000u64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let key = ((seed >> 8) % 12).to_string();
            let now = step as f64;
            match seed % 5 {
                0 | 1 => set(&mut s, &key, "1", if seed.is_multiple_of(3) { Some(seed % 20) } else { None }, now),
                2 => drop(get(&mut s, &key, now)),
                3 => drop(run(&mut s, Op::DeleteMany { keys: vec![key] }, now)),
                _ => drop(s.execute(Op::Incr { key, delta: 1.0 }, now, &StdNumbers)),
            }
            let mut walked = 0;
            let mut i = s.head;
            while i != NIL {
                assert_eq!(s.index.get(&s.nodes[i].key), Some(&i));
                walked += 1;
                i = s.nodes[i].next;
            }
            assert_eq!(walked, s.len());
            assert!(s.len() <= 8);
        }
    }
}
