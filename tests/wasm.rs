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
    core.set(s("k"), s("v"), NONE, NONE, NONE).unwrap();
    assert_eq!(core.pending(), 0.0, "memory calls are done at once");
    // Values are stored as their JSON text.
    assert_eq!(core.get(s("k"), NONE, NONE).unwrap().as_string().as_deref(), Some("\"v\""));
    assert!(core.get(s("missing"), NONE, NONE).unwrap().is_null());
}

#[wasm_bindgen_test]
fn incr_keeps_integers_integers() {
    let core = connected("memory://", NONE);
    let text = |v: JsValue| v.as_string().unwrap();
    assert_eq!(text(core.incr_by(s("n"), JsValue::from_f64(41.0), NONE, NONE, 1.0).unwrap()), "41");
    assert_eq!(text(core.incr_by(s("n"), NONE, NONE, NONE, 1.0).unwrap()), "42");
    assert_eq!(text(core.incr_by(s("n"), JsValue::from_f64(0.5), NONE, NONE, -1.0).unwrap()), "41.5");
}

fn rest_core() -> Core {
    let options = js_sys::Object::new();
    Reflect::set(&options, &s("token"), &s("t")).unwrap();
    connected("https://example.invalid", options.into())
}

#[wasm_bindgen_test]
fn rest_calls_are_planned_and_their_answers_read() {
    let core = rest_core();
    let command = core.get(s("k"), NONE, NONE).unwrap();
    assert_eq!(command.as_string().as_deref(), Some(r#"["GET","::k"]"#));
    let code = core.pending();
    assert!(code > 0.0 && code % 16.0 < 8.0, "a GET may be sent again: {code}");
    // Stored texts come back still JSON (escapes and all): JavaScript's JSON.parse unescapes.
    assert_eq!(core.reply(code, 200, br#"{"result":"1\"2"}"#).unwrap().as_string().as_deref(), Some(r#""1\"2""#));
    core.incr_by(s("n"), NONE, NONE, NONE, 1.0).unwrap();
    assert!(core.pending() % 16.0 >= 8.0, "an INCRBYFLOAT must not be sent twice");
    let error = core.reply(core.pending(), 401, b"").unwrap_err();
    assert_eq!(error_name(&error), "CacheError");
}

/// Codes and answers come back from JavaScript: anything there is refused, never trusted.
#[wasm_bindgen_test]
fn bad_codes_and_answers_throw_and_the_instance_lives_on() {
    let core = rest_core();
    for code in [0.0, -0.5, 8.0, f64::NAN, f64::INFINITY, -7.0, 1e300] {
        assert_eq!(error_name(&core.reply(code, 200, b"{}").unwrap_err()), "TypeError", "{code}");
        assert!(core.replies(&[code], 200, b"[{}]").is_err(), "{code}");
        assert!(core.clear_next(code, 200, b"{}").is_err(), "{code}");
    }
    core.get(s("k"), NONE, NONE).unwrap();
    let code = core.pending();
    let bodies: [(u16, &[u8]); 6] = [(200, b""), (200, b"[[[["), (0, b"x"), (65535, b"{}"), (200, br#"{"result":[1,2]}"#), (200, b"{\"result\":\"\xff\"}")];
    for (status, body) in bodies {
        assert_eq!(error_name(&core.reply(code, status, body).unwrap_err()), "CacheError", "{status} {body:?}");
    }
    assert!(core.replies(&[code, code], 200, br#"[{"result":null}]"#).is_err(), "one answer for two commands");
    assert_eq!(core.retry_after(9, u32::MAX, true), None);
    assert_eq!(core.get(s("k"), NONE, NONE).unwrap().as_string().as_deref(), Some(r#"["GET","::k"]"#));
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
        let calls = [
            core.get(bad.clone(), bad.clone(), bad.clone()),
            core.set(bad.clone(), bad.clone(), bad.clone(), bad.clone(), bad.clone()),
            core.set(s("k"), bad.clone(), NONE, NONE, NONE),
            core.set(s("k"), s("v"), bad.clone(), NONE, NONE),
            core.add(s("k"), s("v"), bad.clone(), bad.clone(), bad.clone()),
            core.get_or_set(bad.clone(), bad.clone(), bad.clone(), bad.clone(), bad.clone()),
            core.get_or_set_key(bad.clone(), bad.clone(), bad.clone(), bad.clone()).map(JsValue::from),
            core.add_key(String::from("k"), bad.clone(), f64::NAN),
            core.get_many(bad.clone(), bad.clone(), bad.clone()),
            core.get_many(Array::new().into(), bad.clone(), NONE),
            core.set_many(bad.clone(), bad.clone(), bad.clone(), bad.clone()),
            core.delete(bad.clone(), bad.clone(), bad.clone()),
            core.delete_many(bad.clone(), bad.clone(), bad.clone()),
            core.clear(bad.clone()),
            core.touch(s("k"), bad.clone(), bad.clone(), bad.clone()),
            core.incr_by(bad.clone(), bad.clone(), bad.clone(), bad.clone(), 1.0),
            core.incr_by(s("k"), bad.clone(), NONE, NONE, f64::NAN),
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
    core.set(s("after"), s("ok"), NONE, NONE, NONE).unwrap();
    assert_eq!(core.get(s("after"), NONE, NONE).unwrap().as_string().as_deref(), Some("\"ok\""));
}

#[wasm_bindgen_test]
fn bad_urls_throw_in_the_constructor() {
    for url in ["", "redis://x", "memory://?ttl=-1", "https://", "memory://%ff"] {
        let error = Core::new(s(url), NONE).err().expect(url);
        assert!(["CacheError", "RangeError"].contains(&error_name(&error).as_str()), "{url}");
    }
}
