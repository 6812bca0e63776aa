//! wasm-bindgen tests: the boundary (src/wasm.rs) as compiled to wasm, run by `wasm-pack test
//! --node` and in headless Chromium (tests/browser/wasm-chrome.sh). They pin what only the real
//! wasm build can show: no JavaScript value reaches a panic (which would leave the instance dead
//! for every later call), numbers printed through JavaScript stay integers, and the boundary's
//! outcomes, requests and failures are what npm/cache.js expects. (The engine's rules are plain
//! Rust under `cargo test`; the `Cache` class is tested by the conformance suite everywhere.)
#![cfg(target_arch = "wasm32")]

use edge_caches::wasm::{Engine, ErrorKind, FetchFailure, Failure, RestRequest};
use js_sys::Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen_test::*;

fn s(text: &str) -> JsValue {
    JsValue::from_str(text)
}

const NONE: JsValue = JsValue::UNDEFINED;

fn connected(url: &str, token: Option<&str>) -> Engine {
    let engine = Engine::new(url, None, NONE, NONE, None, token.map(str::to_owned), None, false, None, None, None, false, None, false, false).ok().expect("valid URL");
    engine.connect().ok().expect("connects");
    engine
}

/// A call method's value, as a `Result`: a `Failure` is the error.
fn outcome(value: JsValue) -> Result<JsValue, Failure> {
    match Failure::try_from_js_value(value) {
        Ok(failure) => Err(failure),
        Err(value) => Ok(value),
    }
}

fn request(value: JsValue) -> RestRequest {
    RestRequest::try_from_js_value(value).ok().expect("a request")
}

#[wasm_bindgen_test]
fn memory_calls_answer_at_once_and_numbers_stay_integers() {
    let engine = connected("memory://", None);
    outcome(engine.set("k", "\"v\"".into(), NONE, NONE, None, None)).ok().unwrap();
    assert_eq!(outcome(engine.get("k", NONE, None, false)).ok().unwrap().as_string().as_deref(), Some("\"v\""));
    assert!(outcome(engine.get("missing", NONE, None, false)).ok().unwrap().is_null());
    assert_eq!(outcome(engine.incr("n", Some(41.0), NONE, None)).ok().unwrap().as_f64(), Some(41.0));
    // The version 2 is printed by JavaScript as "2", not "2.0".
    outcome(engine.set("v", "1".into(), NONE, JsValue::from_f64(2.0), None, None)).ok().unwrap();
    assert_eq!(engine.get_or_set_key("v", NONE, JsValue::from_f64(2.0), None, None).as_string().as_deref(), Some(":2:v"));
}

