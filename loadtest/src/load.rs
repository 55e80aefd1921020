//! The open-loop load generator: requests leave on a fixed schedule whatever the server
//! does, and latency counts from the scheduled send time, so a stalled server cannot hide
//! its stall by slowing the generator down (no coordinated omission).

use bytes::Bytes;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::{Instant, sleep_until, timeout};

#[derive(Debug, Serialize)]
pub struct Stats {
    pub sent: u64,
    /// Answers with status 200 or 204 per second, from the first scheduled send to the last
    /// answer (a server that falls behind shows a lower rate than offered).
    pub achieved_rps: f64,
    /// How late the generator itself sent requests against their schedule (p99 and max, ms):
    /// on a shared machine, part of the measured latency can be the generator's own delay.
    pub send_lag_p99_ms: f64,
    pub send_lag_max_ms: f64,
    /// How late the generator's own runtime ran a task that was due (a 1 ms ticker beside the
    /// requests; p99.9 and max, ms, the timer's 1 ms grain included). An answer that arrived
    /// waits about this long to be seen: when it is as large as the slowest 503 measured
    /// from the actual send, that slowness is the generator's, not the server's.
    pub loop_lag_p999_ms: f64,
    pub loop_lag_max_ms: f64,
    /// HTTP status → count; 0 = no answer within the client's 2 s limit or a transport error.
    pub statuses: BTreeMap<u16, u64>,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// Answers later than `late_after`.
    pub late: u64,
    /// Slowest answer per HTTP status (0 = no answer), in ms: a 503 must be fast.
    pub max_ms_by_status: BTreeMap<u16, f64>,
    /// The 503s (sheds) alone: p50, p99, p99.9 and max from the scheduled send, and the max
    /// from the moment the generator actually sent (without its own send lag), in ms. On a
    /// shared machine the generator's stalls land on the slowest answer of every status; the
    /// second figure says how much of a slow 503 was the server's (and the kernel's).
    pub shed: Option<ShedLatency>,
    /// The same by the second of the schedule in which each request was due to leave.
    pub per_second: Vec<Second>,
}

/// How fast refusals were (see [`Stats::shed`]).
#[derive(Debug, Clone, Serialize)]
pub struct ShedLatency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub max_after_send_ms: f64,
}

/// One second of the schedule: the requests due to leave in it and how they ended.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Second {
    pub sent: u64,
    /// HTTP status → count (0 = no answer).
    pub statuses: BTreeMap<u16, u64>,
    /// Answers later than `late_after`.
    pub late: u64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Stats {
    /// Answers other than 200 and 204 (sheds, errors, no answer).
    pub fn non_2xx(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(s, _)| !matches!(**s, 200 | 204))
            .map(|(_, n)| n)
            .sum()
    }

    /// The share of all requests sent that ended with `status`.
    pub fn share(&self, status: u16) -> f64 {
        self.statuses.get(&status).copied().unwrap_or(0) as f64 / self.sent.max(1) as f64
    }
}

