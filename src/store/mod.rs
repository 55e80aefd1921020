//! Shared state: the one seam between bidgate and the store that replicas share (`[store]`).
//!
//! With `backend = "memory"` nothing here talks to anyone: every use keeps its state in
//! this process, as a single replica needs. With `redis`, this module owns the connection
//! (one multiplexed, reconnecting `ConnectionManager`), the bound on every round trip
//! (`timeout_ms`), a breaker in front of Redis and the degradation state, so that the uses
//! — billing dedup (`events::dedup` via `billing`), frequency caps and pacing leases
//! (`direct`), partner QPS caps (`partners`) — each ask `Shared` and get an answer or
//! `Unavailable`, never a wait: Redis down, slow or not yet connected is one value, and
//! each use has its written fallback (docs/operations.md).
//!
//! - `breaker.rs`: consecutive failures open it; while open every use falls back at once;
//!   after `cooloff_ms` one probe asks again.
//! - `scripts.rs`: the Lua scripts (atomic on the Redis side) and the key names.
//! - `lease.rs`: pacing budgets leased in chunks and spent locally.
//! - `dedup.rs`: billing dedup of impressions (`SET NX`), behind the local memory.
//! - `qps.rs`: partner QPS caps held globally by leased tokens per second window.
//!
//! Nothing here runs on an auction's path except `run` (bounded by `timeout_ms`); writes
//! and lease refills are spawned tasks, bounded the same way.

mod breaker;
pub mod dedup;
mod lease;
mod metrics;
mod qps;
pub mod scripts;

pub use lease::{Budgets, may_serve as lease_may_serve, spend as lease_spend};
pub use metrics::{Fallback, Op};
pub use qps::QpsCap;

use metrics::Metrics;

use crate::config::{StoreBackend, StoreConfig};
use arc_swap::ArcSwapOption;
use redis::aio::ConnectionManager;
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Room for the fallback's served-ad counters (see `Shared::served_degraded`): a listener
/// whose counter is evicted may see a capped ad again early during an outage.
const SERVED_DEGRADED_COUNTERS: u64 = 100_000;

/// Redis could not answer in time (down, slow, not connected, breaker open, too busy):
/// the caller applies its fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

/// The Redis side: client, connection (once made), breaker.
struct Redis {
    client: redis::Client,
    conn: ArcSwapOption<ConnectionManager>,
    connecting: AtomicBool,
    breaker: breaker::Breaker,
    in_flight: AtomicUsize,
}

/// Whether a timed-out round trip's timer fired late — more than `limit` after it was due:
/// then this process was behind (a stalled worker, a starved CPU), and every round trip in
/// flight timed out at once with it. Like a partner's timeout while bidgate is behind
/// (`fanout::judge`), that is not held against Redis: counted, it opened the breaker for a
/// `cooloff_ms` of fallbacks (caps at their per-replica share) on a busy machine with
/// Redis healthy, as the `replicas` load test found at the 5 ms default.
fn timer_was_late(limit: Duration, elapsed: Duration) -> bool {
    elapsed > limit.saturating_mul(2)
}

/// The store replicas share, or none (`memory`). One per `[store]` config, kept by
/// `gateway::State` across reloads while that section is unchanged.
pub struct Shared {
    pub cfg: StoreConfig,
    redis: Option<Redis>,
    metrics: Metrics,
    /// Background writes not yet answered (status: a test or an operator can wait for 0).
    pending: AtomicUsize,
    /// Direct demand's pacing leases.
    pub budgets: Budgets,
    /// Direct demand's ads served for capped line items while the caps could not be read,
    /// per listener and cap window: a cap's fallback share counts them (`direct::shared`),
    /// since their impressions may be billed on other replicas.
    pub served_degraded: crate::internal::MemoryStore,
}

