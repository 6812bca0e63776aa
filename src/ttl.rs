//! Time to live: seconds as the caller gives them (fractions honoured to the millisecond),
//! milliseconds as the backends keep them.

use super::error::{Error, Result};

/// The largest ttl in milliseconds: JavaScript's largest safe integer. Redis adds the ttl to
/// the current time in a signed 64-bit integer, so anything larger could overflow there.
pub const MAX_TTL_MS: u64 = (1 << 53) - 1;

/// The ttl a call asks for, before the cache's default is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlArg {
    /// Omitted: the cache's default ttl (or forever when the cache has none).
    Default,
    /// `null`: never expire, even when the cache has a default.
    Never,
    /// A checked ttl in milliseconds.
    Ms(u64),
}

impl TtlArg {
    /// The expiry in milliseconds, `None` for never.
    pub fn resolve(self, default_ms: Option<u64>) -> Option<u64> {
        match self {
            TtlArg::Default => default_ms,
            TtlArg::Never => None,
            TtlArg::Ms(ms) => Some(ms),
        }
    }
}

/// A ttl as the caller gave it, before it is checked (`check`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum TtlGiven {
    /// Omitted.
    #[default]
    Default,
    /// `null`.
    Never,
    /// A number of seconds, any number at all.
    Seconds(f64),
}

impl TtlGiven {
    /// A `RangeError` for seconds that are no ttl (`seconds_to_ms`).
    pub fn check(self) -> Result<TtlArg> {
        Ok(match self {
            TtlGiven::Default => TtlArg::Default,
            TtlGiven::Never => TtlArg::Never,
            TtlGiven::Seconds(seconds) => TtlArg::Ms(seconds_to_ms(seconds)?),
        })
    }
}

/// Seconds to milliseconds. Only a positive finite ttl is a ttl: `0` is rejected as the
/// original library does (Redis would reject `PX 0` too), and so are NaN and the infinities.
pub fn seconds_to_ms(seconds: f64) -> Result<u64> {
    if seconds.is_nan() || seconds <= 0.0 || seconds.is_infinite() {
        return Err(Error::range_error(&["ttl must be a positive finite number of seconds"]));
    }
    // Round, not ceil: 0.3 * 1000 is 300.00000000000006 in binary floating point. Halves round
    // up, as f64::round would (it is std, not core): `x - whole` is exact below 2^53, and above
    // it x is a whole number; the cast saturates past u64::MAX, and the check below catches it.
    let x = seconds * 1000.0;
    let whole = x as u64;
    let ms = if x - whole as f64 >= 0.5 { whole.saturating_add(1) } else { whole };
    if ms > MAX_TTL_MS {
        return Err(Error::range_error(&["ttl is too large"]));
    }
    // A positive ttl below half a millisecond still expires, as soon as it can.
    Ok(ms.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    #[test]
    fn fractions_are_kept_to_the_millisecond() {
        assert_eq!(seconds_to_ms(0.3).unwrap(), 300);
        assert_eq!(seconds_to_ms(1.5).unwrap(), 1500);
        assert_eq!(seconds_to_ms(0.0001).unwrap(), 1);
        assert_eq!(seconds_to_ms(300.0).unwrap(), 300_000);
    }

    #[test]
    fn zero_negative_and_non_finite_are_range_errors() {
        for bad in [0.0, -0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300] {
            assert_eq!(seconds_to_ms(bad).unwrap_err().kind, Kind::Range, "{bad}");
        }
    }

    #[test]
    fn omitted_null_and_given_resolve_against_the_default() {
        assert_eq!(TtlArg::Default.resolve(Some(5)), Some(5));
        assert_eq!(TtlArg::Default.resolve(None), None);
        assert_eq!(TtlArg::Never.resolve(Some(5)), None);
        assert_eq!(TtlArg::Ms(7).resolve(Some(5)), Some(7));
    }
}
