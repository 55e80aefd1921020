//! A circuit breaker per partner: after a run of failures the partner is skipped for a
//! cool-off period, then probed with a share of traffic, then restored.
//!
//! Why: a partner that is down costs every auction its full timeout and a connection; a
//! breaker turns that into an instant skip. The state machine takes the time and the random
//! draw as arguments, so it is tested without clocks or luck.
//!
//! Opening takes two facts, as in Envoy's outlier detection: a run of `failure_threshold`
//! failures, and — once the partner has `min_volume` judged calls in the last one to two
//! seconds — a failure share of at least `failure_rate` over them. At high traffic a run
//! of ten timeouts is a few milliseconds of a hiccup; the share says whether the partner is
//! failing or merely had one. (What counts as a failure at all is decided by the caller,
//! `fanout::judge`: bidgate's own lateness is never the partner's.)

use crate::config::CircuitBreakerConfig;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// `probing_since`: when the probe now in flight was admitted. One probe at a time, so a
    /// still-dead partner costs one auction per cool-off, not a share of all of them.
    HalfOpen {
        successes: u32,
        probing_since: Option<Instant>,
    },
}

/// What the breaker says about calling the partner now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Yes,
    /// Yes, as one of the probes of a recovering partner; `first` when this call moved the
    /// circuit from open to half-open (a state change to report).
    Probe {
        first: bool,
    },
    No,
}

/// The state name for metrics and the status endpoint.
pub fn state_name(s: &State) -> &'static str {
    match s {
        State::Closed { .. } => "closed",
        State::Open { .. } => "open",
        State::HalfOpen { .. } => "half_open",
    }
}

#[derive(Debug)]
pub struct Breaker {
    cfg: CircuitBreakerConfig,
    state: Mutex<(State, Window)>,
}

/// Judged calls and failures in the current and the previous second.
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    started: Option<Instant>,
    calls: [u32; 2],
    failures: [u32; 2],
}

impl Window {
    const SPAN: Duration = Duration::from_secs(1);

    fn record(&mut self, now: Instant, success: bool) {
        let started = *self.started.get_or_insert(now);
        let age = now.saturating_duration_since(started);
        if age >= Self::SPAN * 2 {
            *self = Window {
                started: Some(now),
                ..Default::default()
            };
        } else if age >= Self::SPAN {
            self.calls = [self.calls[1], 0];
            self.failures = [self.failures[1], 0];
            self.started = Some(started + Self::SPAN);
        }
        self.calls[1] += 1;
        self.failures[1] += u32::from(!success);
    }

    /// Whether the failure share allows opening (always, below `min_volume` calls).
    fn failing(&self, cfg: &CircuitBreakerConfig) -> bool {
        let calls = self.calls[0] + self.calls[1];
        let failures = self.failures[0] + self.failures[1];
        calls < cfg.min_volume || f64::from(failures) >= cfg.failure_rate * f64::from(calls)
    }
}

impl Breaker {
    pub fn new(cfg: CircuitBreakerConfig) -> Self {
        Self {
            cfg,
            state: Mutex::new((State::Closed { failures: 0 }, Window::default())),
        }
    }

    pub fn state(&self) -> State {
        self.lock().0
    }

    pub fn config(&self) -> &CircuitBreakerConfig {
        &self.cfg
    }

    /// Whether a timeout after waiting `waited` (of the partner's own `timeout_ms`, when
    /// `own_timeout`) says something about the partner rather than about a client's short tmax.
    pub fn timeout_is_failure(&self, waited: Duration, own_timeout: bool) -> bool {
        own_timeout || waited >= Duration::from_millis(self.cfg.timeout_counts_after_ms)
    }

    /// `draw` is uniform in [0, 1): the share of auctions that may probe while half-open.
    pub fn admit(&self, now: Instant, draw: f64) -> Admit {
        let mut guard = self.lock();
        let s = &mut guard.0;
        match *s {
            State::Closed { .. } => Admit::Yes,
            State::Open { until } if now < until => Admit::No,
            State::Open { .. } => {
                // The first call after the cool-off always probes.
                *s = State::HalfOpen {
                    successes: 0,
                    probing_since: Some(now),
                };
                Admit::Probe { first: true }
            }
            State::HalfOpen {
                successes,
                probing_since,
            } => {
                // A probe whose result never came (its auction was dropped) stops blocking
                // new probes after a cool-off.
                let busy = probing_since.is_some_and(|t| now < t + self.cooloff());
                if busy || draw >= self.cfg.probe_share {
                    return Admit::No;
                }
                *s = State::HalfOpen {
                    successes,
                    probing_since: Some(now),
                };
                Admit::Probe { first: false }
            }
        }
    }

    /// A probe whose result says nothing (cut short by a client's deadline) frees the probe
    /// slot at once, instead of blocking probes for a cool-off.
    pub fn release_probe(&self) {
        let s = &mut self.lock().0;
        if let State::HalfOpen { successes, .. } = *s {
            *s = State::HalfOpen {
                successes,
                probing_since: None,
            };
        }
    }

    /// Records a call's result; returns the new state when it changed.
    pub fn record(&self, now: Instant, success: bool) -> Option<State> {
        if self.cfg.failure_threshold == 0 {
            return None;
        }
        let mut guard = self.lock();
        let (s, window) = &mut *guard;
        window.record(now, success);
        let before = *s;
        *s = match (before, success) {
            (State::Closed { .. }, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false)
                if failures + 1 >= self.cfg.failure_threshold && window.failing(&self.cfg) =>
            {
                self.open(now)
            }
            (State::Closed { failures }, false) => State::Closed {
                failures: failures + 1,
            },
            (State::HalfOpen { successes, .. }, true)
                if successes + 1 >= self.cfg.probe_successes =>
            {
                State::Closed { failures: 0 }
            }
            (State::HalfOpen { successes, .. }, true) => State::HalfOpen {
                successes: successes + 1,
                probing_since: None,
            },
            (State::HalfOpen { .. }, false) => self.open(now),
            // A call admitted before the circuit opened may finish while it is open.
            (State::Open { .. }, _) => before,
        };
        (state_name(&before) != state_name(s)).then_some(*s)
    }

