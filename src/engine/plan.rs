//! Request planning: an op carried out at once (memory, dummy), or the REST request to send
//! for it, with what reading its answer needs (`Read`). A list too long for one request goes
//! in parts, one after another.

use crate::prelude::*;

use alloc::boxed::Box;

use super::{Backend, Engine, Host, Step};
use crate::backend::dummy;
use crate::backend::rest::commands::{plan, plan_checked};
use crate::backend::rest::replies::Expect;
use crate::backend::rest::{json, Walk};
use crate::error::Result;
use crate::ops::{Op, Outcome};

/// The most bytes of commands one REST request carries: well under the gateway's default
/// `--max-body` (8 MiB) and Upstash's 1 MB. A longer list (`getMany`, `setMany`, `deleteMany`)
/// goes in several requests, one after another.
pub const MAX_REQUEST_BYTES: usize = 512 * 1024;

/// A request for the transport to send: the body, and what the engine needs to read its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// One command (`["GET","k"]`); for `Route::Pipeline` a list of them; with `publishes`,
    /// a command, a comma and a PUBLISH.
    pub body: String,
    pub(super) read: Read,
    /// The command must not run twice (`add`, `incr`...): retried only when provably unsent.
    pub once: bool,
    /// With the bus: `body` is the command and a PUBLISH of what it changes (the PUBLISH's
    /// answer is not read).
    pub publishes: bool,
    /// With the near tier, a write's marks, ended when its call ends (`near_calls.rs`).
    pub(super) mark: Option<Box<WriteMark>>,
}

/// Where the transport sends a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// One command: alone to the endpoint, or batched with others of its tick into `/pipeline`.
    Command = 0,
    /// Commands that go inside a `/pipeline` request, alone or batched: a script sent by its
    /// SHA-1 (its NOSCRIPT answer is then the command's own entry rather than an HTTP 400,
    /// which browsers log in the console), or a command with the bus's PUBLISH.
    Pipelined = 1,
    /// A list of commands of its own (`clear()`'s DEL and next SCAN): to `/pipeline`, alone.
    Pipeline = 2,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Read {
    Reply(Expect),
    /// A read of these keys, with `onEvent`: `Reply`, and each key's hit or miss noted.
    Keys(Box<(Expect, Vec<String>)>),
    Walk(Walk),
    /// One part of a list too long for one request: the parts still to send, and for `getMany`
    /// the values read so far.
    Part(Box<Parts>),
    /// A read through the near tier: the keys it fetches with their PTTL, and for `getMany`
    /// what the near tier already had for each requested key (`None` where fetched).
    NearFetch(Box<NearFetch>),
}

