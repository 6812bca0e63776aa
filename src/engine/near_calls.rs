//! Calls through the near tier (`crate::near` holds its policy): reads served from it or
//! fetched with each key's remaining life, writes that mark their keys until answered, and the
//! bus's messages from other instances.

use crate::prelude::*;

use alloc::boxed::Box;
use core::cell::RefCell;

use super::plan::{NearFetch, Read, Request, Stores, WriteMark};
use super::{Engine, Host, KeyEvent, Step};
use crate::backend::rest::commands::Script;
use crate::backend::rest::replies::{integer, protocol_error, value, Reply};
use crate::backend::rest::json;
use crate::error::Result;
use crate::near::{Lookup, Near};
use crate::ops::{Op, Outcome};

impl<H: Host> Engine<H> {
    /// The channel this instance's near tier listens on (with `near.bus`).
    pub fn bus_channel(&self) -> Option<&str> {
        self.bus.as_ref().map(crate::bus::Bus::channel)
    }

    /// A message on the bus channel: the near entries it names are dropped (reads sent before
    /// it store nothing for them), or all of them. What was dropped: `None` when the message
    /// was this instance's own or not one of ours, `Some(None)` for everything.
    pub fn bus_message(&self, text: &str) -> Option<Option<Vec<String>>> {
        let (Some(bus), Some(near)) = (&self.bus, &self.near) else { return None };
        let dropped = bus.read(text)?;
        let mut near = near.borrow_mut();
        match &dropped {
            // Not served, and older reads store nothing for them.
            Some(keys) => near.forget(keys),
            None => near.clear(),
        }
        Some(dropped)
    }

    /// The bus stream was down (it may have missed messages): the near tier is emptied.
    pub fn bus_reset(&self) {
        if let Some(near) = &self.near {
            near.borrow_mut().clear();
        }
    }

    /// A value the near tier has, served: counted and noted.
    pub(super) fn near_hit(&self, key: &str, text: String) -> Step {
        self.count(|s| s.near_hits += 1);
        self.note(KeyEvent::NearHit, key);
        Step::Done(Outcome::Value(Some(text)))
    }

    /// A read through the near tier: what it has fresh is served; the rest is fetched, with
    /// each key's remaining life, in one request. A single key's stale entry is served, and
    /// refreshed in the background (once: other stale reads meanwhile just serve it).
    pub(super) fn near_read(&self, near: &RefCell<Near>, keys: Vec<String>, many: bool, fresh: bool) -> Result<Step> {
        let now = self.host.now_ms();
        let mut tier = near.borrow_mut();
        let mut lookups = Vec::with_capacity(keys.len());
        for key in &keys {
            lookups.push(if fresh { Lookup::Miss } else { tier.lookup(key, now) });
        }
        // Stale entries are served when nothing else needs the backend (a getMany with a key
        // to fetch fetches its stale ones with it, in the one request).
        let serve_stale = !lookups.iter().any(|lookup| *lookup == Lookup::Miss);
        let mut known = Vec::with_capacity(lookups.len());
        let mut fetch = Vec::new();
        let mut stats = self.stats.get();
        let mut refresh = Vec::new();
        for (i, lookup) in lookups.iter_mut().enumerate() {
            let key = &keys[i];
            match core::mem::replace(lookup, Lookup::Miss) {
                Lookup::Fresh(value) => {
                    stats.near_hits += 1;
                    self.note(if value.is_some() { KeyEvent::NearHit } else { KeyEvent::NearMiss }, key);
                    known.push(Some(value));
                }
                Lookup::Stale { value, refresh: first } if serve_stale => {
                    stats.stale_served += 1;
                    self.note(KeyEvent::Stale, key);
                    if first {
                        refresh.push(key.clone());
                    }
                    known.push(Some(value));
                }
                _ => {
                    stats.near_misses += 1;
                    known.push(None);
                    fetch.push(key.clone());
                }
            }
        }
        self.stats.set(stats);
        let epoch = tier.epoch();
        drop(tier);
        if fetch.is_empty() {
            let outcome = if many { near_outcome(Some(known), Vec::new()) } else { Outcome::Value(known.pop().flatten().flatten()) };
            // The stale entries' refresh, in the background, once per key.
            if refresh.is_empty() {
                return Ok(Step::Done(outcome));
            }
            return Ok(Step::Refresh(outcome, near_request(NearFetch { fetch: refresh, epoch, many: None, background: true })));
        }
        let request = near_request(NearFetch { fetch, epoch, many: many.then_some(known), background: false });
        if many && request.body.len() > self.request_limit {
            // Too many to read with their PTTL in one request: every requested key is read in
            // parts, past the near tier (it keeps nothing of them), so that the values line up
            // with the keys.
            return self.run(Op::GetMany { keys });
        }
        Ok(Step::Send(request))
    }

