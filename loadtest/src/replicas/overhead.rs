//! What Redis costs a client: the same three replicas, once with `backend = "redis"` and
//! once with `"memory"`, at the same moderate open-loop rate. Each session is an ad request
//! from a fresh listener for the capped placement (with Redis: one `HGETALL` of the
//! listener's caps before deciding) and its impression on another replica (with Redis: one
//! `SET NX` dedup claim; the cap count is written in the background). Windows alternate
//! (redis, memory, redis, memory) so that the machine's drift lands on both alike.

use super::cluster::Cluster;
use super::phases::{self, Statuses};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Serialize)]
pub struct Latency {
    pub backend: &'static str,
    pub sessions: u64,
    pub ads_p50_ms: f64,
    pub ads_p99_ms: f64,
    pub ads_p999_ms: f64,
    pub events_p50_ms: f64,
    pub events_p99_ms: f64,
    pub statuses: Statuses,
}

struct Acc {
    ads: Histogram<u64>,
    events: Histogram<u64>,
    statuses: Statuses,
    sessions: u64,
}

impl Acc {
    fn new() -> Self {
        let h = || Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
        Acc {
            ads: h(),
            events: h(),
            statuses: Statuses::new(),
            sessions: 0,
        }
    }

    fn latency(&self, backend: &'static str) -> Latency {
        let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        Latency {
            backend,
            sessions: self.sessions,
            ads_p50_ms: ms(&self.ads, 0.5),
            ads_p99_ms: ms(&self.ads, 0.99),
            ads_p999_ms: ms(&self.ads, 0.999),
            events_p50_ms: ms(&self.events, 0.5),
            events_p99_ms: ms(&self.events, 0.99),
            statuses: self.statuses.clone(),
        }
    }
}

/// One window of sessions at `rate` for `secs` on `c`, added to `acc` (unless warming up).
async fn window(c: &Arc<Cluster>, rate: f64, secs: u64, tag: &str, acc: Option<&mut Acc>) {
    let tag = tag.to_string();
    let results = phases::open_loop(rate, secs as f64, |k, at| {
        let (c, user) = (c.clone(), format!("{tag}-{k}"));
        async move {
            let i = c.pick();
            let (status, ad) = c.ad(i, "capped", &user).await;
            let ad_took = at.elapsed();
            let event = match ad {
                Some(ad) => {
                    let t = Instant::now();
                    Some((c.event(i + 1, &ad.impression).await, t.elapsed()))
                }
                None => None,
            };
            (status, ad_took, event)
        }
    })
    .await;
    let Some(acc) = acc else { return };
    let us = |d: Duration| (d.as_micros() as u64).max(1);
    for (status, took, event) in results {
        acc.sessions += 1;
        phases::count(&mut acc.statuses, status);
        let _ = acc.ads.record(us(took));
        if let Some((s, t)) = event {
            phases::count(&mut acc.statuses, s);
            let _ = acc.events.record(us(t));
        }
    }
}

/// Warms both clusters up, then alternates measured windows: `rounds` each.
pub async fn run(
    redis: &Arc<Cluster>,
    memory: &Arc<Cluster>,
    rate: f64,
    secs: u64,
    rounds: usize,
) -> (Latency, Latency) {
    window(redis, rate, 2, "warm-r", None).await;
    window(memory, rate, 2, "warm-m", None).await;
    let (mut r, mut m) = (Acc::new(), Acc::new());
    for round in 0..rounds {
        eprintln!("replicas: overhead round {}: redis {secs} s", round + 1);
        window(redis, rate, secs, &format!("r{round}"), Some(&mut r)).await;
        eprintln!("replicas: overhead round {}: memory {secs} s", round + 1);
        window(memory, rate, secs, &format!("m{round}"), Some(&mut m)).await;
    }
    (r.latency("redis"), m.latency("memory"))
}
