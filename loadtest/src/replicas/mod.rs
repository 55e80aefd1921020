//! The `replicas` scenario (issue 16): three bidgate processes on loopback sharing one
//! `redis-server` (`[store] backend = "redis"`), a mock partner and a direct-sold catalog.
//! It measures what sharing state promises: frequency caps exact across replicas, pacing
//! within its budget, an impression replayed on another replica billed once, a partner's QPS
//! cap held globally, Redis killed mid-run without a client error, and what Redis costs in
//! latency against `backend = "memory"`.
//!
//! **No proxy in front:** the generator round-robins its requests over the three replicas
//! itself. A proxy inside this process would share the generator's runtime and this
//! machine's two cores, adding its own latency and noise to the one comparison that is
//! about a millisecond; and the replay check needs to know which replica served an ad, to
//! fire its impression at another one. Round robin per request is what the load balancer
//! of `deploy/compose.yaml` (nginx) does too.

mod cluster;
mod dsp;
mod outage;
mod overhead;
mod phases;
mod redis;
mod report;

use cluster::{Cluster, Setup};
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args, Clone)]
pub struct Args {
    /// Which measurements to make.
    #[arg(long, value_delimiter = ',', default_values_t = ["caps", "pacing", "replay", "qps", "outage", "overhead"].map(String::from))]
    phases: Vec<String>,
    /// The capped line item's frequency cap (impressions per listener per day).
    #[arg(long, default_value_t = 4)]
    cap: u32,
    /// Listeners in the cap measurement, all at once, each with `breaks` ad breaks.
    #[arg(long, default_value_t = 40)]
    cap_listeners: usize,
    #[arg(long, default_value_t = 8)]
    breaks: usize,
    /// Pause between one listener's ad breaks, in ms (in real life the ad plays: 15-30 s).
    #[arg(long, default_value_t = 100)]
    gap_ms: u64,
    /// The budgeted line item's goal (impressions) and the store's lease chunk.
    #[arg(long, default_value_t = 1000)]
    budget: u64,
    #[arg(long, default_value_t = 100)]
    lease_impressions: u64,
    /// Ad requests per second for the budgeted line item, and for how long.
    #[arg(long, default_value_t = 150.0)]
    pacing_rate: f64,
    #[arg(long, default_value_t = 10)]
    pacing_s: u64,
    /// Impressions fired on another replica and replayed on the other two, at `replay_rate`.
    #[arg(long, default_value_t = 300)]
    replays: usize,
    #[arg(long, default_value_t = 100.0)]
    replay_rate: f64,
    /// The capped partner's `qps_limit`, the auctions per second offered, for how long.
    #[arg(long, default_value_t = 100)]
    qps_limit: u32,
    #[arg(long, default_value_t = 180.0)]
    qps_rate: f64,
    #[arg(long, default_value_t = 8)]
    qps_s: u64,
    /// The outage run: its length, when Redis goes away, for how long, and how.
    #[arg(long, default_value_t = 26)]
    outage_run_s: u64,
    #[arg(long, default_value_t = 5)]
    outage_at_s: u64,
    #[arg(long, default_value_t = 10)]
    outage_s: u64,
    #[arg(long, value_enum, default_value_t = outage::Fault::Kill)]
    fault: outage::Fault,
    /// New capped listeners per second during the outage run.
    #[arg(long, default_value_t = 6)]
    outage_listeners: usize,
    /// Sessions (ad request + impression) per second for the latency comparison, seconds
    /// per window and windows per backend (alternating).
    #[arg(long, default_value_t = 100.0)]
    overhead_rate: f64,
    #[arg(long, default_value_t = 6)]
    overhead_s: u64,
    #[arg(long, default_value_t = 2)]
    overhead_rounds: usize,
    /// `store.timeout_ms` for the replicas (unset: bidgate's default).
    #[arg(long)]
    store_timeout_ms: Option<u64>,
    #[arg(long)]
    bidgate: Option<std::path::PathBuf>,
}

impl Args {
    fn runs(&self, phase: &str) -> bool {
        self.phases.iter().any(|p| p == phase)
    }
}

/// Every measurement made (`None`: not run).
#[derive(Default, serde::Serialize)]
pub struct Results {
    caps: Option<phases::Caps>,
    pacing: Option<phases::Pacing>,
    replay: Option<phases::Replay>,
    qps: Option<phases::Qps>,
    outage: Option<outage::Outage>,
    overhead: Option<(overhead::Latency, overhead::Latency)>,
    /// Per measurement: the store's operations that timed out, failed or were skipped
    /// (breaker open) and the fallbacks applied, over the three replicas.
    store_ops: Vec<(String, report::StoreOps)>,
}

