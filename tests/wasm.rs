//! wasm-bindgen tests: the boundary (src/wasm.rs) as compiled to wasm, run by `wasm-pack test
//! --node` and in headless Chromium (tests/browser/wasm-chrome.sh). They pin what only the real
//! wasm build can show: no JavaScript value reaches a panic (which would leave the instance dead
//! for every later call), numbers printed through JavaScript stay integers, and the boundary's
//! outcomes, requests and error reports are what npm/cache.js expects. (The engine's rules are plain
//! Rust under `cargo test`; the `Cache` class is tested by the conformance suite everywhere.)
#![cfg(target_arch = "wasm32")]

use edge_caches::backend::rest::FetchFailure;
use edge_caches::wasm::{CacheOptions, CallOptionsObject, Engine, RestRequest};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

fn s(text: &str) -> JsValue {
    JsValue::from_str(text)
}

const NONE: Option<CallOptionsObject> = None;
const UNDEFINED: JsValue = JsValue::UNDEFINED;

/// A JavaScript object with these properties.
fn object(properties: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (name, value) in properties {
        Reflect::set(&object, &s(name), value).unwrap();
    }
    object.into()
}

fn cache_options(properties: &[(&str, JsValue)]) -> CacheOptions {
    object(properties).unchecked_into()
}

/// A call's options object as npm/arguments.js makes it: `given` has a bit for each property.
fn call(properties: &[(&str, JsValue)]) -> Option<CallOptionsObject> {
    let bit = |name: &str| match name {
        "ttl" => 1,
        "version" => 2,
        "tags" => 4,
        "fresh" => 8,
        "aborted" => 16,
        _ => 0,
    };
    let given: u32 = properties.iter().map(|(name, _)| bit(name)).sum();
    let object = object(properties);
    Reflect::set(&object, &s("given"), &JsValue::from(given)).unwrap();
    Some(object.unchecked_into())
}

/// RestRequest.flags: the route in the two low bits, `once` in bit 2.
const ONCE: u32 = 4;
const PIPELINED: u32 = 1;
/// `Engine::new`'s backend kinds (npm/url.js).
const MEMORY: u32 = 0;
const REST: u32 = 2;

fn connected(backend: u32, location: &str, token: Option<&str>) -> Engine {
    let token = token.map_or(UNDEFINED, s);
    let engine = Engine::new(backend, location.into(), &cache_options(&[("token", token)])).ok().expect("valid options");
    assert!(engine.connect().is_undefined(), "connects");
    engine
}

/// A call method's value, as a `Result`: an error report (an `EvalError`) is the error, its
/// name what it describes ("TypeError", "RangeError" or the `CacheError` code).
fn outcome(value: JsValue) -> Result<JsValue, String> {
    match value.dyn_into::<js_sys::EvalError>() {
        Ok(report) => Err(report.unchecked_into::<js_sys::Error>().name().into()),
        Err(value) => Ok(value),
    }
}

/// What a failed constructor threw, as `outcome` gives it.
fn thrown(value: JsValue) -> String {
    outcome(value).err().expect("an error report")
}

fn request(value: JsValue) -> RestRequest {
    RestRequest::try_from_js_value(value).ok().expect("a request")
}

#[wasm_bindgen_test]
fn memory_calls_answer_at_once_and_numbers_stay_integers() {
    let engine = connected(MEMORY, "", None);
    outcome(engine.set("k", "\"v\"".into(), NONE)).ok().unwrap();
    assert_eq!(outcome(engine.get("k", NONE)).ok().unwrap().as_string().as_deref(), Some("\"v\""));
    assert!(outcome(engine.get("missing", NONE)).ok().unwrap().is_null());
    assert_eq!(outcome(engine.incr("n", Some(41.0), NONE)).ok().unwrap().as_f64(), Some(41.0));
    // The version 2 is printed by JavaScript as "2", not "2.0".
    outcome(engine.set("v", "1".into(), call(&[("version", JsValue::from_f64(2.0))]))).ok().unwrap();
    assert_eq!(engine.get_or_set_key("v", call(&[("version", JsValue::from_f64(2.0))])).as_string().as_deref(), Some(":2:v"));
}

