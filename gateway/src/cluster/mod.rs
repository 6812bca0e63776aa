//! The gateway in front of a Redis Cluster. The redis crate's cluster client does the cluster
//! protocol: it learns the slot map, sends each command to its slot's master, follows MOVED and
//! ASK, splits MGET/MSET/DEL/UNLINK/EXISTS/TOUCH per slot and joins their replies in order, and
//! sends FLUSHDB, SCRIPT LOAD/FLUSH, DBSIZE and KEYS to every master. This module adds what a
//! REST request needs on top:
//! - two connections: reads may be resent by the client library (after a redirect, a reconnect
//!   or a timeout), everything else never is, so a write runs at most once. A write answered
//!   with an error that says it did not run (MOVED, TRYAGAIN, CLUSTERDOWN...) is sent again here;
//! - a /pipeline runs as if in order: one pipeline per master, the masters at once, as the map
//!   of `slots.rs` says (the crate would send one request per slot); commands in a slot whose
//!   master is not known, one after another (see `pipeline`);
//! - a /multi-exec goes to one master, and is refused (CROSSSLOT) before anything is sent when
//!   its keys are in several slots;
//! - SCAN walks every master, one after another, its cursor saying which one;
//! - the edge-caches client's two scripts over many keys (setMany with a ttl, the near tier's
//!   read) run once per slot: atomic per hash slot, one HTTP request still.

use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};

use crate::slots::key_slot;

/// A hash slot (0..16384).
type Slot = u16;

/// A slot, and the indexes of a request's commands in it.
type SlotGroup = (Slot, Vec<usize>);
use redis::{Cmd, ErrorKind, Pipeline, RedisError, ServerErrorKind, Value};

use crate::client_scripts;
use crate::execute::{to_cmd, Transaction};

mod key_wise;
mod pipeline;

use key_wise::{KeyWise, Shape};
use crate::request::Command;

/// Masters a SCAN cursor can name: the cursor is `redis_cursor * MAX_MASTERS + master`.
const MAX_MASTERS: u128 = 1024;

/// Sends of a write that Redis refused without running it (a redirect, a failover under way).
const WRITE_ATTEMPTS: u32 = 6;

pub struct Cluster {
    /// The seed nodes, for subscriptions (`subscribe.rs`).
    seeds: Vec<redis::Client>,
    reads: Lazy,
    writes: Lazy,
    /// Which master serves which slot, for one pipeline per master (`slots.rs`).
    slots: crate::slots::Slots,
    key_wise: [KeyWise; 3],
    /// For waits between sends of a write.
    timeout: Duration,
}

/// A cluster connection made on first use (a cluster down at start-up is a 503 that recovers),
/// then kept: the redis crate reconnects its nodes itself.
struct Lazy {
    client: ClusterClient,
    conn: tokio::sync::OnceCell<ClusterConnection>,
}

impl Lazy {
    /// Fails only before anything is sent: as a node that cannot be reached (503).
    async fn get(&self) -> Result<ClusterConnection, RedisError> {
        self.conn
            .get_or_try_init(|| self.client.get_async_connection())
            .await
            .cloned()
            .map_err(|_| {
                RedisError::from((
                    ErrorKind::ClusterConnectionNotFound,
                    "cannot reach the cluster",
                ))
            })
    }
}

