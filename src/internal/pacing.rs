//! Goals and pacing: whether a line item may still serve, and how often.
//!
//! Even pacing compares what was delivered with what a straight line from zero to the goal
//! expects at this point of the period (the flight for total goals, the UTC day — clipped
//! to the flight — for daily ones). Behind the line it serves every time it is eligible;
//! ahead of it, the serve probability falls linearly to zero at `SLACK` of the goal ahead.
//! It is a feedback loop on delivered counts, not a forecast: quiet hours leave it behind,
//! busy hours catch up, and it can never run more than `SLACK` ahead of the line, so the
//! goal cannot be used up before the last `SLACK` share of the period. Its weakness is a
//! period that ends in a trough of traffic: whatever the line asks for in the last hours
//! and the traffic cannot give is missed.

use super::catalog::Pacing;
use super::store::Delivered;
use super::time::DAY_S;
use super::validate::Terms;
use crate::money::Micros;

/// How far ahead of the straight line delivery may run, as a share of the goal.
const SLACK: f64 = 0.01;

/// What a goal allows; `None` = no limit of that kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Limit {
    pub impressions: Option<u64>,
    pub spend: Option<Micros>,
}

impl Limit {
    pub fn is_set(&self) -> bool {
        self.impressions.is_some() || self.spend.is_some()
    }

    pub fn reached(&self, d: Delivered) -> bool {
        self.impressions.is_some_and(|g| d.impressions >= g)
            || self.spend.is_some_and(|g| d.spend >= g)
    }

    /// The serve probability for delivery `d` when `share` (0–1) of the period has passed.
    fn probability(&self, d: Delivered, share: f64) -> f64 {
        let mut p: f64 = 1.0;
        if let Some(goal) = self.impressions {
            p = p.min(behind(d.impressions as f64, goal as f64, share));
        }
        if let Some(goal) = self.spend {
            p = p.min(behind(d.spend.0 as f64, goal.0 as f64, share));
        }
        p
    }
}

/// 1 at or behind the line, 0 at `SLACK` ahead (at least one unit: an impression, a micro).
fn behind(delivered: f64, goal: f64, share: f64) -> f64 {
    let expected = goal * share;
    let slack = (goal * SLACK).max(1.0);
    ((expected + slack - delivered) / slack).clamp(0.0, 1.0)
}

/// The probability that an eligible line item serves now, given its delivery so far in
/// total and today (UTC). 0 once any goal is reached, whatever the pacing.
pub(super) fn serve_probability(
    terms: &Terms,
    pacing: Pacing,
    now: u64,
    total: Delivered,
    today: Delivered,
) -> f64 {
    if terms.total.reached(total) || terms.daily.reached(today) {
        return 0.0;
    }
    if pacing == Pacing::Asap {
        return 1.0;
    }
    let mut p: f64 = 1.0;
    if terms.total.is_set() {
        p = p.min(
            terms
                .total
                .probability(total, share(now, terms.start, terms.end)),
        );
    }
    if terms.daily.is_set() {
        let day = now - now % DAY_S;
        let (lo, hi) = (day.max(terms.start), (day + DAY_S).min(terms.end));
        p = p.min(terms.daily.probability(today, share(now, lo, hi)));
    }
    p
}

/// How much of `[lo, hi)` has passed at `now`, 0–1.
fn share(now: u64, lo: u64, hi: u64) -> f64 {
    if hi <= lo {
        return 1.0;
    }
    (now.saturating_sub(lo) as f64 / (hi - lo) as f64).clamp(0.0, 1.0)
}
