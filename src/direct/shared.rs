//! Direct demand over a shared store (`[store] backend = "redis"`): the per-request
//! `Store` its decisions read, the one round trip that fills it, and the writes of an
//! impression.
//!
//! - **Frequency caps**: the listener's counters live in one Redis hash (`…:fc:{u:<key>}`,
//!   a field per line item, period and window), read with one `HGETALL` before deciding —
//!   only when the catalog has caps and the request has a listener key — and counted by
//!   one script per billed impression. Redis unreachable: the local counters decide, each
//!   replica allowing `ceil(cap / replicas)` (a local count is scaled by `replicas`). Its
//!   count is the larger of the impressions it billed and the ads it served meanwhile
//!   (`served`): behind a load balancer an ad's impression is billed on any replica, so
//!   one that serves without billing would otherwise never reach its share.
//! - **Pacing**: leases (`store::Budgets`), spent when an ad wins (`won`), on the replica
//!   that served it; see `store::lease`.
//!
//! Local counters are always kept too: they are the fallback, and a single replica's truth.

use super::Impression;
use crate::internal::{Delivered, Index, LeaseTerms, MemoryStore, Store};
use crate::money::Micros;
use crate::store::{Budgets, Fallback, Op, Shared, scripts};
use std::collections::HashMap;
use std::sync::Arc;

/// The listener's cap counters for one request.
#[derive(Debug, Default)]
pub enum Caps {
    /// Nothing shared to ask (memory store, or nothing capped, or no listener key).
    #[default]
    Local,
    /// The listener's counters as Redis holds them (by `scripts::cap_field`).
    Fetched(HashMap<String, u32>),
    /// Redis could not answer in time: the fallback applies.
    Unavailable,
}

/// The listener's hash key.
fn caps_key(shared: &Shared, user: &str) -> String {
    shared.key(format_args!("fc:{{u:{user}}}"))
}

/// Reads the listener's counters: one round trip, bounded by `store.timeout_ms`.
pub async fn fetch(shared: &Arc<Shared>, user: String) -> Caps {
    let key = caps_key(shared, &user);
    let got = shared
        .run(Op::CapsRead, |mut c| async move {
            redis::cmd("HGETALL")
                .arg(&key)
                .query_async::<HashMap<String, u32>>(&mut c)
                .await
        })
        .await;
    match got {
        Ok(m) => Caps::Fetched(m),
        Err(_) => {
            shared.fallback(Fallback::Caps);
            Caps::Unavailable
        }
    }
}

/// The `Store` one decision reads with a shared store behind it.
pub struct View<'a> {
    pub local: &'a MemoryStore,
    pub shared: &'a Arc<Shared>,
    pub caps: &'a Caps,
}

impl Store for View<'_> {
    fn may_spend(&self, line_item: &str, goals: &LeaseTerms) -> bool {
        crate::store::lease_may_serve(self.shared, line_item, goals)
    }

    fn count(&self, line_item: &str, user_key: &str, period_s: u64, now_unix: u64) -> u32 {
        match self.caps {
            Caps::Fetched(m) => {
                let field = scripts::cap_field(line_item, period_s, now_unix / period_s.max(1));
                m.get(&field).copied().unwrap_or(0)
            }
            Caps::Unavailable => local_share_count(
                self.local
                    .count(line_item, user_key, period_s, now_unix)
                    .max(
                        self.shared
                            .served_degraded
                            .count(line_item, user_key, period_s, now_unix),
                    ),
                self.shared.replicas(),
            ),
            Caps::Local => self.local.count(line_item, user_key, period_s, now_unix),
        }
    }

    fn delivered(&self, line_item: &str, day: Option<u64>) -> Delivered {
        let budgets: &Budgets = &self.shared.budgets;
        budgets
            .delivered(line_item, day)
            .unwrap_or_else(|| self.local.delivered(line_item, day))
    }

    fn record_impression(
        &self,
        line_item: &str,
        user_key: Option<&str>,
        cap_periods_s: &[u64],
        price: Micros,
        now_unix: u64,
    ) {
        self.local
            .record_impression(line_item, user_key, cap_periods_s, price, now_unix);
    }
}

/// The fallback of a cap while Redis is unreachable: this replica's own count, scaled by
/// `replicas`, so that `count >= max` once it served `ceil(max / replicas)` itself.
pub fn local_share_count(local: u32, replicas: u32) -> u32 {
    local.saturating_mul(replicas.max(1))
}

/// An ad of `line_item` served to listener `user` while its caps could not be read
/// (`caps` Unavailable): counted towards this replica's fallback share.
pub fn served(
    shared: &Shared,
    index: &Index,
    caps: &Caps,
    user: Option<&str>,
    line_item: &str,
    now_unix: u64,
) {
    let periods = index.cap_periods(line_item);
    if matches!(caps, Caps::Unavailable) && user.is_some() && !periods.is_empty() {
        shared
            .served_degraded
            .record_impression(line_item, user, periods, Micros::ZERO, now_unix);
    }
}

/// A won ad of `line_item` at CPM `price`: spends its pacing lease here, on the replica
/// that served it. (Its impression may be billed on another replica, which holds no lease
/// of this one's: spending there let a replica whose own ads billed elsewhere bid on past
/// the goal, as the `replicas` load test measured.)
pub fn won(shared: &Arc<Shared>, index: &Index, line_item: &str, price: Micros, now_unix: u64) {
    if let Some(goals) = index.goals(line_item, now_unix) {
        crate::store::lease_spend(shared, line_item, &goals, price);
    }
}

/// A billed impression's shared writes, in the background: its cap counters (one script).
/// The local counters were written by the caller; its pacing lease was spent when it won.
pub fn record(shared: &Arc<Shared>, index: &Index, line_item: &str, imp: &Impression<'_>) {
    let periods = index.cap_periods(line_item);
    let Some(user) = imp.user_key.filter(|_| !periods.is_empty()) else {
        return;
    };
    let key = caps_key(shared, user);
    let fields: Vec<String> = periods
        .iter()
        .map(|&p| scripts::cap_field(line_item, p, imp.now_unix / p.max(1)))
        .collect();
    let ttl = periods.iter().copied().max().unwrap_or(1);
    let now = imp.now_unix;
    let me = shared.clone();
    shared.spawn(async move {
        let done = me
            .run(Op::CapsWrite, |mut c| async move {
                let mut call = scripts::CAPS_RECORD.key(&key);
                call.arg(now).arg(ttl);
                for f in &fields {
                    call.arg(f);
                }
                call.invoke_async::<i64>(&mut c).await
            })
            .await;
        if done.is_err() {
            me.fallback(Fallback::Caps);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cap_falls_back_to_its_share_per_replica() {
        // cap 1 over 3 replicas: each may serve once (ceil(1/3) = 1) while degraded.
        assert!(local_share_count(0, 3) < 1);
        assert!(local_share_count(1, 3) >= 1);
        // cap 6 over 3: two each.
        assert!(local_share_count(1, 3) < 6);
        assert!(local_share_count(2, 3) >= 6);
        // One replica: the local count is the count.
        assert_eq!(local_share_count(4, 1), 4);
    }
}
