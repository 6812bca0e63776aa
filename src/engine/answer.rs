//! Reading answers: what the answer to a request means for its call (the outcome, or the next
//! request), what a request that got no answer means, and when to retry one.

use crate::prelude::*;

use super::plan::{Read, Request, Route};
use super::{Engine, Host, KeyEvent, Step};
use crate::backend::rest::commands::{checked_again, Script};
use crate::backend::rest::replies::{decode, holds_tagged, protocol_error, result, script_missing, Expect};
use crate::backend::rest::{self, json, FetchFailure, Walk};
use crate::error::{Error, Result};
use crate::number::is_json_number;
use crate::ops::Outcome;

impl<H: Host> Engine<H> {
    /// What the answer to `request` (HTTP `status`, `body` as it came) means.
    pub fn read(&self, mut request: Request, status: u16, body: &[u8]) -> Result<Step> {
        if request.publishes {
            // A command with the bus's PUBLISH: a pipeline of two, sent alone.
            return self.read_pipeline(vec![request], status, body).pop().unwrap_or_else(|| Err(protocol_error()));
        }
        let mark = request.mark.take();
        let step = self.read_answer(request, status, body);
        self.end_mark(mark, step)
    }

    fn read_answer(&self, request: Request, status: u16, body: &[u8]) -> Result<Step> {
        let body = rest::body_text(body);
        if request.route() != Route::Pipelined {
            if let Some(outcome) = request.read.expect().and_then(|expect| rest::plain_reply(expect, status, body)) {
                return self.decoded(request, outcome);
            }
        }
        // Any other answer is read as a pipeline's entry is: an op's reply, a walk's step, a
        // near read, or a script sent alone by a transport that does not pipeline (NOSCRIPT is
        // then an HTTP 400).
        match rest::interpret(status, body) {
            Ok(answer) => self.answer(request, answer),
            Err(error) => self.request_failed(request.read, error, status >= 500),
        }
    }

    /// What the answer to a `/pipeline` request of these (single-command) requests means for
    /// each of them, in order. A request that failed as a whole fails each of them (or, for a
    /// near-tier read when the backend failed, serves what grace allows).
    pub fn read_pipeline(&self, mut requests: Vec<Request>, status: u16, body: &[u8]) -> Vec<Result<Step>> {
        // Every write's marks stay until every answer is read: a read after a write in the same
        // pipeline must not take the write as over (the simulation finds the stale read if so).
        let mut marks = Vec::with_capacity(requests.len());
        let mut count = 0;
        for request in &mut requests {
            marks.push(request.mark.take());
            count += request.commands();
        }
        // Answers and marks taken out in place, not by consuming iterators: each of those is wasm
        // code of its own per element type (decisions/0012).
        let mut answers = rest::pipeline_answers(count, status, rest::body_text(body));
        let mut next = 0;
        let mut steps = Vec::with_capacity(requests.len());
        for request in requests {
            steps.push(match &mut answers {
                Ok(answers) => {
                    let answer = answers.get_mut(next).map_or(json::Json::Null, core::mem::take);
                    // A request that publishes on the bus has the PUBLISH's answer after its own.
                    next += 1 + request.publishes as usize;
                    self.answer(request, answer)
                }
                Err(error) => self.request_failed(request.read, error.clone(), status >= 500),
            });
        }
        for (i, step) in steps.iter_mut().enumerate() {
            let read = core::mem::replace(step, Ok(Step::Done(Outcome::Done)));
            *step = self.end_mark(marks.get_mut(i).and_then(Option::take), read);
        }
        steps
    }

    /// What a request that got no answer (`failure`; `detail`: what the runtime said) means
    /// for its call: the error, or for a near-tier read, what grace allows.
    pub fn unanswered(&self, mut request: Request, failure: FetchFailure, detail: &str) -> Result<Step> {
        let mark = request.mark.take();
        let backend_failed = matches!(failure, FetchFailure::Network | FetchFailure::Unsent | FetchFailure::Timeout);
        let step = self.request_failed(request.read, failure.error(detail), backend_failed);
        self.end_mark(mark, step)
    }

