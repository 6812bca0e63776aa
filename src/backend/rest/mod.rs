//! The REST backend, sans I/O: what to send for an `Op`, and what an answer means.
//!
//! Nothing here sends or waits: the engine (`crate::engine`) hands the command text to the
//! JavaScript transport (npm/transport.js), which sends it with `fetch`, and hands the answer
//! back to be read here. So every protocol decision (the command, the reading of statuses and
//! replies, which failures may be retried, the SCAN walk of `clear()`) is plain Rust, tested on
//! the host.

use crate::prelude::*;

pub mod commands;
pub mod json;
pub mod replies;

use commands::{command, decimal};
use replies::{integer, protocol_error, result, value, Expect};
use json::{Json, Plain};

use crate::error::{Code, Error, Result};
use crate::ops::Outcome;

/// How many keys one SCAN step asks for while `clear()` walks the keyspace.
const SCAN_COUNT: &str = "1000";

/// The first retry waits about this long; each next one twice as long, up to `MAX_BACKOFF_MS`.
const FIRST_BACKOFF_MS: u32 = 50;
const MAX_BACKOFF_MS: u32 = 1000;

/// How a request failed, as the transport saw it (npm/transport.js says which, by this enum as
/// wasm-bindgen exports it).
#[cfg_attr(target_arch = "wasm32", wasm_bindgen::prelude::wasm_bindgen)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchFailure {
    /// The request failed on the way (it may or may not have reached the server).
    Network,
    /// The connection was refused or the name did not resolve: nothing reached the server.
    Unsent,
    /// The server answered with a 5xx status.
    Status5xx,
    /// No answer within the `timeout` option.
    Timeout,
    /// The fetch was aborted by something other than our timeout.
    Aborted,
}

impl FetchFailure {
    /// The error a request that failed this way gives its calls; `detail` is what the
    /// runtime said. (A 5xx answer is read like any answer: a `SERVER` error.)
    pub fn error(self, detail: &str) -> Error {
        match self {
            FetchFailure::Timeout => Error::cache(Code::Timeout, &["the request timed out: ", detail]),
            FetchFailure::Aborted => Error::cache(Code::Aborted, &["the request was aborted: ", detail]),
            FetchFailure::Network | FetchFailure::Unsent | FetchFailure::Status5xx => {
                Error::cache(Code::Network, &["the request failed: ", detail])
            }
        }
    }
}

/// The delay before retry number `attempt + 1` of a failed request, or `None` to give up. A
/// request that is not `idempotent` (it holds a command that must not run twice) is retried only
/// when it provably never reached the server; otherwise its caller gets the error and cannot
/// know whether the command ran.
pub fn retry_after(failure: FetchFailure, attempt: u32, retries: u32, idempotent: bool) -> Option<u32> {
    let safe = match failure {
        FetchFailure::Unsent => true,
        FetchFailure::Network | FetchFailure::Status5xx => idempotent,
        // The caller's time is up.
        FetchFailure::Timeout | FetchFailure::Aborted => false,
    };
    (safe && attempt < retries).then(|| FIRST_BACKOFF_MS.saturating_mul(1 << attempt.min(10)).min(MAX_BACKOFF_MS))
}

/// An answer's body, which the protocol says is JSON and so UTF-8, as text. The JavaScript side
/// hands over the bytes as they came (no decoding into a JS string and encoding back); bytes that
/// are not UTF-8 read as a text that is not JSON, which is what such an answer is.
pub fn body_text(body: &[u8]) -> &str {
    ::core::str::from_utf8(body).unwrap_or("\u{0}")
}

/// The outcome of a single-command request whose answer holds stored texts in its usual form
/// (`{"result":"..."}`, `{"result":["...",null]}`): passed on as written, with no tree built.
/// `None` for any other answer, which is read as JSON (`interpret`) and decoded like a pipeline's.
pub fn plain_reply(expect: Expect, status: u16, body: &str) -> Option<Outcome> {
    let want = match expect {
        Expect::Value => Plain::Text,
        Expect::Values(n) => Plain::Texts(n),
        _ => return None,
    };
    let result = json::plain_result(body, want).filter(|_| status == 200)?;
    Some(Outcome::Json(result.to_owned()))
}

