//! Per-partner statistics over the last minute, for `/admin/status` and the `/admin` page.
//!
//! Prometheus keeps the history; this answers the on-call question "what is each partner doing
//! right now" from the process itself, without a query language or a working Prometheus.
//! Sixty one-second buckets per partner, each with counters and a coarse latency histogram;
//! a bucket is reused when its second comes round again, so memory is fixed (~15 KiB per
//! partner) and nothing needs a background sweeper. Time comes in as `tokio::time::Instant`
//! so tests can pause it.

use crate::outcome::Outcome;
use serde::Serialize;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Seconds covered by the window.
pub const WINDOW_S: u64 = 60;

/// Upper edges of the latency buckets in milliseconds (the last catches everything above).
/// Roughly 25% apart: p50/p99 are reported as the edge of their bucket, close enough for an
/// on-call glance; `bidgate_partner_latency_seconds` has the precise distribution.
const EDGES_MS: [u32; 30] = [
    1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, 150, 200, 250, 300, 400,
    500, 750, 1000, 2000, 5000, 10000,
];

#[derive(Clone, Copy, Default)]
struct Bucket {
    /// Which second since `origin` this bucket holds; stale buckets are ignored and reset.
    second: u64,
    sent: u32,
    bid_responses: u32,
    bids: u32,
    wins: u32,
    timeouts: u32,
    late: u32,
    errors: u32,
    throttled: u32,
    circuit_open: u32,
    latency: [u32; EDGES_MS.len() + 1],
}

pub struct PartnerStats {
    origin: Instant,
    buckets: Mutex<[Bucket; WINDOW_S as usize]>,
}

/// One partner's last minute. Rates are fractions of the requests sent; `None` where there is
/// nothing to divide by (no traffic is not a 0% bid rate).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// Seconds of history behind these figures (less than 60 just after start).
    pub window_s: f64,
    pub requests_sent: u64,
    pub requests_per_s: f64,
    /// Requests answered with at least one bid.
    pub bid_rate: Option<f64>,
    /// Bids that won, of the bids received.
    pub win_rate: Option<f64>,
    /// Requests cut off: by the partner's own timeout (`timeout`) or by the deadline (`late`).
    pub timeout_rate: Option<f64>,
    pub late_rate: Option<f64>,
    /// Transport errors and bad responses.
    pub error_rate: Option<f64>,
    /// Auctions that skipped the partner (QPS cap or no time left) or its open circuit.
    pub skipped_throttled: u64,
    pub skipped_circuit_open: u64,
    /// Upper edge of the latency bucket holding the median / 99th percentile request.
    pub latency_p50_ms: Option<u32>,
    pub latency_p99_ms: Option<u32>,
    /// Requests sent in the last complete second (against a `qps_limit`).
    pub sent_last_second: u64,
}

impl std::fmt::Debug for PartnerStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartnerStats").finish_non_exhaustive()
    }
}

impl Default for PartnerStats {
    fn default() -> Self {
        Self::new(Instant::now())
    }
}

impl PartnerStats {
    pub fn new(origin: Instant) -> Self {
        Self {
            origin,
            buckets: Mutex::new([Bucket::default(); WINDOW_S as usize]),
        }
    }

    fn second(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.origin).as_secs()
    }

    /// Runs `f` on the bucket of `now`, resetting it first if it holds an older second.
    fn with_bucket(&self, now: Instant, f: impl FnOnce(&mut Bucket)) {
        let second = self.second(now);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let b = &mut buckets[(second % WINDOW_S) as usize];
        if b.second != second {
            *b = Bucket {
                second,
                ..Bucket::default()
            };
        }
        f(b);
    }

    /// One partner call (or skip) and how long it took.
    pub fn record(&self, now: Instant, outcome: &Outcome, elapsed: Duration) {
        use crate::outcome::{Cut, Skip};
        self.with_bucket(now, |b| {
            match outcome {
                Outcome::Throttled(Skip::CircuitOpen) => b.circuit_open += 1,
                // Says nothing of the partner's health or capacity: the user's choice.
                Outcome::Throttled(Skip::Privacy) => {}
                Outcome::Throttled(_) => b.throttled += 1,
                _ => {}
            }
            if matches!(outcome, Outcome::Throttled(_)) {
                return;
            }
            b.sent += 1;
            match outcome {
                Outcome::Bid(resp) => {
                    b.bid_responses += 1;
                    let n: usize = resp.seatbid.iter().map(|s| s.bid.len()).sum();
                    b.bids = b.bids.saturating_add(n as u32);
                }
                Outcome::Timeout(Cut::OwnTimeout) => b.timeouts += 1,
                Outcome::Timeout(Cut::Deadline) => b.late += 1,
                Outcome::Transport(_) | Outcome::BadResponse(_) => b.errors += 1,
                Outcome::NoBid | Outcome::Throttled(_) => {}
            }
            let ms = elapsed.as_millis().min(u32::MAX as u128) as u32;
            let slot = EDGES_MS.partition_point(|&edge| edge < ms);
            b.latency[slot] += 1;
        });
    }

    pub fn win(&self, now: Instant) {
        self.with_bucket(now, |b| b.wins += 1);
    }

    pub fn summary(&self, now: Instant) -> Summary {
        let second = self.second(now);
        let oldest = second.saturating_sub(WINDOW_S - 1);
        let buckets = *self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let mut t = Bucket::default();
        let mut sent_last_second = 0;
        for b in buckets
            .iter()
            .filter(|b| b.second >= oldest && b.second <= second)
        {
            // Bucket 0 of a fresh window is indistinguishable from an unused one: harmless,
            // an unused bucket is all zeros.
            t.sent += b.sent;
            t.bid_responses += b.bid_responses;
            t.bids += b.bids;
            t.wins += b.wins;
            t.timeouts += b.timeouts;
            t.late += b.late;
            t.errors += b.errors;
            t.throttled += b.throttled;
            t.circuit_open += b.circuit_open;
            for (sum, n) in t.latency.iter_mut().zip(b.latency) {
                *sum += n;
            }
            if second > 0 && b.second == second - 1 {
                sent_last_second = b.sent as u64;
            }
        }
        let since_start = now.saturating_duration_since(self.origin);
        let window = if second < WINDOW_S {
            since_start
        } else {
            // The oldest bucket is whole; the current one is as far as this second has got.
            Duration::from_secs(WINDOW_S - 1) + (since_start - Duration::from_secs(second))
        };
        let window_s = window.as_secs_f64().max(1.0);
        let rate = |n: u32, of: u32| (of > 0).then(|| n as f64 / of as f64);
        Summary {
            window_s: (window.as_secs_f64() * 10.0).round() / 10.0,
            requests_sent: t.sent as u64,
            requests_per_s: t.sent as f64 / window_s,
            bid_rate: rate(t.bid_responses, t.sent),
            win_rate: rate(t.wins, t.bids),
            timeout_rate: rate(t.timeouts, t.sent),
            late_rate: rate(t.late, t.sent),
            error_rate: rate(t.errors, t.sent),
            skipped_throttled: t.throttled as u64,
            skipped_circuit_open: t.circuit_open as u64,
            latency_p50_ms: percentile(&t.latency, 0.50),
            latency_p99_ms: percentile(&t.latency, 0.99),
            sent_last_second,
        }
    }
}

