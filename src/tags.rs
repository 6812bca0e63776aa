//! Tags: invalidating every entry written with a tag at once, with nothing scanned.
//!
//! Each tag has a stamp key, `{prefix}:#tags:{tag}` (scoped by the key prefix, so `clear()`
//! with a prefix removes its stamps too, and one app's tags never touch another's). A tagged
//! entry stores, with its value, the stamp of each of its tags as it was when the entry was
//! written; invalidating a tag changes its stamp. An entry whose stamps no longer all match is
//! dead: every read treats it as missing, and `add`/`getOrSet` store over it.
//!
//! On Redis a tagged entry is one string, `#tags[["app:#tags:user:1","1796298773331204"]]\n`
//! followed by the value's JSON text (a JSON text never starts with `#`, so untagged entries keep
//! the async-caches format byte for byte). A stamp is a number that only grows: the larger of
//! the old one plus one and the server's clock in microseconds, so a stamp that was evicted and
//! made again never repeats an old one. The scripts in `backend/rest/lua` read and write it;
//! the memory store keeps the same facts in its own structures (`backend::memory`).

use crate::prelude::*;

/// More tags on one entry than this is a `RangeError`: each is read on every read of it.
pub const MAX_TAGS: usize = 64;

/// More tags in one `invalidateTags` call than this is a `RangeError`: they go in one script
/// call, one key each.
pub const MAX_INVALIDATED: usize = 1000;

/// What every stamp key of a cache with this key prefix starts with.
pub fn stem(prefix: &str) -> String {
    let mut stem = String::with_capacity(prefix.len() + 7);
    stem.push_str(prefix);
    stem.push_str(":#tags:");
    stem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_keys_live_under_the_prefix_in_a_version_no_key_uses_by_accident() {
        assert_eq!(stem("app"), "app:#tags:");
        assert_eq!(stem(""), ":#tags:");
    }
}