#[wasm_bindgen_test]
fn rest_calls_give_a_request_whose_answer_the_engine_reads() {
    let engine = connected("https://example.invalid", Some("t"));
    assert_eq!(engine.endpoint().as_deref(), Some("https://example.invalid"));
    let get = request(engine.get("k", NONE, None, false));
    assert_eq!((get.body().as_string().as_deref(), get.once(), get.pipeline(), get.pipelined()), (Some(r#"["GET","::k"]"#), false, false, false));
    // Stored texts come back unescaped by JSON.parse.
    assert_eq!(outcome(engine.read(get, 200, br#"{"result":"1\"2"}"#)).ok().unwrap().as_string().as_deref(), Some("1\"2"));
    let incr = request(engine.incr("n", None, NONE, None));
    assert!(incr.once(), "an INCRBYFLOAT must not be sent twice");
    let failure = outcome(engine.read(incr, 401, b"")).err().unwrap();
    assert!(matches!(failure.kind(), ErrorKind::Cache));
    assert_eq!(failure.code(), "AUTH");
    let requests = vec![request(engine.get("a", NONE, None, false)), request(engine.incr("b", None, NONE, None))];
    let answers: Array = engine.read_pipeline(requests, 200, br#"[{"result":null},{"result":"7"}]"#);
    assert!(answers.get(0).is_null());
    assert_eq!(answers.get(1).as_f64(), Some(7.0));
    assert_eq!(engine.retry_after(FetchFailure::Network, 0, true), None);
    assert_eq!(engine.retry_after(FetchFailure::Unsent, 0, true), Some(50));
}

#[wasm_bindgen_test]
fn near_reads_are_shared_pipelined_requests_and_then_answered_from_memory() {
    let engine = Engine::new("https://example.invalid", None, NONE, NONE, None, Some("t".into()), None, true, Some(60.0), None, None, false, None, true, false).ok().unwrap();
    engine.connect().ok().unwrap();
    let read = request(engine.get("k", NONE, None, false));
    assert_eq!(read.shared_key().as_deref(), Some("::k"));
    assert!(read.pipelined(), "a script by its SHA-1 goes inside a /pipeline request");
    assert_eq!(outcome(engine.read(read, 200, br#"{"result":["\"v\"",-1]}"#)).ok().unwrap().as_string().as_deref(), Some("\"v\""));
    assert_eq!(outcome(engine.get("k", NONE, None, false)).ok().unwrap().as_string().as_deref(), Some("\"v\""), "from memory");
    assert_eq!((engine.near_hits(), engine.near_misses()), (1.0, 1.0));
    // With events on: the backend's hit, then the near tier's, each with its stored key.
    let events = engine.take_events();
    assert_eq!(events.length(), 4);
    assert_eq!((events.get(0).as_f64(), events.get(1).as_string().as_deref()), (Some(0.0), Some("::k")));
    assert_eq!((events.get(2).as_f64(), events.get(3).as_string().as_deref()), (Some(2.0), Some("::k")));
    assert_eq!(engine.take_events().length(), 0, "taken once");
}

/// Answers come from a server: anything there is a Failure, and the instance lives on.
#[wasm_bindgen_test]
fn bad_answers_fail_the_call_and_the_instance_lives_on() {
    let engine = connected("https://example.invalid", Some("t"));
    let bodies: [(u16, &[u8]); 6] = [(200, b""), (200, b"[[[["), (0, b"x"), (65535, b"{}"), (200, br#"{"result":[1,2]}"#), (200, b"{\"result\":\"\xff\"}")];
    for (status, body) in bodies {
        let failure = outcome(engine.read(request(engine.get("k", NONE, None, false)), status, body)).err().expect("a failure");
        assert!(matches!(failure.kind(), ErrorKind::Cache), "{status} {body:?}");
    }
    let two = vec![request(engine.get("a", NONE, None, false)), request(engine.get("b", NONE, None, false))];
    let each = engine.read_pipeline(two, 200, br#"[{"result":null}]"#);
    assert!(each.iter().all(|r| Failure::try_from_js_value(r).is_ok()), "one answer for two fails both");
    assert_eq!(request(engine.get("k", NONE, None, false)).body().as_string().as_deref(), Some(r#"["GET","::k"]"#));
}

/// Every kind of JavaScript value where the boundary takes one (version, ttl): each call
/// answers, with a Failure or an outcome, and the instance still works afterwards.
#[wasm_bindgen_test]
fn any_value_where_a_value_is_taken_is_answered_and_the_instance_lives_on() {
    let engine = connected("memory://", None);
    let values: Vec<JsValue> = vec![
        JsValue::UNDEFINED,
        JsValue::NULL,
        JsValue::from_f64(f64::NAN),
        JsValue::from_f64(f64::INFINITY),
        JsValue::from_f64(-0.0),
        JsValue::from_f64(1e300),
        JsValue::from_bool(true),
        s("\u{FFFF}"),
        Array::new().into(),
        js_sys::Object::new().into(),
        JsValue::bigint_from_str("12345678901234567890"),
        js_sys::Symbol::for_("s").into(),
    ];
    let mut failed = 0;
    for value in &values {
        let calls = [
            engine.get("k", value.clone(), Some("\u{FFFF}".into()), true),
            engine.set("k", "1".into(), value.clone(), value.clone(), None, None),
            engine.add("k", "x".into(), value.clone(), NONE, None, None),
            engine.get_or_set("", "[".into(), value.clone(), value.clone(), None, None, false),
            engine.get_or_set_key("k", value.clone(), value.clone(), None, None),
            engine.add_stored("k".into(), "1".into(), value.clone(), Some("[\"\\ud800\"]".into())),
            engine.get_many("[\"a\"", value.clone(), None, false),
            engine.set_many("[\"a\"]", "[]", value.clone(), value.clone(), None, None),
            engine.set("k", "1".into(), NONE, NONE, Some("{\"not\":\"a list\"}".into()), None),
            engine.invalidate_tags("[1]", None),
            engine.delete_many("{}", value.clone(), None),
            engine.touch("k", value.clone(), value.clone(), None),
            engine.incr("k", value.as_f64(), value.clone(), None),
        ];
        failed += calls.into_iter().filter(|c| outcome(c.clone()).is_err()).count();
    }
    assert!(failed > values.len() * 4, "most of these calls are bad: {failed}");
    outcome(engine.set("after", "\"ok\"".into(), NONE, NONE, None, None)).ok().unwrap();
    assert_eq!(outcome(engine.get("after", NONE, None, false)).ok().unwrap().as_string().as_deref(), Some("\"ok\""));
}

#[wasm_bindgen_test]
fn bad_urls_and_options_fail_in_the_constructor() {
    for url in ["", "redis://x", "memory://?ttl=-1", "https://", "memory://%ff"] {
        let failure = Engine::new(url, None, NONE, NONE, None, None, None, false, None, None, None, false, None, false, false).err().expect(url);
        assert!(matches!(failure.kind(), ErrorKind::Cache | ErrorKind::Range), "{url}");
    }
    let failure = Engine::new("memory://", None, NONE, NONE, Some(0.0), None, None, false, None, None, None, false, None, false, false).err().expect("maxEntries 0");
    assert!(matches!(failure.kind(), ErrorKind::Range));
}
