//! The adaptive decisions, as pure functions of a partner's model snapshot, its static
//! budget and instants passed in: how long to wait for it, and whether it is still worth
//! waiting for.

use crate::config::AdaptiveConfig;
use crate::deadline::PartnerBudget;
use std::time::Duration;
use tokio::time::Instant;

/// The latency quantiles a snapshot keeps (the CDF the early close reads).
pub const QS: [f64; 12] = [
    0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999,
];

/// A partner's model as last computed (a few times a second), read by every auction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Calls behind the latency figures (answers and cut-off calls).
    pub samples: u32,
    /// Latency in ms at each of `QS` (infinite: among the calls that never answered).
    pub latency_ms: [f64; QS.len()],
    /// Of the calls waited for their whole static budget, the share answered in it.
    pub on_time: Option<f64>,
    /// Of the auctions it answered, the share where its bid beat every other partner's.
    pub win_share: Option<f64>,
    /// Revenue it added per answer, in micros: by how much its bids beat the best other
    /// bid (all of its price where nobody else bid), averaged over its answers.
    pub value_micros: f64,
    /// Of the auctions it answered, the share where it bid.
    pub bid_rate: Option<f64>,
    /// Its best bid's price in micros at each of `QS`, when it has bid often enough to say.
    pub price_micros: Option<[f64; QS.len()]>,
}

impl Snapshot {
    /// The latency at quantile `q` (one of `QS`, or the next above it).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let i = QS
            .iter()
            .position(|x| *x >= q - 1e-9)
            .unwrap_or(QS.len() - 1);
        self.latency_ms[i]
    }

    /// What its answer is expected to add over `best` micros already in hand: the chance it
    /// bids × E[max(price − best, 0)] over its price distribution (each kept quantile stands
    /// for the slice of the distribution just below it, so this errs high: waiting errs long).
    /// Without a price distribution, its average value per answer (`value_micros`).
    pub fn gain_over(&self, best: f64) -> f64 {
        let (Some(prices), Some(bid_rate)) = (self.price_micros, self.bid_rate) else {
            return self.value_micros;
        };
        let mut below = 0.0;
        let mut gain = 0.0;
        for (i, (q, price)) in QS.iter().zip(prices.iter()).enumerate() {
            // The top quantile also stands for the rest of the tail.
            let upto = if i == QS.len() - 1 { 1.0 } else { *q };
            gain += (upto - below) * (price - best).max(0.0);
            below = upto;
        }
        bid_rate * gain
    }

    /// The share of calls answered within `ms` (piecewise linear between the kept quantiles).
    pub fn cdf(&self, ms: f64) -> f64 {
        let (mut lo_ms, mut lo_q) = (0.0, 0.0);
        for (q, at) in QS.iter().zip(self.latency_ms.iter()) {
            if ms < *at {
                if !at.is_finite() {
                    return lo_q;
                }
                return lo_q + (q - lo_q) * (ms - lo_ms) / (at - lo_ms).max(1e-9);
            }
            (lo_ms, lo_q) = (*at, *q);
        }
        lo_q
    }
}

/// Why a partner gets the wait it gets (shown in no metric: the decision of one auction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Its static budget: too little data, or its quantile is beyond it. It still holds
    /// the close only while it is worth its remaining wait.
    Static,
    /// Its static budget, waited for whatever its value: one of the `probe_share` auctions
    /// that keep the model's view of its whole latency (and its on-time rate) honest.
    Probe,
    /// A latency quantile shorter than the static budget.
    Quantile,
    /// Called, not waited for: it rarely answers in time.
    Secondary,
}

/// What one partner gets in one auction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    pub budget: PartnerBudget,
    /// Whether the fan-out waits for it (a secondary partner does not hold the close).
    pub holds_close: bool,
    pub kind: Kind,
}

