//! Money as integer micro-units of a currency (1.00 USD = 1_000_000).
//!
//! OpenRTB carries prices as JSON floats; they are converted to `Micros` once, at the edge,
//! and every comparison and clearing-price computation after that is integer arithmetic.
//! Rounding to the nearest micro is exact for any price written with six decimals or fewer.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Micros(pub i64);

/// Prices above this (one billion per mille) are treated as garbage, not bids.
const MAX_UNITS: f64 = 1e9;

impl Micros {
    pub const ZERO: Micros = Micros(0);

    /// Converts a JSON price; `None` for NaN, infinities and absurd magnitudes.
    pub fn from_f64(units: f64) -> Option<Micros> {
        if !units.is_finite() || units.abs() > MAX_UNITS {
            return None;
        }
        Some(Micros((units * 1_000_000.0).round() as i64))
    }

    /// The JSON number for this amount. The nearest `f64` to `n / 10^6` prints as the short
    /// decimal (`1.23`, not `1.2299999`) with serde_json's shortest round-trip formatting.
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / 1_000_000.0
    }

    pub fn saturating_add(self, other: Micros) -> Micros {
        Micros(self.0.saturating_add(other.0))
    }
}

impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_common_prices_exactly() {
        for (f, m) in [
            (0.29, 290_000),
            (1.1, 1_100_000),
            (2.675, 2_675_000),
            (0.01, 10_000),
        ] {
            assert_eq!(Micros::from_f64(f), Some(Micros(m)), "{f}");
            assert_eq!(Micros(m).to_f64(), f);
        }
        assert_eq!(
            serde_json::to_string(&Micros(1_230_000).to_f64()).unwrap(),
            "1.23"
        );
    }

    #[test]
    fn rejects_non_finite_and_absurd() {
        assert_eq!(Micros::from_f64(f64::NAN), None);
        assert_eq!(Micros::from_f64(f64::INFINITY), None);
        assert_eq!(Micros::from_f64(1e300), None);
        assert_eq!(Micros::from_f64(-1.5), Some(Micros(-1_500_000)));
    }

    #[test]
    fn displays_as_decimal() {
        assert_eq!(Micros(1_230_000).to_string(), "1.230000");
        assert_eq!(Micros(-5).to_string(), "-0.000005");
    }
}
