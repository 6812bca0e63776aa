//! Which commands the gateway runs, decided before anything is sent to Redis.
//!
//! Requests share a Redis connection, or borrow a pooled one and give it back for the next
//! request, so a command must neither wait on the connection nor leave state behind on it:
//! - blocking commands (BLPOP, XREAD BLOCK, WAIT...) would hold a connection and the HTTP request
//!   open for as long as they block;
//! - connection-state commands (SELECT, WATCH, MULTI, SUBSCRIBE, CLIENT, HELLO, AUTH, RESET...)
//!   would change what later, unrelated requests see on that connection (the way SRH lets a
//!   plain command land inside another request's MULTI). Transactions are served only by
//!   /multi-exec, which sends MULTI and EXEC itself;
//! - replication, debugging and shutdown commands are administration, not data access; so are
//!   CONFIG, MODULE and ACL (CONFIG SET dir + SAVE writes files on the Redis host, ACL and
//!   requirepass changes would lock the gateway out) and MIGRATE (connects to any host).
//!
//! Read-only tokens get an allow-list, not a deny-list: a command Redis adds later, or one that
//! writes through an option (SORT ... STORE, GEORADIUS ... STORE), stays refused until it is
//! reviewed and listed here.

use crate::auth::Role;
use crate::request::Command;

/// A command the caller may not run, and the error text for it.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused(pub String);

/// Checks one command for the caller's role. Runs on every command of a pipeline or transaction
/// before any of them is sent, so a refused command means nothing ran.
pub fn check(command: &Command, role: Role) -> Result<(), Refused> {
    let name = upper_name(command);
    if let Some(why) = never_served(&name, command) {
        return Err(Refused(format!(
            "ERR command '{name}' is not served by this gateway: {why}"
        )));
    }
    if role == Role::ReadOnly && !is_read_only(&name) {
        return Err(Refused(format!(
            "NOPERM this token is read-only and may not run '{name}'"
        )));
    }
    Ok(())
}

fn upper_name(command: &Command) -> String {
    String::from_utf8_lossy(command.name()).to_ascii_uppercase()
}

/// Why a command is never served to anyone, or `None` when it may be.
fn never_served(name: &str, command: &Command) -> Option<&'static str> {
    const BLOCKS: &str = "it blocks, holding a shared Redis connection";
    const STATE: &str = "it changes the state of a Redis connection shared with other requests";
    const ADMIN: &str = "it administers the server";
    match name {
        "BLPOP" | "BRPOP" | "BRPOPLPUSH" | "BLMOVE" | "BLMPOP" | "BZPOPMIN" | "BZPOPMAX"
        | "BZMPOP" | "WAIT" | "WAITAOF" => Some(BLOCKS),
        "XREAD" | "XREADGROUP" if stream_read_blocks(command) => Some(BLOCKS),
        "SUBSCRIBE" | "PSUBSCRIBE" | "SSUBSCRIBE" | "UNSUBSCRIBE" | "PUNSUBSCRIBE"
        | "SUNSUBSCRIBE" | "MONITOR" => Some("it streams, which this REST endpoint does not"),
        "MULTI" | "EXEC" | "DISCARD" => Some("send transactions to /multi-exec instead"),
        "WATCH" | "UNWATCH" | "SELECT" | "QUIT" | "RESET" | "AUTH" | "HELLO" | "CLIENT"
        | "READONLY" | "READWRITE" | "ASKING" => Some(STATE),
        "SYNC" | "PSYNC" | "REPLCONF" | "REPLICAOF" | "SLAVEOF" | "FAILOVER" | "SHUTDOWN"
        | "DEBUG" | "CONFIG" | "MODULE" | "ACL" | "MIGRATE" => Some(ADMIN),
        _ => None,
    }
}

/// Whether an XREAD/XREADGROUP has a BLOCK option. Options end at STREAMS; the values of COUNT and
/// of GROUP (group and consumer names) are skipped, so a group named "block" is no false alarm.
fn stream_read_blocks(command: &Command) -> bool {
    let mut i = 1;
    while let Some(arg) = command.get(i) {
        let arg = arg.to_ascii_uppercase();
        match arg.as_slice() {
            b"STREAMS" => return false,
            b"BLOCK" => return true,
            b"COUNT" => i += 2,
            b"GROUP" => i += 3,
            _ => i += 1,
        }
    }
    false
}

