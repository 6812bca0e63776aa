//! Each `Op` as Redis commands in one HTTP request, and each reply back as an `Outcome`.
//!
//! One request per call, where the Python original needs two for some: `setMany` with a ttl is
//! one transaction of `SET .. PX`, `incr` is one `INCRBYFLOAT` (it starts a missing key at 0,
//! keeps the expiry, and prints integers without a fraction, so integers stay integers), and
//! `getOrSet` with a plain value is one `SET .. NX GET` (Redis 7).

use super::json::{write_str, Json};
use crate::core::error::{Code, Error, Result};
use crate::core::number::Numbers;
use crate::core::ops::{Op, Outcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /` with one command.
    Single,
    /// `POST /pipeline`: in order, not atomic.
    Pipeline,
    /// `POST /multi-exec`: atomic.
    Transaction,
}

impl Endpoint {
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Single => "",
            Endpoint::Pipeline => "/pipeline",
            Endpoint::Transaction => "/multi-exec",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub endpoint: Endpoint,
    pub body: String,
}

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

/// `[[...], [...]]` from commands made by `command`.
pub fn batch(commands: &[String]) -> String {
    let mut out = String::from("[");
    out.push_str(&commands.join(","));
    out.push(']');
    out
}

pub fn single(args: &[&str]) -> Request {
    Request { endpoint: Endpoint::Single, body: command(args) }
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

fn with_ttl<'a>(args: &mut Vec<&'a str>, ttl: &'a Option<String>) {
    if let Some(ms) = ttl {
        args.push("PX");
        args.push(ms);
    }
}

/// The request for every op but `Clear` with a prefix, which walks the keyspace (see `mod.rs`).
pub fn plan(op: &Op, numbers: &dyn Numbers) -> Request {
    match op {
        Op::Get { key } => single(&["GET", key]),
        Op::Set { key, value, ttl_ms } | Op::Add { key, value, ttl_ms } | Op::GetOrAdd { key, value, ttl_ms } => {
            let ttl = ttl_ms.map(decimal);
            let mut args = vec!["SET", key.as_str(), value.as_str()];
            match op {
                Op::Add { .. } => args.push("NX"),
                Op::GetOrAdd { .. } => args.extend(["NX", "GET"]),
                _ => {}
            }
            with_ttl(&mut args, &ttl);
            single(&args)
        }
        Op::GetMany { keys } => {
            let mut args = vec!["MGET"];
            args.extend(keys.iter().map(String::as_str));
            single(&args)
        }
        Op::SetMany { entries, ttl_ms: None } => {
            let mut args = vec!["MSET"];
            for (key, value) in entries {
                args.push(key);
                args.push(value);
            }
            single(&args)
        }
        Op::SetMany { entries, ttl_ms: Some(ms) } => {
            let ms = decimal(*ms);
            let commands: Vec<String> = entries.iter().map(|(k, v)| command(&["SET", k, v, "PX", &ms])).collect();
            Request { endpoint: Endpoint::Transaction, body: batch(&commands) }
        }
        Op::DeleteMany { keys } => {
            let mut args = vec!["DEL"];
            args.extend(keys.iter().map(String::as_str));
            single(&args)
        }
        Op::Clear { .. } => single(&["FLUSHDB"]),
        Op::Touch { key, ttl_ms: Some(ms) } => single(&["PEXPIRE", key, &decimal(*ms)]),
        // PERSIST answers 0 for a key that exists without an expiry, so EXISTS says whether
        // the key was there.
        Op::Touch { key, ttl_ms: None } => Request {
            endpoint: Endpoint::Pipeline,
            body: batch(&[command(&["PERSIST", key]), command(&["EXISTS", key])]),
        },
        Op::Incr { key, delta } => single(&["INCRBYFLOAT", key, &numbers.format(*delta)]),
    }
}

pub fn protocol_error() -> Error {
    Error::cache(Code::Protocol, &["the server's answer does not fit the request"])
}

/// The `result` of one `{"result": ...}` / `{"error": "..."}` reply.
pub fn result(reply: &Json) -> Result<&Json> {
    if let Some(Json::Str(message)) = reply.field("error") {
        return Err(Error::cache(Code::Server, &["the server answered: ", message]));
    }
    reply.field("result").ok_or_else(protocol_error)
}

/// The results of a pipeline or transaction, which must number `count`.
pub fn results(reply: &Json, count: usize) -> Result<Vec<&Json>> {
    match reply {
        Json::Array(items) if items.len() == count => items.iter().map(result).collect(),
        // A transaction discarded as a whole answers with one error.
        _ => Err(result(reply).err().unwrap_or_else(protocol_error)),
    }
}

fn string_or_null(value: &Json) -> Result<Option<String>> {
    match value {
        Json::Null => Ok(None),
        Json::Str(s) => Ok(Some(s.clone())),
        _ => Err(protocol_error()),
    }
}

pub fn integer(value: &Json) -> Result<i64> {
    match value {
        Json::Number(text) => text.parse().map_err(|_| protocol_error()),
        _ => Err(protocol_error()),
    }
}

fn ok(value: &Json) -> Result<Outcome> {
    match value {
        Json::Str(s) if s == "OK" => Ok(Outcome::Done),
        _ => Err(protocol_error()),
    }
}

pub fn decode(op: &Op, reply: &Json) -> Result<Outcome> {
    match op {
        Op::Get { .. } | Op::GetOrAdd { .. } => Ok(Outcome::Value(string_or_null(result(reply)?)?)),
        Op::Set { .. } | Op::SetMany { ttl_ms: None, .. } | Op::Clear { .. } => ok(result(reply)?),
        Op::Add { .. } => match result(reply)? {
            Json::Null => Ok(Outcome::Bool(false)),
            stored => ok(stored).map(|_| Outcome::Bool(true)),
        },
        Op::GetMany { keys } => match result(reply)? {
            Json::Array(items) if items.len() == keys.len() => {
                items.iter().map(string_or_null).collect::<Result<_>>().map(Outcome::Values)
            }
            _ => Err(protocol_error()),
        },
        Op::SetMany { entries, ttl_ms: Some(_) } => {
            for r in results(reply, entries.len())? {
                ok(r)?;
            }
            Ok(Outcome::Done)
        }
        Op::DeleteMany { .. } => integer(result(reply)?).map(|_| Outcome::Done),
        Op::Touch { ttl_ms: Some(_), .. } => integer(result(reply)?).map(|n| Outcome::Bool(n == 1)),
        Op::Touch { ttl_ms: None, .. } => {
            let r = results(reply, 2)?;
            integer(r[1]).map(|n| Outcome::Bool(n == 1))
        }
        Op::Incr { .. } => match result(reply) {
            Ok(Json::Str(number)) => Ok(Outcome::Value(Some(number.clone()))),
            Ok(Json::Number(number)) => Ok(Outcome::Value(Some(number.clone()))),
            Ok(_) => Err(protocol_error()),
            // "value is not a valid float", "increment would produce NaN or Infinity", or
            // WRONGTYPE for a key another client made a hash or list.
            Err(error) if error.code() == Some(Code::Server) => {
                Err(Error::cache(Code::NotANumber, &["the stored value is not a number (", &error.message, ")"]))
            }
            Err(error) => Err(error),
        },
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
    use crate::core::number::StdNumbers;

    fn body(op: Op) -> (Endpoint, String) {
        let r = plan(&op, &StdNumbers);
        (r.endpoint, r.body)
    }
    fn decoded(op: Op, reply: &str) -> Result<Outcome> {
        decode(&op, &parse(reply).expect("test reply is JSON"))
    }
    fn s(x: &str) -> String {
        x.to_owned()
    }

    #[test]
    fn one_request_per_op() {
        assert_eq!(body(Op::Get { key: s("::k") }), (Endpoint::Single, s(r#"["GET","::k"]"#)));
        assert_eq!(
            body(Op::Set { key: s("k"), value: s(r#"{"a":"b"}"#), ttl_ms: Some(1500) }),
            (Endpoint::Single, s(r#"["SET","k","{\"a\":\"b\"}","PX","1500"]"#))
        );
        assert_eq!(body(Op::Add { key: s("k"), value: s("1"), ttl_ms: None }).1, r#"["SET","k","1","NX"]"#);
        assert_eq!(body(Op::GetOrAdd { key: s("k"), value: s("1"), ttl_ms: Some(5) }).1, r#"["SET","k","1","NX","GET","PX","5"]"#);
        assert_eq!(
            body(Op::SetMany { entries: vec![(s("a"), s("1")), (s("b"), s("2"))], ttl_ms: Some(9) }),
            (Endpoint::Transaction, s(r#"[["SET","a","1","PX","9"],["SET","b","2","PX","9"]]"#))
        );
        assert_eq!(body(Op::SetMany { entries: vec![(s("a"), s("1"))], ttl_ms: None }).1, r#"["MSET","a","1"]"#);
        assert_eq!(body(Op::Touch { key: s("k"), ttl_ms: None }), (Endpoint::Pipeline, s(r#"[["PERSIST","k"],["EXISTS","k"]]"#)));
        assert_eq!(body(Op::Incr { key: s("k"), delta: -2.5 }).1, r#"["INCRBYFLOAT","k","-2.5"]"#);
        assert_eq!(body(Op::Clear { prefix: None }).1, r#"["FLUSHDB"]"#);
    }

    #[test]
    fn decodes_replies() {
        assert_eq!(decoded(Op::Get { key: s("k") }, r#"{"result":"{\"a\":1}"}"#), Ok(Outcome::Value(Some(s(r#"{"a":1}"#)))));
        assert_eq!(decoded(Op::Get { key: s("k") }, r#"{"result":null}"#), Ok(Outcome::Value(None)));
        let add = || Op::Add { key: s("k"), value: s("1"), ttl_ms: None };
        assert_eq!(decoded(add(), r#"{"result":"OK"}"#), Ok(Outcome::Bool(true)));
        assert_eq!(decoded(add(), r#"{"result":null}"#), Ok(Outcome::Bool(false)));
        let many = Op::GetMany { keys: vec![s("a"), s("b")] };
        assert_eq!(decoded(many.clone(), r#"{"result":["1",null]}"#), Ok(Outcome::Values(vec![Some(s("1")), None])));
        assert!(decoded(many, r#"{"result":["1"]}"#).is_err(), "a reply of the wrong length");
        let touch = || Op::Touch { key: s("k"), ttl_ms: None };
        assert_eq!(decoded(touch(), r#"[{"result":0},{"result":1}]"#), Ok(Outcome::Bool(true)));
        assert_eq!(decoded(touch(), r#"[{"result":0},{"result":0}]"#), Ok(Outcome::Bool(false)));
        let incr = || Op::Incr { key: s("k"), delta: 1.0 };
        assert_eq!(decoded(incr(), r#"{"result":"6"}"#), Ok(Outcome::Value(Some(s("6")))));
        assert_eq!(
            decoded(incr(), r#"{"error":"ERR value is not a valid float"}"#).unwrap_err().code(),
            Some(Code::NotANumber)
        );
    }

    #[test]
    fn wrong_shapes_are_protocol_errors_and_error_replies_server_errors() {
        let get = || Op::Get { key: s("k") };
        for reply in [r#"{"result":5}"#, r#"{}"#, r#"[]"#, r#"{"result":["a"]}"#, "null"] {
            assert_eq!(decoded(get(), reply).unwrap_err().code(), Some(Code::Protocol), "{reply}");
        }
        assert_eq!(decoded(get(), r#"{"error":"WRONGTYPE"}"#).unwrap_err().code(), Some(Code::Server));
        let set_many = Op::SetMany { entries: vec![(s("a"), s("1"))], ttl_ms: Some(1) };
        assert_eq!(decoded(set_many, r#"{"error":"ERR EXECABORT"}"#).unwrap_err().code(), Some(Code::Server));
    }

    #[test]
    fn prefix_pattern_escapes_glob_characters() {
        assert_eq!(prefix_pattern("app:"), "app:*");
        assert_eq!(prefix_pattern("a*b?[c]\\:"), "a\\*b\\?\\[c\\]\\\\:*");
        assert_eq!(decimal(0), "0");
        assert_eq!(decimal(9_007_199_254_740_991), "9007199254740991");
    }
}
