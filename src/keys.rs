//! Stored keys, in exactly the format of the Python async-caches library
//! (`{prefix}:{version}:{key}`, empty parts for a missing prefix or version), so a Python
//! service and an edge worker can share one Redis.

use crate::prelude::*;

use crate::error::{Error, Result};
use crate::number::{is_safe_integer, Numbers};

/// A version as the caller gave it, before it is checked (`check`).
#[derive(Debug, Clone, PartialEq)]
pub enum VersionGiven {
    /// Omitted.
    Default,
    /// `null`.
    None,
    Text(String),
    /// Any number; only a safe integer is a version.
    Number(f64),
}

impl VersionGiven {
    /// Integers become their decimal text as JavaScript prints it (`2`, not `2.0`).
    pub fn check(self, numbers: &dyn Numbers) -> Result<VersionArg> {
        Ok(match self {
            VersionGiven::Default => VersionArg::Default,
            VersionGiven::None => VersionArg::None,
            VersionGiven::Text(text) => VersionArg::Some(text),
            VersionGiven::Number(n) if is_safe_integer(n) => VersionArg::Some(numbers.format(n)),
            VersionGiven::Number(_) => return Err(Error::range_error(&["version must be a string or a safe integer"])),
        })
    }
}

/// The version part of a key: what a call asks for, before the cache default is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionArg {
    /// Not given: use the cache's default version.
    Default,
    /// Explicitly no version (`version: null`), even when the cache has a default.
    None,
    /// A given version (strings as they are, integers as their decimal text).
    Some(String),
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

    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    pub fn build(&self, key: &str, version: &VersionArg) -> String {
        let mut out = self.stem(version, key.len());
        out.push_str(key);
        out
    }

    /// What every key of `version` starts with (`{prefix}:{version}:`), with room for `more`.
    pub fn stem(&self, version: &VersionArg, more: usize) -> String {
        let version = match version {
            VersionArg::Default => self.version.as_deref().unwrap_or(""),
            VersionArg::None => "",
            VersionArg::Some(v) => v.as_str(),
        };
        let mut out = String::with_capacity(self.prefix.len() + version.len() + 2 + more);
        out.push_str(&self.prefix);
        out.push(':');
        out.push_str(version);
        out.push(':');
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_python_format() {
        let none = KeyBuilder::default();
        assert_eq!(none.build("k", &VersionArg::Default), "::k");
        let app = KeyBuilder::new("app".into(), Some("2".into()));
        assert_eq!(app.build("k", &VersionArg::Default), "app:2:k");
        assert_eq!(app.build("k", &VersionArg::Some("v3".into())), "app:v3:k");
        assert_eq!(app.build("k", &VersionArg::None), "app::k");
        assert_eq!(app.build("a:b", &VersionArg::Default), "app:2:a:b");
    }

    #[test]
    fn clear_prefix_includes_the_separator() {
        // "app:" and not "app", or clear() on "app" would also delete "apple:..." keys.
        assert_eq!(KeyBuilder::new("app".into(), None).clear_prefix().as_deref(), Some("app:"));
        assert_eq!(KeyBuilder::default().clear_prefix(), None);
    }
}