    /// A near-tier read's answer: `[value, pttl, value, pttl, ...]`, kept, and served.
    pub(super) fn near_answer(&self, mut read: NearFetch, reply: Reply) -> Result<Step> {
        let json::Json::Array(items) = value(reply)? else {
            return Err(protocol_error());
        };
        if items.len() != 2 * read.fetch.len() {
            return Err(protocol_error());
        }
        // Every entry checked before any is kept: a broken answer keeps nothing.
        let mut texts = Vec::with_capacity(read.fetch.len());
        let mut pttls = Vec::with_capacity(read.fetch.len());
        for pair in items.chunks_exact(2) {
            let [text, pttl] = pair else { return Err(protocol_error()) };
            texts.push(match text {
                json::Json::Null => None,
                json::Json::Str(text) => Some(text.text()),
                _ => return Err(protocol_error()),
            });
            pttls.push(integer(pttl)?);
        }
        let now = self.host.now_ms();
        if let Some(near) = &self.near {
            let mut near = near.borrow_mut();
            for (i, key) in read.fetch.iter_mut().enumerate() {
                if !read.background {
                    self.note(if texts[i].is_some() { KeyEvent::Hit } else { KeyEvent::Miss }, key);
                }
                near.store_read(core::mem::take(key), texts[i].clone(), pttls[i], read.epoch, now);
            }
        }
        Ok(Step::Done(near_outcome(read.many, texts)))
    }

    /// Marks the keys `op` writes (`written`: its `written_keys`) in the near tier (`clear()` and `invalidateTags` empty it:
    /// near entries do not carry their tags), and says what they hold once it succeeds, when
    /// that is known.
    pub(super) fn begin_write(near: &mut Near, op: &Op, written: Option<Vec<String>>) -> Option<Box<WriteMark>> {
        let Some(keys) = written else {
            near.begin_clear();
            return Some(Box::new(WriteMark { keys: None, id: 0, written: None, stores: Stores::Always }));
        };
        if keys.is_empty() {
            return None;
        }
        let id = near.begin_write(&keys);
        let one = |entry: &crate::ops::Entry| Some((vec![Some(entry.value.clone())], entry.ttl_ms));
        let (written, stores) = match op {
            Op::Set(entry) => (one(entry), Stores::Always),
            Op::Add(entry) => (one(entry), Stores::IfAdded),
            Op::GetOrAdd(entry) => (one(entry), Stores::IfMissing),
            Op::SetMany { values: texts, ttl_ms, .. } => {
                let mut values = Vec::with_capacity(texts.len());
                for value in texts {
                    values.push(Some(value.clone()));
                }
                (Some((values, *ttl_ms)), Stores::Always)
            }
            Op::DeleteMany { keys } => {
                // A loop, as above: `vec![None; n]` is code of its own.
                let mut values = Vec::with_capacity(keys.len());
                for _ in keys {
                    values.push(None);
                }
                (Some((values, None)), Stores::Always)
            }
            // touch, incr: the new value or expiry is the server's; the next read fetches it.
            _ => (None, Stores::Always),
        };
        Some(Box::new(WriteMark { keys: Some(keys), id, written, stores }))
    }

    /// A step of a call that carries a write's marks: the next request carries them on; a
    /// call that is over ends them, keeping what it wrote when its outcome says it succeeded.
    pub(super) fn end_mark(&self, mark: Option<Box<WriteMark>>, step: Result<Step>) -> Result<Step> {
        let (Some(mark), Some(near)) = (mark, &self.near) else { return step };
        if let Ok(Step::Send(mut next)) = step {
            next.mark = Some(mark);
            return Ok(Step::Send(next));
        }
        let WriteMark { keys, id, written, stores } = *mark;
        let mut near = near.borrow_mut();
        let Some(keys) = keys else {
            near.end_clear();
            return step;
        };
        let succeeded = match (&step, stores) {
            (Ok(Step::Done(_)), Stores::Always) => true,
            (Ok(Step::Done(Outcome::Bool(stored))), Stores::IfAdded) => *stored,
            (Ok(Step::Done(Outcome::Json(json))), Stores::IfMissing) => json == "null",
            _ => false,
        };
        near.end_write(&keys, id, written.filter(|_| succeeded), self.host.now_ms());
        step
    }
}

