//! Redis killed (SIGKILL) or frozen (SIGSTOP) mid-run, then back: auctions for the
//! QPS-capped partner and cohorts of capped listeners keep coming throughout. Judged: no
//! client error at any time, caps and QPS within the fallback bounds while Redis is away,
//! how long the replicas take to notice and to recover, and exact caps again afterwards.

use super::cluster::{Cluster, REPLICAS};
use super::dsp::Seen;
use super::phases::{self, Caps, Listener, Statuses};
use super::redis::Redis;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, sleep_until};

#[derive(Clone, Copy, Debug, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fault {
    /// SIGKILL, then a fresh redis-server on the same port (empty: it keeps nothing).
    Kill,
    /// SIGSTOP, then SIGCONT: connections stay open and every round trip times out.
    Stop,
}

pub struct Plan {
    pub run_s: u64,
    pub at_s: u64,
    pub outage_s: u64,
    pub fault: Fault,
    pub listeners_per_s: usize,
    pub breaks: usize,
    pub gap: Duration,
    pub cap: u32,
    pub qps_rate: f64,
}

#[derive(Debug, Serialize)]
pub struct QpsPeriod {
    pub seconds: usize,
    pub max: u64,
    pub mean: f64,
}

#[derive(Debug, Serialize)]
pub struct Outage {
    pub fault: Fault,
    /// Seconds from the start of the run.
    pub fault_at_s: f64,
    pub back_at_s: f64,
    /// How long until every replica showed the store degraded, after the fault.
    pub degraded_after_s: Option<f64>,
    /// How long until every replica showed it up again, after Redis came back.
    pub recovered_after_s: Option<f64>,
    /// Every request's status, by period (before, during, recovering, after).
    pub statuses: BTreeMap<&'static str, Statuses>,
    pub errors: u64,
    /// Listeners by period: those that began and ended within it.
    pub caps: BTreeMap<&'static str, Caps>,
    /// The most exposures a listener may get while Redis is away: replicas × ceil(cap / replicas).
    pub fallback_cap_bound: u32,
    pub qps: BTreeMap<&'static str, QpsPeriod>,
    /// (second of the run, calls the capped partner received in it).
    pub qps_per_second: Vec<(f64, u64)>,
}

fn unix_f64() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

pub async fn run(c: &Arc<Cluster>, redis: &mut Redis, seen: &Arc<Seen>, p: &Plan) -> Outage {
    let t0 = Instant::now();
    let unix0 = unix_f64();
    let auctions = {
        let (c, rate, secs) = (c.clone(), p.qps_rate, p.run_s as f64);
        tokio::spawn(async move {
            phases::open_loop(rate, secs, move |k, at| {
                let c = c.clone();
                async move { (at, c.auction(c.pick(), phases::auction_body(k)).await) }
            })
            .await
        })
    };
    let listeners = {
        let (c, n, breaks, gap, secs) = (c.clone(), p.listeners_per_s, p.breaks, p.gap, p.run_s);
        tokio::spawn(async move {
            let mut set = tokio::task::JoinSet::new();
            for s in 0..secs.saturating_sub(1) {
                sleep_until(t0 + Duration::from_secs(s)).await;
                for g in 0..n {
                    let user = format!("outage-{s}-{g}");
                    set.spawn(phases::listener(c.clone(), user, breaks, gap));
                }
            }
            let mut out: Vec<Listener> = Vec::new();
            while let Some(l) = set.join_next().await {
                out.extend(l.ok());
            }
            out
        })
    };
    sleep_until(t0 + Duration::from_secs(p.at_s)).await;
    match p.fault {
        Fault::Kill => tokio::task::block_in_place(|| redis.kill()),
        Fault::Stop => redis.freeze(true),
    }
    let fault_at = Instant::now();
    let limit = Duration::from_secs(p.outage_s);
    let degraded = c
        .wait_store("degraded", limit)
        .await
        .then(|| fault_at.elapsed().as_secs_f64());
    sleep_until(fault_at + limit).await;
    match p.fault {
        Fault::Kill => {
            if let Err(e) = tokio::task::block_in_place(|| redis.restart()) {
                eprintln!("replicas: {e}");
            }
        }
        Fault::Stop => redis.freeze(false),
    }
    let back_at = Instant::now();
    let recovered = c
        .wait_store("up", Duration::from_secs(15))
        .await
        .then(|| back_at.elapsed().as_secs_f64());
    let up_at = back_at + Duration::from_secs_f64(recovered.unwrap_or(1e6).min(1e6));
    let auctions = auctions.await.unwrap_or_default();
    let listeners = listeners.await.unwrap_or_default();

    let period = |t: Instant| {
        if t < fault_at {
            "before"
        } else if t < back_at {
            "during"
        } else if t < up_at {
            "recovering"
        } else {
            "after"
        }
    };
    let mut statuses: BTreeMap<&'static str, Statuses> = BTreeMap::new();
    for (at, s) in &auctions {
        phases::count(statuses.entry(period(*at)).or_default(), *s);
    }
    let mut cohorts: BTreeMap<&'static str, Vec<Listener>> = BTreeMap::new();
    for l in listeners {
        let (a, b) = (period(l.start), period(l.end));
        let all = statuses.entry(a).or_default();
        for (s, n) in &l.statuses {
            *all.entry(*s).or_default() += n;
        }
        cohorts
            .entry(if a == b { a } else { "straddling" })
            .or_default()
            .push(l);
    }
    let caps = cohorts
        .iter()
        .map(|(k, ls)| (*k, phases::judge_caps(ls, p.breaks, p.cap)))
        .collect();
    // The partner's seconds, placed on the run's clock; a second is in a period when it
    // lies wholly inside it.
    let off = |t: Instant| unix0 + t.saturating_duration_since(t0).as_secs_f64();
    let (first, last) = (unix0.ceil() as u64, (unix0 + p.run_s as f64) as u64);
    let per_second = seen.calls_per_second("qps", first, last.saturating_sub(1));
    let mut qps: BTreeMap<&'static str, Vec<u64>> = BTreeMap::new();
    let bounds = [
        ("before", 0.0, off(fault_at)),
        ("during", off(fault_at), off(back_at)),
        ("after", off(up_at), f64::MAX),
    ];
    for (s, n) in &per_second {
        let (a, b) = (*s as f64, *s as f64 + 1.0);
        let name = bounds
            .iter()
            .find(|(_, lo, hi)| a >= *lo && b <= *hi)
            .map_or("transition", |(name, _, _)| name);
        qps.entry(name).or_default().push(*n);
    }
    Outage {
        fault: p.fault,
        fault_at_s: fault_at.duration_since(t0).as_secs_f64(),
        back_at_s: back_at.duration_since(t0).as_secs_f64(),
        degraded_after_s: degraded,
        recovered_after_s: recovered,
        errors: statuses.values().map(phases::errors).sum(),
        statuses,
        caps,
        fallback_cap_bound: REPLICAS as u32 * p.cap.div_ceil(REPLICAS as u32),
        qps: qps
            .into_iter()
            .map(|(k, v)| {
                let mean = v.iter().sum::<u64>() as f64 / v.len().max(1) as f64;
                let max = v.iter().copied().max().unwrap_or(0);
                (
                    k,
                    QpsPeriod {
                        seconds: v.len(),
                        max,
                        mean,
                    },
                )
            })
            .collect(),
        qps_per_second: per_second
            .into_iter()
            .map(|(s, n)| ((s as f64 - unix0).max(0.0), n))
            .collect(),
    }
}
