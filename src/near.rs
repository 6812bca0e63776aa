//! The near tier: what this instance read or wrote lately, kept in its own memory so that a read
//! of a hot key needs no request. The policy, as plain Rust:
//!
//! - an entry is served while it is younger than `ttl` (fresh), and up to `swr` more while a
//!   refresh runs (stale); up to `grace` more only when the backend fails;
//! - never past the key's own expiry, which a read learns in the same request (`PTTL`);
//! - a missing key is remembered too (a negative entry), on the same terms;
//! - a write through this instance marks its keys before it is sent: nothing is served for them
//!   until it is answered, and no read sent before the write may store an older value after it
//!   (the write's epoch). A write that fails, or whose outcome is unknown, leaves the mark.

use crate::prelude::*;

use crate::lru::Lru;

/// The near tier's settings, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NearPolicy {
    pub ttl_ms: u64,
    pub swr_ms: u64,
    pub grace_ms: u64,
    pub max_entries: usize,
}

struct Entry {
    /// `None`: the key was missing.
    value: Option<String>,
    /// When it was read or written (ms since the epoch); `None` while a write of the key is in
    /// flight or failed: then it is not served.
    at: Option<f64>,
    /// The key's own expiry, when there is one.
    expires_at: Option<f64>,
    /// The write epoch it was stored at (see `Near::epoch`).
    epoch: u64,
    /// A refresh of this entry is in flight (one per key).
    refreshing: bool,
}

/// What the near tier has for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Serve this (a stored text, or `None` for a missing key).
    Fresh(Option<String>),
    /// Serve this, and refresh the entry in the background (the first stale read does; the
    /// others find `Fresh`'s terms the refresh will restore).
    Stale { value: Option<String>, refresh: bool },
    /// Ask the backend.
    Miss,
}

pub struct Near {
    entries: Lru<Entry>,
    policy: NearPolicy,
    /// Counts the writes through this instance. A read records it when it is planned; its answer
    /// is stored only if no write of its key was planned since.
    epoch: u64,
    /// The newest epoch of a write mark that eviction dropped: reads older than it store nothing.
    evicted_write: u64,
}

impl Near {
    pub fn new(policy: NearPolicy, hash_key: [u64; 2]) -> Near {
        Near { entries: Lru::new(policy.max_entries, hash_key), policy, epoch: 0, evicted_write: 0 }
    }