impl Cluster {
    pub fn new(nodes: &[String], timeout: Duration, tls: &crate::tls::Tls) -> Result<Cluster, String> {
        let build = |retries: u32| {
            let mut builder = ClusterClientBuilder::new(nodes.iter().map(String::as_str))
                .retries(retries)
                .connection_timeout(timeout)
                .response_timeout(timeout);
            if let Some(certificates) = &tls.certificates {
                builder = builder.certs(certificates.clone());
            }
            builder.build().map_err(|e| crate::tls::invalid(&e))
        };
        let key_wise = |text: &'static str, shape| KeyWise {
            sha1: client_scripts::sha1(text),
            text,
            shape,
        };
        let seeds = nodes.iter().map(|n| tls.client(n)).collect::<Result<_, _>>()?;
        Ok(Cluster {
            seeds,
            reads: Lazy {
                client: build(3)?,
                conn: Default::default(),
            },
            writes: Lazy {
                client: build(0)?,
                conn: Default::default(),
            },
            slots: Default::default(),
            key_wise: [
                key_wise(client_scripts::SET_MANY_PX, Shape::ValuePerKeyThenShared),
                key_wise(client_scripts::GET_WITH_PTTL, Shape::RepliesPerKey(2)),
                key_wise(client_scripts::GET_MANY, Shape::RepliesPerKey(1)),
            ],
            timeout,
        })
    }

    /// Clients for the seed nodes, in the order given.
    pub fn seed_clients(&self) -> Vec<redis::Client> {
        self.seeds.clone()
    }

    /// One command; a server error reply is an `Err` whose `code()` is set.
    pub async fn single(&self, command: &Command) -> Result<Value, RedisError> {
        // Both connections learn the whole cluster from the seeds while they answer: made
        // together, so that seeds that die later do not keep the second from being made.
        if self.reads.conn.get().is_none() || self.writes.conn.get().is_none() {
            let (reads, writes) = tokio::join!(self.reads.get(), self.writes.get());
            reads?;
            writes?;
        }
        let name = command.name().to_ascii_uppercase();
        if name == b"SCAN" {
            return self.scan(command).await;
        }
        let read_only = reads_only(&name);
        let result = match self.split_script(command) {
            Some((shape, parts)) => self.run_split(read_only, shape, parts).await,
            None => self.send(read_only, to_cmd(command)).await,
        };
        // A tag script that cannot run on one node (its stamps are in other slots): in steps.
        if crate::tagged::needs_steps(&result) {
            if let Some((kind, call)) = crate::tagged::identify(command) {
                return crate::tagged::run(self, kind, &call.keys, &call.argv).await;
            }
        }
        result
    }

    /// MULTI ... EXEC on the master of the commands' slot. The redis crate refuses a pipeline
    /// whose keys are in several slots before sending it (and Redis would abort it).
    pub async fn transaction(&self, commands: &[Command]) -> Result<Transaction, RedisError> {
        let mut pipe = Pipeline::with_capacity(commands.len() + 2);
        pipe.add_command(redis::cmd("MULTI"));
        for command in commands {
            pipe.add_command(to_cmd(command));
        }
        pipe.add_command(redis::cmd("EXEC"));
        let mut conn = self.writes.get().await?;
        let mut replies = match conn.req_packed_commands(&pipe, 0, commands.len() + 2).await {
            Ok(replies) => replies,
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::CrossSlot) => {
                return Ok(Transaction::Discarded(CROSSSLOT.into()))
            }
            Err(e) => return Err(e),
        };
        Ok(crate::execute::transaction_outcome(&mut replies))
    }

    /// One command to its slot's master: a read on the reads connection (which may resend it), a
    /// write on the writes connection, sent again only when Redis says it did not run.
    pub async fn send(&self, read_only: bool, cmd: Cmd) -> Result<Value, RedisError> {
        if read_only {
            let mut conn = self.reads.get().await?;
            return as_result(conn.req_packed_command(&cmd).await);
        }
        let mut wait = Duration::from_millis(50);
        let mut attempt = 1;
        loop {
            let mut conn = self.writes.get().await?;
            let result = as_result(conn.req_packed_command(&cmd).await);
            match result {
                Err(e) if attempt < WRITE_ATTEMPTS && did_not_run(&e) => {
                    tokio::time::sleep(wait.min(self.timeout)).await;
                    wait *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// SCAN over every master in turn (sorted by address, so the order holds between calls).
    async fn scan(&self, command: &Command) -> Result<Value, RedisError> {
        let invalid = || {
            RedisError::from((
                ErrorKind::Server(ServerErrorKind::ResponseError),
                "invalid cursor",
                "invalid cursor".to_string(),
            ))
        };
        let cursor: u128 = std::str::from_utf8(command.get(1).ok_or_else(invalid)?)
            .ok()
            .and_then(|c| c.parse().ok())
            .ok_or_else(invalid)?;
        let masters = self.masters().await?;
        let (index, inner) = ((cursor % MAX_MASTERS) as usize, cursor / MAX_MASTERS);
        let Some((host, port)) = masters.get(index).cloned() else {
            return Err(invalid());
        };
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(inner.to_string());
        for i in 2..command.len() {
            cmd.arg(command.get(i).unwrap_or_default());
        }
        let mut conn = self.reads.get().await?;
        let reply = conn
            .route_command(
                cmd,
                RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host, port }),
            )
            .await?;
        let Value::Array(mut parts) = reply else {
            return Ok(reply);
        };
        let next: u128 = match parts.first() {
            Some(Value::BulkString(b)) => std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()),
            Some(Value::SimpleString(s)) => s.parse().ok(),
            _ => None,
        }
        .unwrap_or(0);
        let out = if next != 0 {
            next * MAX_MASTERS + index as u128
        } else if index + 1 < masters.len() {
            (index + 1) as u128
        } else {
            0
        };
        parts[0] = Value::BulkString(out.to_string().into_bytes());
        Ok(Value::Array(parts))
    }

    /// The masters' addresses, from CLUSTER SLOTS, sorted.
    async fn masters(&self) -> Result<Vec<(String, u16)>, RedisError> {
        let mut conn = self.reads.get().await?;
        let slots = conn
            .route_command(
                redis::cmd("CLUSTER").arg("SLOTS").clone(),
                RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
            )
            .await?;
        let mut masters = Vec::new();
        if let Value::Array(ranges) = slots {
            for range in ranges {
                let Value::Array(fields) = range else {
                    continue;
                };
                let Some(Value::Array(master)) = fields.get(2) else {
                    continue;
                };
                let host = match master.first() {
                    Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
                    Some(Value::SimpleString(s)) => s.clone(),
                    _ => continue,
                };
                let Some(Value::Int(port)) = master.get(1) else {
                    continue;
                };
                let Ok(port) = u16::try_from(*port) else {
                    continue;
                };
                masters.push((host, port));
            }
        }
        masters.sort();
        masters.dedup();
        if masters.is_empty() || masters.len() as u128 > MAX_MASTERS {
            return Err(RedisError::from((
                ErrorKind::Io,
                "the cluster has no masters to scan",
            )));
        }
        Ok(masters)
    }
}

