//! bidgate's load harness (see README.md beside this crate):
//! - `report`: the scenario matrix against the baseline proxy, written to `results/`;
//! - `faults`: 8 partners with a fixed delay, with and without one that hangs forever;
//! - `yield`: revenue against an oracle, static timeouts against adaptive deadlines;
//! - `replicas`: three bidgate processes sharing one Redis (`[store]`);
//! - `baseline`, `fleet`: the baseline proxy and the mock partner fleet on their own.

mod baseline;
mod fleet;
mod gateway;
mod interleave;
mod load;
mod metrics;
mod pin;
mod replicas;
mod report;
mod svg;
mod yield_;

use bytes::Bytes;
use clap::{Parser, Subcommand};
use serde::Serialize;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The whole scenario matrix, bidgate against the baseline, written to results/.
    Report(report::Args),
    /// 8 partners with a fixed delay, beside the same plus one hanging partner.
    Faults(FaultArgs),
    /// Issue 17: revenue as a share of an oracle, static timeouts against adaptive deadlines.
    Yield(yield_::Args),
    /// Issue 16: three replicas sharing one Redis: caps, pacing, replays, partner QPS,
    /// Redis killed mid-run, and Redis's latency against the memory store.
    Replicas(replicas::Args),
    /// The baseline fan-out proxy (started by `report`; prints its address).
    Baseline {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
        /// How long to wait for partners, like bidgate's fan-out close.
        #[arg(long, default_value_t = 195)]
        wait_ms: u64,
        /// Partner endpoints.
        partners: Vec<String>,
    },
    /// Prints a workload's client request (for tools outside this harness, e.g. a
    /// callgrind run that counts instructions per auction).
    Request {
        #[arg(long, value_enum, default_value_t = report::Workload::Realistic)]
        workload: report::Workload,
        #[arg(long, default_value_t = 200)]
        tmax_ms: u64,
    },
    /// N mock partners on consecutive ports, until Ctrl-C.
    Fleet {
        #[arg(long, default_value_t = 8)]
        partners: usize,
        /// `fixed:20`, `uniform:10:40` or `lognormal:20:0.5` (median ms, sigma).
        #[arg(long, default_value = "fixed:20")]
        latency: fleet::Latency,
        /// Share of requests answered with bids.
        #[arg(long, default_value_t = 1.0)]
        bid_prob: f64,
        /// Shares of requests that hang, get a 500, get a non-JSON body.
        #[arg(long, default_value_t = 0.0)]
        hang: f64,
        #[arg(long, default_value_t = 0.0)]
        error: f64,
        #[arg(long, default_value_t = 0.0)]
        garbage: f64,
        /// Size of the VAST `adm` in bids on audio and video imps.
        #[arg(long, default_value_t = 2048)]
        adm_bytes: usize,
        /// Size of the HTML `adm` in bids on banner imps.
        #[arg(long, default_value_t = 512)]
        banner_adm_bytes: usize,
    },
}

#[derive(clap::Args, Clone)]
struct FaultArgs {
    /// Requests per second, open loop.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Measured seconds per run (after a 3 s warm-up at the same rate).
    #[arg(long, default_value_t = 15)]
    duration: u64,
    #[arg(long, default_value_t = 8)]
    partners: usize,
    /// Every bidding partner answers after this many ms.
    #[arg(long, default_value_t = 20)]
    delay_ms: u64,
    /// The requests' tmax; partners' timeout_ms is larger, so the deadline is what binds.
    #[arg(long, default_value_t = 200)]
    tmax_ms: u64,
    /// Which runs to make (1 = no hanging partner, 2 = hanging with breaker off,
    /// 3 = hanging with breaker on), e.g. `--runs 2`.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 3])]
    runs: Vec<usize>,
    /// bidgate's `server.workers` (0 = one per core).
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// Run this bidgate binary (an older build, say) instead of building
    /// `target/release/bidgate`.
    #[arg(long)]
    bidgate: Option<std::path::PathBuf>,
}

#[derive(Serialize)]
struct RunResult {
    name: String,
    stats: load::Stats,
    cpu_ms_per_auction: f64,
    peak_rss_mib: f64,
    /// bidgate's own count of partner outcomes (from /metrics), summed over partners.
    partner_outcomes: std::collections::BTreeMap<String, f64>,
}

