//! The cache URL: which backend, and (as in the Python original) default options in its query:
//! `memory://?ttl=60&version=2&key_prefix=app`. Options given to the constructor win over these.
//!
//! Hand-parsed rather than with a URL crate: the grammar needed is tiny, and a full URL parser
//! (IDNA tables and all) would multiply the size of the wasm. The fetch implementation checks the
//! REST endpoint itself when it is used.

use crate::prelude::*;

use super::error::{Code, Error, Result};
use super::{text, ttl};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendUrl {
    /// `memory://` (a store of its own) or `memory://NAME` (one store per NAME in a realm).
    Memory { name: Option<String> },
    /// `dummy://`: stores nothing.
    Dummy,
    /// `http://` or `https://`: an Upstash-style REST endpoint, without userinfo or query.
    Rest { endpoint: String, token: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlConfig {
    pub backend: BackendUrl,
    pub ttl_ms: Option<u64>,
    pub version: Option<String>,
    pub key_prefix: Option<String>,
}

fn config_error(parts: &[&str]) -> Error {
    Error::cache(Code::Config, parts)
}

pub fn parse_url(url: &str) -> Result<UrlConfig> {
    // Split at the first ':' rather than at "://": a substring search brings core's two-way
    // searcher into the wasm (0.5 KB), and a scheme has no ':' anyway.
    let (scheme, rest) = text::split_once(url, b':')
        .and_then(|(scheme, rest)| Some((scheme, rest.strip_prefix("//")?)))
        .ok_or_else(|| config_error(&["cache URL must look like memory://, dummy:// or https://host"]))?;
    let (location, query) = match text::split_once(rest, b'?') {
        Some((l, q)) => (l, Some(q)),
        None => (rest, None),
    };
    let mut config = UrlConfig { backend: BackendUrl::Dummy, ttl_ms: None, version: None, key_prefix: None };
    if let Some(query) = query {
        parse_query(query, &mut config)?;
    }
    let scheme = scheme.to_ascii_lowercase();
    config.backend = match scheme.as_str() {
        "memory" => {
            let name = percent_decode(text::trim_end(location, b'/'), false)?;
            BackendUrl::Memory { name: if name.is_empty() { None } else { Some(name) } }
        }
        "dummy" => BackendUrl::Dummy,
        "http" | "https" => parse_rest(&scheme, location)?,
        _ => {
            return Err(config_error(&[
                "unsupported cache URL scheme (use memory://, dummy://, http:// or https://)",
            ]))
        }
    };
    Ok(config)
}

fn parse_rest(scheme: &str, location: &str) -> Result<BackendUrl> {
    // Never echo the URL in these messages: it may hold the token.
    let (authority, path) = match location.bytes().position(|b| b == b'/') {
        Some(i) => location.split_at_checked(i).unwrap_or((location, "")),
        None => (location, ""),
    };
    let (userinfo, host) = match text::rsplit_once(authority, b'@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let host_ok = !host.is_empty()
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b));
    if !host_ok || location.bytes().any(|b| b <= b' ' || b == b'#') {
        return Err(config_error(&["the REST URL has no valid host"]));
    }
    // `https://TOKEN@host` or `https://user:TOKEN@host` (the Redis URL habit).
    let token = match userinfo {
        None => None,
        Some(info) => {
            let raw = text::split_once(info, b':').map_or(info, |(_, password)| password);
            let token = percent_decode(raw, false)?;
            if token.is_empty() { None } else { Some(token) }
        }
    };
    let mut endpoint = String::with_capacity(scheme.len() + 3 + location.len());
    endpoint.push_str(scheme);
    endpoint.push_str("://");
    endpoint.push_str(host);
    endpoint.push_str(text::trim_end(path, b'/'));
    Ok(BackendUrl::Rest { endpoint, token })
}

fn parse_query(query: &str, config: &mut UrlConfig) -> Result<()> {
    let mut rest = Some(query);
    while let Some(pairs) = rest {
        let (pair, more) = text::split_once(pairs, b'&').map_or((pairs, None), |(pair, more)| (pair, Some(more)));
        rest = more;
        if pair.is_empty() {
            continue;
        }
        let (name, value) = text::split_once(pair, b'=').unwrap_or((pair, ""));
        let value = percent_decode(value, true)?;
        match name {
            "ttl" => config.ttl_ms = Some(ttl::parse_seconds_text(&value)?),
            "version" => config.version = if value.is_empty() { None } else { Some(value) },
            "key_prefix" | "keyPrefix" => config.key_prefix = Some(value),
            _ => {
                let name = percent_decode(name, false)?;
                return Err(config_error(&[
                    "unknown option '",
                    &name,
                    "' in the cache URL (known: ttl, version, key_prefix)",
                ]));
            }
        }
    }
    Ok(())
}

/// `text` with its percent-escapes decoded (and, in a query, `+` as a space).
fn percent_decode(text: &str, plus_is_space: bool) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |b: u8| (b as char).to_digit(16);
            match (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
                (Some(hi), Some(lo)) => {
                    out.push((hi * 16 + lo) as u8);
                    i += 3;
                    continue;
                }
                _ => return Err(config_error(&["bad percent-escape in the cache URL"])),
            }
        }
        out.push(if plus_is_space && bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8(out).map_err(|_| config_error(&["the cache URL decodes to invalid UTF-8"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(url: &str) -> BackendUrl {
        parse_url(url).unwrap().backend
    }

    #[test]
    fn memory_and_dummy() {
        assert_eq!(backend("memory://"), BackendUrl::Memory { name: None });
        assert_eq!(backend("MEMORY://shared"), BackendUrl::Memory { name: Some("shared".into()) });
        assert_eq!(backend("memory://a%20b/"), BackendUrl::Memory { name: Some("a b".into()) });
        assert_eq!(backend("dummy://"), BackendUrl::Dummy);
    }

    #[test]
    fn query_sets_default_options() {
        let c = parse_url("memory://?ttl=60&key_prefix=app&version=2").unwrap();
        assert_eq!((c.ttl_ms, c.version.as_deref(), c.key_prefix.as_deref()), (Some(60_000), Some("2"), Some("app")));
        let c = parse_url("memory://?ttl=0.25&key_prefix=a%3Ab+c").unwrap();
        assert_eq!((c.ttl_ms, c.key_prefix.as_deref()), (Some(250), Some("a:b c")));
    }

    #[test]
    fn bad_urls_are_config_errors() {
        for bad in ["", "memory", "memory:", "memory:/", "http:host//", "x:memory://", "redis://localhost", "memory://?ttl=0", "memory://?prefix=x", "memory://%zz", "https://", "https://a b"] {
            let err = parse_url(bad).unwrap_err();
            assert!(matches!(err.code(), Some(Code::Config)) || err.kind == crate::error::Kind::Range, "{bad:?}");
        }
    }

    #[test]
    fn rest_token_from_userinfo_is_taken_out_of_the_endpoint() {
        assert_eq!(
            backend("https://default:s3cr%2Ft@eu1.upstash.io/?ttl=5"),
            BackendUrl::Rest { endpoint: "https://eu1.upstash.io".into(), token: Some("s3cr/t".into()) }
        );
        assert_eq!(
            backend("http://tok@127.0.0.1:8079"),
            BackendUrl::Rest { endpoint: "http://127.0.0.1:8079".into(), token: Some("tok".into()) }
        );
        assert_eq!(
            backend("http://[::1]:80/base/"),
            BackendUrl::Rest { endpoint: "http://[::1]:80/base".into(), token: None }
        );
    }

    #[test]
    fn errors_never_echo_the_token() {
        let err = parse_url("https://user:hunter2@bad host/").unwrap_err();
        assert!(!err.message.contains("hunter2"));
    }
}
