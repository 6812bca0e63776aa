//! Who is calling. Runs before the body is read or parsed, so an unauthenticated client cannot
//! make the gateway spend work (or reveal parse errors). Tokens are compared in constant time so
//! response timing does not leak how much of a guess was right, nor how long the token is; both
//! tokens are always compared so timing does not tell which kind of token a guess was close to.

use std::borrow::Cow;

use hyper::{header, HeaderMap};
use subtle::{Choice, ConstantTimeEq};

use crate::request::query_pairs;

/// The longest token the gateway accepts (start-up refuses longer ones). Every comparison runs
/// over this many bytes, whatever the lengths of the token and the guess.
pub const MAX_TOKEN_LEN: usize = 512;

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Every command the gateway serves.
    Full,
    /// Only the read commands in [`crate::commands::is_read_only`].
    ReadOnly,
}

pub struct Tokens {
    full: Secret,
    readonly: Option<Secret>,
}

/// A token, zero-padded to [`MAX_TOKEN_LEN`] so comparing it takes the same time for any guess.
/// (`subtle`'s slice comparison returns early when the lengths differ, which tells the length.)
struct Secret {
    padded: [u8; MAX_TOKEN_LEN],
    len: usize,
}

impl Secret {
    /// `token` is at most [`MAX_TOKEN_LEN`] bytes (checked at start-up); a longer one is cut,
    /// and then matches nothing since its length differs.
    fn new(token: &str) -> Secret {
        let bytes = token.as_bytes();
        let mut padded = [0; MAX_TOKEN_LEN];
        let n = bytes.len().min(MAX_TOKEN_LEN);
        padded[..n].copy_from_slice(&bytes[..n]);
        Secret {
            padded,
            len: bytes.len(),
        }
    }

    /// Whether `presented` is this token. The time taken depends on the length of `presented`
    /// only (the caller's own), never on the token.
    fn matches(&self, presented: &[u8]) -> Choice {
        if presented.len() > MAX_TOKEN_LEN {
            return Choice::from(0);
        }
        let mut guess = [0; MAX_TOKEN_LEN];
        guess[..presented.len()].copy_from_slice(presented);
        // Eight bytes at a time, every difference ORed in without a branch, and only the result
        // compared through `subtle` (as the constant_time_eq crate does). `subtle`'s own slice
        // comparison puts an optimisation barrier on each of the 512 bytes: some 4% of the
        // gateway's CPU per request.
        let mut differ = 0u64;
        for (g, t) in guess.chunks_exact(8).zip(self.padded.chunks_exact(8)) {
            differ |= word(g) ^ word(t);
        }
        differ.ct_eq(&0) & (presented.len() as u64).ct_eq(&(self.len as u64))
    }
}

/// Eight bytes as one word; `bytes` has eight.
fn word(bytes: &[u8]) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(bytes);
    u64::from_ne_bytes(word)
}

impl Tokens {
    pub fn new(full: &str, readonly: Option<&str>) -> Self {
        Tokens {
            full: Secret::new(full),
            readonly: readonly.map(Secret::new),
        }
    }

    /// The caller's role, from `Authorization: Bearer <token>` or else the `_token` query
    /// parameter; `None` when the token is missing or wrong.
    pub fn authenticate(&self, headers: &HeaderMap, query: Option<&str>) -> Option<Role> {
        let presented = bearer_token(headers).or_else(|| query_token(query))?;
        let full = bool::from(self.full.matches(&presented));
        let readonly = match &self.readonly {
            Some(t) => bool::from(t.matches(&presented)),
            None => false,
        };
        if full {
            Some(Role::Full)
        } else if readonly {
            Some(Role::ReadOnly)
        } else {
            None
        }
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<Cow<'_, [u8]>> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let scheme = value.get(..7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    Some(Cow::Borrowed(value[7..].trim_ascii()))
}

fn query_token(query: Option<&str>) -> Option<Cow<'_, [u8]>> {
    query_pairs(query?)
        .into_iter()
        .find(|(key, _)| key == b"_token")
        .and_then(|(_, value)| value)
        .map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::http::HeaderValue;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn header_then_query() {
        let t = Tokens::new("full", Some("ro"));
        assert_eq!(
            t.authenticate(&headers("Bearer full"), None),
            Some(Role::Full)
        );
        assert_eq!(
            t.authenticate(&headers("bearer ro"), None),
            Some(Role::ReadOnly)
        );
        assert_eq!(
            t.authenticate(&headers("Bearer nope"), Some("_token=full")),
            None
        );
        assert_eq!(
            t.authenticate(&HeaderMap::new(), Some("a=b&_token=ro")),
            Some(Role::ReadOnly)
        );
        assert_eq!(t.authenticate(&HeaderMap::new(), Some("_token=")), None);
        assert_eq!(t.authenticate(&HeaderMap::new(), None), None);
        assert_eq!(t.authenticate(&headers("Basic full"), None), None);
        assert_eq!(t.authenticate(&headers("Bearer fullx"), None), None);
    }

    #[test]
    fn lengths_and_padding() {
        let full = "f".repeat(MAX_TOKEN_LEN);
        let t = Tokens::new(&full, Some("ro"));
        let bearer = |token: &str| headers(&format!("Bearer {token}"));
        assert_eq!(t.authenticate(&bearer(&full), None), Some(Role::Full));
        // Zero padding is not a wildcard: a guess padded with NULs (as a query parameter can
        // carry them) is still the wrong length.
        assert_eq!(
            t.authenticate(&HeaderMap::new(), Some("_token=ro%00")),
            None
        );
        assert_eq!(t.authenticate(&HeaderMap::new(), Some("_token=r")), None);
        assert_eq!(
            t.authenticate(&HeaderMap::new(), Some("_token=ro")),
            Some(Role::ReadOnly)
        );
        let longer = format!("{full}f");
        assert_eq!(t.authenticate(&bearer(&longer), None), None);
        assert_eq!(t.authenticate(&bearer(&full[1..]), None), None);
        // A token of NUL bytes is not the empty guess either.
        let nul = Tokens::new("\0", None);
        assert_eq!(nul.authenticate(&HeaderMap::new(), Some("_token=")), None);
        assert_eq!(
            nul.authenticate(&HeaderMap::new(), Some("_token=%00")),
            Some(Role::Full)
        );
        assert_eq!(
            nul.authenticate(&HeaderMap::new(), Some("_token=%00%00")),
            None
        );
    }
}
