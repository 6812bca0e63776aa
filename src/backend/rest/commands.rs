//! Each `Op` as one Redis command, and each command's result back as an `Outcome`.
//!
//! One command per call, so every call is one HTTP request on its own and one entry of a
//! pipeline when calls are batched (`mod.rs`), where the Python original needs two requests for
//! some: `incr` is one script around `INCRBYFLOAT` (it starts a missing key at 0, keeps the
//! expiry, and prints integers without a fraction, so integers stay integers); `getOrSet` with a plain value is one
//! `SET .. NX GET` (Redis 7); `setMany` with a ttl and `touch` without one are small Lua scripts,
//! atomic like MSET, where a MULTI/EXEC transaction could not share a pipeline.

use crate::prelude::*;

use super::json::{write_str, Json};
use crate::error::{Code, Error, Result};
use crate::number::Numbers;
use crate::ops::{Op, Outcome};

/// `setMany` with a ttl: every key with the same expiry, in one atomic step (on a Redis Cluster
/// the gateway runs it once per hash slot: its own file, so the gateway can know it).
const SET_MANY_PX: &str = include_str!("lua/set_many_px.lua");

/// `incr`: INCRBYFLOAT, on a stored value that is a JSON number only. INCRBYFLOAT alone takes
/// whatever C's strtold takes (`0x10`, `.5`, `5.`, `+5`), which the memory backend and the
/// README's rule refuse; this checks the JSON number grammar first, in the same request. It is
/// sent as EVALSHA (`INCR_SHA1`, 40 bytes instead of the script's 400), and as EVAL only when
/// the server answers NOSCRIPT (`incr_eval`).
pub const INCR_JSON_NUMBER: &str = "local v=redis.call('GET',KEYS[1]) if v then \
local i=(v:sub(1,1)=='-') and 2 or 1 \
local e=select(2,v:find('^0',i)) or select(2,v:find('^[1-9]%d*',i)) \
if e then e=select(2,v:find('^%.%d+',e+1)) or e e=select(2,v:find('^[eE][+-]?%d+',e+1)) or e end \
if e~=#v then return redis.error_reply('ERR the stored value is not a JSON number') end end \
return redis.call('INCRBYFLOAT',KEYS[1],ARGV[1])";

/// SHA-1 of `INCR_JSON_NUMBER` (a test checks it).
pub const INCR_SHA1: &str = "9dc42e95c4f9934ed3ca32b89509b92e2b2995a2";

/// The near tier's read: each key's value and remaining life (`PTTL`), in one request (split
/// per hash slot by the gateway on a cluster, as `SET_MANY_PX`).
pub const GET_WITH_PTTL: &str = include_str!("lua/get_with_pttl.lua");

/// SHA-1 of `GET_WITH_PTTL` (a test checks it).
pub const GET_WITH_PTTL_SHA1: &str = "0d3a5b686da82654b891328de6753dde7074f83f";

/// The scripts sent by their SHA-1 (EVALSHA), and in full (EVAL) only to a server that answers
/// NOSCRIPT: 40 bytes on the wire instead of hundreds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    Incr,
    GetWithPttl,
}

impl Script {
    pub fn text(self) -> &'static str {
        match self {
            Script::Incr => INCR_JSON_NUMBER,
            Script::GetWithPttl => GET_WITH_PTTL,
        }
    }

    pub fn sha1(self) -> &'static str {
        match self {
            Script::Incr => INCR_SHA1,
            Script::GetWithPttl => GET_WITH_PTTL_SHA1,
        }
    }

    /// `["EVALSHA", sha1, n, keys..., args...]`, or with `full` the script itself (EVAL). A
    /// script that only reads goes as EVALSHA_RO / EVAL_RO, which read-only tokens may send.
    pub fn command(self, full: bool, keys: &[String], args: &[&str]) -> String {
        let count = decimal(keys.len() as u64);
        let (sha, text) = match self {
            Script::Incr => ("EVALSHA", "EVAL"),
            Script::GetWithPttl => ("EVALSHA_RO", "EVAL_RO"),
        };
        let mut parts = if full { vec![text, self.text(), &count] } else { vec![sha, self.sha1(), &count] };
        parts.extend(keys.iter().map(String::as_str));
        parts.extend_from_slice(args);
        command(&parts)
    }
}

