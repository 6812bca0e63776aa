//! The edge-caches client's scripts that do the same thing for each of their keys (setMany with
//! a ttl, the near tier's read, getMany through `live`): over keys in several slots, run once
//! per slot with that slot's keys and their replies joined in the keys' order.

use std::collections::HashMap;

use futures_util::future::join_all;
use redis::{Cmd, RedisError, Value};

use super::{Cluster, Slot};
use crate::client_scripts::ScriptCall;
use crate::request::Command;
use crate::slots::key_slot;

/// A script of the edge-caches client that does the same thing for each of its keys, so running
/// it once per slot with that slot's keys is running it once.
pub(super) struct KeyWise {
    pub sha1: String,
    pub text: &'static str,
    pub shape: Shape,
}

/// One slot's share of a split script: its command, and the indexes of its keys.
type Part = (Cmd, Vec<usize>);

#[derive(Clone, Copy)]
pub(super) enum Shape {
    /// ARGV holds one value per key, then one argument for all; the reply is a count.
    ValuePerKeyThenShared,
    /// No ARGV; the reply holds this many values per key, in the keys' order.
    RepliesPerKey(usize),
}

impl Cluster {
    /// Parts of a client script over keys in several slots: each part's command and the
    /// indexes of its keys in the original.
    pub(super) fn split_script(&self, command: &Command) -> Option<(Shape, Vec<Part>)> {
        let call = ScriptCall::parse(command)?;
        let known = self.key_wise.iter().find(|k| call.runs(k.text, &k.sha1))?;
        let (name, keys, argv, count) = (call.name, &call.keys, &call.argv, call.keys.len());
        if matches!(known.shape, Shape::ValuePerKeyThenShared) && argv.len() != count + 1 {
            return None; // not as the client sends it: Redis answers whatever it answers
        }
        let mut slots: HashMap<Slot, Vec<usize>> = HashMap::new();
        for (i, key) in keys.iter().enumerate() {
            slots.entry(key_slot(key)).or_default().push(i);
        }
        if slots.len() < 2 {
            return None;
        }
        let mut parts: Vec<Part> = slots
            .into_values()
            .map(|indexes| {
                let mut cmd = redis::cmd(std::str::from_utf8(name).unwrap_or("EVAL"));
                cmd.arg(command.get(1).unwrap_or_default())
                    .arg(indexes.len());
                for &i in &indexes {
                    cmd.arg(keys[i]);
                }
                if let Shape::ValuePerKeyThenShared = known.shape {
                    for &i in &indexes {
                        cmd.arg(argv[i]);
                    }
                    cmd.arg(argv[count]);
                }
                (cmd, indexes)
            })
            .collect();
        parts.sort_by_key(|(_, indexes)| indexes[0]);
        Some((known.shape, parts))
    }

    pub(super) async fn run_split(
        &self,
        read_only: bool,
        shape: Shape,
        parts: Vec<Part>,
    ) -> Result<Value, RedisError> {
        let count: usize = parts.iter().map(|(_, idx)| idx.len()).sum();
        let results = join_all(
            parts
                .iter()
                .map(|(cmd, _)| self.send(read_only, cmd.clone())),
        )
        .await;
        let per_key = match shape {
            Shape::RepliesPerKey(n) => n,
            Shape::ValuePerKeyThenShared => 0,
        };
        let mut total = 0i64;
        let mut joined = vec![Value::Nil; per_key * count];
        for ((_, indexes), result) in parts.iter().zip(results) {
            match result? {
                Value::Int(n) => total += n,
                Value::Array(values) if per_key > 0 && values.len() == per_key * indexes.len() => {
                    let mut values = values.into_iter();
                    for &i in indexes {
                        for slot in &mut joined[per_key * i..per_key * (i + 1)] {
                            *slot = values.next().unwrap_or(Value::Nil);
                        }
                    }
                }
                other => return Ok(other),
            }
        }
        Ok(if per_key > 0 {
            Value::Array(joined)
        } else {
            Value::Int(total)
        })
    }
}
