//! Delivery state: frequency-cap counters per listener, delivered totals per line item.
//!
//! Decisions read it, impression events write it; nothing else keeps state between
//! requests, so `Index::decide` stays a pure function of its inputs and a `Store`.
//!
//! **Frequency caps are fixed windows, not sliding ones.** A cap of `{ max, period_s }`
//! counts impressions in window number `now_unix / period_s`, so the counter key carries its
//! window and time is passed in (tests move `now` instead of sleeping). A fixed window is a
//! simplification: a listener can get up to `2 × max` ads across a window boundary (`max`
//! at the end of one window, `max` at the start of the next), never more than `max` within
//! one window. Counting is on impressions, not on decisions: a listener sent an ad that
//! never played is not capped by it. Under concurrency the check and the count are apart:
//! two requests of one listener at the same instant may both pass a cap with one slot left.
//!
//! **Spend** is the sum of the CPM prices impressions cleared at, divided by 1000.
//!
//! **Several replicas** share state through `[store]` (Redis): the trait stays synchronous,
//! since `decide` is bounded CPU work, and no method does network I/O. Direct demand fetches
//! the one listener's cap counters in one round trip *before* `decide` and hands it a
//! per-request `Store` (`direct::shared`) that answers `count` from them, `delivered` from
//! its pacing leases and `may_spend` from their room; impressions are written in the
//! background.

use crate::money::Micros;
use moka::sync::Cache;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// What a line item delivered, in total or on one UTC day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    pub impressions: u64,
    pub spend: Micros,
}

/// A line item's goals as a shared store leases budget for them (0 = no goal of that kind).
/// Spend is in CPM micros: the sum of the CPM prices, i.e. spend × 1000.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeaseTerms {
    pub total_impressions: u64,
    pub total_cpm: i64,
    pub daily_impressions: u64,
    pub daily_cpm: i64,
    /// The UTC day (`now_unix / 86400`) daily goals are for.
    pub day: u64,
    /// The line item's CPM price: what one impression spends.
    pub price_cpm: i64,
    pub now_unix: u64,
    /// Its flight's end (a lease's record outlives it a little).
    pub end_unix: u64,
}

impl LeaseTerms {
    /// Non-zero when it has an impression goal (total or daily).
    pub fn impressions_goal(&self) -> u64 {
        self.total_impressions.max(self.daily_impressions)
    }

    /// Non-zero when it has a spend goal (total or daily).
    pub fn cpm_goal(&self) -> i64 {
        self.total_cpm.max(self.daily_cpm)
    }
}

/// Delivery state behind `Index::decide`. See the module docs for the rules.
pub trait Store: Send + Sync {
    /// Whether a line item with goals may bid now as far as budget shared with other
    /// replicas goes (a pacing lease: `store::Budgets`). In-process stores have no one to
    /// share with: always.
    fn may_spend(&self, _line_item: &str, _goals: &LeaseTerms) -> bool {
        true
    }

    /// Impressions of `line_item` to `user_key` in the window of `period_s` that holds
    /// `now_unix` (window number `now_unix / period_s`).
    fn count(&self, line_item: &str, user_key: &str, period_s: u64, now_unix: u64) -> u32;

    /// Delivered in total (`day` None) or on one UTC day (`Some(now_unix / 86400)`).
    fn delivered(&self, line_item: &str, day: Option<u64>) -> Delivered;

    /// Counts one impression at CPM `price`: the line item's totals (all time and its UTC
    /// day) and, with a user key, one counter per cap period in `cap_periods_s`.
    fn record_impression(
        &self,
        line_item: &str,
        user_key: Option<&str>,
        cap_periods_s: &[u64],
        price: Micros,
        now_unix: u64,
    );
}

/// Days of per-day totals kept per line item (today and a little history for reporting).
const KEEP_DAYS: u64 = 3;

