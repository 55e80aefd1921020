//! Pacing with no Redis round trip per impression: each replica leases a line item's
//! budget in chunks (`LEASE`: Redis grants `min(ask, goal − granted)`), spends it locally
//! as its ads win, and gives back what is left on drain.
//!
//! - A line item with goals serves on a replica only while that replica's lease has room;
//!   at half a chunk left a refill is asked for in the background (never on the auction's
//!   path), so a busy line item does not stall between chunks.
//! - **Spent on the replica that served the ad, when it wins** — not where its impression
//!   is billed: behind a load balancer that is any replica, and one whose own ads billed
//!   elsewhere would never spend its lease, so it would bid on past the goal (the
//!   `replicas` load test delivered 407 impressions on a goal of 300 that way). A win past the lease (the
//!   auctions decided at once as it ran out) is spent anyway, as a debt: the next grant
//!   covers it first. A won ad that never plays counts as delivered: while the store is
//!   shared, a line item under-delivers by its unplayed wins rather than over-deliver.
//! - **Over-delivery bound.** The grants of all replicas never pass the goal, and a replica
//!   bids only while it holds lease: what can exceed the goal is only the auctions won at
//!   once as the last lease ran out (the debts left). Leases unspent at any time are at
//!   most `1.5 × lease_impressions` per replica.
//! - **Redis down:** no refill; each line item stops when its current lease runs out.
//!
//! Pacing's "delivered so far" is then the granted total as Redis last told it minus this
//! replica's unspent lease: other replicas' unspent leases count as delivered (pacing runs
//! a little ahead of the line, never behind it).

use super::{Fallback, Op, Shared, scripts};
use crate::internal::{Delivered, LeaseTerms};
use crate::money::Micros;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;
use tokio::time::Instant;

/// After Redis said a goal is used up (a grant of 0), ask again only after this long.
const DRY_PAUSE: Duration = Duration::from_secs(1);

/// One line item's lease on one replica (per UTC day when it has daily goals).
#[derive(Debug)]
struct Lease {
    goals: LeaseTerms,
    /// Unspent; below 0 = a debt the next grant covers first.
    impressions: AtomicI64,
    /// Unspent, in CPM micros (the sum of CPM prices, like goals' spend × 1000).
    cpm: AtomicI64,
    /// Granted totals as Redis last reported them (all replicas): total and today.
    granted_impressions: [AtomicU64; 2],
    granted_cpm: [AtomicI64; 2],
    asking: AtomicBool,
    /// Tokio-clock ms after which a dry line item may ask again (0: not dry).
    dry_until: AtomicU64,
}

/// Every line item's lease on this replica.
#[derive(Debug, Default)]
pub struct Budgets {
    leases: RwLock<HashMap<(String, u64), Arc<Lease>>>,
}

fn clock_ms(start: Instant) -> u64 {
    Instant::now().saturating_duration_since(start).as_millis() as u64 + 1
}

static EPOCH: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);

