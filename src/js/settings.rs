//! The constructor's URL and options, merged: options win over the URL's query.

use wasm_bindgen::prelude::*;

use super::args::{self, is_safe_integer, JsResult};
use super::runtime::{check_string, to_js};
use crate::backend::memory::DEFAULT_MAX_ENTRIES;
use crate::core::config::{parse_url, BackendUrl};
use crate::core::error::{Code, Error};
use crate::core::keys::{KeyBuilder, VersionArg};
use crate::core::ttl::TtlArg;

const OPTION_NAMES: &[&str] =
    &["keyPrefix", "version", "ttl", "maxEntries", "token", "timeout", "retries", "autoPipeline", "fetch"];

/// The largest `maxEntries`: beyond it the memory store would outgrow a wasm32 address space.
const MAX_ENTRIES_LIMIT: f64 = (1u64 << 31) as f64;

pub struct Settings {
    pub keys: KeyBuilder,
    pub default_ttl_ms: Option<u64>,
    pub backend: BackendUrl,
    pub max_entries: usize,
}

pub fn read(url: &JsValue, options: &JsValue) -> JsResult<Settings> {
    let url = check_string(url, "url")?;
    let parsed = parse_url(&url).map_err(to_js)?;
    let mut settings = Settings {
        keys: KeyBuilder::new(parsed.key_prefix.unwrap_or_default(), parsed.version),
        default_ttl_ms: parsed.ttl_ms,
        backend: parsed.backend,
        max_entries: DEFAULT_MAX_ENTRIES,
    };
    if options.is_undefined() || options.is_null() {
        return Ok(settings);
    }
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
            Some(n) if is_safe_integer(n) && n >= 1.0 && n <= MAX_ENTRIES_LIMIT => settings.max_entries = n as usize,
            Some(_) => return Err(to_js(Error::range_error(&["maxEntries must be an integer from 1 to 2^31"]))),
            None => return Err(to_js(Error::type_error(&["maxEntries must be a number"]))),
        }
    }
    if let BackendUrl::Rest { .. } = settings.backend {
        return Err(to_js(Error::cache(Code::Config, &["the REST backend is not available in this build"])));
    }
    Ok(settings)
}