/// Records the store's operations since the last mark as measurement `name`'s.
async fn mark(c: &Cluster, ops: &mut report::StoreOps, res: &mut Results, name: &str) {
    let now = report::StoreOps::scrape(c).await;
    res.store_ops.push((name.to_string(), now.since(ops)));
    *ops = now;
}

pub async fn run(args: Args) -> std::io::Result<()> {
    let binary = crate::gateway::bidgate_binary(args.bidgate.as_deref())?;
    let t0 = std::time::Instant::now();
    let dir = std::env::temp_dir().join(format!("bidgate-replicas-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut redis = redis::Redis::start()?;
    let (dsp_addr, seen) = dsp::start()?;
    let setup = Setup {
        dir: dir.clone(),
        dsp: dsp_addr,
        cap: args.cap,
        budget: args.budget,
        lease_impressions: args.lease_impressions,
        qps_limit: args.qps_limit,
        store_timeout_ms: args.store_timeout_ms,
    };
    let url = redis.url();
    let c = Arc::new(Cluster::start(&binary, &setup, Some(&url), "redis").await?);
    eprintln!(
        "replicas: 3 bidgate replicas on {}, redis on {}, partner on {dsp_addr}",
        c.replicas
            .iter()
            .map(|r| r.addr.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        redis.port
    );
    let mut res = Results::default();
    let gap = Duration::from_millis(args.gap_ms);
    let mut ops = report::StoreOps::scrape(&c).await;
    if args.runs("caps") {
        eprintln!(
            "replicas: caps: {} listeners × {} breaks, cap {}",
            args.cap_listeners, args.breaks, args.cap
        );
        res.caps = Some(phases::caps(&c, args.cap_listeners, args.breaks, args.cap, gap).await);
        mark(&c, &mut ops, &mut res, "caps").await;
    }
    if args.runs("pacing") {
        eprintln!(
            "replicas: pacing: budget {} at {} rps for {} s",
            args.budget, args.pacing_rate, args.pacing_s
        );
        let mut p = phases::pacing(&c, &redis, args.pacing_rate, args.pacing_s, args.budget).await;
        p.lease_impressions = args.lease_impressions;
        res.pacing = Some(p);
        mark(&c, &mut ops, &mut res, "pacing").await;
    }
    if args.runs("replay") {
        eprintln!("replicas: replay: {} impressions", args.replays);
        res.replay = Some(phases::replay(&c, &seen, args.replays, args.replay_rate).await);
        mark(&c, &mut ops, &mut res, "replay").await;
    }
    if args.runs("qps") {
        eprintln!(
            "replicas: qps: cap {}/s, {} auctions/s for {} s",
            args.qps_limit, args.qps_rate, args.qps_s
        );
        res.qps = Some(phases::qps(&c, &seen, args.qps_limit, args.qps_rate, args.qps_s).await);
        mark(&c, &mut ops, &mut res, "qps").await;
    }
    if args.runs("outage") {
        eprintln!(
            "replicas: outage: {:?} redis at {} s for {} s of a {} s run",
            args.fault, args.outage_at_s, args.outage_s, args.outage_run_s
        );
        let plan = outage::Plan {
            run_s: args.outage_run_s,
            at_s: args.outage_at_s,
            outage_s: args.outage_s,
            fault: args.fault,
            listeners_per_s: args.outage_listeners,
            breaks: args.breaks,
            gap,
            cap: args.cap,
            qps_rate: args.qps_rate,
        };
        res.outage = Some(outage::run(&c, &mut redis, &seen, &plan).await);
        mark(&c, &mut ops, &mut res, "outage").await;
    }
    if args.runs("overhead") {
        let memory = Arc::new(Cluster::start(&binary, &setup, None, "memory").await?);
        eprintln!(
            "replicas: overhead: {} sessions/s, {} × {} s per backend",
            args.overhead_rate, args.overhead_rounds, args.overhead_s
        );
        res.overhead = Some(
            overhead::run(
                &c,
                &memory,
                args.overhead_rate,
                args.overhead_s,
                args.overhead_rounds,
            )
            .await,
        );
        mark(&c, &mut ops, &mut res, "overhead").await;
    }
    let took = t0.elapsed().as_secs_f64();
    drop(c);
    let _ = std::fs::remove_dir_all(&dir);
    report::write(&args, &binary, &res, took)
}
