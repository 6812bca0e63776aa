//! The REST backend: `Op`s as Redis commands to an Upstash-style REST endpoint.
//!
//! Everything here is plain Rust: the HTTP request itself goes through a `Transport` (in the
//! wasm build, `fetch`; see `crate::transport`), so planning, status handling, reply decoding
//! and the SCAN walk of `clear()` are tested on the host.

mod batch;
pub mod commands;
pub mod json;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use batch::{Queued, Wait, YieldOnce};
use commands::{batch, command, decode, decimal, integer, plan, prefix_pattern, protocol_error, result, value, Reply};
use json::Json;

use crate::core::error::{Code, Error, Result};
use crate::core::number::Numbers;
use crate::core::ops::{Op, Outcome};

/// An HTTP answer: its status and body text.
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// How requests leave: one POST to the endpoint plus `path` with a JSON body.
// The futures are not Send (wasm is single-threaded), so no `async_trait` machinery is needed.
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// A failed request is a `NETWORK` error (with `unsent` when it provably never left),
    /// `TIMEOUT` or `ABORTED`.
    async fn post(&self, path: &'static str, body: &str) -> Result<Response>;
    /// Waits about `ms` milliseconds (the transport adds jitter, so clients that failed together
    /// do not retry together).
    async fn sleep(&self, ms: u32);
}

/// Most commands in one pipeline request: the gateway's own default limit, so that a burst of
/// calls in one tick goes out as one request (batches are sent one after the other to keep call
/// order, so each further batch adds a round trip to the calls in it).
pub const MAX_BATCH: usize = 1000;

/// Most bytes of commands in one pipeline request: well below request size limits (Upstash:
/// 1 MB on the free tier; the gateway: 1 MiB by default).
pub const MAX_BATCH_BYTES: usize = 512 * 1024;

/// How many keys one SCAN step asks for while `clear()` walks the keyspace.
const SCAN_COUNT: &str = "1000";

/// The first retry waits about this long; each next one twice as long, up to `MAX_BACKOFF_MS`.
const FIRST_BACKOFF_MS: u32 = 50;
const MAX_BACKOFF_MS: u32 = 1000;

pub struct Rest<T> {
    transport: T,
    auto_pipeline: bool,
    /// Retries of a failed request, when it is safe (see `send`).
    retries: u32,
    /// Commands waiting for the next pipeline request, in call order.
    queue: RefCell<VecDeque<Queued>>,
}

impl<T: Transport> Rest<T> {
    pub fn new(transport: T, auto_pipeline: bool, retries: u32) -> Self {
        Rest { transport, auto_pipeline, retries, queue: RefCell::new(VecDeque::new()) }
    }

    /// One request, retried on a network error or a 5xx answer, with exponential backoff. A
    /// request that is not `idempotent` (it holds a command that must not run twice) is retried
    /// only when it provably never reached the server; otherwise its caller gets the error and
    /// cannot know whether the command ran. A timeout is not retried: the caller's time is up.
    async fn send(&self, path: &'static str, body: &str, idempotent: bool) -> Result<Json> {
        let mut attempt = 0;
        loop {
            let retry = match self.transport.post(path, body).await {
                Ok(response) if response.status >= 500 && idempotent => Err(response),
                Ok(response) => return interpret(response),
                Err(error) if error.code() == Some(Code::Network) && (idempotent || error.unsent) => Ok(error),
                Err(error) => return Err(error),
            };
            if attempt >= self.retries {
                return match retry {
                    Ok(error) => Err(error),
                    Err(response) => interpret(response),
                };
            }
            self.transport.sleep(FIRST_BACKOFF_MS.saturating_mul(1 << attempt.min(10)).min(MAX_BACKOFF_MS)).await;
            attempt += 1;
        }
    }

    pub async fn execute(&self, op: Op, numbers: &dyn Numbers) -> Result<Outcome> {
        if let Op::Clear { prefix: Some(prefix) } = &op {
            return self.clear_prefix(prefix).await;
        }
        let command = plan(&op, numbers);
        let idempotent = op.idempotent();
        let result = if self.auto_pipeline {
            self.queued(Queued { command, idempotent, slot: Rc::default() }).await
        } else {
            self.single(&command, idempotent).await
        };
        decode(&op, result?)
    }

    /// One command, one request.
    async fn single(&self, command: &str, idempotent: bool) -> Result<Reply> {
        result(self.send("", command, idempotent).await?)
    }

