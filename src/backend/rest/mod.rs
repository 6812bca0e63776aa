//! The REST backend: `Op`s as Redis commands to an Upstash-style REST endpoint.
//!
//! Everything here is plain Rust: the HTTP request itself goes through a `Transport` (in the
//! wasm build, `fetch`; see `crate::transport`), so planning, status handling, reply decoding
//! and the SCAN walk of `clear()` are tested on the host.

pub mod commands;
pub mod json;

use commands::{batch, command, decimal, decode, integer, plan, prefix_pattern, protocol_error, result, results, Endpoint, Request};
use json::Json;

use crate::core::error::{Code, Error, Result};
use crate::core::number::Numbers;
use crate::core::ops::{Op, Outcome};

/// An HTTP answer: its status and body text.
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// Sends one POST to the endpoint plus `path` with a JSON body.
// The futures are not Send (wasm is single-threaded), so no `async_trait` machinery is needed.
#[allow(async_fn_in_trait)]
pub trait Transport {
    async fn post(&self, path: &'static str, body: String) -> Result<Response>;
}

/// How many keys one SCAN step asks for while `clear()` walks the keyspace.
const SCAN_COUNT: &str = "1000";

pub struct Rest<T> {
    transport: T,
}

impl<T: Transport> Rest<T> {
    pub fn new(transport: T) -> Self {
        Rest { transport }
    }

    pub async fn execute(&self, op: Op, numbers: &dyn Numbers) -> Result<Outcome> {
        if let Op::Clear { prefix: Some(prefix) } = &op {
            return self.clear_prefix(prefix).await;
        }
        let reply = self.send(plan(&op, numbers)).await?;
        decode(&op, &reply)
    }

    async fn send(&self, request: Request) -> Result<Json> {
        let response = self.transport.post(request.endpoint.path(), request.body).await?;
        interpret(response)
    }

    /// Deletes the keys under `prefix` with SCAN (never KEYS, which blocks Redis on a large
    /// keyspace), sending each batch's DEL together with the next SCAN step in one pipeline.
    async fn clear_prefix(&self, prefix: &str) -> Result<Outcome> {
        let pattern = prefix_pattern(prefix);
        let mut cursor = String::from("0");
        let mut doomed: Vec<String> = Vec::new();
        loop {
            let scan = command(&["SCAN", &cursor, "MATCH", &pattern, "COUNT", SCAN_COUNT]);
            let reply = if doomed.is_empty() {
                self.send(Request { endpoint: Endpoint::Single, body: scan }).await?
            } else {
                self.send(Request { endpoint: Endpoint::Pipeline, body: batch(&[delete(&doomed), scan]) }).await?
            };
            let step = if doomed.is_empty() {
                result(&reply)?
            } else {
                let r = results(&reply, 2)?;
                integer(r[0])?;
                r[1]
            };
            (cursor, doomed) = scan_step(step)?;
            if cursor == "0" {
                if !doomed.is_empty() {
                    let reply = self.send(Request { endpoint: Endpoint::Single, body: delete(&doomed) }).await?;
                    integer(result(&reply)?)?;
                }
                return Ok(Outcome::Done);
            }
        }
    }
}

fn delete(keys: &[String]) -> String {
    let mut args = vec!["DEL"];
    args.extend(keys.iter().map(String::as_str));
    command(&args)
}

/// `[cursor, [key, ...]]`
fn scan_step(reply: &Json) -> Result<(String, Vec<String>)> {
    let Json::Array(parts) = reply else { return Err(protocol_error()) };
    let (Some(cursor), Some(Json::Array(keys))) = (parts.first(), parts.get(1)) else {
        return Err(protocol_error());
    };
    let cursor = match cursor {
        Json::Str(c) => c.clone(),
        Json::Number(c) => c.clone(),
        _ => return Err(protocol_error()),
    };
    let keys = keys
        .iter()
        .map(|k| match k {
            Json::Str(k) => Ok(k.clone()),
            _ => Err(protocol_error()),
        })
        .collect::<Result<_>>()?;
    Ok((cursor, keys))
}

/// The status and body of an answer as JSON, or the error they mean. A Redis error comes back
/// as 400 with `{"error": ...}` and is decoded per op (an `incr` on a string is NOT_A_NUMBER).
pub fn interpret(response: Response) -> Result<Json> {
    match response.status {
        200 | 400 => json::parse(&response.body).ok_or_else(|| {
            Error::cache(Code::Protocol, &["the server's answer is not JSON (HTTP ", &decimal(response.status.into()), ")"])
        }),
        401 | 403 => Err(Error::cache(Code::Auth, &["the server refused the token (HTTP ", &decimal(response.status.into()), ")"])),
        status => Err(Error::cache(Code::Server, &["the server answered HTTP ", &decimal(status.into())])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::number::StdNumbers;
    use std::cell::RefCell;
    use std::collections::VecDeque;

    /// A transport that records what was sent and answers from a script: enough to check the
    /// request sequence of `clear()` and the status handling. The real protocol is tested
    /// against the gateway and a real Redis by the conformance suite.
    struct Scripted {
        sent: RefCell<Vec<(&'static str, String)>>,
        answers: RefCell<VecDeque<Response>>,
    }

    impl Transport for Scripted {
        async fn post(&self, path: &'static str, body: String) -> Result<Response> {
            self.sent.borrow_mut().push((path, body));
            self.answers.borrow_mut().pop_front().ok_or_else(protocol_error)
        }
    }

    fn scripted(answers: &[(u16, &str)]) -> Rest<Scripted> {
        Rest::new(Scripted {
            sent: RefCell::new(Vec::new()),
            answers: RefCell::new(answers.iter().map(|(s, b)| Response { status: *s, body: (*b).to_owned() }).collect()),
        })
    }

    /// Runs a future that never waits (the scripted transport answers at once).
    fn ready<F: std::future::Future>(future: F) -> F::Output {
        use std::task::{Context, Poll, Waker};
        let mut future = std::pin::pin!(future);
        match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("the scripted transport never waits"),
        }
    }

    #[test]
    fn clear_walks_the_keyspace_deleting_each_batch_with_the_next_scan() {
        let rest = scripted(&[
            (200, r#"{"result":["17",["app:a","app:b"]]}"#),
            (200, r#"[{"result":2},{"result":["0",["app:c"]]}]"#),
            (200, r#"{"result":1}"#),
        ]);
        let outcome = ready(rest.execute(Op::Clear { prefix: Some("app:".into()) }, &StdNumbers));
        assert_eq!(outcome, Ok(Outcome::Done));
        let sent = rest.transport.sent.borrow();
        assert_eq!(sent[0], ("", r#"["SCAN","0","MATCH","app:*","COUNT","1000"]"#.to_owned()));
        assert_eq!(sent[1], ("/pipeline", r#"[["DEL","app:a","app:b"],["SCAN","17","MATCH","app:*","COUNT","1000"]]"#.to_owned()));
        assert_eq!(sent[2], ("", r#"["DEL","app:c"]"#.to_owned()));
        assert_eq!(sent.len(), 3);
    }

    #[test]
    fn statuses_become_coded_errors() {
        let get = || Op::Get { key: "k".into() };
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
            let error = ready(scripted(&[(status, body)]).execute(get(), &StdNumbers)).unwrap_err();
            assert_eq!(error.code(), Some(code), "{status} {body}");
        }
    }
}
