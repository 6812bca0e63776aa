//! The near tier: what this instance read or wrote lately, kept in its own memory so that a read
//! of a hot key needs no request. The policy, as plain Rust:
//!
//! - an entry is served while it is younger than `ttl` (fresh), and up to `swr` more while a
//!   refresh runs (stale); up to `grace` more only when the backend fails;
//! - never past the key's own expiry, which a read learns in the same request (`PTTL`);
//! - a missing key is remembered too (a negative entry), on the same terms.
//!
//! The rule it keeps (docs/decisions/0006): once a write of this instance has resolved, no read
//! that starts afterwards is served what the write replaced. The network may deliver requests
//! and answers in any order, so the tier orders them by a counter (the epoch), bumped when a
//! write begins and when it ends:
//! - a write marks its keys before it is sent: nothing is served for them until it ends;
//! - a read's answer is kept only if no write of its key was in flight when it was planned or
//!   began since (it might have run before that write), and no `clear()` or `invalidateTags`
//!   was in flight either;
//! - a write that ends keeps what it wrote only if no other write of the key, nor a `clear()`,
//!   overlapped it (the server may have run them in either order); one that fails, or whose
//!   outcome is unknown, leaves its keys unserved until a read fetches them.

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
    /// flight, or after one failed or overlapped another: then it is not served.
    at: Option<f64>,
    /// The key's own expiry, when there is one.
    expires_at: Option<f64>,
    /// The epoch it was stored or marked at.
    epoch: u64,
    /// A refresh of this entry is in flight (one per key).
    refreshing: bool,
    /// The writes of this key in flight (their ids).
    writing: Vec<u64>,
    /// A write of this key began while another was in flight: neither keeps its value.
    overlapped: bool,
}

impl Entry {
    fn mark(epoch: u64) -> Entry {
        Entry { value: None, at: None, expires_at: None, epoch, refreshing: false, writing: Vec::new(), overlapped: false }
    }
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
    /// Bumped when a write (or `clear()`) begins or ends. A read records it when it is planned.
    epoch: u64,
    /// Reads planned before this store nothing (a `clear()`, or a write mark that was evicted).
    evicted_write: u64,
    /// `clear()`s and `invalidateTags` in flight: reads store nothing meanwhile.
    clearing: u32,
    /// The writes in flight (their ids).
    in_flight: Vec<u64>,
    /// Writes in flight whose marks were evicted or cleared: reads store nothing until they end.
    orphans: Vec<u64>,
}

/// Takes every `id` out of `ids`, as `retain` would, by the `position` and `remove` that
/// `end_write` uses on a key's writes already (`retain` is code of its own: 58 B gzipped).
fn remove_id(ids: &mut Vec<u64>, id: u64) {
    while let Some(at) = ids.iter().position(|&w| w == id) {
        ids.remove(at);
    }
}

impl Near {
    pub fn new(policy: NearPolicy, hash_key: [u64; 2]) -> Near {
        Near {
            entries: Lru::new(policy.max_entries, hash_key),
            policy,
            epoch: 0,
            evicted_write: 0,
            clearing: 0,
            in_flight: Vec::new(),
            orphans: Vec::new(),
        }
    }

    /// The epoch a read planned now carries to `store_read`.
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

    /// When the backend's copy of a key the tier serves expires, as the tier learned it (`None`
    /// inside: never); `None` when the tier has nothing it would serve for it.
    pub fn expiry(&mut self, key: &str) -> Option<Option<f64>> {
        let entry = self.entries.peek(key)?;
        entry.at.and(entry.value.as_ref()).map(|_| entry.expires_at)
    }

    /// What `getOrSet`'s `softTimeout` may serve while a factory runs: the value last read or
    /// written within `ttl + swr + grace`, past the key's own expiry too (a soft timeout is for
    /// when the key is gone), never one a write marked.
    pub fn stale(&mut self, key: &str, now: f64) -> Option<String> {
        let NearPolicy { ttl_ms, swr_ms, grace_ms, .. } = self.policy;
        let entry = self.entries.peek(key)?;
        let at = entry.at?;
        if now - at < (ttl_ms + swr_ms + grace_ms) as f64 { entry.value.clone() } else { None }
    }