/// The answer of each command in a `/pipeline` request of `count` commands, in order, to be
/// read by its command's `decode`. The whole request failing (a bad status, a body that is not
/// one answer per command) fails every command the same way; a Redis error in one command is
/// that command's answer.
pub fn pipeline_answers(count: usize, status: u16, body: &str) -> Result<Vec<Json>> {
    answers_of(interpret(status, body)?, count)
}

/// A pipeline's answer as JSON, one entry per command: `pipeline_answers` after the status, and
/// clear's walk, whose pipeline is the answer of one request among others.
fn answers_of(answer: Json, count: usize) -> Result<Vec<Json>> {
    match answer {
        Json::Array(items) if items.len() == count => Ok(items),
        // A pipeline refused as a whole: `{"error": ...}` with 400.
        other => Err(match result(other) {
            Ok(Err(message)) => value(Err(message)).err().unwrap_or_else(protocol_error),
            _ => protocol_error(),
        }),
    }
}

/// The kind of one request of `clear()`'s walk over the keys under a prefix (SCAN, never KEYS,
/// which blocks Redis on a large keyspace). Each batch of found keys is deleted together with
/// the next SCAN step, in one pipeline request. The walk keeps no state but the step it is at:
/// the cursor and the keys to delete come from the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// A SCAN, alone.
    Scan,
    /// `[DEL found..., SCAN next]` as a pipeline.
    DeleteAndScan,
    /// The last DEL, once the cursor is back at 0.
    Delete,
}

impl Walk {
    /// The first request: a SCAN from cursor 0.
    pub fn start(prefix: &str) -> (Walk, String) {
        (Walk::Scan, scan("0", prefix))
    }

    /// The request after a step of this kind, given its answer (the body of a request of its
    /// own, or its entry in a pipeline); `None` when the walk is done.
    pub fn next(self, prefix: &str, answer: Json) -> Result<Option<(Walk, String)>> {
        let step = match self {
            Walk::Scan => step_result(answer)?,
            Walk::DeleteAndScan => {
                let mut answers = answers_of(answer, 2)?;
                let [deleted, scanned] = answers.as_mut_slice() else { return Err(protocol_error()) };
                integer(&step_result(core::mem::take(deleted))?)?;
                step_result(core::mem::take(scanned))?
            }
            Walk::Delete => {
                integer(&step_result(answer)?)?;
                return Ok(None);
            }
        };
        let (cursor, delete) = scan_step(&step)?;
        Ok(match (cursor == "0", delete) {
            (true, None) => None,
            (true, Some(delete)) => Some((Walk::Delete, delete)),
            (false, None) => Some((Walk::Scan, scan(&cursor, prefix))),
            (false, Some(delete)) => Some((Walk::DeleteAndScan, commands::batch(&[delete, scan(&cursor, prefix)]))),
        })
    }

    /// Whether the step's request is a pipeline of its own (sent to `/pipeline`).
    pub fn is_pipeline(self) -> bool {
        self == Walk::DeleteAndScan
    }
}

/// A step's result, or the error its answer says. (Not inlined into the walk's four reads:
/// 32 B less wasm.)
#[inline(never)]
fn step_result(answer: Json) -> Result<Json> {
    value(result(answer)?)
}

fn scan(cursor: &str, prefix: &str) -> String {
    command(&["SCAN", cursor, "MATCH", &commands::prefix_pattern(prefix), "COUNT", SCAN_COUNT])
}

/// `[cursor, [key, ...]]`: the cursor, and the DEL of the keys found (`None` for none).
fn scan_step(reply: &Json) -> Result<(String, Option<String>)> {
    let Json::Array(parts) = reply else { return Err(protocol_error()) };
    let [cursor, Json::Array(keys)] = parts.as_slice() else { return Err(protocol_error()) };
    let cursor = match cursor {
        Json::Str(cursor) => cursor.text(),
        Json::Number(cursor) => cursor.clone(),
        _ => return Err(protocol_error()),
    };
    let mut delete = None;
    for key in keys {
        let Json::Str(key) = key else { return Err(protocol_error()) };
        commands::append(delete.get_or_insert_with(|| command(&["DEL"])), &key.text());
    }
    Ok((cursor, delete))
}

