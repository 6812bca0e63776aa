//! wasm-bindgen tests: the `Cache` class as compiled to wasm, run by `wasm-pack test --node`
//! (and, later, in headless Chromium). They pin what only the real wasm build can show: no
//! input reaches a panic (which would leave the instance dead for every later call), and
//! numbers printed through JavaScript stay integers.
#![cfg(target_arch = "wasm32")]

use edge_caches::Cache;
use js_sys::{Array, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

async fn settle(p: Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(p).await
}

fn s(text: &str) -> JsValue {
    JsValue::from_str(text)
}

fn error_name(error: &JsValue) -> String {
    Reflect::get(error, &s("name")).ok().and_then(|n| n.as_string()).unwrap_or_default()
}

async fn connected(url: &str) -> Cache {
    let cache = Cache::new(s(url), JsValue::UNDEFINED).expect("valid URL");
    settle(cache.connect()).await.expect("connects");
    cache
}

#[wasm_bindgen_test]
async fn set_then_get_round_trips() {
    let cache = connected("memory://").await;
    settle(cache.set(s("k"), s("v"), JsValue::UNDEFINED)).await.unwrap();
    let got = settle(cache.get(s("k"), JsValue::UNDEFINED, JsValue::UNDEFINED)).await.unwrap();
    assert_eq!(got.as_string().as_deref(), Some("v"));
}

#[wasm_bindgen_test]
async fn incr_keeps_integers_integers() {
    let cache = connected("memory://").await;
    let n = settle(cache.incr(s("n"), JsValue::from_f64(41.0), JsValue::UNDEFINED)).await.unwrap();
    assert_eq!(n.as_f64(), Some(41.0));
    let n = settle(cache.incr(s("n"), JsValue::UNDEFINED, JsValue::UNDEFINED)).await.unwrap();
    assert_eq!(n.as_f64(), Some(42.0));
    let n = settle(cache.decr(s("n"), JsValue::from_f64(0.5), JsValue::UNDEFINED)).await.unwrap();
    assert_eq!(n.as_f64(), Some(41.5));
}

/// Every kind of bad argument, through every method: each must reject with a JS error, and the
/// same instance must still work afterwards (a panic would make every later call trap).
#[wasm_bindgen_test]
async fn bad_input_rejects_and_the_instance_lives_on() {
    let cache = connected("memory://").await;
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
            cache.get(bad.clone(), JsValue::UNDEFINED, bad.clone()),
            cache.set(bad.clone(), bad.clone(), bad.clone()),
            cache.set(s("k"), bad.clone(), JsValue::UNDEFINED),
            cache.add(s("k"), s("v"), bad.clone()),
            cache.get_or_set(bad.clone(), bad.clone(), bad.clone()),
            cache.get_many(bad.clone(), bad.clone()),
            cache.set_many(bad.clone(), bad.clone()),
            cache.delete(bad.clone(), bad.clone()),
            cache.delete_many(bad.clone(), bad.clone()),
            cache.touch(s("k"), bad.clone(), bad.clone()),
            cache.incr(bad.clone(), bad.clone(), bad.clone()),
            cache.decr(s("k"), bad.clone(), JsValue::UNDEFINED),
        ];
        for call in calls {
            if let Err(error) = settle(call).await {
                let name = error_name(&error);
                assert!(["TypeError", "RangeError", "CacheError"].contains(&name.as_str()), "{name}");
                rejected += 1;
            }
        }
    }
    assert!(rejected > bad_values.len() * 6, "most of these calls are bad: {rejected}");
    settle(cache.set(s("after"), s("ok"), JsValue::UNDEFINED)).await.unwrap();
    let got = settle(cache.get(s("after"), JsValue::UNDEFINED, JsValue::UNDEFINED)).await.unwrap();
    assert_eq!(got.as_string().as_deref(), Some("ok"));
}

#[wasm_bindgen_test]
fn bad_urls_throw_in_the_constructor() {
    for url in ["", "redis://x", "memory://?ttl=-1", "https://", "memory://%ff"] {
        let error = Cache::new(s(url), JsValue::UNDEFINED).err().expect(url);
        assert!(["CacheError", "RangeError"].contains(&error_name(&error).as_str()), "{url}");
    }
}