    /// Automatic pipelining: the first call of a tick waits for the others, then sends every
    /// queued command (in call order, up to `MAX_BATCH` commands or `MAX_BATCH_BYTES` at a time,
    /// one request after the other so order holds across batches too); each call gets its own
    /// result or error.
    async fn queued(&self, call: Queued) -> Result<Reply> {
        let slot = call.slot.clone();
        let leads = self.queue.borrow().is_empty();
        self.queue.borrow_mut().push_back(call);
        if leads {
            YieldOnce(false).await;
            loop {
                let queued: Vec<Queued> = {
                    let mut queue = self.queue.borrow_mut();
                    let mut bytes = 0;
                    let n = queue
                        .iter()
                        .take(MAX_BATCH)
                        .take_while(|q| {
                            bytes += q.command.len() + 1;
                            bytes <= MAX_BATCH_BYTES
                        })
                        .count()
                        .max(1); // a single command larger than the cap still goes out, alone
                    let n = n.min(queue.len());
                    queue.drain(..n).collect()
                };
                if queued.is_empty() {
                    break;
                }
                self.send_batch(queued).await;
            }
        }
        Wait(slot).await
    }

    async fn send_batch(&self, queued: Vec<Queued>) {
        if let [only] = queued.as_slice() {
            only.slot.fill(self.single(&only.command, only.idempotent).await);
            return;
        }
        let commands: Vec<&str> = queued.iter().map(|q| q.command.as_str()).collect();
        let idempotent = queued.iter().all(|q| q.idempotent);
        let answer = self.send("/pipeline", &batch(&commands), idempotent).await;
        match answer {
            Ok(Json::Array(items)) if items.len() == queued.len() => {
                for (q, item) in queued.iter().zip(items) {
                    q.slot.fill(result(item));
                }
            }
            // The whole request failed: every call in it fails the same way.
            other => {
                let error = match other {
                    Err(error) => error,
                    // A pipeline refused as a whole: `{"error": ...}` with 400.
                    Ok(reply) => match result(reply) {
                        Ok(Err(message)) => value(Err(message)).err().unwrap_or_else(protocol_error),
                        _ => protocol_error(),
                    },
                };
                for q in &queued {
                    q.slot.fill(Err(error.clone()));
                }
            }
        }
    }