/// The status and body of an answer as JSON, or the error they mean. A Redis error comes back
/// as 400 with `{"error": ...}` and is decoded per op (an `incr` on a string is NOT_A_NUMBER).
pub fn interpret(status: u16, body: &str) -> Result<Json> {
    match status {
        200 | 400 => json::parse(body).ok_or_else(|| {
            Error::cache(Code::Protocol, &["the server's answer is not JSON (HTTP ", &decimal(status.into()), ")"])
        }),
        401 | 403 => Err(Error::cache(Code::Auth, &["the server refused the token (HTTP ", &decimal(status.into()), ")"])),
        status => Err(Error::cache(Code::Server, &["the server answered HTTP ", &decimal(status.into())])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Op;
    use replies::decode;

    /// A single command's answer, as the engine reads it (`Engine::read`): the usual form as
    /// written, anything else as JSON.
    fn reply(expect: Expect, status: u16, body: &str) -> Result<Outcome> {
        match plain_reply(expect, status, body) {
            Some(outcome) => Ok(outcome),
            None => decode(expect, result(interpret(status, body)?)?),
        }
    }

    #[test]
    fn stored_texts_in_the_usual_form_are_passed_on_as_written() {
        let texts = Expect::Values(3);
        for (expect, body, json) in [
            (Expect::Value, r#"{"result":"{\"a\":1}"}"#, r#""{\"a\":1}""#),
            (Expect::Value, r#"{"result":null}"#, "null"),
            (texts, r#"{"result":["1",null,"\u00fc"]}"#, r#"["1",null,"\u00fc"]"#),
            // Not the usual form: the general reader gives the same.
            (texts, r#"{ "result" : [ "1" , null , "2" ] }"#, r#"["1",null,"2"]"#),
        ] {
            assert_eq!(reply(expect, 200, body), Ok(Outcome::Json(json.to_owned())), "{body}");
        }
        for body in [r#"{"result":["1",null]}"#, r#"{"result":["1",null,"2","3"]}"#, r#"{"result":["1",2,"3"]}"#, r#"{"result":"1"}"#] {
            assert!(reply(texts, 200, body).is_err(), "{body}");
        }
        assert!(reply(Expect::Value, 200, r#"{"result":"a\u00"}"#).is_err(), "a broken escape");
        assert!(reply(Expect::Value, 500, r#"{"result":"a"}"#).is_err(), "a 5xx is a 5xx whatever its body");
    }

    #[test]
    fn a_body_that_is_not_utf8_is_an_answer_that_is_not_json() {
        assert_eq!(body_text(br#"{"result":"\u00fc"}"#), r#"{"result":"\u00fc"}"#);
        assert_eq!(body_text("{\"result\":\"ü\"}".as_bytes()), "{\"result\":\"ü\"}");
        let error = reply(Expect::Value, 200, body_text(b"{\"result\":\"\xff\"}")).unwrap_err();
        assert_eq!(error.kind, crate::error::Kind::Cache(Code::Protocol));
    }

    #[test]
    fn idempotent_requests_are_retried_on_network_errors_and_5xx_with_backoff() {
        let delays: Vec<_> = (0..3).map(|attempt| retry_after(FetchFailure::Network, attempt, 2, true)).collect();
        assert_eq!(delays, [Some(50), Some(100), None], "one try and two retries");
        assert_eq!(retry_after(FetchFailure::Status5xx, 0, 2, true), Some(50));
        assert_eq!(retry_after(FetchFailure::Network, 9, 20, true), Some(MAX_BACKOFF_MS), "the backoff is capped");
        assert_eq!(retry_after(FetchFailure::Network, 0, 0, true), None, "retries: 0");
    }

    #[test]
    fn timeouts_are_never_retried_and_writes_that_must_not_run_twice_only_when_unsent() {
        for idempotent in [true, false] {
            assert_eq!(retry_after(FetchFailure::Timeout, 0, 2, idempotent), None);
            assert_eq!(retry_after(FetchFailure::Aborted, 0, 2, idempotent), None);
            assert_eq!(retry_after(FetchFailure::Unsent, 0, 2, idempotent), Some(50));
        }
        assert_eq!(retry_after(FetchFailure::Network, 0, 2, false), None);
        assert_eq!(retry_after(FetchFailure::Status5xx, 0, 2, false), None);
    }

    #[test]
    fn a_pipeline_answer_gives_each_call_its_own_result_or_error() {
        let expects = [Expect::of(&Op::Get { key: "a".into() }), Expect::of(&Op::Incr { key: "b".into(), delta: 1.0 })];
        let answers = pipeline_answers(2, 200, r#"[{"result":"1"},{"error":"ERR value is not a valid float"}]"#).unwrap();
        let outcomes: Vec<_> = expects.iter().zip(answers).map(|(&e, a)| decode(e, result(a)?)).collect();
        assert_eq!(outcomes[0], Ok(Outcome::Json(r#""1""#.into())));
        assert_eq!(outcomes[1].as_ref().unwrap_err().code(), Some(Code::NotANumber));
        for (status, body, code) in [
            (200, r#"[{"result":"1"}]"#, Code::Protocol),
            (400, r#"{"error":"ERR max 1000 commands"}"#, Code::Server),
            (503, "", Code::Server),
        ] {
            assert_eq!(pipeline_answers(2, status, body).unwrap_err().code(), Some(code), "{status} {body}");
        }
    }

    #[test]
    fn clear_walks_the_keyspace_deleting_each_batch_with_the_next_scan() {
        let answer = |body: &str| interpret(200, body).unwrap();
        let (first, body) = Walk::start("app:");
        assert_eq!(body, r#"["SCAN","0","MATCH","app:*","COUNT","1000"]"#);
        let (second, body) = first.next("app:", answer(r#"{"result":["17",["app:a","app:b"]]}"#)).unwrap().unwrap();
        assert_eq!(second, Walk::DeleteAndScan);
        assert!(second.is_pipeline() && !first.is_pipeline());
        assert_eq!(body, r#"[["DEL","app:a","app:b"],["SCAN","17","MATCH","app:*","COUNT","1000"]]"#);
        let third = second.next("app:", answer(r#"[{"result":2},{"result":["0",["app:c"]]}]"#)).unwrap().unwrap();
        assert_eq!(third, (Walk::Delete, r#"["DEL","app:c"]"#.into()));
        assert_eq!(third.0.next("app:", answer(r#"{"result":1}"#)), Ok(None));
        // An empty page with a cursor goes on scanning; an empty last page ends the walk.
        assert_eq!(Walk::Scan.next("p", answer(r#"{"result":["5",[]]}"#)).unwrap(), Some((Walk::Scan, scan("5", "p"))));
        assert_eq!(Walk::Scan.next("p", answer(r#"{"result":["0",[]]}"#)), Ok(None));
        assert!(Walk::Scan.next("p", answer(r#"{"result":["0",[1]]}"#)).is_err());
        // A DEL-and-SCAN pipeline refused as a whole fails with the server's error; one answer
        // per command or nothing.
        let refused = Walk::DeleteAndScan.next("p", answer(r#"{"error":"NOPERM no permissions"}"#)).unwrap_err();
        assert_eq!(refused, value(Err("NOPERM no permissions".into())).unwrap_err());
        assert_ne!(refused.code(), Some(Code::Protocol));
        assert_eq!(Walk::DeleteAndScan.next("p", answer(r#"[{"result":2}]"#)).unwrap_err().code(), Some(Code::Protocol));
    }

    #[test]
    fn statuses_become_coded_errors() {
        let get = Expect::of(&Op::Get { key: "k".into() });
        let cases = [
            (401, "", Code::Auth),
            (403, "{}", Code::Auth),
            (500, "oops", Code::Server),
            (502, "<html>Bad gateway</html>", Code::Server),
            (200, "<html>", Code::Protocol),
            (400, "not json", Code::Protocol),
            (400, r#"{"error":"ERR syntax"}"#, Code::Server),
        ];
        for (status, body, code) in cases {
            assert_eq!(reply(get, status, body).unwrap_err().code(), Some(code), "{status} {body}");
        }
    }
}