/// The adaptive wait for a partner sent a request at `sent` with static budget `fixed`:
/// never later, never a larger `tmax`. `probe`: this auction gives it the whole budget.
pub fn choose(
    fixed: PartnerBudget,
    sent: Instant,
    snap: &Snapshot,
    cfg: &AdaptiveConfig,
    probe: bool,
) -> Wait {
    let whole = |kind| Wait {
        budget: fixed,
        holds_close: true,
        kind,
    };
    if probe {
        return whole(Kind::Probe);
    }
    if snap.samples < cfg.min_samples {
        return whole(Kind::Static);
    }
    if snap.on_time.is_some_and(|r| r < cfg.secondary_on_time_rate) {
        return Wait {
            budget: fixed,
            holds_close: false,
            kind: Kind::Secondary,
        };
    }
    let matters = snap.win_share.unwrap_or(1.0) >= cfg.high_value_share;
    let q = if matters {
        cfg.high_value_quantile
    } else {
        cfg.low_value_quantile
    };
    let ms = snap.quantile_ms(q).ceil();
    if !ms.is_finite() || ms as u64 >= fixed.tmax_ms {
        return whole(Kind::Static);
    }
    let ms = (ms as u64).max(1);
    let until = sent + Duration::from_millis(ms);
    if until >= fixed.wait_until {
        return whole(Kind::Static);
    }
    Wait {
        budget: PartnerBudget {
            tmax_ms: ms,
            wait_until: until,
            own_timeout: fixed.own_timeout,
        },
        holds_close: true,
        kind: Kind::Quantile,
    }
}