impl Budgets {
    fn get(&self, line_item: &str, goals: &LeaseTerms) -> Arc<Lease> {
        let key = (line_item.to_string(), goals.lease_day());
        if let Some(l) = self
            .leases
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return l.clone();
        }
        let mut all = self.leases.write().unwrap_or_else(PoisonError::into_inner);
        all.entry(key)
            .or_insert_with(|| {
                Arc::new(Lease {
                    goals: *goals,
                    impressions: AtomicI64::new(0),
                    cpm: AtomicI64::new(0),
                    granted_impressions: Default::default(),
                    granted_cpm: Default::default(),
                    asking: AtomicBool::new(false),
                    dry_until: AtomicU64::new(0),
                })
            })
            .clone()
    }

    /// Impressions leased and unspent over all line items (for the status page).
    pub fn outstanding(&self) -> i64 {
        let all = self.leases.read().unwrap_or_else(PoisonError::into_inner);
        all.values()
            .map(|l| l.impressions.load(Ordering::Relaxed).max(0))
            .sum()
    }

    /// Delivery so far as pacing sees it (see the module docs); `None` before any lease.
    pub fn delivered(&self, line_item: &str, day: Option<u64>) -> Option<Delivered> {
        let all = self.leases.read().unwrap_or_else(PoisonError::into_inner);
        let lease = all
            .get(&(line_item.to_string(), day.unwrap_or(0)))
            .or_else(|| {
                all.iter()
                    .filter(|((li, _), _)| li == line_item)
                    .map(|(_, l)| l)
                    .next()
            })?;
        let at = usize::from(day.is_some());
        let unspent = lease.impressions.load(Ordering::Relaxed).max(0) as u64;
        let cpm = lease.cpm.load(Ordering::Relaxed).max(0);
        Some(Delivered {
            impressions: lease.granted_impressions[at]
                .load(Ordering::Relaxed)
                .saturating_sub(unspent),
            spend: Micros((lease.granted_cpm[at].load(Ordering::Relaxed) - cpm).max(0) / 1000),
        })
    }
}

impl LeaseTerms {
    /// Leases of a line item with daily goals are per UTC day.
    fn lease_day(&self) -> u64 {
        if self.daily_impressions > 0 || self.daily_cpm > 0 {
            self.day
        } else {
            0
        }
    }
}

/// Whether `line_item` may bid now: its lease has room for one more impression. Asks for
/// a refill in the background when it runs low.
pub fn may_serve(shared: &Arc<Shared>, line_item: &str, goals: &LeaseTerms) -> bool {
    let lease = shared.budgets.get(line_item, goals);
    let imps = lease.impressions.load(Ordering::Relaxed);
    let cpm = lease.cpm.load(Ordering::Relaxed);
    let chunk = shared.cfg.lease_impressions as i64;
    let has_imps = goals.impressions_goal() == 0 || imps > 0;
    let has_cpm = goals.cpm_goal() == 0 || cpm >= goals.price_cpm.max(1);
    let low = (goals.impressions_goal() > 0 && imps * 2 <= chunk)
        || (goals.cpm_goal() > 0 && cpm * 2 <= chunk * goals.price_cpm.max(1));
    if low {
        refill(shared, line_item, lease);
    }
    has_imps && has_cpm
}

/// Spends one won ad at CPM `price` from `line_item`'s lease (a debt without one).
pub fn spend(shared: &Arc<Shared>, line_item: &str, goals: &LeaseTerms, price: Micros) {
    let lease = shared.budgets.get(line_item, goals);
    let imps = lease.impressions.fetch_sub(1, Ordering::Relaxed) - 1;
    let cpm = lease.cpm.fetch_sub(price.0.max(0), Ordering::Relaxed) - price.0.max(0);
    let chunk = shared.cfg.lease_impressions as i64;
    if imps * 2 <= chunk || cpm * 2 <= chunk * goals.price_cpm.max(1) {
        refill(shared, line_item, lease);
    }
}

