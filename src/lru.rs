//! A bounded least-recently-used map from keys to `V`: the memory backend's store and the near
//! tier are both one. A doubly linked list threaded through a slab of slots, indexed by a hash
//! table of slot numbers: O(1) lookup, touch, insert and eviction, without an LRU crate (it
//! would bring more code than these lines). Each key is kept once, in its slot.
//!
//! The index is open addressing with linear probing, written here rather than taken from
//! hashbrown: it holds only slot numbers whose hashes the slots keep, and for that one use it
//! is 1 KB less gzipped wasm (docs/decisions/0016).
//!
//! The keys, links and index (`Order`) are apart from the values: their code is compiled once,
//! not once per `V` (132 B less gzipped wasm when there were three).

use crate::prelude::*;

const NIL: usize = usize::MAX;

struct Slot {
    /// Empty for a free slot.
    key: String,
    /// The key's hash (its low half: wasm32 has no wider index), so that neither a probe nor a
    /// move within the index hashes it again.
    hash: u32,
    /// Towards the most recently used end.
    prev: usize,
    /// Towards the least recently used end.
    next: usize,
}

/// Which slot holds each key, and the order of use.
struct Order {
    /// Slot numbers (`NIL` for an empty place), each at or after the place its key's hash
    /// points to, with no empty place in between; at most half full, a power of two long.
    index: Vec<usize>,
    hasher: Keyed,
    slots: Vec<Slot>,
    free: Vec<usize>,
    head: usize,
    tail: usize,
    max_entries: usize,
}

pub struct Lru<V> {
    order: Order,
    /// Each slot's value; `None` for a free slot (its memory given back at once).
    values: Vec<Option<V>>,
}

/// The index's hash: SipHash-2-4 under a random 128-bit key, made to keep keys chosen to
/// collide from being worked out ahead of time.
struct Keyed(u64, u64);

impl Keyed {
    /// SipHash-2-4 of `bytes`, as core's `SipHasher` gives it for one `write` (the tests
    /// compare them), in one pass: core's streaming `Hasher` keeps a tail between writes, 0.3 KB
    /// more gzipped wasm for keys that are always hashed whole.
    fn hash(&self, bytes: &[u8]) -> u64 {
        let Keyed(k0, k1) = *self;
        let mut v = [k0 ^ 0x736f6d6570736575, k1 ^ 0x646f72616e646f6d, k0 ^ 0x6c7967656e657261, k1 ^ 0x7465646279746573];
        let rounds = |v: &mut [u64; 4], n: u32| {
            for _ in 0..n {
                v[0] = v[0].wrapping_add(v[1]);
                v[1] = v[1].rotate_left(13) ^ v[0];
                v[0] = v[0].rotate_left(32);
                v[2] = v[2].wrapping_add(v[3]);
                v[3] = v[3].rotate_left(16) ^ v[2];
                v[0] = v[0].wrapping_add(v[3]);
                v[3] = v[3].rotate_left(21) ^ v[0];
                v[2] = v[2].wrapping_add(v[1]);
                v[1] = v[1].rotate_left(17) ^ v[2];
                v[2] = v[2].rotate_left(32);
            }
        };
        let compress = |v: &mut [u64; 4], m: u64| {
            v[3] ^= m;
            rounds(v, 2);
            v[0] ^= m;
        };
        // Little-endian words of eight bytes; the last word holds the rest and the length.
        let mut word = 0;
        for (i, &b) in bytes.iter().enumerate() {
            word |= u64::from(b) << (8 * (i % 8));
            if i % 8 == 7 {
                compress(&mut v, word);
                word = 0;
            }
        }
        compress(&mut v, word | (bytes.len() as u64) << 56);
        v[2] ^= 0xff;
        rounds(&mut v, 4);
        v[0] ^ v[1] ^ v[2] ^ v[3]
    }
}

impl Order {
    /// The slot holding `key`.
    fn find(&self, key: &str) -> Option<usize> {
        self.find_hashed(self.hasher.hash(key.as_bytes()) as u32, key)
    }

    /// The slot holding `key`, whose hash is `hash`.
    fn find_hashed(&self, hash: u32, key: &str) -> Option<usize> {
        let mask = self.index.len().wrapping_sub(1);
        let mut at = hash as usize & mask;
        loop {
            // An empty index has no place at all.
            let i = *self.index.get(at)?;
            if i == NIL {
                return None;
            }
            let slot = &self.slots[i];
            if slot.hash == hash && slot.key == key {
                return Some(i);
            }
            at = (at + 1) & mask;
        }
    }