/// Sends `rate` requests per second for `duration` and measures each one.
pub async fn run(
    client: &reqwest::Client,
    url: &str,
    body: Bytes,
    rate: f64,
    duration: Duration,
    late_after: Duration,
) -> Stats {
    let n = (rate * duration.as_secs_f64()).round() as u64;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let start = Instant::now() + Duration::from_millis(20);
    let done = std::sync::Arc::new(tokio::sync::Notify::new());
    let ticker = tokio::spawn(loop_lag(done.clone()));
    for i in 0..n {
        let at = start + Duration::from_secs_f64(i as f64 / rate);
        sleep_until(at).await;
        let (client, url, body, tx) = (client.clone(), url.to_string(), body.clone(), tx.clone());
        tokio::spawn(async move {
            let send_lag = at.elapsed();
            let send = async {
                let r = client
                    .post(url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                let status = r.status().as_u16();
                r.bytes().await?;
                Ok::<u16, reqwest::Error>(status)
            };
            let status = match timeout(Duration::from_secs(2), send).await {
                Ok(Ok(s)) => s,
                _ => 0,
            };
            let _ = tx.send((i, status, at.elapsed(), send_lag));
        });
    }
    drop(tx);
    let mut hist = new_histogram();
    let mut statuses = BTreeMap::new();
    let mut late = 0;
    let mut max_ms_by_status: BTreeMap<u16, f64> = BTreeMap::new();
    let mut lag = new_histogram();
    let mut shed = new_histogram();
    let mut shed_after_send = Duration::ZERO;
    let mut last_answer = start;
    let seconds = (n as f64 / rate).ceil().max(1.0) as usize;
    let mut per_second = vec![(Second::default(), new_histogram()); seconds];
    while let Some((i, status, latency, send_lag)) = rx.recv().await {
        last_answer = Instant::now();
        let (second, second_hist) = &mut per_second[((i as f64 / rate) as usize).min(seconds - 1)];
        second.sent += 1;
        *second.statuses.entry(status).or_insert(0) += 1;
        if latency > late_after {
            second.late += 1;
        }
        let _ = second_hist.record((latency.as_micros() as u64).max(1));
        let _ = lag.record((send_lag.as_micros() as u64).max(1));
        if status == 503 {
            let _ = shed.record((latency.as_micros() as u64).max(1));
            shed_after_send = shed_after_send.max(latency.saturating_sub(send_lag));
        }
        *statuses.entry(status).or_insert(0) += 1;
        let ms = latency.as_secs_f64() * 1000.0;
        let slowest = max_ms_by_status.entry(status).or_insert(0.0);
        *slowest = slowest.max(ms);
        if latency > late_after {
            late += 1;
        }
        let _ = hist.record((latency.as_micros() as u64).max(1));
    }
    done.notify_one();
    let loop_lag = ticker.await.unwrap_or_else(|_| new_histogram());
    let ok: u64 = statuses
        .iter()
        .filter(|(s, _)| matches!(**s, 200 | 204))
        .map(|(_, n)| n)
        .sum();
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    Stats {
        sent: n,
        achieved_rps: ok as f64
            / last_answer
                .saturating_duration_since(start)
                .as_secs_f64()
                .max(1e-3),
        send_lag_p99_ms: lag.value_at_quantile(0.99) as f64 / 1000.0,
        send_lag_max_ms: lag.max() as f64 / 1000.0,
        loop_lag_p999_ms: loop_lag.value_at_quantile(0.999) as f64 / 1000.0,
        loop_lag_max_ms: loop_lag.max() as f64 / 1000.0,
        statuses,
        p50_ms: ms(0.5),
        p90_ms: ms(0.9),
        p99_ms: ms(0.99),
        p999_ms: ms(0.999),
        max_ms: hist.max() as f64 / 1000.0,
        late,
        max_ms_by_status,
        shed: (!shed.is_empty()).then(|| {
            let ms = |q: f64| shed.value_at_quantile(q) as f64 / 1000.0;
            ShedLatency {
                p50_ms: ms(0.5),
                p99_ms: ms(0.99),
                p999_ms: ms(0.999),
                max_ms: shed.max() as f64 / 1000.0,
                max_after_send_ms: shed_after_send.as_secs_f64() * 1000.0,
            }
        }),
        per_second: per_second
            .into_iter()
            .map(|(mut s, h)| {
                s.p99_ms = h.value_at_quantile(0.99) as f64 / 1000.0;
                s.max_ms = h.max() as f64 / 1000.0;
                s
            })
            .collect(),
    }
}

/// The generator runtime's lag (see [`Stats::loop_lag_max_ms`]): a task due every
/// millisecond, how late it ran, until `done`.
async fn loop_lag(done: std::sync::Arc<tokio::sync::Notify>) -> Histogram<u64> {
    let mut hist = new_histogram();
    let stop = done.notified();
    tokio::pin!(stop);
    loop {
        let due = Instant::now() + Duration::from_millis(1);
        tokio::select! {
            _ = &mut stop => return hist,
            _ = sleep_until(due) => {
                let _ = hist.record((due.elapsed().as_micros() as u64).max(1));
            }
        }
    }
}

/// Microseconds from 1 µs to 60 s, 3 significant digits.
fn new_histogram() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}