fn near_request(read: NearFetch) -> Request {
    let body = Script::GetWithPttl.command(false, &read.fetch, &[]);
    Request::new(body, Read::NearFetch(Box::new(read)), false)
}

/// `get`'s outcome (one value) or `getMany`'s (`known`, its gaps filled from `found` in order).
pub(super) fn near_outcome(many: Option<Vec<Option<Option<String>>>>, mut found: Vec<Option<String>>) -> Outcome {
    // Taken out in place rather than by `into_iter`: a consuming iterator is wasm code of its
    // own per element type (decisions/0012).
    let mut next = 0;
    let mut next_found = || {
        next += 1;
        found.get_mut(next - 1).and_then(Option::take)
    };
    let Some(mut known) = many else {
        return Outcome::Value(next_found());
    };
    let mut values = Vec::with_capacity(known.len());
    for value in &mut known {
        values.push(match value.take() {
            Some(value) => value,
            None => next_found(),
        });
    }
    Outcome::Values(values)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::error::Code;

    fn near_engine(near: NearGiven, grace: Option<f64>) -> Engine<TestHost> {
        rest(Options { near: Some(near), grace, ..Options::default() })
    }
    const PTTL_BODY: &[u8] = br#"{"result":["\"v\"",-1]}"#;

    #[test]
    fn near_reads_fetch_with_pttl_once_and_then_answer_from_memory() {
        let e = near_engine(NearGiven { ttl: Some(1.0), ..NearGiven::default() }, None);
        let first = sent(e.get("k", NONE));
        assert_eq!(first.body, r#"["EVALSHA_RO","333ddf8678e399811fbdedd81486c8628c014efd","1","::k"]"#);
        assert_eq!(first.shared_key(), Some(("::k", 0)));
        assert_eq!(done(e.read(first, 200, PTTL_BODY)), Outcome::Value(text("\"v\"")));
        assert_eq!(done(e.get("k", NONE)), Outcome::Value(text("\"v\"")), "no request");
        assert!(matches!(e.get("k", FRESH), Ok(Step::Send(_))), "fresh: true skips the near tier");
        e.host.0.set(2000.0);
        assert!(matches!(e.get("k", NONE), Ok(Step::Send(_))), "older than near.ttl");
        assert_eq!(e.stats(), Stats { near_hits: 1, near_misses: 3, stale_served: 0 });
        // A missing key is remembered; a key's own ttl bounds its entry.
        let gone = sent(e.get("gone", NONE));
        assert_eq!(done(e.read(gone, 200, br#"{"result":[null,-2]}"#)), Outcome::Value(None));
        assert_eq!(done(e.get("gone", NONE)), Outcome::Value(None));
        let short = sent(e.get("short", NONE));
        done(e.read(short, 200, br#"{"result":["1",100]}"#));
        e.host.0.set(2100.0);
        assert!(matches!(e.get("short", NONE), Ok(Step::Send(_))), "past the key's own ttl");
        // A server without the script gets it in full; nothing ran.
        let noscript = e.read(sent(e.get("x", NONE)), 400, br#"{"error":"NOSCRIPT No matching script."}"#);
        assert!(matches!(noscript, Ok(Step::Send(r)) if r.body.starts_with(r#"["EVAL_RO","local function live"#)));
    }

    #[test]
    fn near_get_many_asks_only_for_what_memory_lacks_and_answers_in_order() {
        let e = near_engine(NearGiven::default(), None);
        done(e.read(sent(e.get("b", NONE)), 200, br#"{"result":["2",-1]}"#));
        let many = sent(e.get_many(r#"["a","b","c"]"#, NONE));
        assert!(many.body.ends_with(r#""2","::a","::c"]"#), "{}", many.body);
        let values = done(e.read(many, 200, br#"{"result":["1",-1,null,-2]}"#));
        assert_eq!(values, Outcome::Values(vec![text("1"), text("2"), None]));
        assert_eq!(done(e.get_many(r#"["c","a"]"#, NONE)), Outcome::Values(vec![None, text("1")]), "all from memory");
    }

    #[test]
    fn a_near_get_many_too_long_for_one_request_reads_every_key_in_parts_in_order() {
        let mut e = near_engine(NearGiven::default(), None);
        done(e.read(sent(e.get("b", NONE)), 200, br#"{"result":["2",-1]}"#));
        e.request_limit = 40;
        let first = sent(e.get_many(r#"["a","b","c"]"#, NONE));
        assert_eq!(first.body, r#"["MGET","::a","::b","::c"]"#, "every key, the near tier's hit too");
        let values = done(e.read(first, 200, br#"{"result":["1","2",null]}"#));
        assert_eq!(values, Outcome::Json(r#"["1","2",null]"#.into()), "one value per requested key, in order");
        let many = sent(e.get_many(r#"["aaaaaaaaaaaaaaaa","b","cccccccccccccccc"]"#, NONE));
        let rest = sent(e.read(many, 200, br#"{"result":["1","2"]}"#));
        assert_eq!(done(e.read(rest, 200, br#"{"result":[null]}"#)), Outcome::Json(r#"["1","2",null]"#.into()));
    }

    #[test]
    fn own_writes_are_seen_at_once_and_failed_writes_drop_the_entry() {
        let e = near_engine(NearGiven::default(), None);
        done(e.read(sent(e.get("k", NONE)), 200, PTTL_BODY));
        let set = sent(e.set("k", "\"new\"".into(), ttl(TtlGiven::Seconds(0.5))));
        assert!(matches!(e.get("k", NONE), Ok(Step::Send(_))), "not served while the write is in flight");
        done(e.read(set, 200, br#"{"result":"OK"}"#));
        assert_eq!(done(e.get("k", NONE)), Outcome::Value(text("\"new\"")));
        e.host.0.set(1500.0);
        assert!(matches!(e.get("k", NONE), Ok(Step::Send(_))), "the write's own ttl");
        let delete = sent(e.delete("d", NONE));
        done(e.read(delete, 200, br#"{"result":1}"#));
        assert_eq!(done(e.get("d", NONE)), Outcome::Value(None), "deleted: known missing");
        for write in [sent(e.set("f", "1".into(), NONE)), sent(e.incr("f", None, NONE))] {
            let _ = e.unanswered(write, FetchFailure::Timeout, "no answer");
            assert!(matches!(e.get("f", NONE), Ok(Step::Send(_))), "an unknown outcome drops the entry");
        }
        let add = sent(e.add("a", "1".into(), NONE));
        done(e.read(add, 200, br#"{"result":null}"#));
        assert!(matches!(e.get("a", NONE), Ok(Step::Send(_))), "add did not store: the value is the server's");
        done(e.clear(NONE).map(|s| match s {
            Step::Send(r) => e.read(r, 200, br#"{"result":"OK"}"#).unwrap(),
            s => s,
        }));
        assert!(matches!(e.get("d", NONE), Ok(Step::Send(_))), "clear() empties the near tier");
    }

    /// The races the issue reported, each as the network ordered it (the simulation finds them
    /// among many others; these pin them down).
    #[test]
    fn a_read_that_may_have_run_before_a_write_or_clear_is_not_kept() {
        let e = near_engine(NearGiven::default(), None);
        let old = br#"{"result":["\"old\"",-1]}"#;
        // clear(), then a get sent after it, whose answer (from before the clear) arrives first.
        let clear = sent(e.clear(NONE));
        let read = sent(e.get("k", NONE));
        assert_eq!(done(e.read(read, 200, old)), Outcome::Value(text("\"old\"")), "the read itself may return it");
        done(e.read(clear, 200, br#"{"result":"OK"}"#));
        assert!(matches!(e.get("k", NONE), Ok(Step::Send(_))), "but the near tier does not keep it");
        // The same with invalidateTags.
        let invalidate = sent(e.invalidate_tags(r#"["t"]"#, NONE));
        let read = sent(e.get("k", NONE));
        done(e.read(read, 200, old));
        done(e.read(invalidate, 200, br#"{"result":1}"#));
        assert!(matches!(e.get("k", NONE), Ok(Step::Send(_))));
        // A read planned while a set is in flight, answered (with the old value) after the set.
        let set = sent(e.set("k", "\"new\"".into(), NONE));
        let read = sent(e.get("k", NONE));
        done(e.read(set, 200, br#"{"result":"OK"}"#));
        done(e.read(read, 200, old));
        assert_eq!(done(e.get("k", NONE)), Outcome::Value(text("\"new\"")), "the set's value, not the read's");
        // Two sets of one key in flight: the server may run them in either order.
        let first = sent(e.set("j", "1".into(), NONE));
        let second = sent(e.set("j", "2".into(), NONE));
        done(e.read(second, 200, br#"{"result":"OK"}"#));
        done(e.read(first, 200, br#"{"result":"OK"}"#));
        assert!(matches!(e.get("j", NONE), Ok(Step::Send(_))), "neither is kept");
        // A get that starts after a write ended does not share the request of one from before.
        let before = sent(e.get("s", NONE));
        done(e.read(sent(e.set("s", "3".into(), NONE)), 200, br#"{"result":"OK"}"#));
        e.host.0.set(e.host.0.get() + 10_000.0);
        let after = sent(e.get("s", NONE));
        assert_ne!(before.shared_key(), after.shared_key());
    }

    #[test]
    fn stale_while_revalidate_and_stale_if_error() {
        let e = near_engine(NearGiven { ttl: Some(1.0), swr: Some(1.0), ..NearGiven::default() }, Some(10.0));
        done(e.read(sent(e.get("k", NONE)), 200, PTTL_BODY));
        e.host.0.set(2500.0);
        let Ok(Step::Refresh(stale, refresh)) = e.get("k", NONE) else { panic!("a refresh") };
        assert_eq!(stale, Outcome::Value(text("\"v\"")));
        assert_eq!(done(e.get("k", NONE)), Outcome::Value(text("\"v\"")), "one refresh per key");
        // A refresh that fails serves no one and counts nothing; the next stale read refreshes.
        assert_eq!(e.unanswered(refresh.clone(), FetchFailure::Network, "reset").unwrap_err().code(), Some(Code::Network));
        assert_eq!(e.stats().stale_served, 2);
        assert!(matches!(e.get("k", NONE), Ok(Step::Refresh(..))));
        assert_eq!(done(e.read(refresh, 200, br#"{"result":["\"w\"",-1]}"#)), Outcome::Value(text("\"w\"")));
        assert_eq!(done(e.get("k", NONE)), Outcome::Value(text("\"w\"")));
        // Past ttl + swr, a read goes out; if the backend fails, grace serves what it had.
        e.host.0.set(6000.0);
        let read = sent(e.get("k", NONE));
        assert_eq!(done(e.unanswered(read.clone(), FetchFailure::Network, "reset")), Outcome::Value(text("\"w\"")));
        assert_eq!(done(e.read(read.clone(), 503, b"")), Outcome::Value(text("\"w\"")));
        assert_eq!(e.read(read.clone(), 401, b"").unwrap_err().code(), Some(Code::Auth), "not when the token is refused");
        assert_eq!(e.unanswered(read.clone(), FetchFailure::Aborted, "x").unwrap_err().code(), Some(Code::Aborted));
        let each = e.read_pipeline(vec![read], 502, b"");
        assert_eq!(each, vec![Ok(Step::Done(Outcome::Value(text("\"w\""))))]);
        assert_eq!(e.stats().stale_served, 6);
        e.host.0.set(14_500.0); // the refresh's read at 2,500 + ttl + swr + grace
        assert_eq!(e.unanswered(sent(e.get("k", NONE)), FetchFailure::Network, "").unwrap_err().code(), Some(Code::Network), "past grace");
    }

    #[test]
    fn get_many_serves_stale_entries_as_get_does_when_nothing_else_is_fetched() {
        let e = near_engine(NearGiven { ttl: Some(1.0), swr: Some(10.0), ..NearGiven::default() }, None);
        let both = sent(e.get_many(r#"["a","b"]"#, NONE));
        done(e.read(both, 200, br#"{"result":["\"1\"",-1,"\"2\"",-1]}"#));
        e.host.0.set(3000.0);
        let Ok(Step::Refresh(stale, refresh)) = e.get_many(r#"["a","b"]"#, NONE) else { panic!("stale values and a refresh") };
        assert_eq!(stale, Outcome::Values(vec![text("\"1\""), text("\"2\"")]));
        assert!(refresh.body.ends_with(r#""2","::a","::b"]"#), "one background read of both: {}", refresh.body);
        assert_eq!(done(e.get_many(r#"["b","a"]"#, NONE)), Outcome::Values(vec![text("\"2\""), text("\"1\"")]), "one refresh per key");
        assert_eq!(e.stats().stale_served, 4);
        // With a key to fetch, the stale ones go in the same request.
        let mixed = sent(e.get_many(r#"["a","c"]"#, NONE));
        assert!(mixed.body.ends_with(r#""2","::a","::c"]"#), "{}", mixed.body);
        assert_eq!(done(e.read(mixed, 200, br#"{"result":["\"1b\"",-1,null,-2]}"#)), Outcome::Values(vec![text("\"1b\""), None]));
        done(e.read(refresh, 200, br#"{"result":["\"1c\"",-1,"\"2c\"",-1]}"#));
        assert_eq!(done(e.get("b", NONE)), Outcome::Value(text("\"2c\"")));
    }

    #[test]
    fn a_failed_read_ends_the_refresh_of_every_key_it_fetched() {
        let e = near_engine(NearGiven { ttl: Some(1.0), swr: Some(10.0), ..NearGiven::default() }, None);
        done(e.read(sent(e.get("b", NONE)), 200, br#"{"result":["\"2\"",-1]}"#));
        e.host.0.set(3000.0);
        // "a" has no entry, "b" is stale: one read of both, which fails.
        let both = sent(e.get_many(r#"["a","b"]"#, NONE));
        assert!(both.body.ends_with(r#""2","::a","::b"]"#), "{}", both.body);
        assert_eq!(e.unanswered(both, FetchFailure::Network, "").unwrap_err().code(), Some(Code::Network));
        // "b"'s refresh is over although "a" had nothing to fall back on: the next read refreshes.
        assert!(matches!(e.get("b", NONE), Ok(Step::Refresh(..))));
    }

    #[test]
    fn with_the_bus_writes_publish_in_their_request_and_others_messages_drop_near_entries() {
        let e = near_engine(NearGiven { bus: true, ..NearGiven::default() }, None);
        assert_eq!(e.bus_channel(), Some(":#bus"));
        done(e.read(sent(e.get("k", NONE)), 200, PTTL_BODY));
        let set = sent(e.set("s", "1".into(), NONE));
        assert!(set.publishes && set.route() == Route::Pipelined && set.commands() == 2);
        assert!(set.body.starts_with(r#"["SET","::s","1"],["PUBLISH",":#bus",""#) && set.body.ends_with(r#":k[\"::s\"]"]"#), "{}", set.body);
        let read = sent(e.get("x", NONE));
        assert!(!read.publishes, "reads publish nothing");
        // The write's answer and the PUBLISH's, in one pipeline with another call's.
        let steps = e.read_pipeline(vec![set, read], 200, br#"[{"result":"OK"},{"result":2},{"result":[null,-2]}]"#);
        assert_eq!(steps, vec![Ok(Step::Done(Outcome::Done)), Ok(Step::Done(Outcome::Value(None)))]);
        assert_eq!(done(e.get("s", NONE)), Outcome::Value(text("1")), "its own write, kept");
        // Another instance's message drops what it names; everything for `*`; its own: nothing.
        assert_eq!(e.bus_message(r#"00000000000000aa:k["::k"]"#), Some(Some(vec!["::k".to_owned()])));
        assert!(matches!(e.get("k", NONE), Ok(Step::Send(_))), "dropped");
        assert_eq!(done(e.get("s", NONE)), Outcome::Value(text("1")));
        assert_eq!(e.bus_message("00000000000000aa:*"), Some(None));
        assert!(matches!(e.get("s", NONE), Ok(Step::Send(_))), "everything dropped");
        assert_eq!(e.bus_message("not a message"), None);
        let plain = near_engine(NearGiven::default(), None);
        assert_eq!((plain.bus_channel(), plain.bus_message("00000000000000aa:*")), (None, None));
        assert!(!sent(plain.set("s", "1".into(), NONE)).publishes);
    }
}
