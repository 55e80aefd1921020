//! The scenario's verdicts: a targets table on stdout and in `results/<unix>-replicas.md`,
//! every figure in `results/<unix>-replicas.json`.

use super::cluster::{Cluster, REPLICAS};
use super::{Args, Results, phases};
use serde::Serialize;
use std::fmt::Write;

/// The store's health counters over the replicas (`bidgate_store_ops_total` by result,
/// `bidgate_store_fallbacks_total`).
#[derive(Debug, Default, Clone, Serialize)]
pub struct StoreOps {
    pub ok: f64,
    pub timeout: f64,
    pub error: f64,
    pub skipped: f64,
    pub fallbacks: f64,
}

impl StoreOps {
    pub async fn scrape(c: &Cluster) -> Self {
        let name = "bidgate_store_ops_total";
        StoreOps {
            ok: c.metric(name, &[("result", "ok")]).await,
            timeout: c.metric(name, &[("result", "timeout")]).await,
            error: c.metric(name, &[("result", "error")]).await,
            skipped: c.metric(name, &[("result", "skipped")]).await,
            fallbacks: c.metric("bidgate_store_fallbacks_total", &[]).await,
        }
    }

    pub fn since(&self, before: &Self) -> Self {
        StoreOps {
            ok: self.ok - before.ok,
            timeout: self.timeout - before.timeout,
            error: self.error - before.error,
            skipped: self.skipped - before.skipped,
            fallbacks: self.fallbacks - before.fallbacks,
        }
    }
}

#[derive(Serialize)]
struct Row {
    target: String,
    measured: String,
    wanted: String,
    pass: bool,
}

fn row(rows: &mut Vec<Row>, target: &str, measured: String, wanted: &str, pass: bool) {
    rows.push(Row {
        target: target.into(),
        measured,
        wanted: wanted.into(),
        pass,
    });
}