/// What `/admin/status` shows of the store.
#[derive(Debug, Serialize)]
pub struct StoreView {
    pub backend: &'static str,
    /// `memory`, `up` or `degraded` (Redis unreachable: fallbacks apply).
    pub state: &'static str,
    pub consecutive_failures: u32,
    pub pending_writes: usize,
    /// Impressions leased and not yet spent, over all line items.
    pub leased_impressions: i64,
}

impl Shared {
    /// The store for `cfg`. With Redis, connecting starts now in the background when a
    /// runtime is running, else at the first use: nothing waits for it.
    pub fn new(cfg: &StoreConfig) -> Result<Arc<Shared>, String> {
        let redis = match cfg.backend {
            StoreBackend::Memory => None,
            StoreBackend::Redis => Some(Redis {
                client: redis::Client::open(cfg.url.as_str())
                    .map_err(|e| format!("store.url: {e}"))?,
                conn: ArcSwapOption::empty(),
                connecting: AtomicBool::new(false),
                breaker: breaker::Breaker::new(
                    cfg.failure_threshold,
                    Duration::from_millis(cfg.cooloff_ms),
                ),
                in_flight: AtomicUsize::new(0),
            }),
        };
        let shared = Arc::new(Shared {
            cfg: cfg.clone(),
            redis,
            metrics: Metrics::new(),
            pending: AtomicUsize::new(0),
            budgets: Budgets::default(),
            served_degraded: crate::internal::MemoryStore::new(SERVED_DEGRADED_COUNTERS),
        });
        shared.metrics.up.set(0.0);
        if shared.redis.is_some() && tokio::runtime::Handle::try_current().is_ok() {
            shared.clone().connect();
        }
        Ok(shared)
    }

    /// A memory store (tests, and the default).
    pub fn memory() -> Arc<Shared> {
        Shared::new(&StoreConfig::default()).expect("the memory store needs nothing")
    }

    /// Whether state is shared (Redis configured), whatever its health.
    pub fn is_shared(&self) -> bool {
        self.redis.is_some()
    }

    /// Whether Redis may be asked now: connected and its breaker closed (or a probe due).
    /// While not, every use applies its fallback.
    pub fn degraded(&self) -> bool {
        match &self.redis {
            None => false,
            Some(r) => r.conn.load().is_none() || r.breaker.is_open(Instant::now()),
        }
    }

    /// The number of replicas global limits are split by while degraded.
    pub fn replicas(&self) -> u32 {
        self.cfg.replicas.max(1)
    }

    pub fn fallback(&self, what: Fallback) {
        self.metrics.fallback(what);
    }

    /// A key under the configured prefix.
    pub fn key(&self, rest: std::fmt::Arguments<'_>) -> String {
        format!("{}:{rest}", self.cfg.key_prefix)
    }