#[wasm_bindgen_test]
fn rest_calls_give_a_request_whose_answer_the_engine_reads() {
    let engine = connected(REST, "https://example.invalid", Some("t"));
    let get = request(engine.get("k", NONE));
    assert_eq!((get.body().as_string().as_deref(), get.flags()), (Some(r#"["GET","::k"]"#), 1 << 3), "a command, once, not pipelined");
    // Stored texts come back unescaped by JSON.parse.
    assert_eq!(outcome(engine.read(get, 200, br#"{"result":"1\"2"}"#)).ok().unwrap().as_string().as_deref(), Some("1\"2"));
    let incr = request(engine.incr("n", None, NONE));
    assert_eq!(incr.flags() & ONCE, ONCE, "an INCRBYFLOAT must not be sent twice");
    let failure = outcome(engine.read(incr, 401, b"")).err().unwrap();
    assert_eq!(failure, "AUTH");
    engine.pipelined(request(engine.get("a", NONE)));
    engine.pipelined(request(engine.incr("b", None, NONE)));
    let answers: Array = engine.read_pipeline(200, br#"[{"result":null},{"result":"7"}]"#);
    assert!(answers.get(0).is_null());
    assert_eq!(answers.get(1).as_f64(), Some(7.0));
    assert_eq!(engine.read_pipeline(200, b"[]").length(), 0, "a batch is read once");
    assert_eq!(engine.retry_after(FetchFailure::Network, 0, true), None);
    assert_eq!(engine.retry_after(FetchFailure::Unsent, 0, true), Some(50));
}

#[wasm_bindgen_test]
fn near_reads_are_shared_pipelined_requests_and_then_answered_from_memory() {
    let near = object(&[("ttl", JsValue::from_f64(60.0))]);
    // The boundary only asks whether onEvent is there (cache.js calls it).
    let engine = Engine::new(REST, "https://example.invalid".into(), &cache_options(&[("token", s("t")), ("near", near), ("onEvent", JsValue::TRUE)])).ok().unwrap();
    assert!(engine.connect().is_undefined());
    let read = request(engine.get("k", NONE));
    assert_eq!(read.shared_key().as_string().as_deref(), Some("::k"));
    assert_eq!(read.flags() & 3, PIPELINED, "a script by its SHA-1 goes inside a /pipeline request");
    assert_eq!(outcome(engine.read(read, 200, br#"{"result":["\"v\"",-1]}"#)).ok().unwrap().as_string().as_deref(), Some("\"v\""));
    assert_eq!(outcome(engine.get("k", NONE)).ok().unwrap().as_string().as_deref(), Some("\"v\""), "from memory");
    let stats = engine.stats();
    assert_eq!((stats.get(0).as_f64(), stats.get(1).as_f64(), stats.get(2).as_f64()), (Some(1.0), Some(1.0), Some(0.0)));
    // With events on: the backend's hit, then the near tier's, each with its stored key.
    let events = engine.take_events();
    assert_eq!(events.length(), 4);
    assert_eq!((events.get(0).as_f64(), events.get(1).as_string().as_deref()), (Some(0.0), Some("::k")));
    assert_eq!((events.get(2).as_f64(), events.get(3).as_string().as_deref()), (Some(2.0), Some("::k")));
    assert_eq!(engine.take_events().length(), 0, "taken once");
}

/// Answers come from a server: anything there is an error report, and the instance lives on.
#[wasm_bindgen_test]
fn bad_answers_fail_the_call_and_the_instance_lives_on() {
    let engine = connected(REST, "https://example.invalid", Some("t"));
    let bodies: [(u16, &[u8]); 6] = [(200, b""), (200, b"[[[["), (0, b"x"), (65535, b"{}"), (200, br#"{"result":[1,2]}"#), (200, b"{\"result\":\"\xff\"}")];
    for (status, body) in bodies {
        let failure = outcome(engine.read(request(engine.get("k", NONE)), status, body)).err().expect("a failure");
        assert!(["PROTOCOL", "SERVER"].contains(&failure.as_str()), "{status} {body:?}: {failure}");
    }
    engine.pipelined(request(engine.get("a", NONE)));
    engine.pipelined(request(engine.get("b", NONE)));
    let each = engine.read_pipeline(200, br#"[{"result":null}]"#);
    assert!(each.iter().all(|r| outcome(r).is_err()), "one answer for two fails both");
    assert_eq!(request(engine.get("k", NONE)).body().as_string().as_deref(), Some(r#"["GET","::k"]"#));
}

/// Every kind of JavaScript value where the boundary takes one (a version, a ttl): each call
/// answers, with an error report or an outcome, and the instance still works afterwards.
#[wasm_bindgen_test]
fn any_value_where_a_value_is_taken_is_answered_and_the_instance_lives_on() {
    let engine = connected(MEMORY, "", None);
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
        let both = || call(&[("ttl", value.clone()), ("version", value.clone())]);
        let calls = [
            engine.get("k", call(&[("version", value.clone()), ("aborted", s("\u{FFFF}")), ("fresh", JsValue::TRUE)])),
            engine.set("k", "1".into(), both()),
            engine.add("k", "x".into(), call(&[("ttl", value.clone())])),
            engine.get_or_set("", "[".into(), both()),
            engine.get_or_set_key("k", both()),
            engine.add_stored("k".into(), "1".into(), call(&[("ttl", value.clone()), ("tags", s("[\"\\ud800\"]"))]), false),
            engine.get_many("[\"a\"", call(&[("version", value.clone())])),
            engine.set_many("[\"a\"]", "[]", both()),
            engine.set("k", "1".into(), call(&[("tags", s("{\"not\":\"a list\"}"))])),
            engine.invalidate_tags("[1]", NONE),
            engine.delete_many("{}", call(&[("version", value.clone())])),
            engine.touch("k", value.clone(), call(&[("version", value.clone())])),
            engine.incr("k", value.as_f64(), call(&[("version", value.clone())])),
        ];
        failed += calls.into_iter().filter(|c| outcome(c.clone()).is_err()).count();
    }
    assert!(failed > values.len() * 4, "most of these calls are bad: {failed}");
    outcome(engine.set("after", "\"ok\"".into(), NONE)).ok().unwrap();
    assert_eq!(outcome(engine.get("after", NONE)).ok().unwrap().as_string().as_deref(), Some("\"ok\""));
}

#[wasm_bindgen_test]
fn bad_options_fail_in_the_constructor() {
    let failure = Engine::new(REST, "https://example.invalid".into(), &cache_options(&[])).err().expect("no token");
    assert_eq!(thrown(failure), "CONFIG");
    let failure = Engine::new(MEMORY, String::new(), &cache_options(&[("maxEntries", JsValue::from_f64(0.0))])).err().expect("maxEntries 0");
    assert_eq!(thrown(failure), "RangeError");
}
