//! What a shadow partner would have done: its calls, bids, errors, the auctions its bid
//! would have won and the revenue that would have made, counted since start (carried over
//! reloads). Its latency is in its model's sketch like any partner's.

use metrics::Counter;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

pub struct ShadowReport {
    calls: AtomicU64,
    bids: AtomicU64,
    errors: AtomicU64,
    /// Calls still out when the auction closed (a shadow partner never holds it).
    unanswered: AtomicU64,
    would_win: AtomicU64,
    revenue_delta_micros: AtomicU64,
    /// Calls in flight now, for `shadow_max_in_flight`.
    in_flight: Arc<AtomicUsize>,
    counters: [Counter; 6],
}

/// `bidgate_shadow_*_total` names, in the order of `ShadowReport::counters`.
const NAMES: [&str; 6] = [
    "bidgate_shadow_calls_total",
    "bidgate_shadow_bids_total",
    "bidgate_shadow_errors_total",
    "bidgate_shadow_unanswered_total",
    "bidgate_shadow_would_win_total",
    "bidgate_shadow_revenue_delta_micros_total",
];

/// The report as `/admin/status` shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ShadowView {
    pub calls: u64,
    pub bid_rate: Option<f64>,
    pub error_rate: Option<f64>,
    pub unanswered: u64,
    pub would_have_won: u64,
    /// In auction currency units (CPM, summed over the auctions it would have won).
    pub revenue_delta: f64,
}

/// A shadow call's place under `shadow_max_in_flight`; dropping it frees the place.
pub struct ShadowSlot(Arc<AtomicUsize>);

impl Drop for ShadowSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What came of one shadow call, as `ShadowReport::record` counts it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShadowResult {
    pub bid: bool,
    pub error: bool,
    pub unanswered: bool,
    /// Its best bid beat the winner (or the floor, where nobody won) on some imp.
    pub would_win: bool,
    /// By how much, summed over imps, in micros.
    pub delta_micros: u64,
}

impl ShadowReport {
    pub fn new(partner: &str) -> Self {
        let p = partner.to_string();
        Self {
            calls: AtomicU64::new(0),
            bids: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            unanswered: AtomicU64::new(0),
            would_win: AtomicU64::new(0),
            revenue_delta_micros: AtomicU64::new(0),
            in_flight: Arc::default(),
            counters: NAMES.map(|n| metrics::counter!(n, "partner" => p.clone())),
        }
    }

    /// A place for one more shadow call, or `None` past `max` in flight.
    pub fn slot(&self, max: usize) -> Option<ShadowSlot> {
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let slot = ShadowSlot(self.in_flight.clone());
        (before < max).then_some(slot)
    }

    pub fn record(&self, r: ShadowResult) {
        let adds = [
            1,
            u64::from(r.bid),
            u64::from(r.error),
            u64::from(r.unanswered),
            u64::from(r.would_win),
            r.delta_micros,
        ];
        let atomics = [
            &self.calls,
            &self.bids,
            &self.errors,
            &self.unanswered,
            &self.would_win,
            &self.revenue_delta_micros,
        ];
        for ((a, c), n) in atomics.iter().zip(&self.counters).zip(adds) {
            if n > 0 {
                a.fetch_add(n, Ordering::Relaxed);
                c.increment(n);
            }
        }
    }

    pub fn view(&self) -> ShadowView {
        let calls = self.calls.load(Ordering::Relaxed);
        let rate =
            |a: &AtomicU64| (calls > 0).then(|| a.load(Ordering::Relaxed) as f64 / calls as f64);
        ShadowView {
            calls,
            bid_rate: rate(&self.bids),
            error_rate: rate(&self.errors),
            unanswered: self.unanswered.load(Ordering::Relaxed),
            would_have_won: self.would_win.load(Ordering::Relaxed),
            revenue_delta: self.revenue_delta_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}