    /// Puts slot `i` in the first empty place from its home on.
    fn place(&mut self, i: usize) {
        let mask = self.index.len() - 1;
        let mut at = self.slots[i].hash as usize & mask;
        while self.index[at] != NIL {
            at = (at + 1) & mask;
        }
        self.index[at] = i;
    }

    /// Takes slot `i` out of the index. The entries after it move back into the hole (each
    /// whose home is not between the hole and where it is), so no probe stops early: no
    /// tombstones.
    fn unplace(&mut self, i: usize) {
        let mask = self.index.len() - 1;
        let mut hole = self.slots[i].hash as usize & mask;
        while self.index[hole] != i {
            hole = (hole + 1) & mask;
        }
        let mut at = hole;
        loop {
            at = (at + 1) & mask;
            let j = self.index[at];
            if j == NIL {
                break;
            }
            let home = self.slots[j].hash as usize & mask;
            if at.wrapping_sub(home) & mask >= at.wrapping_sub(hole) & mask {
                self.index[hole] = j;
                hole = at;
            }
        }
        self.index[hole] = NIL;
    }

    fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// The slot of `key`, marked as the most recently used.
    fn touch(&mut self, key: &str) -> Option<usize> {
        let i = self.find(key)?;
        self.unlink(i);
        self.push_front(i);
        Some(i)
    }

    /// The slot for `key`, now the most recently used, and the key and slot of the entry
    /// evicted to make room for it. A new key probes the index twice (`find`, then the insert):
    /// 212 B less gzipped wasm than hashbrown's entry API, which needs its own probe loop.
    fn insert(&mut self, key: String) -> (usize, Option<(String, usize)>) {
        let hash = self.hasher.hash(key.as_bytes()) as u32;
        if let Some(i) = self.find_hashed(hash, &key) {
            self.unlink(i);
            self.push_front(i);
            return (i, None);
        }
        let slot = Slot { key, hash, prev: NIL, next: NIL };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                self.slots.len() - 1
            }
        };
        if self.len() * 2 > self.index.len() {
            let places = (self.index.len() * 2).max(8);
            // A loop rather than `vec![NIL; places]`, whose extend_with is code of its own.
            let mut index = Vec::with_capacity(places);
            for _ in 0..places {
                index.push(NIL);
            }
            let old = core::mem::replace(&mut self.index, index);
            for &j in &old {
                if j != NIL {
                    self.place(j);
                }
            }
        }
        self.place(i);
        self.push_front(i);
        if self.len() <= self.max_entries {
            return (i, None);
        }
        // The new entry is the most recent: the least recent is another.
        let oldest = self.tail;
        (i, Some((self.free_slot(oldest), oldest)))
    }

    /// The slot `key` had, now free.
    fn remove(&mut self, key: &str) -> Option<usize> {
        let i = self.find(key)?;
        self.free_slot(i);
        Some(i)
    }

    /// Takes slot `i` out of the index and the order, and gives back its key.
    fn free_slot(&mut self, i: usize) -> String {
        self.unplace(i);
        self.unlink(i);
        self.free.push(i);
        core::mem::take(&mut self.slots[i].key)
    }

    fn unlink(&mut self, i: usize) {
        let (prev, next) = (self.slots[i].prev, self.slots[i].next);
        if prev == NIL {
            self.head = next;
        } else {
            self.slots[prev].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.slots[next].prev = prev;
        }
        self.slots[i].prev = NIL;
        self.slots[i].next = NIL;
    }

    fn push_front(&mut self, i: usize) {
        self.slots[i].next = self.head;
        if self.head != NIL {
            self.slots[self.head].prev = i;
        }
        self.head = i;
        if self.tail == NIL {
            self.tail = i;
        }
    }
}

