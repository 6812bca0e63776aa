//! Which master serves each hash slot, as `CLUSTER SLOTS` last said: what lets a /pipeline go
//! to each master as one pipeline (`cluster/pipeline.rs`), where the redis crate would send one request
//! per slot. Only a routing hint: a command sent to a node that no longer serves its slot is
//! answered MOVED without running, and goes again on its own, where the crate follows the
//! redirect; the map is then learnt again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::Value;

const SLOTS: usize = 16384;

/// A key's hash slot, as Redis Cluster computes it: CRC16 (XMODEM) of the key, or of its hash
/// tag (what is between the first `{` and the next `}`, when not empty), modulo 16384.
pub fn key_slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let close = key[open + 1..].iter().position(|&b| b == b'}')?;
        (close > 0).then(|| &key[open + 1..open + 1 + close])
    });
    crc16::State::<crc16::XMODEM>::calculate(tagged.unwrap_or(key)) % SLOTS as u16
}
const UNKNOWN: u16 = u16::MAX;

/// The masters, and for each slot the index of its master (`UNKNOWN` when none was named).
pub struct SlotMap {
    pub masters: Vec<(String, u16)>,
    owner: Vec<u16>,
}

impl SlotMap {
    /// The index in `masters` of the slot's master.
    pub fn master_of(&self, slot: u16) -> Option<usize> {
        match self.owner.get(usize::from(slot)) {
            Some(&UNKNOWN) | None => None,
            Some(&index) => Some(usize::from(index)),
        }
    }

    /// From a `CLUSTER SLOTS` reply: `[[start, end, [host, port, ...], replicas...], ...]`.
    pub fn parse(reply: &Value) -> Option<SlotMap> {
        let Value::Array(ranges) = reply else {
            return None;
        };
        let mut map = SlotMap {
            masters: Vec::new(),
            owner: vec![UNKNOWN; SLOTS],
        };
        for range in ranges {
            let Value::Array(fields) = range else {
                return None;
            };
            let (Some(Value::Int(start)), Some(Value::Int(end)), Some(Value::Array(master))) =
                (fields.first(), fields.get(1), fields.get(2))
            else {
                return None;
            };
            let host = match master.first()? {
                Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok()?,
                Value::SimpleString(text) => text.clone(),
                _ => return None,
            };
            let Some(Value::Int(port)) = master.get(1) else {
                return None;
            };
            let address = (host, u16::try_from(*port).ok()?);
            let index = match map.masters.iter().position(|m| *m == address) {
                Some(index) => index,
                None => {
                    map.masters.push(address);
                    map.masters.len() - 1
                }
            };
            let (start, end) = (usize::try_from(*start).ok()?, usize::try_from(*end).ok()?);
            for owner in map.owner.get_mut(start..=end)? {
                *owner = u16::try_from(index).ok()?;
            }
        }
        Some(map)
    }
}

/// The map as last learnt, learnt again on first use after `forget`.
#[derive(Default)]
pub struct Slots {
    map: Mutex<Option<Arc<SlotMap>>>,
    stale: AtomicBool,
    /// One `CLUSTER SLOTS` at a time.
    learning: tokio::sync::Mutex<()>,
}

impl Slots {
    /// The map, asking a node for it first when there is none or it is stale; `None` when it
    /// cannot be had (the caller then routes slot by slot).
    pub async fn get(&self, conn: &mut ClusterConnection) -> Option<Arc<SlotMap>> {
        if !self.stale.load(Ordering::Acquire) {
            if let Some(map) = self.current() {
                return Some(map);
            }
        }
        let _turn = self.learning.lock().await;
        if !self.stale.load(Ordering::Acquire) {
            if let Some(map) = self.current() {
                return Some(map);
            }
        }
        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random);
        let map = conn
            .route_command(redis::cmd("CLUSTER").arg("SLOTS").clone(), routing)
            .await
            .ok()
            .and_then(|reply| SlotMap::parse(&reply))
            .map(Arc::new);
        *self.map.lock().unwrap_or_else(PoisonError::into_inner) = map.clone();
        self.stale.store(map.is_none(), Ordering::Release);
        map
    }

    /// A node answered for a slot it no longer serves, or failed: learn the map again.
    pub fn forget(&self) {
        self.stale.store(true, Ordering::Release);
    }

    fn current(&self) -> Option<Arc<SlotMap>> {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(host: &str, port: i64) -> Value {
        Value::Array(vec![
            Value::BulkString(host.as_bytes().to_vec()),
            Value::Int(port),
            Value::BulkString(b"id".to_vec()),
        ])
    }

    #[test]
    fn key_slots_are_redis_cluster_s() {
        use redis::cluster_routing::Slot;
        for key in [
            "a",
            "user:1",
            "{t}a",
            "{t}b",
            "{}x",
            "a{b",
            "x{}{y}",
            "{a}{b}",
            "",
            "\u{e9}t\u{e9}",
        ] {
            assert_eq!(
                Slot::new(key_slot(key.as_bytes())),
                Some(Slot::for_key(key)),
                "{key}"
            );
        }
        assert_eq!(
            key_slot(b"123456789"),
            0x31C3 % 16384,
            "CRC16/XMODEM's check value"
        );
    }

    #[test]
    fn slots_map_to_their_masters_and_a_bad_reply_to_none() {
        let reply = Value::Array(vec![
            Value::Array(vec![
                Value::Int(0),
                Value::Int(5460),
                node("10.0.0.1", 7000),
                node("10.0.0.4", 7003),
            ]),
            Value::Array(vec![
                Value::Int(5461),
                Value::Int(16383),
                node("10.0.0.2", 7001),
            ]),
        ]);
        let map = SlotMap::parse(&reply).unwrap();
        assert_eq!(
            map.masters,
            vec![("10.0.0.1".to_owned(), 7000), ("10.0.0.2".to_owned(), 7001)]
        );
        assert_eq!(map.master_of(0), Some(0));
        assert_eq!(map.master_of(5460), Some(0));
        assert_eq!(map.master_of(5461), Some(1));
        assert_eq!(map.master_of(16383), Some(1));
        let partial = Value::Array(vec![Value::Array(vec![
            Value::Int(0),
            Value::Int(10),
            node("h", 1),
        ])]);
        assert_eq!(
            SlotMap::parse(&partial).unwrap().master_of(11),
            None,
            "a slot no range names"
        );
        for bad in [
            Value::Nil,
            Value::Array(vec![Value::Int(1)]),
            Value::Array(vec![Value::Array(vec![
                Value::Int(0),
                Value::Int(99999),
                node("h", 1),
            ])]),
        ] {
            assert!(SlotMap::parse(&bad).is_none());
        }
    }
}