    fn open(&self, now: Instant) -> State {
        State::Open {
            until: now + self.cooloff(),
        }
    }

    fn cooloff(&self) -> Duration {
        Duration::from_millis(self.cfg.cooloff_ms)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (State, Window)> {
        // The state is a plain value: a panic elsewhere cannot leave it inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(threshold: u32) -> Breaker {
        Breaker::new(CircuitBreakerConfig {
            failure_threshold: threshold,
            cooloff_ms: 1000,
            probe_share: 0.25,
            probe_successes: 2,
            timeout_counts_after_ms: 100,
            failure_rate: 0.5,
            min_volume: 20,
        })
    }

    #[test]
    fn a_burst_of_failures_from_a_busy_healthy_partner_does_not_open() {
        let b = breaker(10);
        let t = Instant::now();
        let ms = Duration::from_millis;
        // 200 calls a second, 90% fine; then 15 timeouts in a row within 20 ms.
        for i in 0..200u64 {
            b.record(t + ms(i * 5), i % 10 != 0);
        }
        for i in 0..15u64 {
            assert_eq!(b.record(t + ms(1000 + i), false), None, "failure {i}");
        }
        assert_eq!(b.admit(t + ms(1020), 0.9), Admit::Yes);
        // The same partner failing for real: the share climbs past half and it opens.
        let opened = (0..400u64).find_map(|i| b.record(t + ms(1020 + i), false));
        assert!(matches!(opened, Some(State::Open { .. })), "{opened:?}");
    }

    #[test]
    fn a_quiet_partner_opens_on_the_run_alone() {
        let b = breaker(3);
        let t = Instant::now();
        b.record(t, false);
        b.record(t, false);
        assert!(matches!(b.record(t, false), Some(State::Open { .. })));
    }

    #[test]
    fn opens_after_a_run_of_failures_only() {
        let b = breaker(3);
        let t = Instant::now();
        b.record(t, false);
        b.record(t, false);
        b.record(t, true); // a success resets the run
        b.record(t, false);
        b.record(t, false);
        assert_eq!(b.admit(t, 0.9), Admit::Yes);
        assert!(matches!(b.record(t, false), Some(State::Open { .. })));
        assert_eq!(b.admit(t, 0.0), Admit::No);
        assert_eq!(b.admit(t + Duration::from_millis(999), 0.0), Admit::No);
    }

    #[test]
    fn probes_after_cooloff_then_restores() {
        let b = breaker(1);
        let t = Instant::now();
        b.record(t, false);
        let later = t + Duration::from_millis(1000);
        assert_eq!(
            b.admit(later, 0.9),
            Admit::Probe { first: true },
            "first call after cool-off probes"
        );
        assert_eq!(b.admit(later, 0.1), Admit::No, "one probe at a time");
        assert_eq!(b.record(later, true), None);
        assert_eq!(b.admit(later, 0.9), Admit::No, "75% of traffic still skips");
        assert_eq!(b.admit(later, 0.1), Admit::Probe { first: false });
        assert_eq!(b.record(later, true), Some(State::Closed { failures: 0 }));
        assert_eq!(b.admit(later, 0.9), Admit::Yes);
    }

    #[test]
    fn a_failed_probe_reopens() {
        let b = breaker(1);
        let t = Instant::now();
        b.record(t, false);
        let later = t + Duration::from_millis(1500);
        assert_eq!(b.admit(later, 0.0), Admit::Probe { first: true });
        assert!(
            matches!(b.record(later, false), Some(State::Open { until }) if until == later + Duration::from_millis(1000))
        );
        assert_eq!(b.admit(later, 0.0), Admit::No);
    }

    #[test]
    fn a_lost_probe_does_not_block_probing_forever() {
        let b = breaker(1);
        let t = Instant::now();
        b.record(t, false);
        let later = t + Duration::from_millis(1000);
        assert_eq!(b.admit(later, 0.0), Admit::Probe { first: true }); // its result never comes
        assert_eq!(b.admit(later + Duration::from_millis(999), 0.0), Admit::No);
        assert_eq!(
            b.admit(later + Duration::from_millis(1000), 0.0),
            Admit::Probe { first: false }
        );
    }

    #[test]
    fn a_released_probe_frees_the_slot_at_once() {
        let b = breaker(1);
        let t = Instant::now();
        b.record(t, false);
        let later = t + Duration::from_millis(1000);
        assert_eq!(b.admit(later, 0.0), Admit::Probe { first: true });
        b.release_probe(); // cut short by a client's deadline: says nothing
        assert_eq!(b.admit(later, 0.0), Admit::Probe { first: false });
    }

    #[test]
    fn only_fair_timeouts_blame_the_partner() {
        let b = breaker(1);
        let ms = Duration::from_millis;
        assert!(
            !b.timeout_is_failure(ms(35), false),
            "a client's 50 ms tmax"
        );
        assert!(
            b.timeout_is_failure(ms(35), true),
            "the partner's own 35 ms timeout"
        );
        assert!(b.timeout_is_failure(ms(185), false), "silent for 185 ms");
    }

    #[test]
    fn threshold_zero_disables() {
        let b = breaker(0);
        let t = Instant::now();
        for _ in 0..100 {
            b.record(t, false);
        }
        assert_eq!(b.admit(t, 0.9), Admit::Yes);
    }
}