/// Asks Redis for one more chunk (plus any debt), in the background, one ask at a time.
fn refill(shared: &Arc<Shared>, line_item: &str, lease: Arc<Lease>) {
    let dry = lease.dry_until.load(Ordering::Relaxed);
    if dry != 0 && clock_ms(*EPOCH) < dry {
        return;
    }
    if lease.asking.swap(true, Ordering::AcqRel) {
        return;
    }
    let chunk = shared.cfg.lease_impressions as i64;
    let g = lease.goals;
    let ask_imps = chunk - lease.impressions.load(Ordering::Relaxed).min(0);
    let price = g.price_cpm.max(1);
    let ask_cpm = chunk * price - lease.cpm.load(Ordering::Relaxed).min(0);
    let key = shared.key(format_args!("pace:{{li:{line_item}}}"));
    let day = g.day;
    let ttl = g.end_unix.saturating_sub(g.now_unix) + 3 * 86_400;
    let me = shared.clone();
    shared.spawn(async move {
        let fields = [
            "imps".to_string(),
            format!("imps:{day}"),
            "cpm".to_string(),
            format!("cpm:{day}"),
        ];
        let reply: Result<Vec<i64>, _> = me
            .run(Op::Lease, |mut c| async move {
                scripts::LEASE
                    .key(&key)
                    .arg(ttl)
                    .arg(ask_imps)
                    .arg(&fields[0])
                    .arg(g.total_impressions)
                    .arg(&fields[1])
                    .arg(g.daily_impressions)
                    .arg(ask_cpm)
                    .arg(&fields[2])
                    .arg(g.total_cpm)
                    .arg(&fields[3])
                    .arg(g.daily_cpm)
                    .invoke_async(&mut c)
                    .await
            })
            .await;
        match reply.as_deref() {
            Ok([imps, cpm, ..]) => {
                lease.impressions.fetch_add(*imps, Ordering::Relaxed);
                lease.cpm.fetch_add(*cpm, Ordering::Relaxed);
                me.metrics.lease_granted.increment((*imps).max(0) as u64);
                let limited_imps = g.impressions_goal() > 0 && *imps < ask_imps;
                let limited_cpm = g.cpm_goal() > 0 && *cpm < ask_cpm;
                if limited_imps || limited_cpm {
                    let until = clock_ms(*EPOCH) + DRY_PAUSE.as_millis() as u64;
                    lease.dry_until.store(until, Ordering::Relaxed);
                }
                // What all replicas were granted, as pacing's estimate of delivery.
                if let Ok([_, _, it, id, ct, cd]) = reply.as_deref() {
                    lease.granted_impressions[0].store((*it).max(0) as u64, Ordering::Relaxed);
                    lease.granted_impressions[1].store((*id).max(0) as u64, Ordering::Relaxed);
                    lease.granted_cpm[0].store(*ct, Ordering::Relaxed);
                    lease.granted_cpm[1].store(*cd, Ordering::Relaxed);
                }
            }
            _ => {
                // No lease: the line item stops when the one it holds runs out. Asked again
                // after a cool-off (through the store's breaker, which probes for us).
                me.fallback(Fallback::Pacing);
                let until = clock_ms(*EPOCH) + me.cfg.cooloff_ms;
                lease.dry_until.store(until, Ordering::Relaxed);
            }
        }
        lease.asking.store(false, Ordering::Release);
    });
}

/// Gives back every unspent lease (on drain).
pub(super) fn give_back(shared: &Arc<Shared>) -> impl std::future::Future<Output = ()> + use<> {
    let leases: Vec<((String, u64), Arc<Lease>)> = shared
        .budgets
        .leases
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|(k, l)| (k.clone(), l.clone()))
        .collect();
    let me = shared.clone();
    async move {
        for ((line_item, _), lease) in leases {
            let imps = lease.impressions.swap(0, Ordering::AcqRel).max(0);
            let cpm = lease.cpm.swap(0, Ordering::AcqRel).max(0);
            if imps == 0 && cpm == 0 {
                continue;
            }
            let day = lease.goals.day;
            let key = me.key(format_args!("pace:{{li:{line_item}}}"));
            let done = me
                .run(Op::LeaseReturn, |mut c| async move {
                    scripts::LEASE_RETURN
                        .key(&key)
                        .arg("imps")
                        .arg(imps)
                        .arg(format!("imps:{day}"))
                        .arg(imps)
                        .arg("cpm")
                        .arg(cpm)
                        .arg(format!("cpm:{day}"))
                        .arg(cpm)
                        .invoke_async::<i64>(&mut c)
                        .await
                })
                .await;
            if done.is_ok() {
                me.metrics.lease_returned.increment(imps as u64);
            }
        }
    }
}