fn main() -> std::io::Result<()> {
    let cli = Cli::parse();
    if let Cmd::Request { workload, tmax_ms } = &cli.command {
        use std::io::Write;
        return std::io::stdout().write_all(&workload.request(*tmax_ms));
    }
    if cfg!(debug_assertions) && !matches!(cli.command, Cmd::Baseline { .. } | Cmd::Fleet { .. }) {
        eprintln!(
            "loadtest: build with --release (cargo run --release -p loadtest -- …): a debug generator, fleet and baseline would skew every figure"
        );
        std::process::exit(2);
    }
    if let Cmd::Report(args) = &cli.command
        && !args.no_pin
    {
        match pin::harness_here()? {
            Some(s) => eprintln!(
                "pinned: servers under test on CPUs {:?}, generator and mock partners on {:?} (--no-pin to share)",
                s.server, s.harness
            ),
            None => eprintln!("not pinned: fewer than two CPUs"),
        }
    }
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Cmd::Report(args) = &cli.command
        && !args.no_pin
        && !args.no_priority
    {
        // The generator's threads go first on the harness core (see `pin::prioritise_here`).
        rt.on_thread_start(pin::prioritise_here);
    }
    let rt = rt.enable_all().build()?;
    match cli.command {
        Cmd::Report(args) => rt.block_on(report::run(args)),
        Cmd::Faults(args) => rt.block_on(faults(args)),
        Cmd::Yield(args) => rt.block_on(yield_::run(args)),
        Cmd::Replicas(args) => rt.block_on(replicas::run(args)),
        Cmd::Baseline {
            listen,
            wait_ms,
            partners,
        } => rt.block_on(baseline::serve(&listen, partners, wait_ms)),
        Cmd::Request { .. } => unreachable!("answered above"),
        Cmd::Fleet {
            partners,
            latency,
            bid_prob,
            hang,
            error,
            garbage,
            adm_bytes,
            banner_adm_bytes,
        } => rt.block_on(async {
            let profile = fleet::Profile {
                latency,
                bid_prob,
                hang,
                error,
                garbage,
                adm_bytes,
                banner_adm_bytes,
                ..fleet::Profile::fixed(0)
            };
            for a in fleet::start(&vec![profile; partners])? {
                println!("http://{a}/bid");
            }
            tokio::signal::ctrl_c().await
        }),
    }
}

async fn faults(args: FaultArgs) -> std::io::Result<()> {
    let binary = gateway::bidgate_binary(args.bidgate.as_deref())?;
    let bidders = fleet::start(&vec![fleet::Profile::fixed(args.delay_ms); args.partners])?;
    let hang = fleet::hanging().await?;
    let runs = [
        ("8 partners", false, true),
        ("8 partners + 1 hanging, breaker off", true, false),
        ("8 partners + 1 hanging, breaker on (default)", true, true),
    ];
    let mut results = Vec::new();
    for (i, (name, with_hang, breaker)) in runs.into_iter().enumerate() {
        if !args.runs.contains(&(i + 1)) {
            continue;
        }
        let mut partners = bidders.clone();
        if with_hang {
            partners.push(hang);
        }
        let config = config_text(&partners, breaker, args.workers);
        let gw = gateway::Gateway::start(&binary, &config, &results.len().to_string())?;
        results.push(measure(name, &gw, &args).await);
    }
    report(&args, &binary, &results)
}

fn config_text(partners: &[SocketAddr], breaker: bool, workers: usize) -> String {
    let mut s = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nworkers = {workers}\n\n[auction]\nmax_tmax_ms = 1000\npricing = \"second_price\"\n\n\
         [http_client]\npool_max_idle_per_host = 512\n\n",
    );
    if !breaker {
        s.push_str("[circuit_breaker]\nfailure_threshold = 0\n\n");
    }
    for (i, addr) in partners.iter().enumerate() {
        // timeout_ms above any tmax used here: the request's deadline is what binds.
        s.push_str(&format!(
            "[[partners]]\nid = \"p{i}\"\nendpoint = \"http://{addr}/bid\"\ntimeout_ms = 2000\n\n"
        ));
    }
    s
}

