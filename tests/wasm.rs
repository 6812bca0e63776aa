//! wasm-bindgen tests: the `Core` class as compiled to wasm, run by `wasm-pack test --node`
//! and in headless Chromium (tests/browser/wasm-chrome.sh). They pin what only the real wasm
//! build can show: no input reaches a panic (which would leave the instance dead for every later
//! call), and numbers printed through JavaScript stay integers. (The `Cache` class around the
//! core is JavaScript, tested by the conformance suite in every runtime.)
#![cfg(target_arch = "wasm32")]

use edge_caches::Core;
use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

fn s(text: &str) -> JsValue {
    JsValue::from_str(text)
}

/// What a call method returned, as a `Result`: the core returns its error object as the value
/// (npm/cache.js throws it).
fn result(value: JsValue) -> Result<JsValue, JsValue> {
    if value.is_instance_of::<js_sys::Error>() { Err(value) } else { Ok(value) }
}

fn error_name(error: &JsValue) -> String {
    Reflect::get(error, &s("name")).ok().and_then(|n| n.as_string()).unwrap_or_default()
}

fn connected(url: &str, options: JsValue) -> Core {
    let core = Core::new(s(url), options).expect("valid URL");
    core.connect().expect("connects");
    core
}

const NONE: JsValue = JsValue::UNDEFINED;

#[wasm_bindgen_test]
fn set_then_get_round_trips() {
    let core = connected("memory://", NONE);
    result(core.set("k", s("v"), NONE, NONE, NONE)).unwrap();
    assert_eq!(core.pending(), 0.0, "memory calls are done at once");
    // Values are stored as their JSON text.
    assert_eq!(result(core.get("k", NONE, NONE)).unwrap().as_string().as_deref(), Some("\"v\""));
    assert!(result(core.get("missing", NONE, NONE)).unwrap().is_null());
}

#[wasm_bindgen_test]
fn incr_keeps_integers_integers() {
    let core = connected("memory://", NONE);
    let text = |v: JsValue| v.as_string().unwrap();
    assert_eq!(text(result(core.incr_by("n", JsValue::from_f64(41.0), NONE, NONE, 1.0)).unwrap()), "41");
    assert_eq!(text(result(core.incr_by("n", NONE, NONE, NONE, 1.0)).unwrap()), "42");
    assert_eq!(text(result(core.incr_by("n", JsValue::from_f64(0.5), NONE, NONE, -1.0)).unwrap()), "41.5");
}

fn rest_core() -> Core {
    let options = js_sys::Object::new();
    Reflect::set(&options, &s("token"), &s("t")).unwrap();
    connected("https://example.invalid", options.into())
}

