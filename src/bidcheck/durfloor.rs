//! Floors that depend on a video or audio ad's duration (OpenRTB 2.6): `mincpmpersec`, a
//! price per second of the ad, and `durfloors`, a floor per duration range. Both live on an
//! imp's `video`/`audio` object (in the imp's `bidfloorcur`) and on a deal (in the deal's).

use crate::currency::Rates;
use crate::money::Micros;
use serde_json::Value;

#[derive(Debug, Default, Clone)]
pub(super) struct DurFloors {
    /// CPM per second of the ad, in the auction currency.
    per_second: Option<Micros>,
    /// `(mindur, maxdur, floor)`: both ends inclusive, an absent end unbounded; the floor in
    /// the auction currency. The first range that holds the duration applies.
    ranges: Vec<(Option<u64>, Option<u64>, Micros)>,
}

impl DurFloors {
    /// Read from the object `o` (a media object or a deal) whose amounts are in `cur`.
    /// Amounts that cannot be converted are left out (a deal in such a currency is refused
    /// anyway; an imp's currency was checked by validation).
    pub(super) fn of(o: &Value, cur: &str, rates: &Rates) -> Self {
        let money = |v: Option<&Value>| {
            v.and_then(Value::as_f64)
                .and_then(Micros::from_f64)
                .filter(|m| *m > Micros::ZERO)
                .and_then(|m| rates.to_base(m, cur))
        };
        let ranges = o
            .get("durfloors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| {
                let end = |k: &str| r.get(k).and_then(Value::as_u64);
                Some((end("mindur"), end("maxdur"), money(r.get("bidfloor"))?))
            })
            .collect();
        Self {
            per_second: money(o.get("mincpmpersec")),
            ranges,
        }
    }

    /// The floor for an ad of `dur` seconds, if these rules set one.
    pub(super) fn floor(&self, dur: u64) -> Option<Micros> {
        let per_second = self
            .per_second
            .map(|m| Micros(m.0.saturating_mul(dur.min(i64::MAX as u64) as i64)));
        let ranged = self
            .ranges
            .iter()
            .find(|(min, max, _)| min.is_none_or(|m| dur >= m) && max.is_none_or(|m| dur <= m))
            .map(|(.., f)| *f);
        per_second.max(ranged)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.per_second.is_none() && self.ranges.is_empty()
    }
}