/// `touch` to never expire: PERSIST answers 0 for a key that exists without an expiry, and
/// `touch` must answer whether the key exists.
const PERSIST_EXISTING: &str = "if redis.call('EXISTS',KEYS[1])==0 then return 0 end redis.call('PERSIST',KEYS[1]) return 1";

/// `["ARG", ...]`
pub fn command(args: &[&str]) -> String {
    let mut out = String::with_capacity(args.iter().map(|a| a.len() + 3).sum::<usize>() + 2);
    out.push('[');
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(&mut out, arg);
    }
    out.push(']');
    out
}

/// `[NAME, key, ...]` (MGET, DEL).
pub fn with_keys(name: &str, keys: &[String]) -> String {
    let mut args = vec![name];
    args.extend(keys.iter().map(String::as_str));
    command(&args)
}

/// `[[...], [...]]` from commands made by `command`.
pub fn batch<S: AsRef<str>>(commands: &[S]) -> String {
    let mut out = String::with_capacity(commands.iter().map(|c| c.as_ref().len() + 1).sum::<usize>() + 2);
    out.push('[');
    for (i, c) in commands.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(c.as_ref());
    }
    out.push(']');
    out
}

/// Decimal text of an integer, without core::fmt (see core::error on why).
pub fn decimal(mut n: u64) -> String {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits[i..].iter().map(|&d| d as char).collect()
}

/// Whether a command's reply is Redis's NOSCRIPT: the EVALSHA did not run.
pub fn script_missing(reply: &Reply) -> bool {
    matches!(reply, Err(message) if message.starts_with("NOSCRIPT"))
}

/// The command for every op but `Clear` with a prefix, which walks the keyspace (`mod.rs`).
pub fn plan(op: &Op, numbers: &dyn Numbers) -> String {
    match op {
        Op::Get { key } => command(&["GET", key]),
        Op::Set { key, value, ttl_ms } | Op::Add { key, value, ttl_ms } | Op::GetOrAdd { key, value, ttl_ms } => {
            let ttl = ttl_ms.map(decimal);
            let mut args = vec!["SET", key.as_str(), value.as_str()];
            match op {
                Op::Add { .. } => args.push("NX"),
                Op::GetOrAdd { .. } => args.extend(["NX", "GET"]),
                _ => {}
            }
            if let Some(ms) = &ttl {
                args.extend(["PX", ms]);
            }
            command(&args)
        }
        Op::GetMany { keys } => with_keys("MGET", keys),
        Op::SetMany { entries, ttl_ms: None } => {
            let mut args = vec!["MSET"];
            for (key, value) in entries {
                args.extend([key.as_str(), value.as_str()]);
            }
            command(&args)
        }
        Op::SetMany { entries, ttl_ms: Some(ms) } => {
            let count = decimal(entries.len() as u64);
            let ms = decimal(*ms);
            let mut args = vec!["EVAL", SET_MANY_PX, &count];
            args.extend(entries.iter().map(|(k, _)| k.as_str()));
            args.extend(entries.iter().map(|(_, v)| v.as_str()));
            args.push(&ms);
            command(&args)
        }
        Op::DeleteMany { keys } => with_keys("DEL", keys),
        Op::Clear { .. } => command(&["FLUSHDB"]),
        Op::Touch { key, ttl_ms: Some(ms) } => command(&["PEXPIRE", key, &decimal(*ms)]),
        Op::Touch { key, ttl_ms: None } => command(&["EVAL", PERSIST_EXISTING, "1", key]),
        Op::Incr { key, delta } => Script::Incr.command(false, core::slice::from_ref(key), &[&numbers.format(*delta)]),
    }
}