/// Whether a partner still out `waited` after it was sent, waited for until `until_ms`
/// after it was sent, is worth the rest of the wait: the revenue it is expected to add
/// over the best bid already in hand (`best_micros`, see `Snapshot::gain_over`) × the
/// chance it answers in the time left (given it has not yet), against
/// `cost_micros_per_ms` × the time left. Without enough data: always.
///
/// Why the bid in hand: the same partner is worth a long wait when nothing has bid yet and
/// nothing once a bid above anything it ever bids is in. Its average value alone (what
/// this test used first) cut the partners that matter only when the usual winner passes,
/// and kept waiting for them when the winner had already bid high.
pub fn worth_waiting(
    snap: &Snapshot,
    min_samples: u32,
    waited: Duration,
    until_ms: f64,
    cost_micros_per_ms: f64,
    best_micros: f64,
) -> bool {
    if snap.samples < min_samples {
        return true;
    }
    let t = waited.as_secs_f64() * 1000.0;
    if t >= until_ms {
        return false;
    }
    let not_yet = 1.0 - snap.cdf(t);
    let chance = if not_yet <= 1e-9 {
        0.0
    } else {
        ((snap.cdf(until_ms) - snap.cdf(t)) / not_yet).clamp(0.0, 1.0)
    };
    snap.gain_over(best_micros) * chance > cost_micros_per_ms * (until_ms - t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(p50: f64, on_time: f64, win_share: f64, value: f64) -> Snapshot {
        // A latency spread like a log-normal: quantiles scaled from the median.
        let scale = [
            0.5, 0.65, 0.8, 0.9, 1.0, 1.1, 1.25, 1.45, 1.8, 2.2, 3.0, 4.0,
        ];
        Snapshot {
            samples: 1000,
            latency_ms: scale.map(|s| s * p50),
            on_time: Some(on_time),
            win_share: Some(win_share),
            value_micros: value,
            bid_rate: None,
            price_micros: None,
        }
    }

    fn fixed(t0: Instant, ms: u64) -> PartnerBudget {
        PartnerBudget {
            tmax_ms: ms,
            wait_until: t0 + Duration::from_millis(ms),
            own_timeout: true,
        }
    }

    #[test]
    fn winners_get_their_p99_others_less_never_more_than_static() {
        let t0 = Instant::now();
        let cfg = AdaptiveConfig::default();
        let w = choose(fixed(t0, 185), t0, &snap(40.0, 0.99, 0.3, 1e5), &cfg, false);
        assert_eq!(
            (w.kind, w.budget.tmax_ms),
            (Kind::Quantile, 120),
            "p99 = 3 × 40"
        );
        assert!(w.holds_close);
        let w = choose(fixed(t0, 185), t0, &snap(40.0, 0.99, 0.0, 0.0), &cfg, false);
        assert_eq!(
            w.budget.tmax_ms, 72,
            "p90 = 1.8 × 40 for a partner that never wins"
        );
        // A slow winner whose p99 is past the static budget keeps the static budget.
        let w = choose(fixed(t0, 185), t0, &snap(90.0, 0.95, 0.5, 1e5), &cfg, false);
        assert_eq!((w.kind, w.budget), (Kind::Static, fixed(t0, 185)));
        // Probes and young models get the static budget too.
        let w = choose(fixed(t0, 185), t0, &snap(40.0, 0.99, 0.0, 0.0), &cfg, true);
        assert_eq!((w.kind, w.budget), (Kind::Probe, fixed(t0, 185)));
        let mut young = snap(40.0, 0.99, 0.0, 0.0);
        young.samples = 10;
        assert_eq!(
            choose(fixed(t0, 185), t0, &young, &cfg, false).kind,
            Kind::Static
        );
        // Whatever the model, the wait never ends later than the static one.
        for p50 in [1.0, 10.0, 50.0, 100.0, 1000.0] {
            for share in [0.0, 0.5] {
                let w = choose(fixed(t0, 150), t0, &snap(p50, 0.9, share, 1.0), &cfg, false);
                assert!(w.budget.wait_until <= t0 + Duration::from_millis(150));
                assert!(w.budget.tmax_ms <= 150);
            }
        }
    }

    #[test]
    fn a_partner_that_rarely_answers_in_time_is_not_waited_for() {
        let t0 = Instant::now();
        let cfg = AdaptiveConfig::default();
        let w = choose(fixed(t0, 185), t0, &snap(150.0, 0.3, 0.5, 1e5), &cfg, false);
        assert_eq!(w.kind, Kind::Secondary);
        assert!(!w.holds_close);
        assert_eq!(
            w.budget,
            fixed(t0, 185),
            "its answer still counts if in time"
        );
        let probe = choose(fixed(t0, 185), t0, &snap(150.0, 0.3, 0.5, 1e5), &cfg, true);
        assert!(probe.holds_close, "a probe waits for it");
    }

    #[test]
    fn waiting_is_worth_it_while_value_times_chance_beats_the_cost() {
        let ms = Duration::from_millis;
        let s = snap(40.0, 0.99, 0.3, 200_000.0); // adds 0.20 CPM per answer
        assert!(worth_waiting(&s, 100, ms(10), 120.0, 500.0, 0.0));
        // A partner that adds nothing is never worth a millisecond.
        let nothing = snap(40.0, 0.99, 0.0, 0.0);
        assert!(!worth_waiting(&nothing, 100, ms(10), 120.0, 500.0, 0.0));
        // Deep in its tail, the chance it still answers is small: not worth 110 ms.
        assert!(!worth_waiting(&s, 100, ms(119), 120.0, 50_000.0, 0.0));
        assert!(
            !worth_waiting(&s, 100, ms(130), 120.0, 0.0, 0.0),
            "its wait is over"
        );
        let mut young = nothing.clone();
        young.samples = 0;
        assert!(worth_waiting(&young, 100, ms(10), 120.0, 500.0, 0.0));
    }

    #[test]
    fn a_partner_is_worth_what_it_may_add_over_the_bid_in_hand() {
        let ms = Duration::from_millis;
        // Bids between 1.00 and 3.00 (evenly), nine answers in ten; rarely the best overall.
        let mut s = snap(40.0, 0.99, 0.05, 10_000.0);
        s.bid_rate = Some(0.9);
        s.price_micros = Some(QS.map(|q| 1e6 + 2e6 * q));
        // Nothing in hand: it adds about 0.9 × 2.00 on average.
        let none = s.gain_over(0.0);
        assert!((1.8e6..2.0e6).contains(&none), "{none}");
        // A 5.00 bid in hand: it cannot add anything.
        assert_eq!(s.gain_over(5e6), 0.0);
        // 2.50 in hand: only its top fifth adds, a little.
        let some = s.gain_over(2.5e6);
        assert!(some > 0.0 && some < 0.15e6, "{some}");
        // So the same partner at the same moment is worth the wait with nothing in hand,
        // and not with 5.00 in hand (cost 0.0005 CPM per ms = 500 micros).
        assert!(worth_waiting(&s, 100, ms(30), 120.0, 500.0, 0.0));
        assert!(!worth_waiting(&s, 100, ms(30), 120.0, 500.0, 5e6));
        // Without a price distribution: its average value, whatever is in hand.
        s.price_micros = None;
        assert_eq!(s.gain_over(5e6), 10_000.0);
    }

    #[test]
    fn cdf_interpolates_the_kept_quantiles() {
        let s = snap(40.0, 1.0, 0.0, 0.0);
        assert!((s.cdf(40.0) - 0.5).abs() < 1e-9);
        assert!(s.cdf(10.0) < 0.1);
        assert!((s.cdf(1000.0) - 0.999).abs() < 1e-9);
        let mut cut = s.clone();
        cut.latency_ms[10] = f64::INFINITY;
        cut.latency_ms[11] = f64::INFINITY;
        assert!((cut.cdf(1000.0) - 0.95).abs() < 1e-9);
    }
}