fn statuses(s: &phases::Statuses) -> String {
    s.iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn targets(a: &Args, r: &Results) -> Vec<Row> {
    let mut rows = Vec::new();
    if let Some(c) = &r.caps {
        row(
            &mut rows,
            "frequency cap: exact across replicas",
            format!(
                "{} excess over cap {} ({} listeners × {} breaks: {} exposures, at most {} per listener; {} client errors)",
                c.excess,
                c.cap,
                c.listeners,
                c.breaks,
                c.exposures,
                c.max_per_listener,
                phases::errors(&c.statuses)
            ),
            "0 excess",
            c.excess == 0,
        );
    }
    if let Some(p) = &r.pacing {
        let over = p.delivered.saturating_sub(p.budget);
        let bound = 3 * p.lease_impressions * REPLICAS as u64 / 2;
        row(
            &mut rows,
            "pacing: over-delivery",
            format!(
                "delivered {} of budget {} (+{over} = {:.2}%); granted {}; leased and unspent at most {} at a time (bound 1.5 × lease {} × {REPLICAS} = {bound})",
                p.delivered,
                p.budget,
                100.0 * over as f64 / p.budget.max(1) as f64,
                p.granted.map_or("?".into(), |g| g.to_string()),
                p.max_outstanding,
                p.lease_impressions
            ),
            "≤ 1% of budget",
            over * 100 <= p.budget,
        );
    }
    if let Some(x) = &r.replay {
        let first_ok = x.first.get(&204).copied().unwrap_or(0);
        let pass =
            x.notices_twice == 0 && x.records_twice == 0 && x.billed_metric as u64 == first_ok;
        row(
            &mut rows,
            "impression replayed on other replicas: billed once",
            format!(
                "{} impressions fired on another replica than the ad's ({}), {} replays ({}): billed {} (metric), {} billing notices ({} twice, {} missing), {} billed records ({} twice), {} duplicates, {} refused in progress",
                x.impressions,
                statuses(&x.first),
                x.replays,
                statuses(&x.replayed),
                x.billed_metric,
                x.notices,
                x.notices_twice,
                x.notices_missing,
                x.records,
                x.records_twice,
                x.duplicate_metric,
                x.in_progress_metric
            ),
            "0 billed twice",
            pass,
        );
    }
    if let Some(q) = &r.qps {
        let wanted = format!("≤ {:.0}/s (cap + 5%)", f64::from(q.limit) * 1.05);
        row(
            &mut rows,
            "partner QPS cap: held globally",
            format!(
                "cap {}/s, {} auctions/s offered: the partner got at most {}/s, {:.1}/s on average over {} whole seconds",
                q.limit,
                q.offered_rps,
                q.max,
                q.mean,
                q.per_second.len()
            ),
            &wanted,
            q.max as f64 <= f64::from(q.limit) * 1.05,
        );
    }
    if let Some(o) = &r.outage {
        let sum: u64 = o.statuses.values().flat_map(|s| s.values()).sum();
        row(
            &mut rows,
            "Redis away: no client error",
            format!(
                "{} errors (5xx or no answer) of {sum} requests; {:?} at {:.1} s for {:.1} s; every replica degraded {} after",
                o.errors,
                o.fault,
                o.fault_at_s,
                o.back_at_s - o.fault_at_s,
                o.degraded_after_s
                    .map_or("never".into(), |s| format!("{s:.2} s"))
            ),
            "0",
            o.errors == 0,
        );
        let during = o.caps.get("during");
        let max = during.map_or(0, |c| c.max_per_listener);
        row(
            &mut rows,
            "Redis away: caps within the fallback bound",
            format!(
                "{} listeners wholly within the outage: at most {max} exposures each (cap {}; bound {REPLICAS} × ceil({}/{REPLICAS}) = {})",
                during.map_or(0, |c| c.listeners),
                a.cap,
                a.cap,
                o.fallback_cap_bound
            ),
            &format!("≤ {}", o.fallback_cap_bound),
            during.is_some() && max <= o.fallback_cap_bound,
        );
        let q = o.qps.get("during");
        let limit = f64::from(a.qps_limit) * 1.05;
        row(
            &mut rows,
            "Redis away: partner QPS within the fallback bound",
            format!(
                "at most {}/s ({:.1}/s on average over {} whole seconds; each replica holds {}/{REPLICAS})",
                q.map_or(0, |q| q.max),
                q.map_or(0.0, |q| q.mean),
                q.map_or(0, |q| q.seconds),
                a.qps_limit
            ),
            &format!("≤ {limit:.0}/s"),
            q.is_some_and(|q| q.max as f64 <= limit),
        );
        let after = o.caps.get("after");
        let qa = o.qps.get("after");
        let ok = o.recovered_after_s.is_some()
            && after.is_some_and(|c| c.excess == 0)
            && qa.is_some_and(|q| q.max as f64 <= limit);
        row(
            &mut rows,
            "Redis back: recovery",
            format!(
                "every replica up {} after Redis came back; then {} listeners: {} excess over the cap; partner at most {}/s",
                o.recovered_after_s
                    .map_or("never".into(), |s| format!("{s:.2} s")),
                after.map_or(0, |c| c.listeners),
                after.map_or(0, |c| c.excess),
                qa.map_or(0, |q| q.max)
            ),
            "up, 0 excess, QPS held",
            ok,
        );
    }
    if let Some((redis, memory)) = &r.overhead {
        let d = redis.ads_p99_ms - memory.ads_p99_ms;
        row(
            &mut rows,
            "p99 overhead of Redis (ad requests)",
            format!(
                "{:+.2} ms: p99 {:.2} ms (redis) vs {:.2} ms (memory) at {} sessions/s; impressions p99 {:.2} vs {:.2} ms",
                d,
                redis.ads_p99_ms,
                memory.ads_p99_ms,
                a.overhead_rate,
                redis.events_p99_ms,
                memory.events_p99_ms
            ),
            "≤ +1 ms",
            d <= 1.0,
        );
    }
    rows
}

pub fn write(a: &Args, binary: &std::path::Path, r: &Results, took_s: f64) -> std::io::Result<()> {
    let rows = targets(a, r);
    let cpu = crate::gateway::cpu_model();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut md = String::new();
    let _ = writeln!(
        md,
        "## replicas: 3 bidgate replicas, one Redis ({took_s:.0} s)\n"
    );
    let _ = writeln!(
        md,
        "machine: {cpu}, {cores} cores (generator, partner, Redis and the replicas share them)\n"
    );
    let _ = writeln!(md, "| target | measured | wanted | |\n|---|---|---|---|");
    for t in &rows {
        let verdict = if t.pass { "pass" } else { "**FAIL**" };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {verdict} |",
            t.target, t.measured, t.wanted
        );
    }
    let _ = writeln!(
        md,
        "\nThe store's operations per measurement (over the replicas):\n"
    );
    let _ = writeln!(
        md,
        "| measurement | ok | timeout | error | skipped | fallbacks |\n|---|---|---|---|---|---|"
    );
    for (name, o) in &r.store_ops {
        let _ = writeln!(
            md,
            "| {name} | {} | {} | {} | {} | {} |",
            o.ok, o.timeout, o.error, o.skipped, o.fallbacks
        );
    }
    if let Some(o) = &r.outage {
        let _ = writeln!(
            md,
            "\nOutage run by period (listeners counted in the period they began and ended in):\n"
        );
        let _ = writeln!(
            md,
            "| period | statuses | listeners | most exposures | excess over cap | partner calls/s max | mean |\n|---|---|---|---|---|---|---|"
        );
        for p in [
            "before",
            "during",
            "recovering",
            "after",
            "straddling",
            "transition",
        ] {
            let (s, c, q) = (o.statuses.get(p), o.caps.get(p), o.qps.get(p));
            if s.is_none() && c.is_none() && q.is_none() {
                continue;
            }
            let _ = writeln!(
                md,
                "| {p} | {} | {} | {} | {} | {} | {} |",
                s.map_or(String::new(), statuses),
                c.map_or(0, |c| c.listeners),
                c.map_or(0, |c| c.max_per_listener),
                c.map_or(0, |c| c.excess),
                q.map_or(0, |q| q.max),
                q.map_or(String::new(), |q| format!("{:.1}", q.mean))
            );
        }
    }
    if let Some((redis, memory)) = &r.overhead {
        let _ = writeln!(
            md,
            "\n| backend | sessions | ads p50 | ads p99 | ads p99.9 | impressions p50 | impressions p99 | statuses |\n|---|---|---|---|---|---|---|---|"
        );
        for l in [redis, memory] {
            let _ = writeln!(
                md,
                "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
                l.backend,
                l.sessions,
                l.ads_p50_ms,
                l.ads_p99_ms,
                l.ads_p999_ms,
                l.events_p50_ms,
                l.events_p99_ms,
                statuses(&l.statuses)
            );
        }
    }
    print!("\n{md}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let base = crate::gateway::workspace_root().join(format!("loadtest/results/{now}-replicas"));
    let json = serde_json::json!({
        "scenario": "replicas",
        "cpu": cpu, "cores": cores, "took_s": took_s,
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "bidgate": crate::gateway::describe_binary(binary),
        "targets": rows,
        "results": r,
    });
    std::fs::write(
        base.with_extension("json"),
        serde_json::to_string_pretty(&json).expect("json") + "\n",
    )?;
    std::fs::write(base.with_extension("md"), md)?;
    println!("\nwritten: {}.{{json,md}}", base.display());
    Ok(())
}
