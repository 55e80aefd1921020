//! The breaker in front of Redis: a run of `threshold` failed or late operations opens it;
//! while open, every use falls back at once (no connection attempt, no timeout spent);
//! after `cooloff` one operation is let through as a probe, and its success closes it.
//! Instants are passed in, so the state machine is tested without sleeping.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Default)]
struct Inner {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooloff: Duration,
    inner: Mutex<Inner>,
}

impl Breaker {
    pub fn new(threshold: u32, cooloff: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooloff,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether it is open at `now` (a due probe does not count as closed).
    pub fn is_open(&self, _now: Instant) -> bool {
        self.lock().open_until.is_some()
    }

    pub fn failures(&self) -> u32 {
        self.lock().failures
    }

    /// Whether an operation may go to Redis at `now`: closed, or the one probe after
    /// the cool-off.
    pub fn admit(&self, now: Instant) -> bool {
        let mut s = self.lock();
        match s.open_until {
            None => true,
            Some(until) if now >= until && !s.probing => {
                s.probing = true;
                true
            }
            Some(_) => false,
        }
    }

    /// An admitted probe did not reach Redis after all (nothing learnt).
    pub fn release_probe(&self) {
        self.lock().probing = false;
    }

    /// Records an operation's outcome; `Some(true)` when this closed the breaker,
    /// `Some(false)` when it opened it.
    pub fn record(&self, now: Instant, ok: bool) -> Option<bool> {
        let mut s = self.lock();
        if ok {
            s.failures = 0;
            s.probing = false;
            return s.open_until.take().map(|_| true);
        }
        s.failures = s.failures.saturating_add(1);
        let was_open = s.open_until.is_some();
        if s.probing || s.failures >= self.threshold {
            s.probing = false;
            s.open_until = Some(now + self.cooloff);
            return (!was_open).then_some(false);
        }
        None
    }

    /// Opens it now (a connection attempt failed).
    pub fn trip(&self, now: Instant) {
        let mut s = self.lock();
        s.failures = s.failures.max(self.threshold);
        s.probing = false;
        s.open_until = Some(now + self.cooloff);
    }

    /// Closes it (connected).
    pub fn reset(&self) {
        *self.lock() = Inner::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_of_failures_opens_it_and_one_probe_closes_it() {
        let b = Breaker::new(3, Duration::from_secs(1));
        let t0 = Instant::now();
        assert_eq!(b.record(t0, false), None);
        assert_eq!(b.record(t0, false), None);
        assert_eq!(b.record(t0, false), Some(false));
        assert!(!b.admit(t0), "open: fail fast");
        let later = t0 + Duration::from_secs(1);
        assert!(b.admit(later), "one probe after the cool-off");
        assert!(!b.admit(later), "only one at a time");
        assert_eq!(b.record(later, true), Some(true));
        assert!(b.admit(later));
    }

    #[test]
    fn a_failed_probe_reopens_it_for_another_cooloff() {
        let b = Breaker::new(1, Duration::from_secs(1));
        let t0 = Instant::now();
        b.trip(t0);
        let later = t0 + Duration::from_secs(1);
        assert!(b.admit(later));
        b.record(later, false);
        assert!(!b.admit(later + Duration::from_millis(999)));
        assert!(b.admit(later + Duration::from_secs(1)));
    }

    #[test]
    fn a_success_resets_the_run() {
        let b = Breaker::new(2, Duration::from_secs(1));
        let t0 = Instant::now();
        b.record(t0, false);
        b.record(t0, true);
        assert_eq!(b.record(t0, false), None);
        assert!(b.admit(t0));
    }
}