pub fn protocol_error() -> Error {
    Error::cache(Code::Protocol, &["the server's answer does not fit the request"])
}

/// One command's answer: its result, or the error Redis gave it. Kept apart from the errors of
/// the request (network, HTTP status), which no op reinterprets.
pub type Reply = core::result::Result<Json, String>;

/// The reply in one `{"result": ...}` / `{"error": "..."}` object.
pub fn result(reply: Json) -> Result<Reply> {
    let Json::Object(fields) = reply else { return Err(protocol_error()) };
    for (name, value) in fields {
        match (name.as_str(), value) {
            ("result", value) => return Ok(Ok(value)),
            ("error", Json::Str(message)) => return Ok(Err(message.text())),
            _ => {}
        }
    }
    Err(protocol_error())
}

/// A reply's result, or its Redis error as a `SERVER` error.
/// Whether an error reply says the command did not run because of where it was sent.
fn not_run(message: &str) -> bool {
    let code = message.split(' ').next().unwrap_or_default();
    matches!(code, "MOVED" | "ASK" | "TRYAGAIN" | "CLUSTERDOWN" | "MASTERDOWN" | "LOADING" | "READONLY")
}

pub fn value(reply: Reply) -> Result<Json> {
    reply.map_err(|message| Error::cache(Code::Server, &["the server answered: ", &message]))
}

/// A stored text or null, appended to `out` as JSON.
fn string_or_null(value: &Json, out: &mut String) -> Result<()> {
    match value {
        Json::Null => out.push_str("null"),
        Json::Str(s) => {
            out.push('"');
            out.push_str(s.raw());
            out.push('"');
        }
        _ => return Err(protocol_error()),
    }
    Ok(())
}

pub fn integer(value: &Json) -> Result<i64> {
    match value {
        Json::Number(text) => text.parse().map_err(|_| protocol_error()),
        _ => Err(protocol_error()),
    }
}

fn ok(value: &Json) -> Result<()> {
    match value {
        Json::Str(s) if s.raw() == "OK" || s.text() == "OK" => Ok(()),
        _ => Err(protocol_error()),
    }
}

/// How to read the reply to an op's command: all the decoding needs to know about the op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The stored text or null (GET, SET NX GET).
    Value,
    /// "OK" (SET, MSET, FLUSHDB).
    Ok,
    /// "OK" when stored, null when the key was there (SET NX).
    Stored,
    /// This many texts or nulls (MGET).
    Values(u32),
    /// An integer, the count of keys touched (DEL, the setMany script).
    Count,
    /// 1 when the key existed, else 0 (PEXPIRE, the persist script).
    Existed,
    /// The new number as text (the incr script); an error reply means the value is not a number.
    Number,
}

impl Expect {
    pub fn of(op: &Op) -> Expect {
        match op {
            Op::Get { .. } | Op::GetOrAdd { .. } => Expect::Value,
            Op::Set { .. } | Op::SetMany { ttl_ms: None, .. } | Op::Clear { .. } => Expect::Ok,
            Op::Add { .. } => Expect::Stored,
            // A list longer than u32 cannot be sent (the body would be gigabytes); saturating
            // keeps the code total: the reply's length then simply does not match.
            Op::GetMany { keys } => Expect::Values(u32::try_from(keys.len()).unwrap_or(u32::MAX)),
            Op::SetMany { ttl_ms: Some(_), .. } | Op::DeleteMany { .. } => Expect::Count,
            Op::Touch { .. } => Expect::Existed,
            Op::Incr { .. } => Expect::Number,
        }
    }
}