impl Read {
    /// How to decode the answer, for the reads whose answer is one op's reply.
    pub(super) fn expect(&self) -> Option<Expect> {
        match self {
            Read::Reply(expect) => Some(*expect),
            Read::Keys(read) => Some(read.0),
            Read::Part(parts) => Some(parts.expect),
            Read::Walk(_) | Read::NearFetch(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct NearFetch {
    pub fetch: Vec<String>,
    pub epoch: u64,
    pub many: Option<Vec<Option<Option<String>>>>,
    /// A stale-while-revalidate refresh: no caller waits for it, so a failure serves nothing.
    pub background: bool,
}

/// A write's marks in the near tier, while it is in flight.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct WriteMark {
    /// The keys it writes; `None` for `clear()` and `invalidateTags` (any key).
    pub keys: Option<Vec<String>>,
    /// The write's id in the near tier.
    pub id: u64,
    /// What the keys hold once it succeeds, when the op says: each key's value (`None`:
    /// deleted) and the ttl.
    pub written: Option<(Vec<Option<String>>, Option<u64>)>,
    /// Which outcome says it succeeded.
    pub stores: Stores,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stores {
    /// Any outcome (set, setMany, delete).
    Always,
    /// `Bool(true)` (add).
    IfAdded,
    /// No value was there (getOrSet's store-if-missing answers null).
    IfMissing,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Parts {
    /// The part in flight's reply, as `Expect::of` its op says.
    expect: Expect,
    /// The whole list's op (`getMany`, `setMany`, `deleteMany`), sent a slice at a time.
    op: Op,
    /// Where the next part starts in the op's list.
    next: usize,
    /// `getMany`: the JSON texts of the values read so far, comma-separated.
    values: String,
}

impl Request {
    pub(super) fn new(body: String, read: Read, once: bool) -> Request {
        Request { body, read, once, publishes: false, mark: None }
    }

    pub fn route(&self) -> Route {
        if matches!(self.read, Read::Walk(walk) if walk.is_pipeline()) {
            Route::Pipeline
        } else if self.publishes || self.body.starts_with(r#"["EVALSHA"#) {
            Route::Pipelined
        } else {
            Route::Command
        }
    }

    /// The commands in `body` as a pipeline entry: 1, or 2 with a PUBLISH.
    pub fn commands(&self) -> usize {
        1 + usize::from(self.publishes)
    }

    /// For a near-tier read of one key: the key, and the epoch it was planned at. Concurrent
    /// reads of a key planned at one epoch may share one request; a read planned later (after
    /// a write of this instance ended) may not share an earlier one's answer.
    pub fn shared_key(&self) -> Option<(&str, u64)> {
        match &self.read {
            Read::NearFetch(read) if read.many.is_none() => read.fetch.first().map(|key| (key.as_str(), read.epoch)),
            _ => None,
        }
    }
}

impl<H: Host> Engine<H> {
    /// Carries `op` out (memory, dummy) or says what to send (REST).
    pub(super) fn run(&self, op: Op) -> Result<Step> {
        let incr = matches!(op, Op::Incr { .. });
        let outcome = match &self.backend {
            Backend::Memory(store) => {
                let keys = self.events.as_ref().and_then(|_| op.read_keys());
                let outcome = store.borrow_mut().execute(op, self.host.now_ms(), &self.host)?;
                if let Some(keys) = keys {
                    self.note_found(&keys, &outcome);
                }
                outcome
            }
            Backend::Dummy => dummy::execute(op)?,
            Backend::Rest => return Ok(self.send(op)),
        };
        Ok(Step::Done(if incr { self.number(outcome)? } else { outcome }))
    }

    /// REST: the op's request, marked in the near tier when it writes, with the bus's PUBLISH
    /// (the bus comes only with a near tier: the keys the op writes are listed once for both).
    fn send(&self, op: Op) -> Step {
        let (mark, publish) = match &self.near {
            Some(near) => {
                let written = op.written_keys();
                let publish = self.bus.as_ref().and_then(|bus| bus.publish(written.as_deref()));
                (Self::begin_write(&mut near.borrow_mut(), &op, written), publish)
            }
            None => (None, None),
        };
        match self.plan(op) {
            Step::Send(mut request) => {
                request.mark = mark;
                if let Some(publish) = publish.filter(|_| !request.publishes) {
                    request.body.push(',');
                    request.body.push_str(&publish);
                    request.publishes = true;
                }
                Step::Send(request)
            }
            // Nothing to send (an empty list): the write is over.
            step => self.end_mark(mark, Ok(step)).unwrap_or(Step::Done(Outcome::Done)),
        }
    }

    fn plan(&self, op: Op) -> Step {
        let (body, read, once) = match op {
            Op::Clear { prefix: Some(prefix) } => {
                let (walk, body) = Walk::start(&prefix);
                (body, Read::Walk(walk), false)
            }
            // Empty lists need no request.
            Op::GetMany { keys } if keys.is_empty() => return Step::Done(Outcome::Values(Vec::new())),
            Op::SetMany { keys, .. } | Op::DeleteMany { keys } if keys.is_empty() => return Step::Done(Outcome::Done),
            op => {
                let body = self.command(&op);
                // A list too long for one request goes in parts (one item alone may be more
                // than a part holds: it goes as a part of its own).
                if body.len() > self.request_limit && list_len(&op) > 1 {
                    return self.send_part(Parts { expect: Expect::Ok, op, next: 0, values: String::new() });
                }
                let read = match self.events.as_ref().and_then(|_| op.read_keys()) {
                    Some(keys) => Read::Keys(Box::new((Expect::of(&op), keys))),
                    None => Read::Reply(Expect::of(&op)),
                };
                (body, read, !op.idempotent())
            }
        };
        Step::Send(Request::new(body, read, once))
    }

    /// The command for `op`: with `tagged`, reads as the script that checks tags.
    fn command(&self, op: &Op) -> String {
        match plan_checked(op).filter(|_| self.tagged) {
            Some(body) => body,
            None => plan(op, &self.host),
        }
    }

    /// The next part of a list too long for one request: from `parts.next`, as many items as
    /// fit in `request_limit` bytes of command (at least one; parts go one after another, each
    /// part's command atomic, the whole not). One walk over an index for every list op, rather
    /// than the list split up front: each split was code of its own per item type.
    fn send_part(&self, mut parts: Parts) -> Step {
        let from = parts.next;
        // What the command takes besides its list (its name; setMany's script and ttl).
        let limit = self.request_limit.saturating_sub(self.command(&list_slice(&parts.op, from, from)).len());
        let mut end = from;
        let mut bytes = 0;
        while end < list_len(&parts.op) {
            let n = item_len(&parts.op, end);
            if end > from && bytes + n > limit {
                break;
            }
            bytes += n;
            end += 1;
        }
        parts.next = end;
        let op = list_slice(&parts.op, from, end);
        parts.expect = Expect::of(&op);
        Step::Send(Request::new(self.command(&op), Read::Part(Box::new(parts)), !op.idempotent()))
    }

    /// The next part's request, or the whole list's outcome once the last part is read.
    pub(super) fn next_part(&self, mut parts: Parts, outcome: Outcome) -> Result<Step> {
        if let Outcome::Json(values) = outcome {
            // A part's values as a JSON array: `[...]`, appended without its brackets.
            let inner = values.get(1..values.len().saturating_sub(1)).unwrap_or_default();
            if !parts.values.is_empty() && !inner.is_empty() {
                parts.values.push(',');
            }
            parts.values.push_str(inner);
        }
        Ok(match &parts.op {
            _ if parts.next < list_len(&parts.op) => self.send_part(parts),
            Op::GetMany { keys } => {
                let mut values = String::with_capacity(parts.values.len() + 2);
                values.push('[');
                values.push_str(&parts.values);
                values.push(']');
                let outcome = Outcome::Json(values);
                self.note_found(keys, &outcome);
                Step::Done(outcome)
            }
            _ => Step::Done(Outcome::Done),
        })
    }
}

/// The length of a list op's list (0 for any other op).
fn list_len(op: &Op) -> usize {
    match op {
        Op::GetMany { keys } | Op::SetMany { keys, .. } | Op::DeleteMany { keys } => keys.len(),
        _ => 0,
    }
}

/// The bytes item `i` of a list op's list adds to its command, commas included (a setMany
/// entry is two arguments: its key and its value).
fn item_len(op: &Op, i: usize) -> usize {
    match op {
        Op::GetMany { keys } | Op::DeleteMany { keys } => keys.get(i).map_or(0, |k| json::str_len(k) + 1),
        Op::SetMany { keys, values, .. } => keys.get(i).zip(values.get(i)).map_or(0, |(k, v)| json::str_len(k) + json::str_len(v) + 2),
        _ => 0,
    }
}

/// A list op with items `from..end` of its list only.
fn list_slice(op: &Op, from: usize, end: usize) -> Op {
    match op {
        Op::GetMany { keys } => Op::GetMany { keys: keys.get(from..end).unwrap_or_default().to_vec() },
        Op::DeleteMany { keys } => Op::DeleteMany { keys: keys.get(from..end).unwrap_or_default().to_vec() },
        Op::SetMany { keys, values, ttl_ms, stamps } => Op::SetMany {
            keys: keys.get(from..end).unwrap_or_default().to_vec(),
            values: values.get(from..end).unwrap_or_default().to_vec(),
            ttl_ms: *ttl_ms,
            stamps: stamps.clone(),
        },
        op => op.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::error::Code;

    #[test]
    fn rest_calls_send_one_command_and_read_its_answer() {
        let e = rest(Options { key_prefix: Some("p".into()), ..Options::default() });
        let get = sent(e.get("k", CallOptions { version: VersionGiven::Number(3.0), ..NONE }));
        assert_eq!((get.body.as_str(), get.once, get.route()), (r#"["GET","p:3:k"]"#, false, Route::Command));
        assert_eq!(done(e.read(get.clone(), 200, br#"{"result":"\"v\""}"#)), Outcome::Json(r#""\"v\"""#.into()));
        assert_eq!(e.read(get, 401, b"").unwrap_err().code(), Some(Code::Auth));
        let incr = sent(e.incr("n", Some(-2.0), NONE));
        assert_eq!((incr.body.as_str(), incr.once), (r#"["EVALSHA","190ad57851a9e8327d52534daeb7699b68a7eea0","1","p::n","-2"]"#, true));
        assert_eq!(done(e.read(incr.clone(), 200, br#"{"result":"40"}"#)), Outcome::Number(40.0));
        for bad in [&br#"{"result":"1e999"}"#[..], br#"{"result":"forty"}"#, br#"{"result":[5]}"#] {
            assert_eq!(e.read(incr.clone(), 200, bad).unwrap_err().code(), Some(Code::Protocol));
        }
        // A server without the script answers NOSCRIPT (nothing ran): the script goes in full.
        let eval = sent(e.read(incr.clone(), 400, br#"{"error":"NOSCRIPT No matching script. Please use EVAL."}"#));
        assert!(eval.body.starts_with(r#"["EVAL","local function live"#) && eval.once, "{}", eval.body);
        assert_eq!(done(e.read(eval, 200, br#"{"result":"-2"}"#)), Outcome::Number(-2.0));
        let batched = e.read_pipeline(vec![incr.clone()], 200, br#"[{"error":"NOSCRIPT No matching script."}]"#);
        assert!(matches!(&batched[0], Ok(Step::Send(r)) if r.body.starts_with(r#"["EVAL""#)));
        assert_eq!(e.read(incr.clone(), 400, br#"{"error":"ERR the stored value is not a JSON number"}"#).unwrap_err().code(), Some(Code::NotANumber));
        let add = sent(e.add("k", "1".into(), ttl(TtlGiven::Seconds(1.5))));
        assert_eq!((add.body.as_str(), add.once), (r#"["EVALSHA","83581fedd08bac4bc8a0362eb04a1d423d2b9589","1","p::k","add","1","1500"]"#, true));
        assert_eq!(done(e.get_many("[]", NONE)), Outcome::Values(vec![]), "an empty list sends nothing");
    }

    #[test]
    fn a_list_too_long_for_one_request_goes_in_parts_one_after_another() {
        let mut e = rest(Options::default());
        e.request_limit = 40; // bytes of commands per request
        let first = sent(e.get_many(r#"["a","b","c","d","e","f"]"#, NONE));
        assert_eq!(first.body, r#"["MGET","::a","::b","::c","::d","::e"]"#);
        let second = sent(e.read(first, 200, br#"{"result":["1",null,"3",null,null]}"#));
        assert_eq!(second.body, r#"["MGET","::f"]"#);
        // A part may be batched with other calls: read from its pipeline entry.
        let last = e.read_pipeline(vec![second], 200, br#"[{"result":["6"]}]"#).pop().unwrap();
        assert_eq!(last, Ok(Step::Done(Outcome::Json(r#"["1",null,"3",null,null,"6"]"#.into()))));
        // A part that fails fails the call; an answer of the wrong length is PROTOCOL.
        let first = sent(e.get_many(r#"["a","b","c","d","e","f"]"#, NONE));
        assert_eq!(e.read(first, 200, br#"{"result":["1"]}"#).unwrap_err().code(), Some(Code::Protocol));
        e.request_limit = 130; // the script takes about 105 of them
        let set = sent(e.set_many(r#"["a","b","c"]"#, r#"["1","2","3"]"#, ttl(TtlGiven::Seconds(1.0))));
        assert!(set.body.ends_with(r#""2","::a","::b","1","2","1000"]"#), "{}", set.body);
        let second = sent(e.read(set, 200, br#"{"result":2}"#));
        assert!(second.body.ends_with(r#""1","::c","3","1000"]"#), "{}", second.body);
        assert_eq!(done(e.read(second, 200, br#"{"result":1}"#)), Outcome::Done);
        // Each part within the limit, counting a setMany entry's two arguments (key, value).
        e.request_limit = 128;
        let mut step = e.set_many(r#"["a","b","c","d"]"#, r#"["1","2","3","4"]"#, ttl(TtlGiven::Seconds(1.0)));
        let mut sizes = Vec::new();
        while let Ok(Step::Send(part)) = step {
            sizes.push(part.body.len());
            step = e.read(part, 200, br#"{"result":1}"#);
        }
        assert_eq!(step, Ok(Step::Done(Outcome::Done)));
        assert!(sizes.len() > 1 && sizes.iter().all(|&n| n <= 128), "part sizes {sizes:?} against a limit of 128");
        e.request_limit = 40; // DEL takes 8 of them
        let del = sent(e.delete_many(r#"["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","b"]"#, NONE));
        assert_eq!(del.body, r#"["DEL","::aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]"#, "an item over the limit goes alone");
        // Short lists stay one request.
        assert_eq!(sent(e.get_many(r#"["a"]"#, NONE)).body, r#"["MGET","::a"]"#);
    }

    #[test]
    fn tagged_reads_are_one_request_and_plain_reads_check_only_what_is_tagged() {
        let tagged_entry = br##"{"result":"#tags[[\"::#tags:t\",\"1\"]]\n1"}"##;
        // Without `tagged`: a plain GET; an answer holding a tagged entry sends the script.
        let plain = rest(Options::default());
        let get = sent(plain.get("k", NONE));
        assert_eq!(get.body, r#"["GET","::k"]"#);
        let again = sent(plain.read(get, 200, tagged_entry));
        assert_eq!(again.body, r#"["EVALSHA_RO","091323b08b42d6e54557583c497cfeaf43f7d2ff","1","::k"]"#);
        assert_eq!(again.route(), Route::Pipelined);
        assert_eq!(done(plain.read_pipeline(vec![again], 200, br#"[{"result":null}]"#).pop().unwrap()), Outcome::Json("null".into()));
        let many = sent(plain.get_many(r#"["a","b"]"#, NONE));
        let both = r##"{"result":["1","#tags[[\"x\",\"1\"]]\n2"]}"##;
        assert!(sent(plain.read(many, 200, both.as_bytes())).body.starts_with(r#"["EVALSHA_RO","f6f6"#));
        // A value that only contains the marker is no tagged entry.
        let quoted = sent(plain.get("q", NONE));
        assert_eq!(done(plain.read(quoted, 200, br##"{"result":"\"#tags[\""}"##)), Outcome::Json(r##""\"#tags[\"""##.into()));
        // With `tagged`: the script at once.
        let tagged = rest(Options { tagged: true, ..Options::default() });
        assert!(sent(tagged.get("k", NONE)).body.starts_with(r#"["EVALSHA_RO","091323b"#));
        let many = sent(tagged.get_many(r#"["a","b"]"#, NONE));
        assert!(many.body.starts_with(r#"["EVALSHA_RO","f6f6"#) && many.route() == Route::Pipelined);
        assert_eq!(done(tagged.read_pipeline(vec![many], 200, br#"[{"result":["1",null]}]"#).pop().unwrap()), Outcome::Json(r#"["1",null]"#.into()));
    }
}
