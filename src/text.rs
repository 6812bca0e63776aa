//! Splitting text at an ASCII byte. core's `split_once(char)`, `find(char)` and `replace` go
//! through its char searcher and memchr, code in the wasm for texts of a few bytes (a URL, a
//! bus message, an error code). Splitting at an ASCII byte always lands on a char boundary.

/// `text` before and after the first `byte`, as `str::split_once` with a char.
pub fn split_once(text: &str, byte: u8) -> Option<(&str, &str)> {
    let at = text.bytes().position(|b| b == byte)?;
    Some((text.get(..at)?, text.get(at + 1..)?))
}

/// `text` before and after the last `byte`, as `str::rsplit_once` with a char.
pub fn rsplit_once(text: &str, byte: u8) -> Option<(&str, &str)> {
    let at = text.bytes().rposition(|b| b == byte)?;
    Some((text.get(..at)?, text.get(at + 1..)?))
}

/// `text` up to its first `byte`, or all of it.
pub fn before(text: &str, byte: u8) -> &str {
    split_once(text, byte).map_or(text, |(head, _)| head)
}

/// `text` without the `byte`s it ends with, as `str::trim_end_matches` with a char.
pub fn trim_end(text: &str, byte: u8) -> &str {
    let end = text.bytes().rposition(|b| b != byte).map_or(0, |at| at + 1);
    text.get(..end).unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_as_core_does_with_a_char() {
        for text in ["", "a", ":", "a:b", "a:b:c", "::", "é:ü", "no separator", "x//", "//", "a/b//"] {
            assert_eq!(split_once(text, b':'), text.split_once(':'), "{text:?}");
            assert_eq!(rsplit_once(text, b':'), text.rsplit_once(':'), "{text:?}");
            assert_eq!(before(text, b':'), text.split(':').next().unwrap(), "{text:?}");
            assert_eq!(trim_end(text, b'/'), text.trim_end_matches('/'), "{text:?}");
        }
    }
}