/// The one slot of a command's keys, for the commands whose keys the gateway knows: those
/// with one key as their first argument, and scripts whose keys share a slot. `None` for
/// the rest (no key, several slots, or keys elsewhere), and for PUBLISH, whose channel is
/// not a key: a message must not overtake the write before it.
fn slot_of(command: &Command) -> Option<Slot> {
    let name = command.name().to_ascii_uppercase();
    let first_key = || command.get(1).map(key_slot);
    match name.as_slice() {
        b"DEL" | b"UNLINK" | b"EXISTS" | b"TOUCH" if command.len() == 2 => first_key(),
        b"EVAL" | b"EVALSHA" | b"EVAL_RO" | b"EVALSHA_RO" => {
            let count: usize = std::str::from_utf8(command.get(2)?).ok()?.parse().ok()?;
            let mut slots = (3..3 + count).map(|i| command.get(i).map(key_slot));
            let first = slots.next()??;
            slots.all(|s| s == Some(first)).then_some(first)
        }
        name if SINGLE_KEY.binary_search(&name).is_ok() => first_key(),
        _ => None,
    }
}

/// Whether the command named `name` (upper case) only reads.
fn reads_only(name: &[u8]) -> bool {
    crate::commands::is_read_only(&String::from_utf8_lossy(name))
}