/// The outcome a reply means for a command of this `Expect`.
pub fn decode(expect: Expect, reply: Reply) -> Result<Outcome> {
    if let Expect::Number = expect {
        return match reply {
            Ok(Json::Str(number)) => Ok(Outcome::Value(Some(number.text()))),
            Ok(Json::Number(number)) => Ok(Outcome::Value(Some(number))),
            Ok(_) => Err(protocol_error()),
            // Refused where it was sent (a cluster's redirect, a failover): not about the value.
            Err(message) if not_run(&message) => value(Err(message)).map(|_| Outcome::Done),
            Err(message) => Err(Error::cache(Code::NotANumber, &["the stored value is not a number (", &message, ")"])),
        };
    }
    let result = value(reply)?;
    match expect {
        Expect::Value => {
            let mut json = String::new();
            string_or_null(&result, &mut json)?;
            Ok(Outcome::Json(json))
        }
        Expect::Ok => ok(&result).map(|_| Outcome::Done),
        Expect::Stored => match result {
            Json::Null => Ok(Outcome::Bool(false)),
            stored => ok(&stored).map(|_| Outcome::Bool(true)),
        },
        Expect::Values(n) => match result {
            Json::Array(items) if items.len() as u64 == u64::from(n) => {
                let mut json = String::with_capacity(items.iter().map(|i| if let Json::Str(s) = i { s.raw().len() + 3 } else { 5 }).sum::<usize>() + 2);
                json.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        json.push(',');
                    }
                    string_or_null(item, &mut json)?;
                }
                json.push(']');
                Ok(Outcome::Json(json))
            }
            _ => Err(protocol_error()),
        },
        Expect::Count => integer(&result).map(|_| Outcome::Done),
        Expect::Existed => integer(&result).map(|n| Outcome::Bool(n == 1)),
        Expect::Number => Err(protocol_error()), // handled above
    }
}

/// A SCAN pattern matching keys that start with `prefix` literally.
pub fn prefix_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('*');
    pattern
}

#[cfg(test)]
mod tests {
    use super::super::json::parse;
    use super::*;
    use crate::number::StdNumbers;

    fn planned(op: Op) -> String {
        plan(&op, &StdNumbers)
    }
    fn decoded(op: Op, reply: &str) -> Result<Outcome> {
        decode(Expect::of(&op), result(parse(reply).expect("test reply is JSON"))?)
    }
    fn s(x: &str) -> String {
        x.to_owned()
    }

