//! Stored keys, in exactly the format of the Python async-caches library
//! (`{prefix}:{version}:{key}`, empty parts for a missing prefix or version), so a Python
//! service and an edge worker can share one Redis.

use crate::prelude::*;

use crate::error::{Error, Result};
use crate::number::{is_safe_integer, Numbers};

/// A version as the caller gave it, before it is checked (`check`).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum VersionGiven {
    /// Omitted, or `null`: Python's `None`.
    #[default]
    Default,
    Text(String),
    /// Any number; only a safe integer is a version.
    Number(f64),
}

impl VersionGiven {
    /// The version a key is built with, `None` for the cache's default. As in async-caches
    /// (`version or self.version`), a version that is false in Python (`None`, `""`, `0`) means
    /// the default. Integers become their decimal text as JavaScript prints it (`2`, not `2.0`).
    pub fn check(&self, numbers: &dyn Numbers) -> Result<Option<String>> {
        Ok(match *self {
            VersionGiven::Default => None,
            VersionGiven::Text(ref text) if text.is_empty() => None,
            VersionGiven::Text(ref text) => Some(text.clone()),
            VersionGiven::Number(n) if n == 0.0 => None,
            VersionGiven::Number(n) if is_safe_integer(n) => Some(numbers.format(n)),
            VersionGiven::Number(_) => return Err(Error::range_error(&["version must be a string or a safe integer"])),
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct KeyBuilder {
    prefix: String,
    version: Option<String>,
}

impl KeyBuilder {
    pub fn new(prefix: String, version: Option<String>) -> Self {
        KeyBuilder { prefix, version }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `version`: the call's, `None` for the cache's default.
    pub fn build(&self, key: &str, version: Option<&str>) -> String {
        let mut out = self.stem(version, key.len());
        out.push_str(key);
        out
    }

    /// What every key of `version` starts with (`{prefix}:{version}:`), with room for `more`.
    pub fn stem(&self, version: Option<&str>, more: usize) -> String {
        let version = version.or(self.version.as_deref()).unwrap_or("");
        let mut out = String::with_capacity(self.prefix.len() + version.len() + 2 + more);
        out.push_str(&self.prefix);
        out.push(':');
        out.push_str(version);
        out.push(':');
        out
    }

    /// The key of `getOrSet`'s lock on a stored key: `{prefix}:#lock:{version}:{key}`, under the
    /// prefix (so `clear()` removes it) in a name no stored key can take (`reserved`).
    pub fn lock_key(&self, stored: &str) -> String {
        let rest = stored.strip_prefix(self.prefix.as_str()).unwrap_or(stored);
        let mut out = String::with_capacity(stored.len() + 6);
        out.push_str(&self.prefix);
        out.push_str(":#lock");
        out.push_str(rest);
        out
    }

    /// The prefix every key of this cache starts with, for `clear()`; `None` without a key
    /// prefix, when `clear()` empties the whole store.
    pub fn clear_prefix(&self) -> Option<String> {
        if self.prefix.is_empty() {
            None
        } else {
            let mut p = self.prefix.clone();
            p.push(':');
            Some(p)
        }
    }
}

/// Whether a stored key could name the cache's own bookkeeping: a tag's stamp key
/// (`{prefix}:#tags:{tag}`, `crate::tags`) or a lock (`KeyBuilder::lock_key`). Keys, versions
/// and prefixes holding `:#tags:` or `:#lock:` are refused, so that no entry ever addresses
/// them. (A byte scan: `str::contains` brings core's two-way searcher.)
pub fn reserved(stored: &str) -> bool {
    stored.as_bytes().windows(7).any(|w| w == b":#tags:" || w == b":#lock:")
}

pub fn reserved_error() -> Error {
    Error::range_error(&["keys, versions and key prefixes must not make a stored key holding \":#tags:\" or \":#lock:\" (they name the cache's tag stamps and locks)"])
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::number::StdNumbers;

    #[test]
    fn matches_the_python_format() {
        let none = KeyBuilder::default();
        assert_eq!(none.build("k", None), "::k");
        let app = KeyBuilder::new("app".into(), Some("2".into()));
        assert_eq!(app.build("k", None), "app:2:k");
        assert_eq!(app.build("k", Some("v3")), "app:v3:k");
        assert_eq!(app.build("a:b", None), "app:2:a:b");
    }

    #[test]
    fn versions_false_in_python_mean_the_default() {
        let check = |v: VersionGiven| v.check(&StdNumbers);
        for default in [VersionGiven::Default, VersionGiven::Text(String::new()), VersionGiven::Number(0.0), VersionGiven::Number(-0.0)] {
            assert_eq!(check(default.clone()), Ok(None), "{default:?}");
        }
        assert_eq!(check(VersionGiven::Number(7.0)), Ok(Some("7".into())));
        assert_eq!(check(VersionGiven::Text("0".into())), Ok(Some("0".into())), "the string \"0\" is true in Python");
        assert!(check(VersionGiven::Number(0.5)).is_err());
    }

    #[test]
    fn bookkeeping_keys_live_under_the_prefix_in_names_no_stored_key_takes() {
        let app = KeyBuilder::new("app".into(), Some("2".into()));
        let lock = app.lock_key(&app.build("k", None));
        assert_eq!(lock, "app:#lock:2:k");
        assert_eq!(KeyBuilder::default().lock_key("::k"), ":#lock::k");
        assert!(lock.starts_with(&app.clear_prefix().unwrap()), "clear() removes it");
        for stored in [lock.as_str(), "app:#tags:k", ":#tags:", "a::x:#tags:y", "p:v:#tags:", "p:#lock:", "a::#lock:x"] {
            assert!(reserved(stored), "{stored}");
        }
        for stored in ["app::#tags", "app::k", "::#tags", "#tags:x", "app:2:k#tags:", "app:2:#lockx", "#lock:k"] {
            assert!(!reserved(stored), "{stored}");
        }
    }

    #[test]
    fn clear_prefix_includes_the_separator() {
        // "app:" and not "app", or clear() on "app" would also delete "apple:..." keys.
        assert_eq!(KeyBuilder::new("app".into(), None).clear_prefix().as_deref(), Some("app:"));
        assert_eq!(KeyBuilder::default().clear_prefix(), None);
    }
}
