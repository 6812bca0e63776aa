//! Each command's reply back as an `Outcome`: the `{"result": ...}` / `{"error": ...}` object
//! read, and what its result means for the op it answers (`Expect`). Writing the commands is
//! `commands.rs`.

use crate::prelude::*;

use super::commands::decimal;
use super::json::Json;
use crate::error::{Code, Error, Result};
use crate::ops::{Entry, Op, Outcome};

/// Whether a command's answer (`{"error": "NOSCRIPT ..."}`) says the server lacks the script.
pub fn script_missing(answer: &Json) -> bool {
    let Json::Object(fields) = answer else {
        return false;
    };
    fields.iter().any(|(name, value)| name == "error" && matches!(value, Json::Str(message) if message.text().starts_with("NOSCRIPT")))
}

/// Whether a read's outcome holds a tagged entry as stored (`#tags[...`), which only the
/// checking script may read.
pub fn holds_tagged(outcome: &Outcome) -> bool {
    let Outcome::Json(text) = outcome else { return false };
    // The text is checked JSON of strings and nulls: there a quote followed by `#` opens a
    // string (a closing one is followed by `,` or `]`), and it is escaped only after a
    // backslash. A byte scan rather than parsing it again (`str::contains` would bring
    // core's two-way searcher into the wasm).
    let bytes = text.as_bytes();
    bytes.windows(7).enumerate().any(|(i, w)| w == b"\"#tags[" && (i == 0 || bytes[i - 1] != b'\\'))
}

pub fn protocol_error() -> Error {
    Error::cache(Code::Protocol, &["the server's answer does not fit the request"])
}

/// One command's answer: its result, or the error Redis gave it. Kept apart from the errors of
/// the request (network, HTTP status), which no op reinterprets.
pub type Reply = core::result::Result<Json, String>;

/// The reply in one `{"result": ...}` / `{"error": "..."}` object.
pub fn result(reply: Json) -> Result<Reply> {
    let Json::Object(mut fields) = reply else {
        return Err(protocol_error());
    };
    for (name, value) in &mut fields {
        match (name.as_str(), value) {
            ("result", value) => return Ok(Ok(core::mem::take(value))),
            ("error", Json::Str(message)) => return Ok(Err(message.text())),
            _ => {}
        }
    }
    Err(protocol_error())
}

/// The Redis error codes that say a command did not run because of where it was sent (a
/// cluster's redirect, a failover). The gateway reads the same file.
const DID_NOT_RUN: &str = include_str!("did_not_run.txt");

/// Whether an error reply says the command did not run because of where it was sent.
fn did_not_run(message: &str) -> bool {
    let code = crate::text::before(message, b' ');
    DID_NOT_RUN.split_ascii_whitespace().any(|c| c == code)
}

/// A reply's result, or its Redis error as a `SERVER` error.
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

/// An integer reply (a count, a PTTL). Read digit by digit: core's `i64::from_str` handles a
/// `+` and every radix, 0.1 KB of gzipped wasm for replies that are `-?[0-9]+`. Counted up,
/// so i64::MIN (no count or PTTL) is refused as an overflow: reading it too was 220 B more.
pub fn integer(value: &Json) -> Result<i64> {
    let Json::Number(text) = value else { return Err(protocol_error()) };
    let (sign, digits) = match text.strip_prefix('-') {
        Some(digits) => (-1, digits),
        None => (1, text.as_str()),
    };
    let mut n: i64 = 0;
    for b in digits.bytes() {
        if !b.is_ascii_digit() {
            return Err(protocol_error());
        }
        n = n.checked_mul(10).and_then(|n| n.checked_add(i64::from(b - b'0'))).ok_or_else(protocol_error)?;
    }
    if digits.is_empty() {
        return Err(protocol_error());
    }
    Ok(sign * n)
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
    /// A text or null, then its PTTL (the near tier's read script, for one key).
    Expiring,
}

