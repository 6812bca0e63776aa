//! Splitting text at an ASCII byte. core's `split_once(char)`, `find(char)` and `replace` go
//! through its char searcher and memchr, code in the wasm for texts of a few bytes (a bus
//! message, an error code). Splitting at an ASCII byte always lands on a char boundary.

/// `text` before and after the first `byte`, as `str::split_once` with a char.
pub fn split_once(text: &str, byte: u8) -> Option<(&str, &str)> {
    let at = text.bytes().position(|b| b == byte)?;
    Some((text.get(..at)?, text.get(at + 1..)?))
}

/// `text` up to its first `byte`, or all of it.
pub fn before(text: &str, byte: u8) -> &str {
    split_once(text, byte).map_or(text, |(head, _)| head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_as_core_does_with_a_char() {
        for text in ["", "a", ":", "a:b", "a:b:c", "::", "é:ü", "no separator"] {
            assert_eq!(split_once(text, b':'), text.split_once(':'), "{text:?}");
            assert_eq!(before(text, b':'), text.split(':').next().unwrap(), "{text:?}");
        }
    }
}
