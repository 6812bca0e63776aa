//! Bindings to `runtime.js` and to the JavaScript globals the boundary needs, and the single
//! conversion of a core `Error` into a JavaScript error.

use crate::prelude::*;

use wasm_bindgen::prelude::*;

use crate::core::error::{Error, Kind};
use crate::core::number::Numbers;

#[wasm_bindgen(module = "/src/js/runtime.js")]
extern "C" {
    #[wasm_bindgen(js_name = cacheError)]
    fn cache_error(code: &str, message: &str) -> JsValue;

    /// The string itself, or a `TypeError` naming `what`.
    #[wasm_bindgen(catch, js_name = checkString)]
    pub fn check_string(value: &JsValue, what: &str) -> Result<String, JsValue>;

    /// The JSON text of a list of keys (an array of well-formed strings), or a `TypeError`.
    #[wasm_bindgen(catch, js_name = keyList)]
    pub fn key_list_json(value: &JsValue) -> Result<String, JsValue>;

    /// The JSON text of a value, or the `TypeError`/`RangeError` of a value JSON cannot hold.
    #[wasm_bindgen(catch, js_name = encodeValue)]
    pub fn encode_value(value: &JsValue) -> Result<String, JsValue>;

    #[wasm_bindgen(js_name = parseNumber)]
    fn parse_number(text: &str) -> f64;

    #[wasm_bindgen(js_name = formatNumber)]
    fn format_number(value: f64) -> String;

    /// Nothing, or the `TypeError` of options that are not an object or name an option not
    /// in `list` (comma-separated).
    #[wasm_bindgen(catch, js_name = checkOptionNames)]
    pub fn check_option_names(options: &JsValue, list: &str) -> Result<(), JsValue>;

    #[wasm_bindgen(js_name = abortedError)]
    pub fn aborted_error(signal: &JsValue) -> JsValue;

    #[wasm_bindgen(js_name = envValue)]
    pub fn env_value(env: &JsValue, name: &str) -> Option<String>;
}

pub fn to_js(error: Error) -> JsValue {
    match error.kind {
        Kind::Type => js_sys::TypeError::new(&error.message).into(),
        Kind::Range => js_sys::RangeError::new(&error.message).into(),
        Kind::Cache(code) => cache_error(code.as_str(), &error.message),
    }
}

/// A number as JavaScript prints it (`2` for a version of 2, not `2.0`).
pub fn number_text(value: f64) -> String {
    format_number(value)
}

/// JavaScript's `Number()` and `String()`: stored numbers read and print exactly as
/// `JSON.parse` and `JSON.stringify` do, without Rust's float formatting in the wasm.
pub struct JsNumbers;

impl Numbers for JsNumbers {
    fn parse(&self, text: &str) -> f64 {
        parse_number(text)
    }
    fn format(&self, value: f64) -> String {
        format_number(value)
    }
}