    /// Milliseconds to wait before retry number `attempt + 1` of a request that failed as
    /// `failure`, or `None` to give up.
    pub fn retry_after(&self, failure: FetchFailure, attempt: u32, once: bool) -> Option<u32> {
        rest::retry_after(failure, attempt, self.retries, !once)
    }

    /// One command's answer (a request of its own, or its entry in a pipeline). A script sent
    /// by its SHA-1 to a server that does not have it did not run: it goes again in full.
    fn answer(&self, request: Request, answer: json::Json) -> Result<Step> {
        if request.route() == Route::Pipelined && script_missing(&answer) {
            if let Some(body) = Script::in_full(&request.body) {
                return Ok(Step::Send(Request { body, ..request }));
            }
        }
        if let Some(expect) = request.read.expect() {
            let outcome = decode(expect, result(answer)?)?;
            return self.decoded(request, outcome);
        }
        match request.read {
            Read::Walk(walk) => self.walk(walk, answer),
            Read::NearFetch(read) => self.near_answer(*read, result(answer)?),
            // Each has an `expect`, handled above.
            Read::Reply(_) | Read::Keys(_) | Read::Part(_) => Err(protocol_error()),
        }
    }

    /// An op's reply, decoded: sent again as the checking script when a plain read met a tagged
    /// entry (`recheck`), else what it means for the call.
    fn decoded(&self, request: Request, outcome: Outcome) -> Result<Step> {
        if let Some(body) = self.recheck(&request.body, &outcome) {
            return Ok(Step::Send(Request::new(body, request.read, false)));
        }
        match request.read {
            Read::Reply(expect) => self.finish(expect, outcome),
            Read::Keys(read) => {
                let (expect, keys) = *read;
                self.note_found(&keys, &outcome);
                self.finish(expect, outcome)
            }
            Read::Part(parts) => self.next_part(*parts, outcome),
            Read::Walk(_) | Read::NearFetch(_) => Err(protocol_error()),
        }
    }

    /// A request that failed with `error`; `backend_failed`: on the network, by timeout or a 5xx.
    fn request_failed(&self, read: Read, error: Error, backend_failed: bool) -> Result<Step> {
        let (Read::NearFetch(read), Some(near)) = (read, &self.near) else {
            return Err(error);
        };
        let now = self.host.now_ms();
        // Whatever failed, a refresh of these keys is over (`fallback` says so to the tier): of
        // each of them, also past one the tier has nothing for.
        let mut found = Vec::with_capacity(read.fetch.len());
        let mut all = true;
        let mut tier = near.borrow_mut();
        for key in &read.fetch {
            match tier.fallback(key, now) {
                Some(value) => found.push(value),
                None => all = false,
            }
        }
        drop(tier);
        if !(all && backend_failed && !read.background) {
            return Err(error);
        }
        self.count(|s| s.stale_served += found.len() as u64);
        for key in &read.fetch {
            self.note(KeyEvent::Stale, key);
        }
        Ok(Step::Done(super::near_calls::near_outcome(read.many, found)))
    }

    /// A plain read (without `tagged`) whose answer holds a tagged entry: its body again as the
    /// script that checks the entry's tags (one more request, only then).
    fn recheck(&self, body: &str, outcome: &Outcome) -> Option<String> {
        if self.tagged || !holds_tagged(outcome) {
            return None;
        }
        checked_again(body)
    }

    pub(super) fn finish(&self, expect: Expect, outcome: Outcome) -> Result<Step> {
        Ok(Step::Done(if expect == Expect::Number { self.number(outcome)? } else { outcome }))
    }