    /// Deletes the keys under `prefix` with SCAN (never KEYS, which blocks Redis on a large
    /// keyspace), sending each batch's DEL together with the next SCAN step in one pipeline.
    /// Not part of the automatic pipeline: it takes several requests by nature.
    async fn clear_prefix(&self, prefix: &str) -> Result<Outcome> {
        let pattern = prefix_pattern(prefix);
        let mut cursor = String::from("0");
        let mut doomed: Vec<String> = Vec::new();
        loop {
            let scan = command(&["SCAN", &cursor, "MATCH", &pattern, "COUNT", SCAN_COUNT]);
            let step = if doomed.is_empty() {
                value(result(self.send("", &scan, true).await?)?)?
            } else {
                let reply = self.send("/pipeline", &batch(&[delete(&doomed), scan]), true).await?;
                let mut results = match reply {
                    Json::Array(items) if items.len() == 2 => items.into_iter().map(|r| value(result(r)?)),
                    other => return Err(value(result(other)?).err().unwrap_or_else(protocol_error)),
                };
                integer(&results.next().ok_or_else(protocol_error)??)?;
                results.next().ok_or_else(protocol_error)??
            };
            (cursor, doomed) = scan_step(step)?;
            if cursor == "0" {
                if !doomed.is_empty() {
                    integer(&value(result(self.send("", &delete(&doomed), true).await?)?)?)?;
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
fn scan_step(reply: Json) -> Result<(String, Vec<String>)> {
    let Json::Array(parts) = reply else { return Err(protocol_error()) };
    let mut parts = parts.into_iter();
    let (Some(Json::Str(cursor) | Json::Number(cursor)), Some(Json::Array(keys))) = (parts.next(), parts.next()) else {
        return Err(protocol_error());
    };
    let keys = keys
        .into_iter()
        .map(|k| match k {
            Json::Str(k) => Ok(k),
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
    use std::task::{Context, Poll, Waker};

    /// A transport that records what was sent and answers from a script: enough to check the
    /// request sequence of `clear()` and the status handling. The real protocol is tested
    /// against the gateway and a real Redis by the conformance suite.
    struct Scripted {
        sent: RefCell<Vec<(&'static str, String)>>,
        answers: RefCell<VecDeque<Result<Response>>>,
        slept: RefCell<Vec<u32>>,
    }


    impl Transport for Scripted {
        async fn post(&self, path: &'static str, body: &str) -> Result<Response> {
            self.sent.borrow_mut().push((path, body.to_owned()));
            self.answers.borrow_mut().pop_front().unwrap_or_else(|| Err(protocol_error()))
        }
        async fn sleep(&self, ms: u32) {
            self.slept.borrow_mut().push(ms);
        }
    }

    fn scripted(answers: &[(u16, &str)]) -> Rest<Scripted> {
        scripted_with(answers, false)
    }

    fn scripted_with(answers: &[(u16, &str)], auto_pipeline: bool) -> Rest<Scripted> {
        scripted_results(answers.iter().map(|(s, b)| Ok(Response { status: *s, body: (*b).to_owned() })).collect(), auto_pipeline, 0)
    }

    fn scripted_results(answers: Vec<Result<Response>>, auto_pipeline: bool, retries: u32) -> Rest<Scripted> {
        let transport = Scripted { sent: RefCell::default(), answers: RefCell::new(answers.into()), slept: RefCell::default() };
        Rest::new(transport, auto_pipeline, retries)
    }

    fn network(unsent: bool) -> Result<Response> {
        let mut error = Error::cache(Code::Network, &["the request failed: test"]);
        error.unsent = unsent;
        Err(error)
    }

    fn ok(body: &str) -> Result<Response> {
        Ok(Response { status: 200, body: body.to_owned() })
    }

    fn status(code: u16) -> Result<Response> {
        Ok(Response { status: code, body: "<html>error</html>".to_owned() })
    }

    #[test]
    fn idempotent_calls_are_retried_on_network_errors_and_5xx_with_backoff() {
        let rest = scripted_results(vec![network(false), status(503), ok(r#"{"result":"1"}"#)], false, 2);
        assert_eq!(ready(rest.execute(Op::Get { key: "k".into() }, &StdNumbers)), Ok(Outcome::Value(Some("1".into()))));
        assert_eq!(rest.transport.sent.borrow().len(), 3);
        assert_eq!(*rest.transport.slept.borrow(), vec![50, 100]);
    }

    #[test]
    fn retries_stop_at_the_limit_and_never_follow_4xx_or_timeouts() {
        let rest = scripted_results(vec![status(502), status(502), status(502), ok("{}")], false, 2);
        assert_eq!(ready(rest.execute(Op::Get { key: "k".into() }, &StdNumbers)).unwrap_err().code(), Some(Code::Server));
        assert_eq!(rest.transport.sent.borrow().len(), 3, "one try and two retries");
        for answer in [status(401), status(413), Err(Error::cache(Code::Timeout, &["t"])), Err(Error::cache(Code::Aborted, &["a"]))] {
            let rest = scripted_results(vec![answer, ok(r#"{"result":null}"#)], false, 2);
            assert!(ready(rest.execute(Op::Get { key: "k".into() }, &StdNumbers)).is_err());
            assert_eq!(rest.transport.sent.borrow().len(), 1);
        }
    }

    #[test]
    fn writes_that_must_not_run_twice_are_retried_only_when_provably_unsent() {
        let incr = || Op::Incr { key: "n".into(), delta: 1.0 };
        for (answer, code) in [(network(false), Code::Network), (status(500), Code::Server)] {
            let rest = scripted_results(vec![answer, ok(r#"{"result":"1"}"#)], false, 2);
            let error = ready(rest.execute(incr(), &StdNumbers)).unwrap_err();
            assert_eq!(error.code(), Some(code), "an HTTP failure is not a stored value's fault");
            assert_eq!(rest.transport.sent.borrow().len(), 1);
        }
        let rest = scripted_results(vec![network(true), ok(r#"{"result":"1"}"#)], false, 2);
        assert_eq!(ready(rest.execute(incr(), &StdNumbers)), Ok(Outcome::Value(Some("1".into()))));
        // A pipeline holding one such write is such a request too.
        let rest = scripted_results(vec![network(false), ok(r#"[{"result":null},{"result":"1"}]"#)], true, 2);
        let outcomes = run_all(vec![rest.execute(Op::Get { key: "a".into() }, &StdNumbers), rest.execute(incr(), &StdNumbers)]);
        assert!(outcomes.iter().all(|o| o.as_ref().unwrap_err().code() == Some(Code::Network)));
        assert_eq!(rest.transport.sent.borrow().len(), 1);
    }

    /// Runs futures as one tick would: each polled in turn until all are done.
    fn run_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
        let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
        let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
        for _round in 0..10 {
            for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
                if output.is_none() {
                    if let Poll::Ready(out) = future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                        *output = Some(out);
                    }
                }
            }
        }
        outputs.into_iter().map(|o| o.expect("the scripted transport never waits for long")).collect()
    }

    fn ready<F: std::future::Future>(future: F) -> F::Output {
        run_all(vec![future]).pop().expect("one output")
    }

    #[test]
    fn calls_of_one_tick_share_one_pipeline_request_in_call_order() {
        let rest = scripted_with(&[(200, r#"[{"result":"OK"},{"result":"1"},{"error":"ERR boom"}]"#)], true);
        let outcomes = run_all(vec![
            rest.execute(Op::Set { key: "k".into(), value: "1".into(), ttl_ms: None }, &StdNumbers),
            rest.execute(Op::Get { key: "k".into() }, &StdNumbers),
            rest.execute(Op::Get { key: "x".into() }, &StdNumbers),
        ]);
        assert_eq!(outcomes[0], Ok(Outcome::Done));
        assert_eq!(outcomes[1], Ok(Outcome::Value(Some("1".into()))));
        assert_eq!(outcomes[2].as_ref().unwrap_err().code(), Some(Code::Server), "its own error, not the others'");
        let sent = rest.transport.sent.borrow();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0], ("/pipeline", r#"[["SET","k","1"],["GET","k"],["GET","x"]]"#.to_owned()));
    }

    #[test]
    fn a_failed_pipeline_request_fails_every_call_in_it() {
        let rest = scripted_with(&[(502, "<html>Bad gateway</html>")], true);
        let outcomes = run_all(vec![
            rest.execute(Op::Get { key: "a".into() }, &StdNumbers),
            rest.execute(Op::Get { key: "b".into() }, &StdNumbers),
        ]);
        for outcome in outcomes {
            assert_eq!(outcome.unwrap_err().code(), Some(Code::Server));
        }
    }

    #[test]
    fn a_lone_call_goes_out_as_a_plain_request() {
        let rest = scripted_with(&[(200, r#"{"result":null}"#)], true);
        assert_eq!(ready(rest.execute(Op::Get { key: "a".into() }, &StdNumbers)), Ok(Outcome::Value(None)));
        assert_eq!(rest.transport.sent.borrow()[0], ("", r#"["GET","a"]"#.to_owned()));
    }

    #[test]
    fn batches_are_capped_and_sent_in_order() {
        let answer = |n: usize| format!("[{}]", vec![r#"{"result":null}"#; n].join(","));
        let (first, second) = (answer(MAX_BATCH), answer(5));
        let rest = scripted_with(&[(200, &first), (200, &second)], true);
        let calls = (0..MAX_BATCH + 5).map(|i| rest.execute(Op::Get { key: i.to_string() }, &StdNumbers)).collect();
        assert!(run_all(calls).iter().all(|o| *o == Ok(Outcome::Value(None))));
        let sent = rest.transport.sent.borrow();
        assert_eq!(sent.len(), 2);
        assert!(sent[0].1.starts_with(r#"[["GET","0"],["GET","1"],"#) && sent[1].1.ends_with(r#"["GET","1004"]]"#));
    }

    #[test]
    fn batches_are_capped_by_bytes_too() {
        let big = "x".repeat(MAX_BATCH_BYTES / 2);
        let ok = (200, r#"{"result":"OK"}"#);
        let rest = scripted_with(&[ok, ok, ok], true);
        let calls = (0..3).map(|i| rest.execute(Op::Set { key: i.to_string(), value: big.clone(), ttl_ms: None }, &StdNumbers)).collect();
        assert!(run_all(calls).iter().all(|o| *o == Ok(Outcome::Done)));
        let sent = rest.transport.sent.borrow();
        assert_eq!(sent.len(), 3, "two half-cap values do not fit one request");
        assert!(sent.iter().all(|(path, _)| path.is_empty()), "each went out alone");
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
