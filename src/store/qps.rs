//! A partner's QPS cap held across replicas: per one-second window, tokens are leased from
//! Redis in chunks (`QPS_LEASE` grants `min(ask, qps_limit − taken)`), so that a call costs
//! no round trip and all replicas together send at most `qps_limit` in any one window.
//! A replica short of tokens skips the partner (as over any QPS cap) and asks for more in
//! the background. While Redis is unreachable, each replica holds `qps_limit / replicas`
//! with a local limiter.

use super::{Fallback, Op, Shared, scripts};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Tokens on hand for one second window.
#[derive(Debug, Default)]
struct Window {
    second: u64,
    tokens: u64,
}

/// One partner's global QPS cap on this replica.
pub struct QpsCap {
    pub limit: u32,
    partner: String,
    shared: Arc<Shared>,
    window: Mutex<Window>,
    asking: AtomicBool,
    /// `qps_limit / replicas`, while Redis is unreachable.
    fallback: DefaultDirectRateLimiter,
}

impl std::fmt::Debug for QpsCap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QpsCap")
            .field("partner", &self.partner)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

/// The local share of a global limit while Redis is unreachable: `limit / replicas`, at
/// least 1.
pub fn local_share(limit: u32, replicas: u32) -> u32 {
    (limit / replicas.max(1)).max(1)
}

/// The tokens one lease asks for: `share` of the limit, at least 1.
pub fn chunk(limit: u32, share: f64) -> u64 {
    ((f64::from(limit) * share).ceil() as u64).clamp(1, u64::from(limit))
}

impl QpsCap {
    pub fn new(partner: &str, limit: NonZeroU32, shared: Arc<Shared>) -> Self {
        let local = local_share(limit.get(), shared.replicas());
        Self {
            limit: limit.get(),
            partner: partner.to_string(),
            window: Mutex::default(),
            asking: AtomicBool::new(false),
            fallback: RateLimiter::direct(Quota::per_second(
                NonZeroU32::new(local).unwrap_or(NonZeroU32::MIN),
            )),
            shared,
        }
    }

    /// Whether it leases from `store` (a reload keeps it only then).
    pub fn same_store(&self, store: &Arc<Shared>) -> bool {
        Arc::ptr_eq(&self.shared, store)
    }

    /// Takes one call from the allowance; `false`: skip the partner this time.
    pub fn take(self: &Arc<Self>) -> bool {
        let now = unix_now();
        if self.shared.degraded() {
            self.shared.fallback(Fallback::Qps);
            // Asks again once a second (the store's breaker decides whether it is sent).
            let new_second = {
                let mut w = self.window.lock().unwrap_or_else(PoisonError::into_inner);
                let new = w.second != now;
                if new {
                    *w = Window {
                        second: now,
                        tokens: 0,
                    };
                }
                new
            };
            if new_second {
                self.ask(now);
            }
            return self.fallback.check().is_ok();
        }
        let (ok, low) = {
            let mut w = self.window.lock().unwrap_or_else(PoisonError::into_inner);
            if w.second != now {
                *w = Window {
                    second: now,
                    tokens: 0,
                };
            }
            let ok = w.tokens > 0;
            w.tokens = w.tokens.saturating_sub(1);
            (
                ok,
                w.tokens * 2 < chunk(self.limit, self.shared.cfg.qps_lease_share),
            )
        };
        if low {
            self.ask(now);
        }
        ok
    }

    /// Leases a chunk of window `second`'s tokens in the background, one ask at a time.
    fn ask(self: &Arc<Self>, second: u64) {
        if self.asking.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.clone();
        let key = self
            .shared
            .key(format_args!("qps:{{p:{}}}:{second}", self.partner));
        let ask = chunk(self.limit, self.shared.cfg.qps_lease_share);
        let limit = self.limit;
        self.shared.spawn(async move {
            let got = me
                .shared
                .run(Op::QpsLease, |mut c| async move {
                    scripts::QPS_LEASE
                        .key(&key)
                        .arg(limit)
                        .arg(ask)
                        .invoke_async::<u64>(&mut c)
                        .await
                })
                .await;
            if let Ok(n) = got {
                me.shared.metrics.qps_tokens.increment(n);
                let mut w = me.window.lock().unwrap_or_else(PoisonError::into_inner);
                if w.second == second {
                    w.tokens += n;
                }
            }
            me.asking.store(false, Ordering::Release);
        });
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_splits_the_cap_and_never_reaches_zero() {
        assert_eq!(local_share(1000, 4), 250);
        assert_eq!(local_share(10, 3), 3);
        assert_eq!(local_share(1, 5), 1);
        assert_eq!(local_share(7, 0), 7);
    }

    #[test]
    fn a_lease_is_a_share_of_the_limit_within_it() {
        assert_eq!(chunk(1000, 0.1), 100);
        assert_eq!(chunk(5, 0.1), 1);
        assert_eq!(chunk(5, 1.0), 5);
    }
}