    /// `incr`'s answer, the new number's text, as the number: only a finite JSON number is one
    /// (a server that sent 5000 digits or a word must not make `incr` resolve with Infinity).
    pub(super) fn number(&self, outcome: Outcome) -> Result<Outcome> {
        match outcome {
            Outcome::Value(Some(text)) if is_json_number(&text) => {
                let n = self.host.parse(&text);
                if n.is_finite() {
                    return Ok(Outcome::Number(n));
                }
                Err(protocol_error())
            }
            _ => Err(protocol_error()),
        }
    }

    fn walk(&self, walk: Walk, answer: json::Json) -> Result<Step> {
        let prefix = self.keys.clear_prefix().unwrap_or_default();
        Ok(match walk.next(&prefix, answer)? {
            Some((walk, body)) => Step::Send(Request::new(body, Read::Walk(walk), false)),
            None => Step::Done(Outcome::Done),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::error::Code;

    #[test]
    fn a_pipeline_answer_is_read_for_each_request() {
        let e = rest(Options::default());
        let requests = [sent(e.get("a", NONE)), sent(e.incr("b", None, NONE)), sent(e.touch("c", TtlGiven::Never, NONE))];
        let steps = e.read_pipeline(requests.to_vec(), 200, br#"[{"result":null},{"error":"ERR value is not a valid float"},{"result":1}]"#);
        assert_eq!(steps[0], Ok(Step::Done(Outcome::Json("null".into()))));
        assert_eq!(steps[1].as_ref().unwrap_err().code(), Some(Code::NotANumber));
        assert_eq!(steps[2], Ok(Step::Done(Outcome::Bool(true))));
        for (status, body, code) in [(200, &br#"[{"result":null}]"#[..], Code::Protocol), (503, b"", Code::Server)] {
            let each = e.read_pipeline(requests.to_vec(), status, body);
            assert_eq!(each.len(), 3);
            assert!(each.iter().all(|r| r.as_ref().unwrap_err().code() == Some(code)), "{status}: each request fails as the whole");
        }
    }

    #[test]
    fn clear_with_a_prefix_walks_until_the_answer_says_it_is_done() {
        let e = rest(Options { key_prefix: Some("app".into()), ..Options::default() });
        let scan = sent(e.clear(NONE));
        assert_eq!(scan.body, r#"["SCAN","0","MATCH","app:*","COUNT","1000"]"#);
        let both = sent(e.read(scan, 200, br#"{"result":["9",["app:a"]]}"#));
        assert_eq!(both.route(), Route::Pipeline);
        let last = sent(e.read(both, 200, br#"[{"result":1},{"result":["0",["app:b"]]}]"#));
        assert_eq!((last.body.as_str(), last.route()), (r#"["DEL","app:b"]"#, Route::Command));
        // A single-command step may be batched with other calls: read from its pipeline entry.
        assert_eq!(e.read_pipeline(vec![last], 200, br#"[{"result":1}]"#), vec![Ok(Step::Done(Outcome::Done))]);
        let unprefixed = rest(Options::default());
        assert_eq!(sent(unprefixed.clear(NONE)).body, r#"["FLUSHDB"]"#);
    }

    #[test]
    fn retries_follow_the_option_and_never_repeat_what_must_run_once() {
        let e = rest(Options { retries: Some(1.0), ..Options::default() });
        assert_eq!(e.retry_after(FetchFailure::Network, 0, false), Some(50));
        assert_eq!(e.retry_after(FetchFailure::Network, 1, false), None);
        assert_eq!(e.retry_after(FetchFailure::Status5xx, 0, true), None);
        assert_eq!(e.retry_after(FetchFailure::Unsent, 0, true), Some(50));
        let timed_out = e.unanswered(sent(e.incr("k", None, NONE)), FetchFailure::Timeout, "5000 ms").unwrap_err();
        assert_eq!((timed_out.code(), timed_out.message.as_str()), (Some(Code::Timeout), "the request timed out: 5000 ms"));
    }
}
