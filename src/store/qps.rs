//! A partner's QPS cap held across replicas: per one-second window, tokens are leased from
//! Redis in chunks (`QPS_LEASE` grants `min(ask, qps_limit − taken)`), so that a call costs
//! no round trip and all replicas together send at most `qps_limit` in any one window.
//! A replica short of tokens skips the partner (as over any QPS cap) and asks for more in
//! the background. While Redis is unreachable, each replica holds `qps_limit / replicas`
//! per the same one-second windows, counting what it already sent in the window: the
//! second Redis goes away in does not add a fresh allowance on top of the leased tokens
//! spent (an idle token bucket would: up to twice the cap in that second, as the
//! `replicas` load test measured).

use super::{Fallback, Op, Shared, scripts};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Tokens on hand for one second window, and the calls this replica made in it.
#[derive(Debug, Default)]
struct Window {
    second: u64,
    tokens: u64,
    used: u64,
}

impl Window {
    /// The window of `second`: this one, or a fresh one.
    fn at(&mut self, second: u64) -> &mut Self {
        if self.second != second {
            *self = Window {
                second,
                ..Window::default()
            };
        }
        self
    }
}

/// One partner's global QPS cap on this replica.
pub struct QpsCap {
    pub limit: u32,
    partner: String,
    shared: Arc<Shared>,
    window: Mutex<Window>,
    asking: AtomicBool,
    /// `qps_limit / replicas`: calls per window while Redis is unreachable.
    share: u64,
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
        Self {
            limit: limit.get(),
            partner: partner.to_string(),
            window: Mutex::default(),
            asking: AtomicBool::new(false),
            share: u64::from(local_share(limit.get(), shared.replicas())),
            shared,
        }
    }

    /// Whether it leases from `store` (a reload keeps it only then).
    pub fn same_store(&self, store: &Arc<Shared>) -> bool {
        Arc::ptr_eq(&self.shared, store)
    }

    /// Takes one call from the allowance; `false`: skip the partner this time.
    pub fn take(self: &Arc<Self>) -> bool {
        self.take_at(unix_now())
    }

    /// `take` in the window of unix second `now`.
    fn take_at(self: &Arc<Self>, now: u64) -> bool {
        if self.shared.degraded() {
            self.shared.fallback(Fallback::Qps);
            let (ok, new_second) = {
                let mut guard = self.window.lock().unwrap_or_else(PoisonError::into_inner);
                let new = guard.second != now;
                let w = guard.at(now);
                let ok = w.used < self.share;
                w.used += u64::from(ok);
                (ok, new)
            };
            // Asks again once a second (the store's breaker decides whether it is sent).
            if new_second {
                self.ask(now);
            }
            return ok;
        }
        let (ok, low) = {
            let mut guard = self.window.lock().unwrap_or_else(PoisonError::into_inner);
            let w = guard.at(now);
            let ok = w.tokens > 0;
            w.tokens = w.tokens.saturating_sub(1);
            w.used += u64::from(ok);
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

    /// Redis unreachable (never connected here): each window allows the replica's share,
    /// counting what it already sent in that window.
    #[test]
    fn while_degraded_each_window_allows_the_share_less_what_it_already_used() {
        let cfg = crate::config::StoreConfig {
            backend: crate::config::StoreBackend::Redis,
            url: "redis://127.0.0.1:1".into(),
            replicas: 3,
            ..Default::default()
        };
        let shared = Shared::new(&cfg).expect("a store");
        assert!(shared.degraded());
        let cap = Arc::new(QpsCap::new("p", NonZeroU32::new(30).unwrap(), shared));
        let allowed = |second| (0..50).filter(|_| cap.take_at(second)).count();
        assert_eq!(allowed(100), 10, "30 over 3 replicas");
        assert_eq!(allowed(100), 0, "the window's share is spent");
        assert_eq!(allowed(101), 10, "a new window");
        // Calls already made in a window (on leased tokens, before Redis went away) count.
        cap.window.lock().unwrap().at(102).used = 7;
        assert_eq!(allowed(102), 3);
    }

    #[test]
    fn a_lease_is_a_share_of_the_limit_within_it() {
        assert_eq!(chunk(1000, 0.1), 100);
        assert_eq!(chunk(5, 0.1), 1);
        assert_eq!(chunk(5, 1.0), 5);
    }
}
