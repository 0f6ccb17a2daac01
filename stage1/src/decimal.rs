//! Decimal fractions without floating point: parsing `1.5` seconds from the
//! command line and printing `12.345678` s on the console.
//!
//! PID 1 never needs more than fixed-point arithmetic, and std's float
//! parsing and printing (with their tables) are about 18 KiB of `dist/init`.
use std::fmt;
use std::time::Duration;

/// Parses non-negative decimal seconds: `10`, `1.5`, `.25`, `0.000001`.
/// Digits past nanoseconds are ignored; signs, exponents, `inf` and empty
/// parts around the point (`.` alone) are refused.
pub fn parse_seconds(text: &str) -> Option<Duration> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty()) || !digits(whole) || !digits(frac) {
        return None;
    }
    let secs: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut nanos = 0u32;
    for b in frac.bytes().chain(std::iter::repeat(b'0')).take(9) {
        nanos = nanos * 10 + u32::from(b - b'0');
    }
    Some(Duration::new(secs, nanos))
}

/// `value / 10^places` printed with `places` decimals, rounded half up:
/// `Fixed::new(12_345, 1)` prints `1234.5`. A u64 (584 years in
/// nanoseconds): u128's printing and division are 0.9 KiB of dist/init.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fixed {
    value: u64,
    places: u32,
}

impl Fixed {
    pub fn new(value: u64, places: u32) -> Fixed {
        Fixed { value, places }
    }

    /// A duration in seconds with `places` decimals (at most 9).
    pub fn secs(d: Duration, places: u32) -> Fixed {
        let places = places.min(9);
        let unit = 10u64.pow(9 - places);
        let nanos = d
            .as_secs()
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(d.subsec_nanos()));
        Fixed::new(nanos.saturating_add(unit / 2) / unit, places)
    }
}

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = 10u64.pow(self.places);
        let whole = self.value / unit;
        if self.places == 0 {
            return write!(f, "{whole}");
        }
        let frac = self.value % unit;
        let width = self.places as usize;
        write!(f, "{whole}.{frac:0width$}")
    }
}

/// A duration for a log line: `2s` when whole, else `0.250000s`
/// (microseconds). std's `{:?}` of a `Duration` says `250ms` with about
/// 1.3 KiB of dist/init of its own.
#[derive(Clone, Copy)]
pub struct Seconds(pub Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.subsec_nanos() == 0 {
            write!(f, "{}s", self.0.as_secs())
        } else {
            write!(f, "{}s", Fixed::secs(self.0, 6))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_for_log_lines() {
        assert_eq!(Seconds(Duration::from_secs(2)).to_string(), "2s");
        assert_eq!(Seconds(Duration::from_millis(250)).to_string(), "0.250000s");
        assert_eq!(
            Seconds(Duration::from_nanos(1_500_000_499)).to_string(),
            "1.500000s"
        );
        assert_eq!(Seconds(Duration::ZERO).to_string(), "0s");
    }

    #[test]
    fn parses_what_the_command_line_gives() {
        assert_eq!(parse_seconds("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_seconds("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_seconds(".25"), Some(Duration::from_millis(250)));
        assert_eq!(parse_seconds("2."), Some(Duration::from_secs(2)));
        assert_eq!(parse_seconds("0.000000001"), Some(Duration::from_nanos(1)));
        assert_eq!(
            parse_seconds("0.0000000019"),
            Some(Duration::from_nanos(1)),
            "digits past nanoseconds are dropped"
        );
        for bad in [
            "",
            ".",
            "-1",
            "+1",
            "1e3",
            "inf",
            "NaN",
            "1.2.3",
            " 1",
            "1s",
            "99999999999999999999",
        ] {
            assert_eq!(parse_seconds(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn prints_fixed_decimals() {
        assert_eq!(Fixed::new(12_345, 1).to_string(), "1234.5");
        assert_eq!(Fixed::new(7, 3).to_string(), "0.007");
        assert_eq!(Fixed::new(42, 0).to_string(), "42");
        assert_eq!(
            Fixed::secs(Duration::new(3, 141_592_653), 6).to_string(),
            "3.141593"
        );
        assert_eq!(
            Fixed::secs(Duration::from_millis(1950), 1).to_string(),
            "2.0"
        );
    }

    proptest::proptest! {
        #[test]
        fn seconds_round_trip_through_print(secs in 0u64..1_000_000, nanos in 0u32..1_000_000_000) {
            let d = Duration::new(secs, nanos);
            let text = Fixed::secs(d, 9).to_string();
            proptest::prop_assert_eq!(parse_seconds(&text), Some(d));
        }
    }
}
