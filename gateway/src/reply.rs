//! Redis replies as Upstash JSON. Redis strings are bytes and JSON strings are text, so the
//! caller picks the loss: without `Upstash-Encoding: base64` bytes that are not UTF-8 become
//! U+FFFD; with it every string is base64 of the exact bytes (except the status "OK", which
//! clients compare as is). Numbers, nil and error texts are never encoded.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use redis::{ServerError, Value};
use serde_json::{json, Value as Json};

/// How strings in a result are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8, invalid bytes replaced by U+FFFD.
    Lossy,
    /// Base64 of the raw bytes (`Upstash-Encoding: base64`).
    Base64,
}

/// One command's outcome as `{"result": ...}` or `{"error": "..."}`.
pub fn entry(value: Value, encoding: Encoding) -> Json {
    match value {
        Value::ServerError(err) => json!({ "error": error_text(&err) }),
        other => json!({ "result": to_json(other, encoding) }),
    }
}

/// A Redis error reply as Redis prints it: `ERR ...`, `WRONGTYPE ...`.
pub fn error_text(err: &ServerError) -> String {
    match err.details() {
        Some(details) => format!("{} {}", err.code(), details),
        None => err.code().to_string(),
    }
}

/// A failed command's error text: Redis's error reply as Redis prints it, or what went wrong on
/// the way to it.
pub fn failure_text(err: &redis::RedisError) -> String {
    match (err.code(), err.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        (None, _) if err.is_timeout() => "ERR Redis did not answer in time".into(),
        (None, _) => "ERR Redis is unavailable".into(),
    }
}

/// Whether an error (its code, or its whole text) says Redis refused the command without running
/// it because of where the cluster or the primary is (a failover, a redirect): 503, retrying is
/// safe.
pub fn did_not_run(error: &str) -> bool {
    let code = error.split(' ').next().unwrap_or_default();
    DID_NOT_RUN.split_ascii_whitespace().any(|c| c == code)
}

/// The codes, shared with the client (which reads an `incr` refused this way as not run).
const DID_NOT_RUN: &str = include_str!("../../src/backend/rest/did_not_run.txt");

/// A pipeline entry: a value, or an error text.
pub fn result_entry(result: Result<Value, String>, encoding: Encoding) -> Json {
    match result {
        Ok(value) => entry(value, encoding),
        Err(text) => json!({ "error": text }),
    }
}

/// A reply value as JSON: integers as numbers, strings per `encoding`, nil as null, arrays (and
/// sets, and maps flattened to key, value, ... as in RESP2) as arrays.
pub fn to_json(value: Value, encoding: Encoding) -> Json {
    match value {
        Value::Nil => Json::Null,
        Value::Int(i) => Json::from(i),
        Value::Okay => Json::from("OK"),
        Value::BulkString(bytes) => string(bytes, encoding),
        Value::SimpleString(s) if s == "OK" => Json::from(s),
        Value::SimpleString(s) => string(s.into_bytes(), encoding),
        Value::VerbatimString { text, .. } => string(text.into_bytes(), encoding),
        Value::Array(items) | Value::Set(items) | Value::Push { data: items, .. } => {
            Json::Array(items.into_iter().map(|v| to_json(v, encoding)).collect())
        }
        Value::Map(pairs) => Json::Array(
            pairs
                .into_iter()
                .flat_map(|(k, v)| [to_json(k, encoding), to_json(v, encoding)])
                .collect(),
        ),
        Value::Attribute { data, .. } => to_json(*data, encoding),
        Value::Double(f) => match serde_json::Number::from_f64(f) {
            Some(n) => Json::Number(n),
            // JSON has no infinities or NaN: written as Redis prints them.
            None => string(redis_double_text(f).into_bytes(), encoding),
        },
        Value::Boolean(b) => Json::Bool(b),
        // Without the num-bigint feature this is the number's decimal text: kept as a string
        // because a JSON number would lose its precision in JavaScript.
        Value::BigNumber(digits) => string(digits, encoding),
        // An error nested in an array (a script's error table): its text, like a top-level error.
        Value::ServerError(err) => Json::from(error_text(&err)),
        // A kind a later redis crate adds: its debug text beats failing the request.
        other => Json::from(format!("{other:?}")),
    }
}

fn string(bytes: Vec<u8>, encoding: Encoding) -> Json {
    match encoding {
        Encoding::Base64 => Json::from(BASE64.encode(bytes)),
        Encoding::Lossy => Json::from(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }),
    }
}

fn redis_double_text(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f > 0.0 {
        "inf".into()
    } else {
        "-inf".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_base64() {
        let v = || {
            Value::Array(vec![
                Value::Okay,
                Value::Int(-3),
                Value::Nil,
                Value::BulkString(b"hi\xff".to_vec()),
                Value::SimpleString("PONG".into()),
                Value::Array(vec![Value::BulkString(b"x".to_vec())]),
            ])
        };
        assert_eq!(
            to_json(v(), Encoding::Lossy),
            json!(["OK", -3, null, "hi\u{fffd}", "PONG", ["x"]])
        );
        assert_eq!(
            to_json(v(), Encoding::Base64),
            json!(["OK", -3, null, "aGn/", "UE9ORw==", ["eA=="]])
        );
    }

    #[test]
    fn resp3_values() {
        let map = Value::Map(vec![(Value::BulkString(b"k".to_vec()), Value::Double(1.5))]);
        assert_eq!(to_json(map, Encoding::Lossy), json!(["k", 1.5]));
        assert_eq!(to_json(Value::Boolean(true), Encoding::Lossy), json!(true));
        assert_eq!(
            to_json(Value::Double(f64::INFINITY), Encoding::Lossy),
            json!("inf")
        );
        assert_eq!(
            to_json(Value::Set(vec![Value::Int(1)]), Encoding::Base64),
            json!([1])
        );
    }
}
