//! `[auction] deadline_mode` and `[auction.adaptive]`: how long to wait for each partner,
//! chosen from its latency and value model (`yield_model`) instead of one static timeout.

use super::defaults;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How the fan-out decides how long to wait for each partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineMode {
    /// Every partner is waited for up to its `timeout_ms` (within the request's deadline).
    #[default]
    Static,
    /// Each partner's wait is a latency quantile chosen by its value (never longer than the
    /// static one), partners that rarely answer in time are not waited for, and the fan-out
    /// closes once no partner still out is worth the wait (`[auction.adaptive]`).
    Adaptive,
}

/// The knobs of `deadline_mode = "adaptive"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct AdaptiveConfig {
    /// The latency quantile a partner that matters is waited for (0–1].
    #[serde(default = "defaults::high_value_quantile")]
    pub high_value_quantile: f64,
    /// The latency quantile a partner that rarely matters is waited for (0–1], at most
    /// `high_value_quantile`.
    #[serde(default = "defaults::low_value_quantile")]
    pub low_value_quantile: f64,
    /// A partner matters when, of the auctions it answered, at least this share had its bid
    /// beat every other partner's.
    #[serde(default = "defaults::high_value_share")]
    pub high_value_share: f64,
    /// What a millisecond of waiting costs, in auction currency units (CPM, like prices):
    /// the fan-out closes once every partner still out is expected to add less revenue than
    /// its remaining wait costs. 0 = wait for every partner that ever added revenue.
    #[serde(default = "defaults::wait_cost_per_ms")]
    pub wait_cost_per_ms: f64,
    /// A partner whose share of calls answered within its static budget falls below this is
    /// secondary: called, but not waited for (its bids count if they arrive in time).
    #[serde(default = "defaults::secondary_on_time_rate")]
    pub secondary_on_time_rate: f64,
    /// Share of auctions (0–1) in which a partner is waited for its whole static budget, so
    /// that its tail stays observed (secondary partners included).
    #[serde(default = "defaults::adaptive_probe_share")]
    pub probe_share: f64,
    /// Calls a partner's model needs before adaptive choices apply to it; until then it is
    /// waited for statically.
    #[serde(default = "defaults::min_samples")]
    pub min_samples: u32,
    /// The model forgets: it covers the current and the previous window of this many seconds.
    #[serde(default = "defaults::model_window_s")]
    pub window_s: u64,
}

impl Default for AdaptiveConfig {
    fn default() -> Self {
        Self {
            high_value_quantile: defaults::high_value_quantile(),
            low_value_quantile: defaults::low_value_quantile(),
            high_value_share: defaults::high_value_share(),
            wait_cost_per_ms: defaults::wait_cost_per_ms(),
            secondary_on_time_rate: defaults::secondary_on_time_rate(),
            probe_share: defaults::adaptive_probe_share(),
            min_samples: defaults::min_samples(),
            window_s: defaults::model_window_s(),
        }
    }
}

/// Whether a partner takes part in auctions or is only observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartnerMode {
    /// Its bids compete.
    #[default]
    Live,
    /// Called on its `traffic_share` of auctions; its bids never enter the auction, it gets
    /// no notices, and what it would have won is reported (`/admin/status`, metrics).
    Shadow,
}

/// The semantic checks of these keys (`None`: fine), with their key paths.
pub fn check(a: &AdaptiveConfig) -> Vec<(&'static str, String)> {
    let mut p = Vec::new();
    let unit = |v: f64| v > 0.0 && v <= 1.0;
    let share = |v: f64| (0.0..=1.0).contains(&v);
    if !unit(a.high_value_quantile) {
        p.push((
            "auction.adaptive.high_value_quantile",
            "must be in (0, 1]".into(),
        ));
    }
    if !unit(a.low_value_quantile) || a.low_value_quantile > a.high_value_quantile {
        p.push((
            "auction.adaptive.low_value_quantile",
            "must be in (0, 1] and <= high_value_quantile".into(),
        ));
    }
    for (key, v) in [
        ("auction.adaptive.high_value_share", a.high_value_share),
        (
            "auction.adaptive.secondary_on_time_rate",
            a.secondary_on_time_rate,
        ),
        ("auction.adaptive.probe_share", a.probe_share),
    ] {
        if !share(v) {
            p.push((key, "must be in [0, 1]".into()));
        }
    }
    if !(a.wait_cost_per_ms.is_finite() && a.wait_cost_per_ms >= 0.0) {
        p.push(("auction.adaptive.wait_cost_per_ms", "must be >= 0".into()));
    }
    if a.window_s == 0 {
        p.push(("auction.adaptive.window_s", "must be > 0".into()));
    }
    p
}