async fn measure(name: &str, gw: &gateway::Gateway, args: &FaultArgs) -> RunResult {
    let client = reqwest::Client::builder()
        .no_gzip()
        .pool_max_idle_per_host(4096)
        // Below actix's 5 s keep-alive, so the client never reuses a connection the server
        // is closing (which would show up as a failed request that bidgate never saw).
        .pool_idle_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .build()
        .expect("client");
    let url = format!("http://{}/openrtb2/auction", gw.addr);
    let mut request: serde_json::Value =
        serde_json::from_str(include_str!("../../fixtures/requests/demo-audio.json"))
            .expect("fixture");
    request["tmax"] = args.tmax_ms.into();
    let body = Bytes::from(serde_json::to_vec(&request).expect("json"));
    let late_after = Duration::from_millis(args.tmax_ms + 5);

    eprintln!("{name}: warm-up 3 s at {} rps", args.rate);
    load::run(
        &client,
        &url,
        body.clone(),
        args.rate,
        Duration::from_secs(3),
        late_after,
    )
    .await;
    let cpu0 = gw.cpu_seconds();
    eprintln!("{name}: measuring {} s", args.duration);
    let stats = load::run(
        &client,
        &url,
        body,
        args.rate,
        Duration::from_secs(args.duration),
        late_after,
    )
    .await;
    let cpu = gw.cpu_seconds() - cpu0;
    RunResult {
        name: name.to_string(),
        cpu_ms_per_auction: cpu * 1000.0 / stats.sent.max(1) as f64,
        peak_rss_mib: gw.peak_rss_mib(),
        partner_outcomes: partner_outcomes(gw.addr).await,
        stats,
    }
}

/// Sums `bidgate_partner_requests_total` by outcome, warm-up included, with bidgate's own
/// late-answer count and its rejected bids.
async fn partner_outcomes(addr: SocketAddr) -> std::collections::BTreeMap<String, f64> {
    let Some(c) = metrics::scrape(addr).await else {
        return Default::default();
    };
    let mut out = c.partner_outcomes.clone();
    out.insert("(bidgate-side late answers)".to_string(), c.late);
    out.insert("(bids rejected)".to_string(), c.rejected());
    out
}

fn report(
    args: &FaultArgs,
    binary: &std::path::Path,
    results: &[RunResult],
) -> std::io::Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let cpu = gateway::cpu_model();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "\n## faults: {} partners answering after {} ms, tmax {} ms, {} rps open loop, {} s",
        args.partners, args.delay_ms, args.tmax_ms, args.rate, args.duration
    );
    println!("machine: {cpu}, {cores} cores (load generator, partners and bidgate share them)\n");
    println!(
        "| run | achieved rps | p50 ms | p99 ms | p99.9 ms | max ms | late (> tmax+5) | non-2xx | CPU ms/auction | peak RSS MiB | partner outcomes (incl. warm-up) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in results {
        let s = &r.stats;
        let non_2xx = s.non_2xx();
        println!(
            "| {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {:.3} | {:.1} | {} |",
            r.name,
            s.achieved_rps,
            s.p50_ms,
            s.p99_ms,
            s.p999_ms,
            s.max_ms,
            s.late,
            non_2xx,
            r.cpu_ms_per_auction,
            r.peak_rss_mib,
            r.partner_outcomes
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let out = gateway::workspace_root().join(format!("loadtest/results/{now}-faults.json"));
    let json = serde_json::json!({
        "scenario": "faults",
        "cpu": cpu, "cores": cores,
        "rate": args.rate, "duration_s": args.duration, "partners": args.partners,
        "delay_ms": args.delay_ms, "tmax_ms": args.tmax_ms,
        "command": format!("cargo run --release -p loadtest -- faults --rate {} --duration {}", args.rate, args.duration),
        "bidgate": gateway::describe_binary(binary),
        "runs": results,
    });
    std::fs::write(
        &out,
        serde_json::to_string_pretty(&json).expect("json") + "\n",
    )?;
    println!("\nwritten: {}", out.display());
    Ok(())
}