/// Commands that never write, the only ones a read-only token may run.
pub fn is_read_only(name: &str) -> bool {
    matches!(
        name,
        // connection and server
        "PING" | "ECHO" | "TIME" | "DBSIZE"
        // keys
        | "EXISTS" | "TTL" | "PTTL" | "EXPIRETIME" | "PEXPIRETIME" | "TYPE" | "KEYS" | "SCAN"
        | "RANDOMKEY" | "DUMP" | "OBJECT" | "SORT_RO"
        // strings and bitmaps
        | "GET" | "MGET" | "STRLEN" | "GETRANGE" | "SUBSTR" | "LCS" | "GETBIT" | "BITCOUNT"
        | "BITPOS" | "BITFIELD_RO"
        // hashes
        | "HGET" | "HGETALL" | "HMGET" | "HEXISTS" | "HKEYS" | "HVALS" | "HLEN" | "HSTRLEN"
        | "HRANDFIELD" | "HSCAN"
        // lists
        | "LRANGE" | "LLEN" | "LINDEX" | "LPOS"
        // sets
        | "SMEMBERS" | "SISMEMBER" | "SMISMEMBER" | "SCARD" | "SRANDMEMBER" | "SINTER"
        | "SINTERCARD" | "SUNION" | "SDIFF" | "SSCAN"
        // sorted sets
        | "ZRANGE" | "ZRANGEBYSCORE" | "ZRANGEBYLEX" | "ZREVRANGE" | "ZREVRANGEBYSCORE"
        | "ZREVRANGEBYLEX" | "ZSCORE" | "ZMSCORE" | "ZCARD" | "ZCOUNT" | "ZLEXCOUNT" | "ZRANK"
        | "ZREVRANK" | "ZRANDMEMBER" | "ZSCAN" | "ZINTER" | "ZUNION" | "ZDIFF" | "ZINTERCARD"
        // streams (XREAD only without BLOCK, see never_served)
        | "XRANGE" | "XREVRANGE" | "XLEN" | "XREAD" | "XINFO" | "XPENDING"
        // geo (the _RO variants: GEORADIUS can STORE)
        | "GEOPOS" | "GEODIST" | "GEOHASH" | "GEOSEARCH" | "GEORADIUS_RO"
        | "GEORADIUSBYMEMBER_RO"
        // hyperloglog
        | "PFCOUNT"
        // scripts that Redis itself stops from writing
        | "EVAL_RO" | "EVALSHA_RO" | "FCALL_RO"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(args: &[&str]) -> Command {
        args.iter().collect()
    }

    #[test]
    fn refuses_blocking_and_stateful_for_everyone() {
        for name in [
            "blpop",
            "BZPOPMIN",
            "wait",
            "subscribe",
            "multi",
            "Exec",
            "watch",
            "select",
            "client",
            "hello",
            "auth",
            "quit",
            "reset",
            "monitor",
            "shutdown",
            "debug",
            "psync",
        ] {
            assert!(check(&cmd(&[name, "x"]), Role::Full).is_err(), "{name}");
        }
        assert!(check(
            &cmd(&["XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", "$"]),
            Role::Full
        )
        .is_err());
        assert!(check(
            &cmd(&[
                "xreadgroup",
                "GROUP",
                "g",
                "c",
                "block",
                "10",
                "STREAMS",
                "s",
                ">"
            ]),
            Role::Full
        )
        .is_err());
    }

    #[test]
    fn serves_the_rest() {
        assert!(check(&cmd(&["SET", "k", "v"]), Role::Full).is_ok());
        assert!(check(
            &cmd(&["XREAD", "COUNT", "1", "STREAMS", "block", "0"]),
            Role::Full
        )
        .is_ok());
        assert!(check(
            &cmd(&["XREADGROUP", "GROUP", "block", "block", "STREAMS", "s", ">"]),
            Role::Full
        )
        .is_ok());
        assert!(check(&cmd(&["EVAL", "return 1", "0"]), Role::Full).is_ok());
    }

    #[test]
    fn read_only_allow_list() {
        assert!(check(&cmd(&["get", "k"]), Role::ReadOnly).is_ok());
        assert!(check(&cmd(&["EVAL_RO", "return 1", "0"]), Role::ReadOnly).is_ok());
        for name in [
            "SET",
            "DEL",
            "EVAL",
            "EVALSHA",
            "FCALL",
            "SORT",
            "GEORADIUS",
            "FLUSHALL",
            "XREADGROUP",
        ] {
            let err = check(&cmd(&[name, "k"]), Role::ReadOnly).unwrap_err();
            assert!(err.0.starts_with("NOPERM"), "{name}: {}", err.0);
        }
    }
}