    #[test]
    fn one_command_per_op() {
        assert_eq!(planned(Op::Get { key: s("::k") }), r#"["GET","::k"]"#);
        assert_eq!(
            planned(Op::Set { key: s("k"), value: s(r#"{"a":"b"}"#), ttl_ms: Some(1500) }),
            r#"["SET","k","{\"a\":\"b\"}","PX","1500"]"#
        );
        assert_eq!(planned(Op::Add { key: s("k"), value: s("1"), ttl_ms: None }), r#"["SET","k","1","NX"]"#);
        assert_eq!(planned(Op::GetOrAdd { key: s("k"), value: s("1"), ttl_ms: Some(5) }), r#"["SET","k","1","NX","GET","PX","5"]"#);
        let set_many = planned(Op::SetMany { entries: vec![(s("a"), s("1")), (s("b"), s("2"))], ttl_ms: Some(9) });
        assert!(set_many.starts_with(r#"["EVAL","#) && set_many.ends_with(r#"","2","a","b","1","2","9"]"#), "{set_many}");
        assert_eq!(planned(Op::SetMany { entries: vec![(s("a"), s("1"))], ttl_ms: None }), r#"["MSET","a","1"]"#);
        let touch = planned(Op::Touch { key: s("k"), ttl_ms: None });
        assert!(touch.starts_with(r#"["EVAL","#) && touch.ends_with(r#"","1","k"]"#), "{touch}");
        assert_eq!(planned(Op::Incr { key: s("k"), delta: -2.5 }), r#"["EVALSHA","9dc42e95c4f9934ed3ca32b89509b92e2b2995a2","1","k","-2.5"]"#);
        let eval = Script::Incr.command(true, &[s("k")], &["-2.5"]);
        assert!(eval.starts_with(r#"["EVAL","local v="#) && eval.ends_with(r#"","1","k","-2.5"]"#), "{eval}");
        assert_eq!(planned(Op::Clear { prefix: None }), r#"["FLUSHDB"]"#);
    }

    #[test]
    fn decodes_results() {
        // Stored texts stay JSON, escapes and all, for JavaScript's JSON.parse.
        assert_eq!(decoded(Op::Get { key: s("k") }, r#"{"result":"{\"a\":1}"}"#), Ok(Outcome::Json(s(r#""{\"a\":1}""#))));
        assert_eq!(decoded(Op::Get { key: s("k") }, r#"{"result":null}"#), Ok(Outcome::Json(s("null"))));
        let add = || Op::Add { key: s("k"), value: s("1"), ttl_ms: None };
        assert_eq!(decoded(add(), r#"{"result":"OK"}"#), Ok(Outcome::Bool(true)));
        assert_eq!(decoded(add(), r#"{"result":null}"#), Ok(Outcome::Bool(false)));
        let many = Op::GetMany { keys: vec![s("a"), s("b")] };
        assert_eq!(decoded(many.clone(), r#"{"result":["1",null]}"#), Ok(Outcome::Json(s(r#"["1",null]"#))));
        assert!(decoded(many, r#"{"result":["1"]}"#).is_err(), "a result of the wrong length");
        let touch = || Op::Touch { key: s("k"), ttl_ms: None };
        assert_eq!(decoded(touch(), r#"{"result":1}"#), Ok(Outcome::Bool(true)));
        assert_eq!(decoded(touch(), r#"{"result":0}"#), Ok(Outcome::Bool(false)));
        let incr = || Op::Incr { key: s("k"), delta: 1.0 };
        assert_eq!(decoded(incr(), r#"{"result":"6"}"#), Ok(Outcome::Value(Some(s("6")))));
        assert_eq!(decoded(incr(), r#"{"error":"ERR value is not a valid float"}"#).unwrap_err().code(), Some(Code::NotANumber));
        assert_eq!(decoded(incr(), r#"{"error":"MOVED 208 127.0.0.1:7002"}"#).unwrap_err().code(), Some(Code::Server));
    }

    #[test]
    fn wrong_shapes_are_protocol_errors_and_error_replies_server_errors() {
        let get = || Op::Get { key: s("k") };
        for reply in [r#"{"result":5}"#, r#"{}"#, r#"[]"#, r#"{"result":["a"]}"#, "null", r#"{"error":5}"#] {
            assert_eq!(decoded(get(), reply).unwrap_err().code(), Some(Code::Protocol), "{reply}");
        }
        assert_eq!(decoded(get(), r#"{"error":"WRONGTYPE"}"#).unwrap_err().code(), Some(Code::Server));
    }

    // sha1_smol is a host dev-dependency; `wasm-pack test` builds these tests for wasm32 too.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn the_incr_script_is_sent_by_its_sha1() {
        for script in [Script::Incr, Script::GetWithPttl] {
            assert_eq!(sha1_smol::Sha1::from(script.text()).digest().to_string(), script.sha1(), "{script:?}");
        }
        assert!(script_missing(&Err(s("NOSCRIPT No matching script. Please use EVAL."))));
        assert!(!script_missing(&Err(s("ERR the stored value is not a JSON number"))));
        assert!(!script_missing(&Ok(Json::Null)));
    }

    #[test]
    fn prefix_pattern_escapes_glob_characters() {
        assert_eq!(prefix_pattern("app:"), "app:*");
        assert_eq!(prefix_pattern("a*b?[c]\\:"), "a\\*b\\?\\[c\\]\\\\:*");
        assert_eq!(decimal(0), "0");
        assert_eq!(decimal(9_007_199_254_740_991), "9007199254740991");
    }
}