impl<V> Lru<V> {
    /// `hash_key` should be random: without std there is no source of randomness here, and
    /// anything derived from addresses is the same in every run of a wasm module.
    /// (Not inlined into the constructors of the memory store and the near tier: 165 B less
    /// wasm.)
    #[inline(never)]
    pub fn new(max_entries: usize, hash_key: [u64; 2]) -> Self {
        Lru {
            order: Order {
                index: Vec::new(),
                hasher: Keyed(hash_key[0], hash_key[1]),
                slots: Vec::new(),
                free: Vec::new(),
                head: NIL,
                tail: NIL,
                max_entries: max_entries.max(1),
            },
            values: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `key`, marked as the most recently used.
    pub fn get(&mut self, key: &str) -> Option<&mut V> {
        let i = self.order.touch(key)?;
        self.values[i].as_mut()
    }

    /// The value of `key`, its place in the order left as it is.
    pub fn peek(&self, key: &str) -> Option<&V> {
        self.values[self.order.find(key)?].as_ref()
    }

    /// Sets `key` as the most recently used; evicts the least recently used when full, and
    /// gives it back.
    pub fn insert(&mut self, key: String, value: V) -> Option<(String, V)> {
        let (i, evicted) = self.order.insert(key);
        if i == self.values.len() {
            self.values.push(None);
        }
        self.values[i] = Some(value);
        let (key, j) = evicted?;
        Some((key, self.values[j].take()?))
    }

    pub fn remove(&mut self, key: &str) -> Option<V> {
        let i = self.order.remove(key)?;
        self.values[i].take()
    }

    /// Removes every entry whose key `doomed` says.
    pub fn remove_where(&mut self, doomed: impl Fn(&str) -> bool) {
        let mut keys = Vec::new();
        let mut i = self.order.head;
        while i != NIL {
            let slot = &self.order.slots[i];
            if doomed(&slot.key) {
                keys.push(slot.key.clone());
            }
            i = slot.next;
        }
        for key in &keys {
            self.remove(key);
        }
    }

    pub fn clear(&mut self) {
        let Keyed(a, b) = self.order.hasher;
        *self = Lru::new(self.order.max_entries, [a, b]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass hash is SipHash-2-4 as core has it, for every length of a last word.
    #[test]
    #[allow(deprecated)]
    fn hash_is_cores_siphash() {
        use core::hash::{Hasher, SipHasher};
        let bytes: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(97) ^ 0x5a).collect();
        for (k0, k1) in [(0, 0), (7, 11), (u64::MAX, 0x0123456789abcdef)] {
            for len in 0..=bytes.len() {
                let mut core = SipHasher::new_with_keys(k0, k1);
                core.write(&bytes[..len]);
                assert_eq!(Keyed(k0, k1).hash(&bytes[..len]), core.finish(), "length {len}");
            }
        }
    }

    #[test]
    fn least_recently_used_is_evicted_first() {
        let mut lru = Lru::new(3, [7, 11]);
        for k in ["a", "b", "c"] {
            lru.insert(k.into(), 1);
        }
        lru.get("a"); // a is now the most recent; b the least
        lru.insert("d".into(), 1);
        assert_eq!(lru.len(), 3);
        assert!(lru.peek("b").is_none());
        assert!(["a", "c", "d"].iter().all(|k| lru.peek(k).is_some()));
    }

    /// Random operations against a plain model: the links never lose or duplicate an entry,
    /// and the index finds every key the list holds (in a small index, where most keys share
    /// a probe run, and through the index's growth to 1,024 places).
    #[test]
    fn random_operations_keep_the_index_and_list_consistent() {
        random_operations(8, 12, 20_000);
        random_operations(400, 1_000, 4_000);
    }

    fn random_operations(max_entries: usize, keys: u64, steps: u64) {
        let mut lru = Lru::new(max_entries, [7, 11]);
        let mut model: Vec<(String, u64)> = Vec::new(); // most recent last
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        for _ in 0..steps {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let key = ((seed >> 8) % keys).to_string();
            let at = model.iter().position(|(k, _)| *k == key);
            match seed % 4 {
                0 | 1 => {
                    lru.insert(key.clone(), seed);
                    if let Some(at) = at {
                        model.remove(at);
                    } else if model.len() == max_entries {
                        model.remove(0);
                    }
                    model.push((key, seed));
                }
                2 => {
                    let got = lru.get(&key).copied();
                    assert_eq!(got, at.map(|at| model[at].1));
                    if let Some(at) = at {
                        let entry = model.remove(at);
                        model.push(entry);
                    }
                }
                _ => {
                    assert_eq!(lru.remove(&key), at.map(|at| model.remove(at).1));
                }
            }
            let mut walked = Vec::new();
            let mut i = lru.order.head;
            while i != NIL {
                assert_eq!(lru.order.find(&lru.order.slots[i].key), Some(i));
                walked.push(lru.order.slots[i].key.clone());
                i = lru.order.slots[i].next;
            }
            walked.reverse();
            assert_eq!(walked, model.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>());
        }
    }
}