/// The upper edge of the bucket holding the `q` quantile (the last bucket reports its lower
/// edge: "above 10 s").
fn percentile(hist: &[u32], q: f64) -> Option<u32> {
    let total: u64 = hist.iter().map(|&n| n as u64).sum();
    if total == 0 {
        return None;
    }
    let rank = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, &n) in hist.iter().enumerate() {
        seen += n as u64;
        if seen >= rank {
            return Some(
                EDGES_MS
                    .get(i)
                    .copied()
                    .unwrap_or(EDGES_MS[EDGES_MS.len() - 1]),
            );
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{BadResponse, Cut, Skip};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn bid() -> Outcome {
        Outcome::Bid(
            serde_json::from_str(
                r#"{"id":"1","seatbid":[{"bid":[{"id":"b","impid":"1","price":1}]}]}"#,
            )
            .unwrap(),
        )
    }

    #[test]
    fn rates_are_fractions_of_requests_sent_and_skips_are_apart() {
        let t0 = Instant::now();
        let s = PartnerStats::new(t0);
        let now = t0 + ms(10_000);
        for _ in 0..6 {
            s.record(now, &bid(), ms(20));
        }
        s.record(now, &Outcome::NoBid, ms(10));
        s.record(now, &Outcome::Timeout(Cut::OwnTimeout), ms(150));
        s.record(now, &Outcome::Timeout(Cut::Deadline), ms(90));
        s.record(now, &Outcome::BadResponse(BadResponse::Status(500)), ms(5));
        s.record(now, &Outcome::Throttled(Skip::Qps), Duration::ZERO);
        s.record(now, &Outcome::Throttled(Skip::CircuitOpen), Duration::ZERO);
        s.win(now);
        s.win(now);
        s.win(now);
        let sum = s.summary(now);
        assert_eq!(sum.requests_sent, 10);
        assert_eq!(sum.bid_rate, Some(0.6));
        assert_eq!(sum.win_rate, Some(0.5));
        assert_eq!(sum.timeout_rate, Some(0.1));
        assert_eq!(sum.late_rate, Some(0.1));
        assert_eq!(sum.error_rate, Some(0.1));
        assert_eq!((sum.skipped_throttled, sum.skipped_circuit_open), (1, 1));
        assert_eq!(sum.latency_p50_ms, Some(20));
        assert_eq!(sum.latency_p99_ms, Some(150));
        assert_eq!(sum.window_s, 10.0);
        assert_eq!(sum.requests_per_s, 1.0);
    }

    #[test]
    fn nothing_sent_means_no_rates_rather_than_zero() {
        let t0 = Instant::now();
        let s = PartnerStats::new(t0);
        let sum = s.summary(t0 + ms(5_000));
        assert_eq!(sum.requests_sent, 0);
        assert_eq!(sum.bid_rate, None);
        assert_eq!(sum.latency_p99_ms, None);
    }

    #[test]
    fn the_window_slides_and_old_seconds_drop_out() {
        let t0 = Instant::now();
        let s = PartnerStats::new(t0);
        s.record(t0 + ms(1_500), &Outcome::NoBid, ms(3));
        for _ in 0..4 {
            s.record(t0 + ms(61_200), &Outcome::NoBid, ms(3));
        }
        // At 61.5 s the window is seconds 2..=61: the event at second 1 has left it.
        let sum = s.summary(t0 + ms(61_500));
        assert_eq!(sum.requests_sent, 4);
        assert_eq!(sum.window_s, 59.5);
        // The bucket of second 1 is reused for second 61, never double-counted.
        let later = s.summary(t0 + ms(62_100));
        assert_eq!(later.sent_last_second, 4);
        assert_eq!(s.summary(t0 + ms(121_900)).requests_sent, 0, "all aged out");
    }

    #[test]
    fn percentiles_pick_the_bucket_edge() {
        let mut h = [0u32; EDGES_MS.len() + 1];
        h[0] = 98; // ≤ 1 ms
        h[EDGES_MS.len()] = 2; // above the last edge
        assert_eq!(percentile(&h, 0.5), Some(1));
        assert_eq!(percentile(&h, 0.99), Some(10_000));
    }
}
