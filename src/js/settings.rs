//! The constructor's URL and options, merged: options win over the URL's query.

use crate::prelude::*;

use wasm_bindgen::prelude::*;

use super::args::{self, JsResult};
use super::runtime::{check_string, to_js};
use crate::backend::memory::DEFAULT_MAX_ENTRIES;
use crate::core::config::{parse_url, BackendUrl};
use crate::core::error::{Code, Error};
use crate::core::number::{ceil_positive, is_safe_integer};
use crate::core::keys::{KeyBuilder, VersionArg};
use crate::core::ttl::TtlArg;

/// The constructor's options, as runtime.js's `checkOptionNames` takes them.
const OPTION_NAMES: &str = "keyPrefix,version,ttl,maxEntries,token,timeout,retries,autoPipeline,fetch";

/// The largest `maxEntries`: beyond it the memory store would outgrow a wasm32 address space.
const MAX_ENTRIES_LIMIT: f64 = (1u64 << 31) as f64;

/// The per-request timeout when none is given: long enough for a slow region, short enough
/// that a hung connection does not hold a request of the caller's for long.
pub const DEFAULT_TIMEOUT_MS: f64 = 5000.0;

pub struct Settings {
    pub keys: KeyBuilder,
    pub default_ttl_ms: Option<u64>,
    pub backend: BackendUrl,
    pub max_entries: usize,
    /// REST backend: the token (options, then `fallback_token`, then the URL's userinfo).
    pub token: Option<String>,
    /// REST backend: a fetch function, or undefined for the global one.
    pub fetch: JsValue,
    pub timeout_ms: f64,
    /// REST backend: batch the calls of one tick into one pipeline request.
    pub auto_pipeline: bool,
    /// REST backend: retries of a failed request, where safe.
    pub retries: u32,
}

/// Retries when none are given: enough to ride out a dropped connection or a restarting
/// server, few enough that a dead endpoint fails within a second or so.
pub const DEFAULT_RETRIES: u32 = 2;

/// `fallback_token` is the token `Cache.fromEnv` found in the environment.
pub fn read(url: &JsValue, options: &JsValue, fallback_token: Option<String>) -> JsResult<Settings> {
    let url = check_string(url, "url")?;
    let parsed = parse_url(&url).map_err(to_js)?;
    let mut settings = Settings {
        keys: KeyBuilder::new(parsed.key_prefix.unwrap_or_default(), parsed.version),
        default_ttl_ms: parsed.ttl_ms,
        backend: parsed.backend,
        max_entries: DEFAULT_MAX_ENTRIES,
        token: None,
        fetch: JsValue::UNDEFINED,
        timeout_ms: DEFAULT_TIMEOUT_MS,
        auto_pipeline: true,
        retries: DEFAULT_RETRIES,
    };
    if let BackendUrl::Rest { token: Some(token), .. } = &settings.backend {
        settings.token = Some(token.clone());
    }
    if fallback_token.is_some() {
        settings.token = fallback_token;
    }
    if !options.is_undefined() && !options.is_null() {
        read_options(&mut settings, options)?;
    }
    if matches!(settings.backend, BackendUrl::Rest { .. }) && settings.token.is_none() {
        return Err(to_js(Error::cache(
            Code::Config,
            &["the REST backend needs a token: options.token, or https://:TOKEN@host"],
        )));
    }
    Ok(settings)
}

fn read_options(settings: &mut Settings, options: &JsValue) -> JsResult<()> {
    let object = args::options_object(options, OPTION_NAMES)?;
    let option = |name| args::get(object, name);

    let prefix = option("keyPrefix")?;
    let version = args::version(&option("version")?)?;
    if !prefix.is_undefined() || version != VersionArg::Default {
        let prefix = if prefix.is_undefined() {
            settings.keys.prefix().to_owned()
        } else {
            check_string(&prefix, "keyPrefix")?
        };
        let version = match version {
            VersionArg::Default => settings.keys.version().map(str::to_owned),
            VersionArg::None => None,
            VersionArg::Some(v) => Some(v),
        };
        settings.keys = KeyBuilder::new(prefix, version);
    }
    match args::ttl(&option("ttl")?)? {
        TtlArg::Default => {}
        TtlArg::Never => settings.default_ttl_ms = None,
        TtlArg::Ms(ms) => settings.default_ttl_ms = Some(ms),
    }
    let max_entries = option("maxEntries")?;
    if !max_entries.is_undefined() {
        match max_entries.as_f64() {
            Some(n) if is_safe_integer(n) && (1.0..=MAX_ENTRIES_LIMIT).contains(&n) => settings.max_entries = n as usize,
            Some(_) => return Err(to_js(Error::range_error(&["maxEntries must be an integer from 1 to 2^31"]))),
            None => return Err(to_js(Error::type_error(&["maxEntries must be a number"]))),
        }
    }
    let token = option("token")?;
    if !token.is_undefined() {
        let token = check_string(&token, "token")?;
        if token.is_empty() {
            return Err(to_js(Error::cache(Code::Config, &["token must not be empty"])));
        }
        settings.token = Some(token);
    }
    let fetch = option("fetch")?;
    if !fetch.is_undefined() {
        if !fetch.is_function() {
            return Err(to_js(Error::type_error(&["fetch must be a function"])));
        }
        settings.fetch = fetch;
    }
    let timeout = option("timeout")?;
    if !timeout.is_undefined() {
        match timeout.as_f64() {
            // setTimeout (the per-request timer, runtime.js) takes a 32-bit signed integer of
            // milliseconds... and more than a day is a mistake anyway.
            Some(ms) if ms > 0.0 && ms <= 86_400_000.0 => settings.timeout_ms = ceil_positive(ms),
            Some(_) => return Err(to_js(Error::range_error(&["timeout must be from 1 to 86400000 milliseconds"]))),
            None => return Err(to_js(Error::type_error(&["timeout must be a number of milliseconds"]))),
        }
    }
    let retries = option("retries")?;
    if !retries.is_undefined() {
        match retries.as_f64() {
            Some(n) if is_safe_integer(n) && (0.0..=10.0).contains(&n) => settings.retries = n as u32,
            Some(_) => return Err(to_js(Error::range_error(&["retries must be an integer from 0 to 10"]))),
            None => return Err(to_js(Error::type_error(&["retries must be a number"]))),
        }
    }
    let auto_pipeline = option("autoPipeline")?;
    if !auto_pipeline.is_undefined() {
        settings.auto_pipeline =
            auto_pipeline.as_bool().ok_or_else(|| to_js(Error::type_error(&["autoPipeline must be a boolean"])))?;
    }
    Ok(())
}
