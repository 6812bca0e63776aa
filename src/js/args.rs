//! Reading JavaScript arguments into core types, with the `TypeError` or `RangeError` a wrong
//! one deserves. Every check runs before a call is admitted, so a rejected call has done
//! nothing.

use crate::prelude::*;

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::runtime::{check_option_names, check_string, encode_value, key_list_json, number_text, to_js};
use crate::core::error::Error;
use crate::core::number::is_safe_integer;
use crate::core::keys::VersionArg;
use crate::core::ttl::{self, TtlArg};

pub type JsResult<T> = Result<T, JsValue>;

fn type_error(parts: &[&str]) -> JsValue {
    to_js(Error::type_error(parts))
}

fn range_error(parts: &[&str]) -> JsValue {
    to_js(Error::range_error(parts))
}

pub fn key(value: &JsValue) -> JsResult<String> {
    check_string(value, "key")
}

pub fn value(value: &JsValue) -> JsResult<String> {
    encode_value(value)
}

/// A list of keys, each appended to `stem` (see `KeyBuilder::stem`): an array of strings,
/// checked by `runtime.js` and read from its JSON text.
pub fn key_list(value: &JsValue, stem: &str) -> JsResult<Vec<String>> {
    let text = key_list_json(value)?;
    crate::backend::rest::json::string_list(&text, stem).ok_or_else(not_keys)
}

// Cannot happen for what keyList returns; an error, not a panic, if it somehow did.
fn not_keys() -> JsValue {
    type_error(&["keys must be an array of strings"])
}

/// `ttl` as a call gives it: omitted, `null` (never expire) or seconds.
pub fn ttl(value: &JsValue) -> JsResult<TtlArg> {
    if value.is_undefined() {
        return Ok(TtlArg::Default);
    }
    if value.is_null() {
        return Ok(TtlArg::Never);
    }
    match value.as_f64() {
        Some(seconds) => ttl::seconds_to_ms(seconds).map(TtlArg::Ms).map_err(to_js),
        None => Err(type_error(&["ttl must be a number of seconds or null"])),
    }
}

pub fn version(value: &JsValue) -> JsResult<VersionArg> {
    if value.is_undefined() {
        return Ok(VersionArg::Default);
    }
    if value.is_null() {
        return Ok(VersionArg::None);
    }
    if value.is_string() {
        return check_string(value, "version").map(VersionArg::Some);
    }
    match value.as_f64() {
        Some(n) if is_safe_integer(n) => Ok(VersionArg::Some(number_text(n))),
        Some(_) => Err(range_error(&["version must be a string or a safe integer"])),
        None => Err(type_error(&["version must be a string or an integer"])),
    }
}

/// `incr`/`decr`'s delta: a finite number, 1 when omitted.
pub fn delta(value: &JsValue) -> JsResult<f64> {
    if value.is_undefined() {
        return Ok(1.0);
    }
    match value.as_f64() {
        Some(d) if d.is_finite() => Ok(d),
        Some(_) => Err(range_error(&["delta must be a finite number"])),
        None => Err(type_error(&["delta must be a number"])),
    }
}

/// `value` as an options object naming only the options in `list` (comma-separated): the
/// constructor's (a call's options are read by npm/cache.js). runtime.js checks them, with the
/// same rule and messages as a call's.
pub fn options_object<'a>(value: &'a JsValue, list: &str) -> JsResult<&'a Object> {
    check_option_names(value, list)?;
    Ok(value.unchecked_ref())
}

pub fn get(object: &Object, name: &str) -> JsResult<JsValue> {
    Reflect::get(object, &JsValue::from_str(name))
}