/// Commands whose only key is their first argument (sorted, for a binary search).
#[rustfmt::skip]
const SINGLE_KEY: &[&[u8]] = &[
    b"APPEND", b"BITCOUNT", b"DECR", b"DECRBY", b"EXPIRE", b"EXPIREAT", b"GET", b"GETBIT",
    b"GETDEL", b"GETEX", b"GETRANGE", b"GETSET", b"HDEL", b"HEXISTS", b"HGET", b"HGETALL",
    b"HINCRBY", b"HINCRBYFLOAT", b"HKEYS", b"HLEN", b"HMGET", b"HMSET", b"HSET", b"HSETNX",
    b"HSTRLEN", b"HVALS", b"INCR", b"INCRBY", b"INCRBYFLOAT", b"LINDEX", b"LINSERT", b"LLEN",
    b"LPOP", b"LPOS", b"LPUSH", b"LPUSHX", b"LRANGE", b"LREM", b"LSET", b"LTRIM", b"PERSIST",
    b"PEXPIRE", b"PEXPIREAT", b"PFADD", b"PSETEX", b"PTTL", b"RPOP", b"RPUSH", b"RPUSHX", b"SADD",
    b"SCARD", b"SET", b"SETBIT", b"SETEX", b"SETNX", b"SETRANGE", b"SISMEMBER", b"SMEMBERS",
    b"SMISMEMBER", b"SPOP", b"SRANDMEMBER", b"SREM", b"STRLEN", b"TTL", b"TYPE", b"ZADD", b"ZCARD",
    b"ZCOUNT", b"ZINCRBY", b"ZMSCORE", b"ZPOPMAX", b"ZPOPMIN", b"ZRANGE", b"ZRANGEBYSCORE",
    b"ZRANK", b"ZREM", b"ZREMRANGEBYRANK", b"ZREMRANGEBYSCORE", b"ZREVRANGE", b"ZREVRANK",
    b"ZSCORE",
];

/// A failure of the node or the connection, not an answer of Redis.
pub fn node_failed(result: &Result<Value, RedisError>) -> bool {
    result.as_ref().is_err_and(|e| e.code().is_none())
}

pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";

/// Whether Redis refused a command without running it, so that sending it again is safe.
fn did_not_run(e: &RedisError) -> bool {
    e.code().is_some_and(crate::reply::did_not_run)
        || e.kind() == ErrorKind::ClusterConnectionNotFound
}

/// The cluster client answers some error replies as values and some as errors: one way.
fn as_result(result: Result<Value, RedisError>) -> Result<Value, RedisError> {
    match result {
        Ok(Value::ServerError(e)) => Err(RedisError::from(e)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(args: &[&str]) -> Command {
        let mut command = Command::default();
        for arg in args {
            command.push(arg.as_bytes());
        }
        command
    }

    #[test]
    fn single_key_commands_are_sorted_for_the_search() {
        assert!(SINGLE_KEY.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_slot_only_where_the_keys_are_known() {
        let slot = |args: &[&str]| slot_of(&command(args));
        assert_eq!(slot(&["get", "a"]), Some(key_slot(b"a")));
        assert_eq!(slot(&["RPUSH", "{t}l", "x"]), Some(key_slot(b"{t}m")));
        assert_eq!(slot(&["DEL", "a"]), Some(key_slot(b"a")));
        assert_eq!(slot(&["DEL", "a", "b"]), None);
        assert_eq!(
            slot(&["EVALSHA", "f00", "2", "{t}a", "{t}b", "1"]),
            Some(key_slot(b"{t}"))
        );
        assert_eq!(slot(&["EVALSHA", "f00", "2", "a", "b"]), None);
        assert_eq!(slot(&["EVAL", "return 1", "0"]), None);
        assert_eq!(slot(&["PUBLISH", "a", "m"]), None);
        assert_eq!(slot(&["MGET", "a"]), None);
        assert_eq!(slot(&["GET"]), None);
        assert_eq!(slot(&["FLUSHDB"]), None);
    }
}
