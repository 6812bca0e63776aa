//! Who is calling. Runs before the body is read or parsed, so an unauthenticated client cannot
//! make the gateway spend work (or reveal parse errors). Tokens are compared in constant time so
//! response timing does not leak how much of a guess was right; both tokens are always compared
//! so timing does not tell which kind of token a guess was close to.

use axum::http::{header, HeaderMap};
use subtle::ConstantTimeEq;

use crate::request::query_pairs;

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Every command the gateway serves.
    Full,
    /// Only the read commands in [`crate::commands::is_read_only`].
    ReadOnly,
}

pub struct Tokens {
    full: Vec<u8>,
    readonly: Option<Vec<u8>>,
}

impl Tokens {
    pub fn new(full: &str, readonly: Option<&str>) -> Self {
        Tokens {
            full: full.as_bytes().to_vec(),
            readonly: readonly.map(|t| t.as_bytes().to_vec()),
        }
    }

    /// The caller's role, from `Authorization: Bearer <token>` or else the `_token` query
    /// parameter; `None` when the token is missing or wrong.
    pub fn authenticate(&self, headers: &HeaderMap, query: Option<&str>) -> Option<Role> {
        let presented = bearer_token(headers).or_else(|| query_token(query))?;
        let full = bool::from(presented.as_slice().ct_eq(&self.full));
        let readonly = match &self.readonly {
            Some(t) => bool::from(presented.as_slice().ct_eq(t)),
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

fn bearer_token(headers: &HeaderMap) -> Option<Vec<u8>> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let scheme = value.get(..7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    Some(value[7..].trim_ascii().to_vec())
}

fn query_token(query: Option<&str>) -> Option<Vec<u8>> {
    query_pairs(query?)
        .into_iter()
        .find(|(key, _)| key == b"_token")
        .and_then(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

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
}