#[wasm_bindgen_test]
fn rest_calls_are_planned_and_their_answers_read() {
    let core = rest_core();
    let command = result(core.get("k", NONE, NONE)).unwrap();
    assert_eq!(command.as_string().as_deref(), Some(r#"["GET","::k"]"#));
    let code = core.pending();
    assert!(code > 0.0 && code % 16.0 < 8.0, "a GET may be sent again: {code}");
    // Stored texts come back still JSON (escapes and all): JavaScript's JSON.parse unescapes.
    assert_eq!(result(core.reply(code, 200, br#"{"result":"1\"2"}"#)).unwrap().as_string().as_deref(), Some(r#""1\"2""#));
    result(core.incr_by("n", NONE, NONE, NONE, 1.0)).unwrap();
    assert!(core.pending() % 16.0 >= 8.0, "an INCRBYFLOAT must not be sent twice");
    let error = result(core.reply(core.pending(), 401, b"")).unwrap_err();
    assert_eq!(error_name(&error), "CacheError");
}

/// Codes and answers come back from JavaScript: anything there is refused, never trusted.
#[wasm_bindgen_test]
fn bad_codes_and_answers_throw_and_the_instance_lives_on() {
    let core = rest_core();
    for code in [0.0, -0.5, 8.0, f64::NAN, f64::INFINITY, -7.0, 1e300] {
        assert_eq!(error_name(&result(core.reply(code, 200, b"{}")).unwrap_err()), "TypeError", "{code}");
        assert!(core.replies(&[code], 200, b"[{}]").is_err(), "{code}");
        assert!(core.clear_next(code, 200, b"{}").is_err(), "{code}");
    }
    result(core.get("k", NONE, NONE)).unwrap();
    let code = core.pending();
    let bodies: [(u16, &[u8]); 6] = [(200, b""), (200, b"[[[["), (0, b"x"), (65535, b"{}"), (200, br#"{"result":[1,2]}"#), (200, b"{\"result\":\"\xff\"}")];
    for (status, body) in bodies {
        assert_eq!(error_name(&result(core.reply(code, status, body)).unwrap_err()), "CacheError", "{status} {body:?}");
    }
    assert!(core.replies(&[code, code], 200, br#"[{"result":null}]"#).is_err(), "one answer for two commands");
    assert_eq!(core.retry_after(9, u32::MAX, true), None);
    assert_eq!(result(core.get("k", NONE, NONE)).unwrap().as_string().as_deref(), Some(r#"["GET","::k"]"#));
}

/// Every kind of bad argument, through every method: each must throw a JS error, and the same
/// instance must still work afterwards (a panic would make every later call trap).
#[wasm_bindgen_test]
fn bad_input_throws_and_the_instance_lives_on() {
    let core = connected("memory://", NONE);
    let bad_values: Vec<JsValue> = vec![
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
    let mut rejected = 0;
    for bad in &bad_values {
        // Keys come as text npm/cache.js checked (any string reaches here, none is bad).
        let calls = [
            result(core.get("\u{FFFF}", bad.clone(), bad.clone())),
            result(core.set("k", bad.clone(), bad.clone(), bad.clone(), bad.clone())),
            result(core.set("k", bad.clone(), NONE, NONE, NONE)),
            result(core.set("k", s("v"), bad.clone(), NONE, NONE)),
            result(core.add("k", s("v"), bad.clone(), bad.clone(), bad.clone())),
            result(core.get_or_set("", bad.clone(), bad.clone(), bad.clone(), bad.clone())),
            core.get_or_set_key("k", bad.clone(), bad.clone(), bad.clone()).map(JsValue::from),
            result(core.add_key(String::from("k"), bad.clone(), f64::NAN)),
            result(core.get_many(bad.clone(), bad.clone(), bad.clone())),
            result(core.get_many(Array::new().into(), bad.clone(), NONE)),
            result(core.set_many(bad.clone(), bad.clone(), bad.clone(), bad.clone())),
            result(core.set_many(one_entry(bad), NONE, NONE, NONE)),
            result(core.delete("k", bad.clone(), bad.clone())),
            result(core.delete_many(bad.clone(), bad.clone(), bad.clone())),
            result(core.clear(bad.clone())),
            result(core.touch("k", bad.clone(), bad.clone(), bad.clone())),
            result(core.incr_by("k", bad.clone(), bad.clone(), bad.clone(), 1.0)),
            result(core.incr_by("k", bad.clone(), NONE, NONE, f64::NAN)),
        ];
        for call in calls {
            if let Err(error) = call {
                let name = error_name(&error);
                assert!(["TypeError", "RangeError", "CacheError"].contains(&name.as_str()), "{name}");
                rejected += 1;
            }
        }
    }
    assert!(rejected > bad_values.len() * 6, "most of these calls are bad: {rejected}");
    result(core.set("after", s("ok"), NONE, NONE, NONE)).unwrap();
    assert_eq!(result(core.get("after", NONE, NONE)).unwrap().as_string().as_deref(), Some("\"ok\""));
}

/// `{ k: value }`.
fn one_entry(value: &JsValue) -> JsValue {
    let object = js_sys::Object::new();
    Reflect::set(&object, &s("k"), value).unwrap();
    object.into()
}

#[wasm_bindgen_test]
fn bad_urls_throw_in_the_constructor() {
    for url in ["", "redis://x", "memory://?ttl=-1", "https://", "memory://%ff"] {
        let error = Core::new(s(url), NONE).err().expect(url);
        assert!(["CacheError", "RangeError"].contains(&error_name(&error).as_str()), "{url}");
    }
}