    /// One Redis round trip `f`, bounded by `timeout_ms`; `Unavailable` at once while the
    /// breaker is open, before the connection is made, or past `max_in_flight` commands.
    pub async fn run<T, F, Fut>(self: &Arc<Self>, op: Op, f: F) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let Some(r) = &self.redis else {
            return Err(Unavailable);
        };
        let skipped = || {
            self.metrics.op(op, 3);
            Err(Unavailable)
        };
        if !r.breaker.admit(Instant::now()) {
            return skipped();
        }
        let Some(conn) = r.conn.load_full() else {
            r.breaker.release_probe();
            self.clone().connect();
            return skipped();
        };
        if r.in_flight.fetch_add(1, Ordering::AcqRel) >= self.cfg.max_in_flight {
            r.in_flight.fetch_sub(1, Ordering::AcqRel);
            r.breaker.release_probe();
            return skipped();
        }
        let limit = Duration::from_millis(self.cfg.timeout_ms);
        let started = Instant::now();
        let result = tokio::time::timeout(limit, f((*conn).clone())).await;
        r.in_flight.fetch_sub(1, Ordering::AcqRel);
        let (outcome, value) = match result {
            Ok(Ok(v)) => (0, Ok(v)),
            Ok(Err(e)) => {
                tracing::debug!(op = op.name(), error = %e, "redis operation failed");
                (1, Err(Unavailable))
            }
            Err(_) => (2, Err(Unavailable)),
        };
        self.metrics.op(op, outcome);
        if outcome == 2 && timer_was_late(limit, started.elapsed()) {
            // This process was behind, not Redis: nothing learnt (a probe may go again).
            r.breaker.release_probe();
        } else {
            self.record(outcome == 0);
        }
        value
    }

    /// Runs `task` (a write or a lease refill) in the background, counted as pending until
    /// it ends; without a runtime (a sync caller outside the server), it is dropped.
    pub fn spawn(self: &Arc<Self>, task: impl Future<Output = ()> + Send + 'static) {
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        self.pending.fetch_add(1, Ordering::AcqRel);
        let me = self.clone();
        tokio::spawn(async move {
            task.await;
            me.pending.fetch_sub(1, Ordering::AcqRel);
        });
    }

    fn record(&self, ok: bool) {
        let Some(r) = &self.redis else { return };
        match r.breaker.record(Instant::now(), ok) {
            Some(true) => {
                tracing::info!("redis is back: shared state is exact again");
                self.metrics.up.set(1.0);
            }
            Some(false) => {
                tracing::warn!("redis unreachable: serving degraded (local fallbacks)");
                self.metrics.up.set(0.0);
            }
            None => {}
        }
    }

    /// Connects in the background (at start, and again after a failed attempt).
    fn connect(self: Arc<Self>) {
        let Some(r) = &self.redis else { return };
        if r.connecting.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let Some(r) = &me.redis else { return };
            let limit = Duration::from_millis(me.cfg.connect_timeout_ms);
            let config = redis::aio::ConnectionManagerConfig::new()
                .set_connection_timeout(Some(limit))
                .set_response_timeout(Some(limit))
                .set_number_of_retries(2)
                .set_max_delay(Duration::from_millis(me.cfg.cooloff_ms));
            let made = tokio::time::timeout(
                limit,
                ConnectionManager::new_with_config(r.client.clone(), config),
            )
            .await;
            match made {
                Ok(Ok(conn)) => {
                    r.conn.store(Some(Arc::new(conn)));
                    r.breaker.reset();
                    me.metrics.up.set(1.0);
                    tracing::info!("connected to redis");
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot connect to redis: serving degraded");
                    r.breaker.trip(Instant::now());
                }
                Err(_) => {
                    tracing::warn!("connecting to redis timed out: serving degraded");
                    r.breaker.trip(Instant::now());
                }
            }
            r.connecting.store(false, Ordering::Release);
        });
    }

    /// What the status page shows.
    pub fn view(&self) -> StoreView {
        let (backend, state, failures) = match &self.redis {
            None => ("memory", "memory", 0),
            Some(r) => (
                "redis",
                if self.degraded() { "degraded" } else { "up" },
                r.breaker.failures(),
            ),
        };
        StoreView {
            backend,
            state,
            consecutive_failures: failures,
            pending_writes: self.pending.load(Ordering::Acquire),
            leased_impressions: self.budgets.outstanding(),
        }
    }

    /// On drain (SIGTERM): gives back every unspent lease, so other replicas can deliver
    /// it. Bounded: at most `timeout_ms` per line item, and 2 s in all.
    pub async fn drain(self: &Arc<Self>) {
        if self.redis.is_none() {
            return;
        }
        let all = lease::give_back(self);
        let _ = tokio::time::timeout(Duration::from_secs(2), all).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_whose_timer_fired_late_is_this_process_being_behind() {
        let ms = Duration::from_millis;
        assert!(!timer_was_late(ms(5), ms(5)), "on time: Redis was slow");
        assert!(!timer_was_late(ms(5), ms(9)), "within a timer's slack");
        assert!(timer_was_late(ms(5), ms(30)), "a stalled worker");
    }
}
