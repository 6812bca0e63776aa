//! No panic reachable: property tests over everything that reads a server's answer (the JSON
//! reader, status handling, reply decoding for every op, the SCAN walk) and every parser of
//! caller input (cache URL, ttl text, number rules, the memory store). A panic in the wasm
//! build aborts the instance for every later call, so each of these must return, never panic.
//!
//! `cargo test` runs a few hundred cases per property; `make fuzz` runs many more
//! (PROPTEST_CASES). A failing case is saved by proptest under proptest-regressions/ and
//! replayed on every later run: commit those files.
#![cfg(not(target_arch = "wasm32"))]

use edge_caches::backend::memory::MemoryStore;
use edge_caches::backend::rest::commands::plan;
use edge_caches::backend::rest::replies::{decode, holds_tagged, result, Expect};
use edge_caches::backend::rest::json::{self, Json, JsonStr};
use edge_caches::backend::rest::{interpret, pipeline_answers, plain_reply, Walk};
use edge_caches::number::{self, StdNumbers};
use edge_caches::ops::{Entry, Op, Outcome};
use edge_caches::ttl;
use proptest::prelude::*;

/// JSON values shaped like server replies, nested a few levels, with strings that look like
/// numbers, errors and escapes.
fn json_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        prop_oneof![any::<i64>().prop_map(|n| n.to_string()), any::<f64>().prop_map(|f| f.to_string()), "-?[0-9]{1,40}(\\.[0-9]{1,5})?(e[+-]?[0-9]{1,4})?"]
            .prop_filter("a JSON number", |t| number::is_json_number(t))
            .prop_map(Json::Number),
        prop_oneof![Just("OK".to_owned()), "[0-9]{1,25}", "\\PC{0,20}", "ERR .{0,20}"].prop_map(|t| Json::Str(JsonStr::from_text(&t))),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            prop::collection::vec((prop_oneof![Just("result".to_owned()), Just("error".to_owned()), "[a-z]{0,6}"], inner), 0..4)
                .prop_map(Json::Object),
        ]
    })
}

fn write(value: &Json, out: &mut String) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(n),
        Json::Str(s) => {
            out.push('"');
            out.push_str(s.raw());
            out.push('"');
        }
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Json::Object(fields) => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json::write_str(out, k);
                out.push(':');
                write(v, out);
            }
            out.push('}');
        }
    }
}

fn every_op() -> Vec<Op> {
    let key = || "p::k".to_owned();
    vec![
        Op::Get { key: key() },
        Op::Set(Entry { key: key(), value: "1".into(), ttl_ms: Some(5), stamps: vec![] }),
        Op::Set(Entry { key: key(), value: "1".into(), ttl_ms: None, stamps: vec!["p:#tags:t".into()] }),
        Op::Add(Entry { key: key(), value: "1".into(), ttl_ms: None, stamps: vec![] }),
        Op::GetOrAdd(Entry { key: key(), value: "1".into(), ttl_ms: None, stamps: vec!["p:#tags:t".into()] }),
        Op::GetMany { keys: vec![key(), "p::j".into()] },
        Op::SetMany { keys: vec![key()], values: vec!["1".into()], ttl_ms: None, stamps: vec![] },
        Op::SetMany { keys: vec![key()], values: vec!["1".into()], ttl_ms: Some(9), stamps: vec!["p:#tags:t".into()] },
        Op::Invalidate { stamps: vec!["p:#tags:t".into()] },
        Op::DeleteMany { keys: vec![key()] },
        Op::Clear { prefix: None },
        Op::Touch { key: key(), ttl_ms: Some(5) },
        Op::Touch { key: key(), ttl_ms: None },
        Op::Incr { key: key(), delta: 1.5 },
    ]
}

