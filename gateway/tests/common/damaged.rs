//! JSON texts whole or damaged, for the property tests of request parsing: the unit tests of
//! src/request/ and tests/malformed.rs include this one file.
use proptest::prelude::*;
use serde_json::Value as Json;

/// A JSON text, whole (`whole` times in `whole + 3`) or damaged: cut short, a byte replaced
/// (invalid UTF-8 among others), or a byte inserted.
pub fn damaged(json: impl Strategy<Value = Json>, whole: u8) -> impl Strategy<Value = Vec<u8>> {
    (json, 0..3 + whole, any::<prop::sample::Index>(), any::<u8>()).prop_map(
        |(json, how, at, byte)| {
            let mut bytes = serde_json::to_vec(&json).unwrap();
            let i = at.index(bytes.len() + 1);
            match how {
                0 => bytes.truncate(i),
                1 if i < bytes.len() => bytes[i] = byte,
                2 => bytes.insert(i, byte),
                _ => {}
            }
            bytes
        },
    )
}
