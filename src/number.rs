//! Number rules for `incr`/`decr` on a stored JSON value.
//!
//! Parsing and printing floating-point numbers is left to a `Numbers` implementation: in the
//! wasm build, JavaScript's own `Number()` and `String()` (so the text is exactly what
//! `JSON.stringify` writes, and the wasm does not carry Rust's float formatting code); on the
//! host, Rust's.

use crate::prelude::*;

use super::error::{Code, Error, Result};

pub trait Numbers {
    /// The value of a text that `is_json_number` accepted.
    fn parse(&self, text: &str) -> f64;
    /// The JSON text of a finite number.
    fn format(&self, value: f64) -> String;
}

/// Rust's own parsing and printing, for host builds and tests.
pub struct StdNumbers;

impl Numbers for StdNumbers {
    fn parse(&self, text: &str) -> f64 {
        text.parse().unwrap_or(f64::NAN)
    }
    fn format(&self, value: f64) -> String {
        value.to_string()
    }
}

/// `Number.isSafeInteger`. The range check comes first: it rules out NaN and the infinities,
/// and makes the cast exact (`f64::trunc` is std, not core).
pub fn is_safe_integer(n: f64) -> bool {
    n.abs() <= 9_007_199_254_740_991.0 && n as i64 as f64 == n
}

/// The JSON number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`. A stored value
/// that is a JSON string, `null`, an object... is not a number, even if it looks like one
/// (`"\"5\""` is the string "5").
pub fn is_json_number(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    if b.get(i) == Some(&b'0') {
        i += 1;
    } else if !digits(&mut i) {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// The stored text after adding `delta` to `current` (a missing value counts as 0).
pub fn add(current: Option<&str>, delta: f64, numbers: &dyn Numbers) -> Result<String> {
    let base = match current {
        None => 0.0,
        Some(text) if is_json_number(text) => numbers.parse(text),
        Some(_) => return Err(Error::cache(Code::NotANumber, &["the stored value is not a number"])),
    };
    let sum = base + delta;
    if !sum.is_finite() {
        return Err(Error::cache(Code::NotANumber, &["incr: the result is beyond the range of a number; the stored value is unchanged"]));
    }
    // Integers stay exact up to 2^53: past it, an incr of exact integers would return a
    // rounded number. (Operands past 2^53 were not exact to begin with.)
    if is_safe_integer(base) && is_safe_integer(delta) && !is_safe_integer(sum) {
        return Err(Error::cache(Code::NotANumber, &["incr: the result is beyond 2^53, where integers are no longer exact; the stored value is unchanged"]));
    }
    Ok(numbers.format(sum))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_number_grammar() {
        for ok in ["0", "-0", "5", "-12", "1.5", "1e3", "1E+3", "2.5e-7", "1e+21"] {
            assert!(is_json_number(ok), "{ok}");
        }
        for bad in ["", "-", "01", "1.", ".5", "1e", "\"5\"", "null", "true", " 5", "5 ", "NaN", "Infinity", "0x10", "+1"] {
            assert!(!is_json_number(bad), "{bad}");
        }
    }

    #[test]
    fn integers_stay_integers_and_missing_starts_at_zero() {
        assert_eq!(add(None, 3.0, &StdNumbers).unwrap(), "3");
        assert_eq!(add(Some("5"), 1.0, &StdNumbers).unwrap(), "6");
        assert_eq!(add(Some("5"), 0.5, &StdNumbers).unwrap(), "5.5");
        assert_eq!(add(Some("5.5"), -0.5, &StdNumbers).unwrap(), "5");
    }

    #[test]
    fn non_numbers_and_overflow_are_errors() {
        for stored in ["\"5\"", "null", "{}", "[1]", "true"] {
            assert_eq!(add(Some(stored), 1.0, &StdNumbers).unwrap_err().code(), Some(Code::NotANumber));
        }
        assert_eq!(add(Some("1.7e308"), 1.7e308, &StdNumbers).unwrap_err().code(), Some(Code::NotANumber));
        // Integers past 2^53 would come back rounded; fractions were never exact.
        assert_eq!(add(Some("9007199254740991"), 1.0, &StdNumbers).unwrap_err().code(), Some(Code::NotANumber));
        assert_eq!(add(Some("-9007199254740991"), -1.0, &StdNumbers).unwrap_err().code(), Some(Code::NotANumber));
        assert_eq!(add(Some("9007199254740990"), 1.0, &StdNumbers).unwrap(), "9007199254740991");
        assert!(add(Some("9007199254740991"), 0.5, &StdNumbers).is_ok());
    }
}
