//! Load shedding: refuse an auction at once (503) when it could not finish in time anyway.
//!
//! Two signals. Concurrency (`server.max_in_flight`) bounds the work admitted. Worker lag
//! catches what concurrency cannot see: when both cores are saturated, requests wait in
//! socket buffers and run queues *before* their handler starts, where the deadline clock has
//! not started yet. A worker whose timers fire late is a worker whose requests waited that
//! long unseen: their arrival is backdated by the lag (so the deadline still holds for the
//! client), and past `server.max_worker_lag_ms` the worker stops admitting until it catches up.

use crate::config::{ClientKey, ClientRateLimitConfig};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::cell::Cell;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// How often each worker measures its own lag.
const TICK: Duration = Duration::from_millis(5);

thread_local! {
    /// This worker's lag at its ticker's last run, in microseconds.
    static LAG_US: Cell<u64> = const { Cell::new(0) };
    /// When the ticker is next due. While the worker is stuck, `now − due` is the lag the
    /// requests being polled right now have suffered, before the ticker can report it.
    static DUE: Cell<Option<Instant>> = const { Cell::new(None) };
    static TICKING: Cell<bool> = const { Cell::new(false) };
}

/// Starts the lag ticker on the current worker thread, once per thread. Called from the
/// per-worker app factory, so each actix worker measures its own event loop.
pub fn start_worker_ticker() {
    if TICKING.with(|t| t.replace(true)) {
        return;
    }
    tokio::task::spawn_local(async {
        loop {
            let due = Instant::now() + TICK;
            DUE.with(|d| d.set(Some(due)));
            tokio::time::sleep_until(due).await;
            let lag = due.elapsed();
            LAG_US.with(|l| l.set(lag.as_micros() as u64));
        }
    });
}

/// The calling worker's current lag: the last measured one, or how overdue the ticker is
/// now, whichever is larger (0 on threads without a ticker).
pub fn worker_lag() -> Duration {
    let last = Duration::from_micros(LAG_US.with(Cell::get));
    let overdue = DUE.with(Cell::get).map_or(Duration::ZERO, |due| {
        Instant::now().saturating_duration_since(due)
    });
    last.max(overdue)
}

/// The inbound limit per client key (`client_rate_limit`): a GCRA limiter per key.
pub struct ClientLimiter {
    pub cfg: ClientRateLimitConfig,
    limiter: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    checks: AtomicU64,
}

impl ClientLimiter {
    /// `None` when the limit is off (`requests_per_second = 0`).
    pub fn new(cfg: &ClientRateLimitConfig) -> Option<Self> {
        let rate = NonZeroU32::new(cfg.requests_per_second)?;
        let burst = NonZeroU32::new(cfg.burst).unwrap_or(rate);
        Some(Self {
            cfg: cfg.clone(),
            limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
        })
    }

    /// Takes one request from `key`'s allowance, or says how long until the next one.
    pub fn check(&self, key: String) -> Result<(), Duration> {
        // Forget idle clients now and then, so that the key set stays bounded.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// The key of a client: the first of the configured sources it has.
    pub fn key_of(
        &self,
        api_key: Option<&str>,
        bundle: Option<&str>,
        ip: Option<std::net::IpAddr>,
    ) -> String {
        for source in &self.cfg.key {
            let key = match source {
                ClientKey::ApiKey => api_key.map(|k| format!("key:{k}")),
                ClientKey::AppBundle => bundle.map(|b| format!("app:{b}")),
                ClientKey::Ip => ip.map(|ip| format!("ip:{ip}")),
            };
            if let Some(key) = key {
                return key;
            }
        }
        "anonymous".to_string()
    }
}

/// Why an auction was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shed {
    InFlight(usize),
    WorkerLag(Duration),
}

impl Shed {
    /// The `scope` label of `bidgate_rate_limited_total`.
    pub fn scope(&self) -> &'static str {
        match self {
            Shed::InFlight(_) => "in_flight",
            Shed::WorkerLag(_) => "worker_lag",
        }
    }
}

impl std::fmt::Display for Shed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shed::InFlight(n) => write!(f, "{n} auctions in flight"),
            Shed::WorkerLag(d) => write!(f, "worker running {} ms behind", d.as_millis()),
        }
    }
}

#[cfg(test)]
pub(crate) fn set_worker_lag_for_test(lag: Duration) {
    LAG_US.with(|l| l.set(lag.as_micros() as u64));
}