    /// The epoch a read planned now carries to `store`.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn lookup(&mut self, key: &str, now: f64) -> Lookup {
        let NearPolicy { ttl_ms, swr_ms, .. } = self.policy;
        let Some(entry) = self.entries.get(key) else { return Lookup::Miss };
        let Some(at) = entry.at else { return Lookup::Miss };
        if entry.expires_at.is_some_and(|expiry| expiry <= now) {
            return Lookup::Miss;
        }
        let age = now - at;
        if age < ttl_ms as f64 {
            Lookup::Fresh(entry.value.clone())
        } else if age < (ttl_ms + swr_ms) as f64 {
            let refresh = !entry.refreshing;
            entry.refreshing = true;
            Lookup::Stale { value: entry.value.clone(), refresh }
        } else {
            Lookup::Miss
        }
    }

    /// What a read whose request failed may still serve: an entry within `ttl + swr + grace`,
    /// not past its key's expiry.
    pub fn fallback(&mut self, key: &str, now: f64) -> Option<Option<String>> {
        let NearPolicy { ttl_ms, swr_ms, grace_ms, .. } = self.policy;
        let entry = self.entries.get(key)?;
        entry.refreshing = false;
        let at = entry.at?;
        let live = entry.expires_at.is_none_or(|expiry| expiry > now);
        (live && now - at < (ttl_ms + swr_ms + grace_ms) as f64).then(|| entry.value.clone())
    }

    /// Keeps what a read planned at `epoch` found: `value` (or `None`: missing), and the key's
    /// remaining life in ms (`pttl` as Redis answers it: -1 for none, -2 for a missing key).
    pub fn store_read(&mut self, key: String, value: Option<String>, pttl: i64, epoch: u64, now: f64) {
        if epoch < self.evicted_write || self.entries.peek(&key).is_some_and(|e| e.epoch > epoch) {
            return;
        }
        let expires_at = (pttl >= 0).then(|| now + pttl as f64);
        self.insert(key, Entry { value, at: Some(now), expires_at, epoch, refreshing: false });
    }

    /// Marks keys a write is about to change: nothing is served for them until `store_write`,
    /// and reads planned before now store nothing for them. The write's epoch.
    pub fn begin_write(&mut self, keys: &[String]) -> u64 {
        self.epoch += 1;
        for key in keys {
            self.insert(key.clone(), Entry { value: None, at: None, expires_at: None, epoch: self.epoch, refreshing: false });
        }
        self.epoch
    }

    /// What a write of `epoch` left its key holding, when the write says (`set`: the value and
    /// its ttl; `delete`: missing). Left marked (not served) if a later write came meanwhile.
    pub fn store_write(&mut self, key: String, value: Option<String>, ttl_ms: Option<u64>, epoch: u64, now: f64) {
        if self.entries.peek(&key).is_none_or(|e| e.epoch != epoch) {
            return;
        }
        let expires_at = ttl_ms.map(|ms| now + ms as f64);
        self.insert(key, Entry { value, at: Some(now), expires_at, epoch, refreshing: false });
    }

    /// Forgets everything (`clear()`); later reads of earlier requests store nothing.
    pub fn clear(&mut self) {
        self.epoch += 1;
        self.evicted_write = self.epoch;
        self.entries.clear();
    }

    fn insert(&mut self, key: String, entry: Entry) {
        if let Some((_, evicted)) = self.entries.insert(key, entry) {
            if evicted.at.is_none() {
                self.evicted_write = self.evicted_write.max(evicted.epoch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near(ttl_ms: u64, swr_ms: u64, grace_ms: u64) -> Near {
        Near::new(NearPolicy { ttl_ms, swr_ms, grace_ms, max_entries: 100 }, [1, 2])
    }
    fn text(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn fresh_then_stale_with_one_refresh_then_gone() {
        let mut n = near(100, 50, 0);
        n.store_read("k".into(), text("v"), -1, n.epoch(), 1000.0);
        assert_eq!(n.lookup("k", 1099.0), Lookup::Fresh(text("v")));
        assert_eq!(n.lookup("k", 1100.0), Lookup::Stale { value: text("v"), refresh: true });
        assert_eq!(n.lookup("k", 1120.0), Lookup::Stale { value: text("v"), refresh: false }, "one refresh per key");
        assert_eq!(n.lookup("k", 1150.0), Lookup::Miss);
        n.store_read("k".into(), text("w"), -1, n.epoch(), 1150.0);
        assert_eq!(n.lookup("k", 1200.0), Lookup::Fresh(text("w")));
    }

    #[test]
    fn missing_keys_are_remembered_and_nothing_outlives_its_key() {
        let mut n = near(1000, 1000, 1000);
        n.store_read("gone".into(), None, -2, n.epoch(), 0.0);
        assert_eq!(n.lookup("gone", 500.0), Lookup::Fresh(None));
        n.store_read("short".into(), text("v"), 100, n.epoch(), 0.0);
        assert_eq!(n.lookup("short", 99.0), Lookup::Fresh(text("v")));
        assert_eq!(n.lookup("short", 100.0), Lookup::Miss, "the key's own ttl is shorter than the tier's");
        assert_eq!(n.fallback("short", 100.0), None, "not even when the backend fails");
    }

    #[test]
    fn grace_serves_only_failed_reads() {
        let mut n = near(100, 0, 500);
        n.store_read("k".into(), text("v"), -1, n.epoch(), 0.0);
        assert_eq!(n.lookup("k", 200.0), Lookup::Miss);
        assert_eq!(n.fallback("k", 200.0), Some(text("v")));
        assert_eq!(n.fallback("k", 600.0), None);
        assert_eq!(n.fallback("absent", 0.0), None);
    }

    #[test]
    fn a_write_hides_its_keys_until_answered_and_older_reads_store_nothing() {
        let mut n = near(1000, 0, 0);
        let read_epoch = n.epoch();
        n.store_read("k".into(), text("old"), -1, read_epoch, 0.0);
        let write = n.begin_write(&["k".into()]);
        assert_eq!(n.lookup("k", 1.0), Lookup::Miss, "not served while the write is in flight");
        assert_eq!(n.fallback("k", 1.0), None);
        // A read sent before the write answers after it: its value is not kept.
        n.store_read("k".into(), text("old"), -1, read_epoch, 2.0);
        assert_eq!(n.lookup("k", 3.0), Lookup::Miss);
        n.store_write("k".into(), text("new"), Some(10), write, 4.0);
        assert_eq!(n.lookup("k", 5.0), Lookup::Fresh(text("new")));
        assert_eq!(n.lookup("k", 14.0), Lookup::Miss, "the write's own ttl");
        // A write answered after a later one began leaves the later one's mark.
        let first = n.begin_write(&["j".into()]);
        let second = n.begin_write(&["j".into()]);
        n.store_write("j".into(), text("first"), None, first, 5.0);
        assert_eq!(n.lookup("j", 6.0), Lookup::Miss);
        n.store_write("j".into(), text("second"), None, second, 7.0);
        assert_eq!(n.lookup("j", 8.0), Lookup::Fresh(text("second")));
        // A read planned after the write stores as usual.
        n.store_read("k".into(), text("newer"), -1, n.epoch(), 9.0);
        assert_eq!(n.lookup("k", 10.0), Lookup::Fresh(text("newer")));
    }

    #[test]
    fn clear_forgets_everything_and_reads_sent_before_it_store_nothing() {
        let mut n = near(1000, 0, 0);
        let before = n.epoch();
        n.store_read("k".into(), text("v"), -1, before, 0.0);
        n.clear();
        assert_eq!(n.lookup("k", 1.0), Lookup::Miss);
        n.store_read("k".into(), text("v"), -1, before, 2.0);
        assert_eq!(n.lookup("k", 3.0), Lookup::Miss);
    }

    #[test]
    fn memory_is_bounded_and_an_evicted_write_mark_still_guards_older_reads() {
        let mut n = Near::new(NearPolicy { ttl_ms: 1000, swr_ms: 0, grace_ms: 0, max_entries: 2 }, [1, 2]);
        let old = n.epoch();
        n.begin_write(&["w".into()]);
        n.store_read("a".into(), text("1"), -1, n.epoch(), 0.0);
        n.store_read("b".into(), text("2"), -1, n.epoch(), 0.0); // evicts the mark of "w"
        assert_eq!(n.lookup("a", 1.0), Lookup::Fresh(text("1")));
        n.store_read("w".into(), text("stale"), -1, old, 2.0);
        assert_eq!(n.lookup("w", 3.0), Lookup::Miss, "a read from before the evicted write");
    }
}