proptest! {
    // 256 cases each by default; PROPTEST_CASES raises it (make fuzz).
    #![proptest_config(ProptestConfig::default())]

    /// Any text at all: the reader answers, and what it accepts it accepts completely.
    #[test]
    fn json_reader_takes_any_text(text in "\\PC{0,200}|[\\[\\]{}\",:0-9a-z\\\\ ]{0,200}") {
        let _ = json::parse(&text);
    }

    /// Any bytes, as the lossy UTF-8 a fetch body becomes.
    #[test]
    fn json_reader_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = json::parse(&String::from_utf8_lossy(&bytes));
    }

    /// Key lists: any list of strings, written as JSON (escapes included), reads back as the
    /// keys after their stem; any other text is refused or read, never a panic; and the reader
    /// agrees with the general one on what is a list of strings.
    #[test]
    fn key_lists_read_back_with_their_stem(keys in prop::collection::vec("\\PC{0,12}|[\"\\\\\\x00-\\x1f]{0,4}", 0..8), stem in "[a-z:]{0,6}", junk in "\\PC{0,60}|[\\[\\]\",\\\\ a-z]{0,60}") {
        let mut text = String::from("[");
        for (i, key) in keys.iter().enumerate() {
            if i > 0 { text.push(','); }
            json::write_str(&mut text, key);
        }
        text.push(']');
        let built: Vec<String> = keys.iter().map(|k| format!("{stem}{k}")).collect();
        prop_assert_eq!(json::string_list(&text, &stem), Some(built));
        let strings = match json::parse(&junk) {
            Some(Json::Array(items)) => items.iter().map(|i| if let Json::Str(s) = i { Some(s.text()) } else { None }).collect::<Option<Vec<_>>>(),
            _ => None,
        };
        prop_assert_eq!(json::string_list(&junk, ""), strings);
    }

    /// Well-formed replies read back to what was written, truncated ones never panic.
    #[test]
    fn replies_round_trip_and_truncations_fail_cleanly(value in json_value(), cut in any::<prop::sample::Index>()) {
        let mut text = String::new();
        write(&value, &mut text);
        prop_assert_eq!(json::parse(&text), Some(value));
        let mut end = cut.index(text.len().max(1));
        while !text.is_char_boundary(end) { end -= 1; }
        let _ = json::parse(&text[..end]);
    }

    /// Every op decodes any reply the server might send, with any status, alone or in a
    /// pipeline, and so does every step of clear()'s walk, without panicking.
    #[test]
    fn every_op_decodes_any_answer(value in json_value(), status in prop_oneof![Just(200u16), Just(400), any::<u16>()]) {
        let mut body = String::new();
        write(&value, &mut body);
        let expects: Vec<Expect> = every_op().iter().map(Expect::of).collect();
        for (op, &expect) in every_op().iter().zip(&expects) {
            let _ = plan(op, &StdNumbers);
            let _ = plain_reply(expect, status, &body);
            let _ = decode(expect, result(value.clone()).unwrap_or(Ok(value.clone())));
        }
        let _ = pipeline_answers(expects.len(), status, &body);
        for step in [Walk::Scan, Walk::DeleteAndScan, Walk::Delete] {
            let _ = step.next("p", value.clone());
        }
    }

    /// The plain read of stored texts (no tree built) gives exactly what the general reader
    /// gives, for answers in the usual form, near it, and cut or altered anywhere.
    #[test]
    fn the_plain_read_of_stored_texts_agrees_with_the_general_reader(
        value in json_value(),
        texts in prop::collection::vec(prop_oneof![Just(Json::Null), "\\PC{0,12}".prop_map(|t| Json::Str(JsonStr::from_text(&t)))], 0..5),
        as_array in any::<bool>(),
        cut in any::<prop::sample::Index>(),
        how in 0u8..3,
        byte in prop_oneof![Just(b'"'), Just(b'\\'), Just(b','), Just(b' '), Just(b'n'), any::<u8>()],
    ) {
        let mut body = String::from(r#"{"result":"#);
        let array = Json::Array(texts.clone());
        write(if as_array { &array } else { &value }, &mut body);
        body.push('}');
        let mut bytes = body.into_bytes();
        let at = cut.index(bytes.len() + 1);
        match how {
            1 => bytes.truncate(at),
            2 => bytes.insert(at, byte),
            _ => {}
        }
        let Ok(body) = String::from_utf8(bytes) else { return Ok(()) };
        for expect in [Expect::Value, Expect::Values(texts.len() as u32), Expect::Values(0), Expect::Values(2)] {
            let general = interpret(200, &body).and_then(result).and_then(|r| decode(expect, r));
            if let Some(plain) = plain_reply(expect, 200, &body) {
                prop_assert_eq!(Ok(plain), general, "{}", body);
            }
        }
    }

    /// The scan for tagged entries in a read's outcome finds exactly the stored texts that
    /// start with the marker, however the texts around them are escaped.
    #[test]
    fn the_tagged_entry_scan_agrees_with_each_text(
        texts in prop::collection::vec(prop_oneof![Just(None), "(#tags\\[)?[\"\\\\#a\\[]{0,8}(#tags\\[)?".prop_map(Some)], 0..5),
        as_array in any::<bool>(),
    ) {
        let item = |text: &Option<String>| text.as_deref().map_or(Json::Null, |t| Json::Str(JsonStr::from_text(t)));
        let (json, texts) = match as_array {
            true => (Json::Array(texts.iter().map(item).collect()), texts),
            false => (item(&texts.first().cloned().flatten()), vec![texts.first().cloned().flatten()]),
        };
        let mut text = String::new();
        write(&json, &mut text);
        let tagged = texts.iter().flatten().any(|t| t.starts_with("#tags["));
        prop_assert_eq!(holds_tagged(&Outcome::Json(text.clone())), tagged, "{}", text);
    }

    /// Deep nesting is refused, not recursed into until the stack runs out: 33 levels (the
    /// reader's MAX_DEPTH of 32 below the top) are the most it takes.
    #[test]
    fn deep_nesting_is_refused(depth in 34usize..20_000) {
        let nest = |n: usize| "[".repeat(n) + &"]".repeat(n);
        prop_assert!(json::parse(&nest(33)).is_some());
        prop_assert_eq!(json::parse(&nest(depth)), None);
    }

    #[test]
    fn any_ttl_is_taken_or_refused(seconds in any::<f64>()) {
        if let Ok(ms) = ttl::seconds_to_ms(seconds) {
            prop_assert!((1..=ttl::MAX_TTL_MS).contains(&ms));
        }
    }

    /// The ttl's rounding (written without std's f64::round) rounds as f64::round does.
    #[test]
    fn ttl_seconds_round_to_the_nearest_millisecond(
        seconds in prop_oneof![any::<f64>(), 0.0..10.0, (0u64..20_000).prop_map(|n| n as f64 / 2000.0), 9.0e12..1.0e13],
    ) {
        let expected = (seconds * 1000.0).round();
        match ttl::seconds_to_ms(seconds) {
            Ok(ms) => prop_assert_eq!(ms, (expected as u64).max(1)),
            Err(_) => prop_assert!(!(seconds > 0.0 && expected <= ttl::MAX_TTL_MS as f64)),
        }
    }

    /// `is_safe_integer` (written without std's f64::trunc) is `Number.isSafeInteger`.
    #[test]
    fn safe_integers_are_whole_and_in_range(
        n in prop_oneof![any::<f64>(), -1e16..1e16, (-(1i64 << 54)..(1i64 << 54)).prop_map(|n| n as f64), Just(-0.0), Just(0.5)],
    ) {
        let expected = n.is_finite() && n.trunc() == n && n.abs() <= 9_007_199_254_740_991.0;
        prop_assert_eq!(number::is_safe_integer(n), expected, "{}", n);
    }

    /// incr on any stored text with any delta: a number or a clean error.
    #[test]
    fn incr_on_any_stored_text(stored in "\\PC{0,30}|-?[0-9]{1,30}(\\.[0-9]{0,10})?(e[+-]?[0-9]{1,4})?", delta in any::<f64>()) {
        let _ = number::add(Some(&stored), delta, &StdNumbers);
        let mut store = MemoryStore::new(4, [7, 11]);
        let _ = store.execute(Op::Set(Entry { key: "k".into(), value: stored, ttl_ms: None, stamps: vec![] }), 0.0, &StdNumbers);
        let _ = store.execute(Op::Incr { key: "k".into(), delta }, 0.0, &StdNumbers);
    }
}
