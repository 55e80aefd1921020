//! The measurements against a running cluster that need Redis up: frequency caps, pacing,
//! impressions replayed on another replica, a partner's global QPS cap. Each returns its
//! figures; `mod.rs` judges them.

use super::cluster::{Cluster, REPLICAS};
use super::dsp::{Seen, unix_now};
use super::redis::Redis;
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, sleep_until};

/// Runs `f(k, scheduled)` at `rate` per second for `secs`, open loop (each call leaves on
/// its schedule, whatever the earlier ones are doing), and collects what they return.
pub async fn open_loop<T, F, Fut>(rate: f64, secs: f64, f: F) -> Vec<T>
where
    F: Fn(u64, Instant) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let n = (rate * secs).round() as u64;
    let start = Instant::now() + Duration::from_millis(20);
    let mut set = tokio::task::JoinSet::new();
    for k in 0..n {
        let at = start + Duration::from_secs_f64(k as f64 / rate);
        sleep_until(at).await;
        set.spawn(f(k, at));
    }
    let mut out = Vec::with_capacity(n as usize);
    while let Some(r) = set.join_next().await {
        if let Ok(r) = r {
            out.push(r);
        }
    }
    out
}

/// Status → count.
pub type Statuses = BTreeMap<u16, u64>;

pub fn count(s: &mut Statuses, status: u16) {
    *s.entry(status).or_default() += 1;
}

/// 5xx answers and requests with no answer (status 0).
pub fn errors(s: &Statuses) -> u64 {
    s.iter()
        .filter(|(k, _)| **k == 0 || **k >= 500)
        .map(|(_, n)| n)
        .sum()
}

/// One listener's ad breaks, one after another: an ad request on the next replica, its
/// impression fired on the one after (a load balancer does not pin a listener), a pause.
#[derive(Debug, Clone)]
pub struct Listener {
    pub start: Instant,
    pub end: Instant,
    /// Direct (line item `capped`) impressions billed to this listener.
    pub exposures: u32,
    pub statuses: Statuses,
}

pub async fn listener(c: Arc<Cluster>, user: String, breaks: usize, gap: Duration) -> Listener {
    let start = Instant::now();
    let (mut exposures, mut statuses) = (0, Statuses::new());
    for _ in 0..breaks {
        let i = c.pick();
        let (status, ad) = c.ad(i, "capped", &user).await;
        count(&mut statuses, status);
        if let Some(ad) = ad {
            let s = c.event(i + 1, &ad.impression).await;
            count(&mut statuses, s);
            if s == 204 && ad.seat == "direct" {
                exposures += 1;
            }
        }
        tokio::time::sleep(gap).await;
    }
    Listener {
        start,
        end: Instant::now(),
        exposures,
        statuses,
    }
}

#[derive(Debug, Serialize)]
pub struct Caps {
    pub listeners: usize,
    pub breaks: usize,
    pub cap: u32,
    pub exposures: u64,
    pub max_per_listener: u32,
    /// Σ over listeners of exposures beyond the cap.
    pub excess: u64,
    pub statuses: Statuses,
}

pub fn judge_caps(ls: &[Listener], breaks: usize, cap: u32) -> Caps {
    let mut statuses = Statuses::new();
    for l in ls {
        for (s, n) in &l.statuses {
            *statuses.entry(*s).or_default() += n;
        }
    }
    Caps {
        listeners: ls.len(),
        breaks,
        cap,
        exposures: ls.iter().map(|l| u64::from(l.exposures)).sum(),
        max_per_listener: ls.iter().map(|l| l.exposures).max().unwrap_or(0),
        excess: ls
            .iter()
            .map(|l| u64::from(l.exposures.saturating_sub(cap)))
            .sum(),
        statuses,
    }
}

