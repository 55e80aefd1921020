//! Currency conversion into the auction currency, in integer arithmetic.
//!
//! Rates come from config (`[currency] rates`) and optionally from a rates file that is
//! re-read periodically (`rates_file`, `refresh_s`); the file's rates override the config's.
//! A rate is kept as an integer number of nano-units of the auction currency per unit of the
//! other currency, so a conversion is one multiplication and one division on i128 — no float
//! ever touches a price after the edge.

use crate::money::Micros;
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::Arc;

/// A rate: nano-units of the auction currency per one unit of another currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate(i64);

impl Rate {
    /// From a config/file number; `None` unless finite and > 0 (and below a billion).
    pub fn from_f64(r: f64) -> Option<Rate> {
        (r.is_finite() && r > 0.0 && r < 1e9).then(|| Rate((r * 1e9).round() as i64))
    }
}

pub struct Rates {
    /// The auction currency.
    pub base: String,
    configured: HashMap<String, Rate>,
    /// From the rates file, replaced whole on each refresh; long-lived state, shared with
    /// the gateways that replace this one while the file and the auction currency are the
    /// same (`gateway::State`).
    file: Arc<FileRates>,
}

/// The rates file's latest rates, replaced whole on each refresh.
pub type FileRates = ArcSwap<HashMap<String, Rate>>;

impl Rates {
    pub fn new(base: &str, configured: HashMap<String, Rate>) -> Self {
        Self::with_file(base, configured, Arc::default())
    }

    /// Rates whose file rates are `file` (see `Rates::file`).
    pub fn with_file(base: &str, configured: HashMap<String, Rate>, file: Arc<FileRates>) -> Self {
        Self {
            base: base.to_string(),
            configured,
            file,
        }
    }

    /// Replaces the rates read from the file.
    pub fn set_file_rates(&self, rates: HashMap<String, Rate>) {
        self.file.store(Arc::new(rates));
    }

    /// `amount` of `from` in the auction currency, rounded to the nearest micro; `None`
    /// when no rate is known.
    pub fn to_base(&self, amount: Micros, from: &str) -> Option<Micros> {
        if from.eq_ignore_ascii_case(&self.base) {
            return Some(amount);
        }
        Some(scale(amount, self.rate(from)?.0))
    }

    /// The rate of `code` (the file's first, then the config's); `None` when none is known.
    fn rate(&self, code: &str) -> Option<Rate> {
        let key = code.to_ascii_uppercase();
        let file = self.file.load().get(&key).copied();
        file.or_else(|| self.configured.get(&key).copied())
    }

    /// `amount` of the auction currency in `to`, rounded to the nearest micro: the inverse of
    /// `to_base`, with the same rate, for telling a partner a price in its own currency.
    /// `None` when no rate is known.
    pub fn from_base(&self, amount: Micros, to: &str) -> Option<Micros> {
        if to.eq_ignore_ascii_case(&self.base) {
            return Some(amount);
        }
        Some(unscale(amount, self.rate(to)?.0))
    }

    /// The first of a request's `cur` that bidgate can answer in (the auction currency or one
    /// with a rate); `None` when none can be.
    pub fn answer_currency<'a>(&self, listed: &'a [String]) -> Option<&'a str> {
        listed
            .iter()
            .map(String::as_str)
            .find(|c| c.eq_ignore_ascii_case(&self.base) || self.rate(c).is_some())
    }

    /// An auction-currency `amount` in a partner's own units (OpenRTB §4.4: billing macros
    /// are in the bid's currency and units): the partner's `bid_adjustment` undone, then
    /// converted into its bid `currency`. `None` when that currency has no rate.
    pub fn to_partner(
        &self,
        amount: Micros,
        adjustment_nanos: i64,
        currency: &str,
    ) -> Option<Micros> {
        self.from_base(unscale(amount, adjustment_nanos), currency)
    }
}