    /// What a read whose request failed may still serve: an entry within `ttl + swr + grace`,
    /// not past its key's expiry, and not marked by a write.
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
        if self.clearing > 0 || !self.orphans.is_empty() || epoch < self.evicted_write {
            return;
        }
        if self.entries.peek(&key).is_some_and(|e| !e.writing.is_empty() || e.epoch > epoch) {
            return;
        }
        let expires_at = (pttl >= 0).then_some(now + pttl as f64);
        self.insert(key, Entry { value, at: Some(now), expires_at, ..Entry::mark(epoch) });
    }

    /// Marks keys a write is about to change: nothing is served for them until it ends, and
    /// reads planned before it ends store nothing for them. The write's id, for `end_write`.
    pub fn begin_write(&mut self, keys: &[String]) -> u64 {
        self.epoch += 1;
        let id = self.epoch;
        self.in_flight.push(id);
        // A write that overlaps a `clear()`, or a write whose mark was dropped (it may be of
        // these keys), may run before or after it.
        let clearing = self.clearing > 0 || !self.orphans.is_empty();
        for key in keys {
            match self.entries.get(key) {
                Some(entry) => {
                    entry.overlapped |= clearing || !entry.writing.is_empty();
                    entry.writing.push(id);
                    entry.at = None;
                    entry.epoch = id;
                }
                None => self.insert(key.clone(), Entry { writing: vec![id], overlapped: clearing, ..Entry::mark(id) }),
            }
        }
        id
    }

    /// The write `id` of `keys` ended. `written`: what each key holds now, when the write
    /// succeeded and says (`set`: the value and its ttl; `delete`: missing); kept only if no
    /// other write of the key overlapped this one.
    pub fn end_write(&mut self, keys: &[String], id: u64, written: Option<(Vec<Option<String>>, Option<u64>)>, now: f64) {
        self.epoch += 1;
        let ended = self.epoch;
        remove_id(&mut self.in_flight, id);
        let (values, ttl_ms) = match written {
            Some((values, ttl_ms)) => (Some(values), ttl_ms),
            None => (None, None),
        };
        for (i, key) in keys.iter().enumerate() {
            let Some(entry) = self.entries.get(key) else { continue };
            let Some(at) = entry.writing.iter().position(|&w| w == id) else { continue };
            entry.writing.remove(at);
            let alone = entry.writing.is_empty() && !entry.overlapped && entry.epoch == id && self.orphans.is_empty();
            match values.as_ref().and_then(|v| v.get(i)) {
                Some(value) if alone => {
                    entry.value = value.clone();
                    entry.at = Some(now);
                    entry.expires_at = ttl_ms.map(|ms| now + ms as f64);
                }
                _ => entry.at = None,
            }
            entry.epoch = ended;
            if entry.writing.is_empty() {
                entry.overlapped = false;
            }
        }
        let orphaned = self.orphans.len();
        remove_id(&mut self.orphans, id);
        if orphaned > 0 && self.orphans.is_empty() {
            self.evicted_write = self.epoch;
        }
    }

    /// A `clear()` or `invalidateTags` is about to be sent: everything is forgotten, and reads
    /// store nothing until it ends (`end_clear`).
    pub fn begin_clear(&mut self) {
        self.clearing += 1;
        self.clear();
    }

    pub fn end_clear(&mut self) {
        self.clearing = self.clearing.saturating_sub(1);
        self.epoch += 1;
        self.evicted_write = self.epoch;
    }

    /// Another writer changed these keys (a bus message): not served, and reads planned before
    /// now store nothing for them.
    pub fn forget(&mut self, keys: &[String]) {
        self.epoch += 1;
        for key in keys {
            match self.entries.get(key) {
                Some(entry) => {
                    entry.at = None;
                    entry.epoch = self.epoch;
                }
                None => self.insert(key.clone(), Entry::mark(self.epoch)),
            }
        }
    }

    /// Forgets everything; reads of earlier requests store nothing, and neither do reads while
    /// a write whose mark this drops is in flight.
    pub fn clear(&mut self) {
        self.epoch += 1;
        self.evicted_write = self.epoch;
        self.orphans.extend_from_slice(&self.in_flight);
        self.entries.clear();
    }

    fn insert(&mut self, key: String, entry: Entry) {
        if let Some((_, evicted)) = self.entries.insert(key, entry) {
            if evicted.at.is_none() {
                self.evicted_write = self.evicted_write.max(evicted.epoch);
            }
            self.orphans.extend_from_slice(&evicted.writing);
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
    fn a_soft_timeout_may_serve_a_value_past_its_key_but_not_past_grace_nor_a_write() {
        let mut n = near(1000, 100, 500);
        n.store_read("k".into(), text("v"), 50, 0, 0.0);
        assert_eq!(n.lookup("k", 60.0), Lookup::Miss, "the key expired");
        assert_eq!(n.stale("k", 60.0), text("v"));
        assert_eq!(n.stale("k", 1599.0), text("v"));
        assert_eq!(n.stale("k", 1600.0), None, "past ttl + swr + grace");
        let id = n.begin_write(&["k".to_owned()]);
        assert_eq!(n.stale("k", 70.0), None, "a write of the key is in flight");
        n.end_write(&["k".to_owned()], id, None, 80.0);
        assert_eq!(n.stale("k", 90.0), None, "its outcome is unknown");
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
        // A read planned while the write is in flight may have run before it: not kept.
        let during = n.epoch();
        n.end_write(&["k".into()], write, Some((vec![text("new")], Some(10))), 4.0);
        assert_eq!(n.lookup("k", 5.0), Lookup::Fresh(text("new")));
        n.store_read("k".into(), text("old"), -1, during, 5.0);
        assert_eq!(n.lookup("k", 6.0), Lookup::Fresh(text("new")), "the read from during the write");
        assert_eq!(n.lookup("k", 14.0), Lookup::Miss, "the write's own ttl");
        // Two writes of one key in flight at once: the server may run them in either order, so
        // neither keeps its value (the old test kept the later one's: the race the simulation
        // found).
        let first = n.begin_write(&["j".into()]);
        let second = n.begin_write(&["j".into()]);
        n.end_write(&["j".into()], first, Some((vec![text("first")], None)), 5.0);
        assert_eq!(n.lookup("j", 6.0), Lookup::Miss);
        n.end_write(&["j".into()], second, Some((vec![text("second")], None)), 7.0);
        assert_eq!(n.lookup("j", 8.0), Lookup::Miss);
        // A read planned after the writes ended stores as usual.
        n.store_read("k".into(), text("newer"), -1, n.epoch(), 9.0);
        assert_eq!(n.lookup("k", 10.0), Lookup::Fresh(text("newer")));
        // A write that failed (or timed out) leaves its keys unserved.
        let failed = n.begin_write(&["k".into()]);
        n.end_write(&["k".into()], failed, None, 11.0);
        assert_eq!(n.lookup("k", 12.0), Lookup::Miss);
    }

    #[test]
    fn reads_store_nothing_while_a_clear_is_in_flight_or_a_write_lost_its_mark() {
        let mut n = near(1000, 0, 0);
        n.begin_clear();
        let during = n.epoch();
        n.store_read("k".into(), text("v"), -1, during, 0.0);
        assert_eq!(n.lookup("k", 1.0), Lookup::Miss, "the read may have run before the clear");
        n.end_clear();
        n.store_read("k".into(), text("v"), -1, during, 2.0);
        assert_eq!(n.lookup("k", 3.0), Lookup::Miss, "planned before the clear ended");
        n.store_read("k".into(), text("v"), -1, n.epoch(), 4.0);
        assert_eq!(n.lookup("k", 5.0), Lookup::Fresh(text("v")));
        // A write whose mark a clear dropped: reads store nothing until it ends.
        let write = n.begin_write(&["w".into()]);
        n.clear();
        n.store_read("w".into(), text("old"), -1, n.epoch(), 6.0);
        assert_eq!(n.lookup("w", 7.0), Lookup::Miss);
        n.end_write(&["w".into()], write, Some((vec![text("new")], None)), 8.0);
        n.store_read("w".into(), text("new"), -1, n.epoch(), 9.0);
        assert_eq!(n.lookup("w", 10.0), Lookup::Fresh(text("new")));
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