/// `n` listeners at once, each with `breaks` ad breaks.
pub async fn caps(c: &Arc<Cluster>, n: usize, breaks: usize, cap: u32, gap: Duration) -> Caps {
    let mut set = tokio::task::JoinSet::new();
    for u in 0..n {
        set.spawn(listener(c.clone(), format!("cap-{u}"), breaks, gap));
    }
    let mut ls = Vec::new();
    while let Some(l) = set.join_next().await {
        ls.extend(l.ok());
    }
    judge_caps(&ls, breaks, cap)
}

#[derive(Debug, Serialize)]
pub struct Pacing {
    pub budget: u64,
    pub lease_impressions: u64,
    pub ad_requests: u64,
    /// Direct impressions of the line item billed (each fired once).
    pub delivered: u64,
    /// What Redis granted in all (`HGET …:pace:{li:budget} imps`).
    pub granted: Option<u64>,
    /// The most impressions leased and unspent at once over the replicas (sampled).
    pub max_outstanding: i64,
    pub statuses: Statuses,
}

/// Fresh listeners ask for the budgeted line item's placement at `rate` for `secs`.
pub async fn pacing(c: &Arc<Cluster>, redis: &Redis, rate: f64, secs: u64, budget: u64) -> Pacing {
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let sampler = {
        let c = c.clone();
        tokio::spawn(async move {
            let mut max = 0i64;
            loop {
                let stores = c.stores().await;
                let now: i64 = stores
                    .iter()
                    .map(|s| s["leased_impressions"].as_i64().unwrap_or(0))
                    .sum();
                max = max.max(now);
                tokio::select! {
                    _ = &mut stopped => return max,
                    _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                }
            }
        })
    };
    let results = open_loop(rate, secs as f64, |k, _| {
        let c = c.clone();
        async move {
            let i = c.pick();
            let (status, ad) = c.ad(i, "paced", &format!("pace-{k}")).await;
            let mut statuses = vec![status];
            let mut billed = false;
            if let Some(ad) = ad {
                let s = c.event(i + 1, &ad.impression).await;
                statuses.push(s);
                billed = s == 204 && ad.seat == "direct";
            }
            (statuses, billed)
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop.send(());
    let mut statuses = Statuses::new();
    for (s, _) in &results {
        s.iter().for_each(|s| count(&mut statuses, *s));
    }
    Pacing {
        budget,
        lease_impressions: 0,
        ad_requests: results.len() as u64,
        delivered: results.iter().filter(|(_, b)| *b).count() as u64,
        granted: redis
            .command(&["HGET", "bidgate:pace:{li:budget}", "imps"])
            .and_then(|g| g.parse().ok()),
        max_outstanding: sampler.await.unwrap_or(0),
        statuses,
    }
}

#[derive(Debug, Serialize)]
pub struct Replay {
    pub impressions: u64,
    pub replays: u64,
    /// Statuses of the first fires and of the replays.
    pub first: Statuses,
    pub replayed: Statuses,
    /// `bidgate_events_total{kind="impression"}` over the replicas, during the phase.
    pub billed_metric: f64,
    pub duplicate_metric: f64,
    /// Replays refused with a 503 because the first was still being settled (`in_progress`).
    pub in_progress_metric: f64,
    /// Billing notices the partner received for these impressions, and how many of them
    /// came twice or more / never.
    pub notices: u64,
    pub notices_twice: u64,
    pub notices_missing: u64,
    /// Billed impression records in the three event logs for these auctions.
    pub records: u64,
    pub records_twice: u64,
}

/// `bidgate_events_total{kind="impression", result}`, summed over the replicas.
async fn impressions(c: &Cluster, result: &str) -> f64 {
    let with = [("kind", "impression"), ("result", result)];
    c.metric("bidgate_events_total", &with).await
}

/// `n` ads of the partner (placement `open`), each impression fired on another replica
/// than the one that served the ad, then replayed on the third and on the serving one.
pub async fn replay(c: &Arc<Cluster>, seen: &Arc<Seen>, n: usize, rate: f64) -> Replay {
    let (billed0, dup0, busy0) = (
        impressions(c, "billed").await,
        impressions(c, "duplicate").await,
        impressions(c, "in_progress").await,
    );
    let results = open_loop(rate, n as f64 / rate, |k, _| {
        let c = c.clone();
        async move {
            let i = c.pick();
            let (_, ad) = c.ad(i, "open", &format!("replay-{k}")).await;
            let ad = ad.filter(|a| a.seat == "dsp")?;
            let first = c.event(i + 1, &ad.impression).await;
            let again = [
                c.event(i + 2, &ad.impression).await,
                c.event(i + REPLICAS, &ad.impression).await,
            ];
            Some((ad.auction_id, first, again))
        }
    })
    .await;
    // Notices are fired in the background, records written by each replica's writer.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (billed, dup, busy) = (
        impressions(c, "billed").await,
        impressions(c, "duplicate").await,
        impressions(c, "in_progress").await,
    );
    let records = c.billed_records();
    let mut r = Replay {
        impressions: 0,
        replays: 0,
        first: Statuses::new(),
        replayed: Statuses::new(),
        billed_metric: billed - billed0,
        duplicate_metric: dup - dup0,
        in_progress_metric: busy - busy0,
        notices: 0,
        notices_twice: 0,
        notices_missing: 0,
        records: 0,
        records_twice: 0,
    };
    for (id, first, again) in results.into_iter().flatten() {
        count(&mut r.first, first);
        again.iter().for_each(|s| count(&mut r.replayed, *s));
        r.impressions += 1;
        r.replays += again.len() as u64;
        let notices = seen.notices(&id);
        r.notices += notices;
        r.notices_twice += u64::from(notices > 1);
        r.notices_missing += u64::from(notices == 0 && first == 204);
        let recs = records.get(&id).copied().unwrap_or(0);
        r.records += recs;
        r.records_twice += u64::from(recs > 1);
    }
    r
}

/// An OpenRTB request with one audio imp (both partners are called: `dsp` bids, the capped
/// one answers no-bid).
pub fn auction_body(id: u64) -> bytes::Bytes {
    let body = serde_json::json!({
        "id": format!("q-{id}"), "tmax": 200,
        "imp": [{"id": "1", "audio": {"mimes": ["audio/mpeg"], "minduration": 15, "maxduration": 30}}],
        "app": {"bundle": "com.example.music", "publisher": {"id": "pub-1"}},
    });
    bytes::Bytes::from(serde_json::to_vec(&body).expect("json"))
}

#[derive(Debug, Serialize)]
pub struct Qps {
    pub limit: u32,
    pub offered_rps: f64,
    /// Calls the capped partner received in each whole unix second of the run.
    pub per_second: Vec<(u64, u64)>,
    pub max: u64,
    pub mean: f64,
    pub statuses: Statuses,
}

/// The capped partner's calls per unix second from `from` to `to`, their max and mean.
pub fn qps_seconds(seen: &Seen, from: u64, to: u64) -> (Vec<(u64, u64)>, u64, f64) {
    let per_second = seen.calls_per_second("qps", from, to);
    let max = per_second.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let mean =
        per_second.iter().map(|(_, n)| *n as f64).sum::<f64>() / per_second.len().max(1) as f64;
    (per_second, max, mean)
}

/// Auctions at `rate` for `secs` over the replicas; the capped partner counts its calls.
pub async fn qps(c: &Arc<Cluster>, seen: &Arc<Seen>, limit: u32, rate: f64, secs: u64) -> Qps {
    // Whole seconds only: the first and the last of the run are partly empty.
    let u0 = unix_now();
    let results = open_loop(rate, secs as f64, |k, _| {
        let c = c.clone();
        async move { c.auction(c.pick(), auction_body(k)).await }
    })
    .await;
    let mut statuses = Statuses::new();
    results.iter().for_each(|s| count(&mut statuses, *s));
    let (per_second, max, mean) = qps_seconds(seen, u0 + 1, (u0 + secs - 1).max(u0 + 1));
    Qps {
        limit,
        offered_rps: rate,
        per_second,
        max,
        mean,
        statuses,
    }
}