/// `amount × nanos / 10⁹`, rounded half away from zero, saturating.
pub fn scale(amount: Micros, nanos: i64) -> Micros {
    let p = amount.0 as i128 * nanos as i128;
    let half = if p >= 0 { 500_000_000 } else { -500_000_000 };
    let v = (p + half) / 1_000_000_000;
    Micros(v.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// `amount × 10⁹ / nanos`, rounded half away from zero, saturating: the inverse of `scale`.
/// A zero divisor (never a configured rate or adjustment) gives the amount unchanged.
pub fn unscale(amount: Micros, nanos: i64) -> Micros {
    if nanos == 0 {
        return amount;
    }
    let n = amount.0 as i128 * 1_000_000_000;
    let d = nanos as i128;
    let half = d.abs() / 2;
    let v = if (n >= 0) == (d > 0) {
        (n.abs() + half) / d.abs()
    } else {
        -((n.abs() + half) / d.abs())
    };
    Micros(v.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// Reads a rates file: `{"rates": {"EUR": 1.08, …}}` (units of the auction currency per unit).
pub fn read_file(path: &std::path::Path) -> Result<HashMap<String, Rate>, String> {
    #[derive(serde::Deserialize)]
    struct File {
        rates: HashMap<String, f64>,
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file: File = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    file.rates
        .into_iter()
        .map(|(code, r)| {
            if !crate::config::is_currency_code(&code) {
                return Err(format!(
                    "{}: `{code}` is not an ISO-4217 code",
                    path.display()
                ));
            }
            match Rate::from_f64(r) {
                Some(rate) => Ok((code, rate)),
                None => Err(format!(
                    "{}: rate of {code} must be a number > 0",
                    path.display()
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_in_integers_and_rounds_to_the_micro() {
        let rates = Rates::new(
            "USD",
            HashMap::from([("EUR".into(), Rate::from_f64(1.08).unwrap())]),
        );
        assert_eq!(
            rates.to_base(Micros(2_500_000), "EUR"),
            Some(Micros(2_700_000))
        );
        assert_eq!(
            rates.to_base(Micros(1), "eur"),
            Some(Micros(1)),
            "1.08 µ rounds to 1"
        );
        assert_eq!(rates.to_base(Micros(7), "USD"), Some(Micros(7)));
        assert_eq!(rates.to_base(Micros(7), "GBP"), None);
        rates.set_file_rates(HashMap::from([(
            "EUR".into(),
            Rate::from_f64(1.5).unwrap(),
        )]));
        assert_eq!(
            rates.to_base(Micros(2_000_000), "EUR"),
            Some(Micros(3_000_000)),
            "file wins"
        );
        assert_eq!(
            scale(Micros(i64::MAX), 2_000_000_000),
            Micros(i64::MAX),
            "saturates"
        );
    }

    #[test]
    fn partner_units_undo_the_adjustment_and_the_conversion() {
        let rates = Rates::new(
            "USD",
            HashMap::from([("EUR".into(), Rate::from_f64(1.08).unwrap())]),
        );
        // A 2.00 EUR bid is 2.16 USD, 1.944 USD after an adjustment of 0.9; back again.
        let adjusted = scale(
            rates.to_base(Micros(2_000_000), "EUR").unwrap(),
            900_000_000,
        );
        assert_eq!(adjusted, Micros(1_944_000));
        assert_eq!(
            rates.to_partner(adjusted, 900_000_000, "EUR"),
            Some(Micros(2_000_000))
        );
        assert_eq!(
            rates.from_base(Micros(2_160_000), "eur"),
            Some(Micros(2_000_000))
        );
        assert_eq!(rates.from_base(Micros(5), "USD"), Some(Micros(5)));
        assert_eq!(rates.from_base(Micros(5), "GBP"), None);
        assert_eq!(
            unscale(Micros(1), 3_000_000_000),
            Micros(0),
            "0.33 µ rounds to 0"
        );
        assert_eq!(
            unscale(Micros(-3), 2_000_000_000),
            Micros(-2),
            "half away from zero"
        );
        assert_eq!(unscale(Micros(i64::MAX), 1), Micros(i64::MAX), "saturates");
    }

    #[test]
    fn bad_rates_are_refused() {
        for r in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e12] {
            assert_eq!(Rate::from_f64(r), None, "{r}");
        }
    }
}