/// The in-process `Store`: for one replica, and for tests. Totals are lost on restart
/// (replay impressions from the event log to rebuild them).
pub struct MemoryStore {
    /// One counter per (line item, user, period, window), evicted `period_s` after it was
    /// made: by then its window is over, so the TTL only bounds memory. `max_cap_counters`
    /// bounds it too; past it, the least useful counters go (and those listeners see the
    /// ad again early).
    caps: Cache<CapKey, Arc<AtomicU32>>,
    totals: RwLock<HashMap<String, Totals>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CapKey {
    line_item: String,
    user: String,
    period_s: u64,
    window: u64,
}

#[derive(Debug, Default)]
struct Totals {
    total: Sum,
    /// (unix day, delivered that day), at most `KEEP_DAYS`.
    days: Vec<(u64, Sum)>,
}

/// Impressions and the sum of their CPM prices (spend × 1000, exact until read).
#[derive(Debug, Default, Clone, Copy)]
struct Sum {
    impressions: u64,
    cpm_micros: i64,
}

impl Sum {
    fn add(&mut self, price: Micros) {
        self.impressions += 1;
        self.cpm_micros = self.cpm_micros.saturating_add(price.0);
    }

    fn delivered(self) -> Delivered {
        Delivered {
            impressions: self.impressions,
            spend: Micros(self.cpm_micros / 1000),
        }
    }
}

struct WindowExpiry;

impl moka::Expiry<CapKey, Arc<AtomicU32>> for WindowExpiry {
    fn expire_after_create(
        &self,
        key: &CapKey,
        _: &Arc<AtomicU32>,
        _: Instant,
    ) -> Option<Duration> {
        Some(Duration::from_secs(key.period_s))
    }
}

impl MemoryStore {
    pub fn new(max_cap_counters: u64) -> Self {
        Self {
            caps: Cache::builder()
                .max_capacity(max_cap_counters)
                .expire_after(WindowExpiry)
                .build(),
            totals: RwLock::new(HashMap::new()),
        }
    }
}

impl Default for MemoryStore {
    /// Room for a million cap counters (on the order of 100 MB).
    fn default() -> Self {
        Self::new(1_000_000)
    }
}

impl Store for MemoryStore {
    fn count(&self, line_item: &str, user_key: &str, period_s: u64, now_unix: u64) -> u32 {
        let key = CapKey {
            line_item: line_item.to_string(),
            user: user_key.to_string(),
            period_s,
            window: now_unix / period_s.max(1),
        };
        self.caps.get(&key).map_or(0, |c| c.load(Ordering::Relaxed))
    }

    fn delivered(&self, line_item: &str, day: Option<u64>) -> Delivered {
        let totals = self.totals.read().unwrap_or_else(PoisonError::into_inner);
        let Some(t) = totals.get(line_item) else {
            return Delivered::default();
        };
        match day {
            None => t.total.delivered(),
            Some(day) => t
                .days
                .iter()
                .find(|(d, _)| *d == day)
                .map_or_else(Delivered::default, |(_, s)| s.delivered()),
        }
    }

    fn record_impression(
        &self,
        line_item: &str,
        user_key: Option<&str>,
        cap_periods_s: &[u64],
        price: Micros,
        now_unix: u64,
    ) {
        if let Some(user) = user_key {
            for &period_s in cap_periods_s {
                let key = CapKey {
                    line_item: line_item.to_string(),
                    user: user.to_string(),
                    period_s,
                    window: now_unix / period_s.max(1),
                };
                let counter = self.caps.get_with(key, || Arc::new(AtomicU32::new(0)));
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
        let day = now_unix / super::time::DAY_S;
        let mut totals = self.totals.write().unwrap_or_else(PoisonError::into_inner);
        let t = totals.entry(line_item.to_string()).or_default();
        t.total.add(price);
        match t.days.iter_mut().find(|(d, _)| *d == day) {
            Some((_, s)) => s.add(price),
            None => {
                let mut s = Sum::default();
                s.add(price);
                t.days.push((day, s));
                let newest = t.days.iter().map(|(d, _)| *d).max().unwrap_or(day);
                t.days.retain(|(d, _)| d + KEEP_DAYS > newest);
            }
        }
    }
}