impl Expect {
    pub fn of(op: &Op) -> Expect {
        match op {
            Op::Get { .. } | Op::GetOrAdd(_) => Expect::Value,
            Op::Set(Entry { stamps, .. }) if !stamps.is_empty() => Expect::Count,
            Op::SetMany { stamps, .. } if !stamps.is_empty() => Expect::Count,
            Op::Set(_) | Op::SetMany { ttl_ms: None, .. } | Op::Clear { .. } => Expect::Ok,
            Op::Add(_) | Op::Lock { .. } => Expect::Stored,
            Op::Unlock { .. } => Expect::Count,
            Op::GetExpiring { .. } => Expect::Expiring,
            // A list longer than u32 cannot be sent (the body would be gigabytes); saturating
            // keeps the code total: the reply's length then simply does not match.
            Op::GetMany { keys } => Expect::Values(u32::try_from(keys.len()).unwrap_or(u32::MAX)),
            Op::SetMany { ttl_ms: Some(_), .. } | Op::DeleteMany { .. } | Op::Invalidate { .. } => Expect::Count,
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
            Err(message) if did_not_run(&message) => value(Err(message)).map(|_| Outcome::Done),
            // The script's own refusal of a result it cannot return exactly.
            // (`strip_prefix`, not `[4..]`: a slice brings core's panic formatting, 3 KB of wasm.)
            Err(message) if message.starts_with("ERR incr: ") => Err(Error::cache(Code::NotANumber, &[message.strip_prefix("ERR ").unwrap_or(&message)])),
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
        Expect::Expiring => {
            let Json::Array(items) = &result else { return Err(protocol_error()) };
            let [value, pttl] = items.as_slice() else { return Err(protocol_error()) };
            let mut json = String::from("[");
            string_or_null(value, &mut json)?;
            json.push(',');
            let ms = integer(pttl)?;
            if ms < 0 {
                json.push('-');
            }
            json.push_str(&decimal(ms.unsigned_abs()));
            json.push(']');
            Ok(Outcome::Json(json))
        }
        Expect::Count => integer(&result).map(|_| Outcome::Done),
        Expect::Existed => integer(&result).map(|n| Outcome::Bool(n == 1)),
        Expect::Number => Err(protocol_error()), // handled above
    }
}

/// Also the helpers of commands.rs's tests, which decode the answers of the commands they plan.
#[cfg(test)]
pub(super) mod tests {
    use super::super::json::parse;
    use super::*;

    pub(in crate::backend::rest) fn decoded(op: Op, reply: &str) -> Result<Outcome> {
        decode(Expect::of(&op), result(parse(reply).expect("test reply is JSON"))?)
    }
    pub(in crate::backend::rest) fn s(x: &str) -> String {
        x.to_owned()
    }

    #[test]
    fn decodes_results() {
        // Stored texts stay JSON, escapes and all, for JavaScript's JSON.parse.
        assert_eq!(decoded(Op::Get { key: s("k") }, r#"{"result":"{\"a\":1}"}"#), Ok(Outcome::Json(s(r#""{\"a\":1}""#))));
        assert_eq!(decoded(Op::Get { key: s("k") }, r#"{"result":null}"#), Ok(Outcome::Json(s("null"))));
        let add = || Op::Add(Entry { key: s("k"), value: s("1"), ttl_ms: None, stamps: vec![] });
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

    #[test]
    fn integers_are_whole_numbers_in_range() {
        for (text, n) in [("0", 0), ("-2", -2), ("1500", 1500), ("9223372036854775807", i64::MAX)] {
            assert_eq!(integer(&parse(text).unwrap()), Ok(n), "{text}");
        }
        for text in ["1.5", "1e3", "-0.0", "9223372036854775808", r#""1""#, "null"] {
            assert_eq!(integer(&parse(text).unwrap()).unwrap_err().code(), Some(Code::Protocol), "{text}");
        }
        assert!(integer(&Json::Number(s("-"))).is_err() && integer(&Json::Number(s(""))).is_err());
    }
}
