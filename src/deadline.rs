//! Time budgets: the request's effective tmax and what each partner may use of it.
//!
//! Everything here takes instants as arguments instead of reading the clock, so the rules
//! are testable without waiting; callers use `tokio::time::Instant`, which tests can pause.

use crate::config::AuctionConfig;
use std::time::Duration;
use tokio::time::Instant;

/// How far past its tmax an answer may be before it counts as late
/// (`bidgate_auctions_late_total`): the promise is tmax + 5 ms.
pub const LATE_GRACE: Duration = Duration::from_millis(5);

/// The answer to one client request must be written by `at()`.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub arrived: Instant,
    pub tmax: Duration,
    /// Kept back from the fan-out for the auction and the response: the configured
    /// `processing_reserve_ms` plus the worker's recent lag (see [`Deadline::new`]).
    pub reserve: Duration,
}

impl Deadline {
    /// `tmax_ms` is the request's `tmax` (validated ≥ 0); 0 or absent means the default.
    /// `jitter`: how far behind schedule this worker has recently run
    /// (`limits::recent_lag`), added to the processing reserve (at most a quarter of the
    /// tmax). Why: the fan-out closes `processing_reserve_ms` before the deadline, and an
    /// answer counts late 5 ms after it, so 10 ms of slack is all there is between the
    /// close and a late answer; a worker that has just been 15 ms late waking up (a busy
    /// neighbour, a stolen vCPU) will be again, and its timers then fire past the deadline.
    /// Measured in `loadtest yield` with every partner waited for up to the deadline: 17 of
    /// 1,800 answers 5–18 ms late with the fixed reserve.
    pub fn new(
        arrived: Instant,
        tmax_ms: Option<i64>,
        cfg: &AuctionConfig,
        jitter: Duration,
    ) -> Self {
        let ms = match tmax_ms {
            Some(t) if t > 0 => (t as u64).min(cfg.max_tmax_ms),
            _ => cfg.default_tmax_ms,
        };
        let tmax = Duration::from_millis(ms);
        // Whole milliseconds, as the replay record keeps it (whatif closes where this did).
        let jitter = Duration::from_millis(jitter.min(tmax / 4).as_millis() as u64);
        let reserve = Duration::from_millis(cfg.processing_reserve_ms) + jitter;
        Self {
            arrived,
            tmax,
            reserve: reserve.min(tmax),
        }
    }

    pub fn at(&self) -> Instant {
        self.arrived + self.tmax
    }

    /// When the fan-out stops waiting: the deadline less the reserve.
    pub fn fanout_close(&self) -> Instant {
        self.at() - self.reserve
    }
}

/// What one partner gets: the `tmax` it is told and the instant we stop waiting for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartnerBudget {
    pub tmax_ms: u64,
    pub wait_until: Instant,
    /// Whether the wait is bounded by the partner's own `timeout_ms` rather than by the
    /// request's deadline. Only then does a timeout say something about the partner.
    pub own_timeout: bool,
}

/// `min(timeout_ms, time left − network_buffer − reserve)`, or `None` when that
/// leaves less than a millisecond: a request the partner cannot answer in time is not sent.
pub fn partner_budget(
    now: Instant,
    deadline: &Deadline,
    timeout_ms: u64,
    cfg: &AuctionConfig,
) -> Option<PartnerBudget> {
    let left = deadline.at().saturating_duration_since(now).as_millis() as u64;
    let reserve = deadline.reserve.as_millis() as u64;
    let tmax_ms = left
        .saturating_sub(cfg.network_buffer_ms + reserve)
        .min(timeout_ms);
    if tmax_ms == 0 {
        return None;
    }
    let own = now + Duration::from_millis(timeout_ms);
    let close = deadline.fanout_close();
    Some(PartnerBudget {
        tmax_ms,
        wait_until: own.min(close),
        own_timeout: own <= close,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> AuctionConfig {
        AuctionConfig {
            default_tmax_ms: 300,
            max_tmax_ms: 1000,
            network_buffer_ms: 10,
            processing_reserve_ms: 5,
            ..AuctionConfig::default()
        }
    }

    #[test]
    fn effective_tmax_defaults_and_caps() {
        let now = Instant::now();
        let c = cfg();
        assert_eq!(
            Deadline::new(now, None, &c, Duration::ZERO).tmax,
            Duration::from_millis(300)
        );
        assert_eq!(
            Deadline::new(now, Some(0), &c, Duration::ZERO).tmax,
            Duration::from_millis(300)
        );
        assert_eq!(
            Deadline::new(now, Some(120), &c, Duration::ZERO).tmax,
            Duration::from_millis(120)
        );
        assert_eq!(
            Deadline::new(now, Some(5000), &c, Duration::ZERO).tmax,
            Duration::from_millis(1000)
        );
    }

    #[test]
    fn partner_is_told_the_smaller_of_its_timeout_and_time_left() {
        let t0 = Instant::now();
        let c = cfg();
        let d = Deadline::new(t0, Some(200), &c, Duration::ZERO);
        // 200 - 10 - 5 = 185 left for the partner; its own timeout is smaller.
        let b = partner_budget(t0, &d, 150, &c).unwrap();
        assert_eq!(b.tmax_ms, 150);
        assert_eq!(b.wait_until, t0 + Duration::from_millis(150));
        assert!(b.own_timeout);
        // 20 ms already spent reading the body: 165 left, and never past the fan-out close.
        let later = t0 + Duration::from_millis(20);
        let b = partner_budget(later, &d, 500, &c).unwrap();
        assert_eq!(b.tmax_ms, 165);
        assert_eq!(b.wait_until, t0 + Duration::from_millis(195));
        assert!(!b.own_timeout, "the client's deadline bounds this wait");
    }

    #[test]
    fn a_worker_that_ran_late_keeps_more_back_at_most_a_quarter_of_the_tmax() {
        let t0 = Instant::now();
        let c = cfg();
        let ms = Duration::from_millis;
        let d = Deadline::new(t0, Some(200), &c, ms(12));
        assert_eq!(d.reserve, ms(17), "5 configured + 12 of recent lag");
        assert_eq!(d.fanout_close(), t0 + ms(183));
        let b = partner_budget(t0, &d, 500, &c).unwrap();
        assert_eq!((b.tmax_ms, b.wait_until), (173, t0 + ms(183)));
        let d = Deadline::new(t0, Some(200), &c, ms(500));
        assert_eq!(d.reserve, ms(55), "5 + a quarter of 200");
        let d = Deadline::new(t0, Some(200), &c, Duration::from_micros(2_700));
        assert_eq!(d.reserve, ms(7), "whole ms");
    }

    #[test]
    fn no_budget_when_time_is_up() {
        let t0 = Instant::now();
        let c = cfg();
        let d = Deadline::new(t0, Some(50), &c, Duration::ZERO);
        assert!(partner_budget(t0 + Duration::from_millis(35), &d, 100, &c).is_none());
        assert!(partner_budget(t0 + Duration::from_millis(80), &d, 100, &c).is_none());
    }
}
