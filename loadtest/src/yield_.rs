//! The `yield` scenario (issue 17): 8 partners with log-normal latency and different bid
//! values, tmax 200. Revenue is reported as a share of an oracle that waits for every bid
//! (the fleet records every bid it makes, by request id), for static timeouts (every
//! partner at one timeout, as an operator would set it) and for adaptive deadlines.

use crate::fleet::{self, BidLog, Latency, Profile};
use crate::{gateway, metrics};
use hdrhistogram::Histogram;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::time::{Instant, sleep_until, timeout};

#[derive(clap::Args, Clone)]
pub struct Args {
    /// Requests per second, open loop.
    #[arg(long, default_value_t = 150.0)]
    rate: f64,
    /// Measured seconds per run (after a warm-up of `warmup` seconds at the same rate).
    #[arg(long, default_value_t = 12)]
    duration: u64,
    #[arg(long, default_value_t = 4)]
    warmup: u64,
    /// The static run's timeout for every partner.
    #[arg(long, default_value_t = 120)]
    static_timeout_ms: u64,
    #[arg(long)]
    bidgate: Option<std::path::PathBuf>,
}

const TMAX: u64 = 200;

/// One partner of the scenario.
struct Spec {
    name: &'static str,
    median_ms: f64,
    sigma: f64,
    cents: (i64, i64),
    bid_prob: f64,
    error: f64,
    hang: f64,
}

const fn spec(
    name: &'static str,
    median_ms: f64,
    sigma: f64,
    cents: (i64, i64),
    bid_prob: f64,
) -> Spec {
    Spec {
        name,
        median_ms,
        sigma,
        cents,
        bid_prob,
        error: 0.0,
        hang: 0.0,
    }
}

/// A slow partner that often wins, a fast one that rarely does, a flaky one, and five more.
const PARTNERS: [Spec; 8] = [
    spec("slow-winner", 62.0, 0.5, (400, 600), 0.8),
    spec("fast-rare", 15.0, 0.5, (100, 200), 1.0),
    Spec {
        error: 0.15,
        hang: 0.05,
        ..spec("flaky", 40.0, 1.0, (150, 320), 0.9)
    },
    spec("mid-a", 30.0, 0.6, (120, 260), 0.9),
    spec("mid-b", 45.0, 0.7, (120, 280), 0.9),
    spec("slow-low", 120.0, 0.5, (50, 150), 1.0),
    spec("mid-c", 25.0, 0.8, (100, 250), 0.9),
    spec("slow-mid", 90.0, 0.6, (100, 300), 0.9),
];

fn profiles() -> Vec<Profile> {
    PARTNERS
        .iter()
        .map(|p| Profile {
            latency: Latency::LogNormal {
                median: p.median_ms,
                sigma: p.sigma,
            },
            bid_prob: p.bid_prob,
            price_cents: p.cents,
            hang: p.hang,
            error: p.error,
            garbage: 0.0,
            adm_bytes: 1024,
            banner_adm_bytes: 256,
        })
        .collect()
}

/// Every auction's bids are recorded in `log_dir`, for `bidgate whatif` to replay.
fn config(partners: &[SocketAddr], timeout_ms: u64, adaptive: bool, log_dir: &Path) -> String {
    let mode = if adaptive { "adaptive" } else { "static" };
    let mut s = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[auction]\ndeadline_mode = \"{mode}\"\n\n\
         [http_client]\npool_max_idle_per_host = 512\n\n\
         [event_log]\ndir = \"{}\"\nrecord_bids = true\nrecord_bids_sample = 1.0\n\n",
        log_dir.display()
    );
    for (i, addr) in partners.iter().enumerate() {
        s.push_str(&format!(
            "[[partners]]\nid = \"{}\"\nendpoint = \"http://{addr}/bid\"\ntimeout_ms = {timeout_ms}\n\n",
            PARTNERS[i].name
        ));
    }
    s
}

struct Run {
    name: String,
    sent: u64,
    revenue: f64,
    oracle: f64,
    p50_ms: f64,
    p99_ms: f64,
    late_client: u64,
    late_bidgate: f64,
    /// `bidgate whatif` over this run's log: (actual, replayed as recorded) revenue.
    whatif: Option<(f64, f64)>,
}

/// Runs `bidgate whatif` over `dir` and reads the revenue of its `actual` and `replay as
/// recorded` rows (the prediction for the settings actually used).
fn whatif(binary: &Path, dir: &Path) -> Option<(f64, f64)> {
    let out = std::process::Command::new(binary)
        .args(["whatif", "--log"])
        .arg(dir)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // A row: its label, then the auction count, then the revenue.
    let revenue = |label: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().nth(1)?.parse::<f64>().ok())
    };
    Some((revenue("actual ")?, revenue("replay as recorded ")?))
}

pub async fn run(args: Args) -> std::io::Result<()> {
    let binary = gateway::bidgate_binary(args.bidgate.as_deref())?;
    let log: BidLog = BidLog::default();
    let partners = fleet::start_logged(&profiles(), Some(log.clone()))?;
    let runs = [
        (
            format!("static, every partner at {} ms", args.static_timeout_ms),
            args.static_timeout_ms,
            false,
        ),
        (
            "static, every partner at 200 ms (the adaptive run's config)".to_string(),
            TMAX,
            false,
        ),
        (
            "adaptive (timeouts 200 ms, deadline_mode = adaptive)".to_string(),
            TMAX,
            true,
        ),
    ];
    let mut results = Vec::new();
    for (i, (name, timeout_ms, adaptive)) in runs.into_iter().enumerate() {
        let log_dir =
            std::env::temp_dir().join(format!("bidgate-yield-{}-{i}", std::process::id()));
        let _ = std::fs::remove_dir_all(&log_dir);
        let gw = gateway::Gateway::start(
            &binary,
            &config(&partners, timeout_ms, adaptive, &log_dir),
            &format!("yield-{i}"),
        )?;
        eprintln!("{name}: warm-up {} s at {} rps", args.warmup, args.rate);
        load(gw.addr, &log, args.rate, args.warmup, &format!("w{i}")).await;
        let late0 = metrics::scrape(gw.addr).await.map_or(0.0, |c| c.late);
        eprintln!("{name}: measuring {} s", args.duration);
        let mut r = load(gw.addr, &log, args.rate, args.duration, &format!("m{i}")).await;
        r.late_bidgate = metrics::scrape(gw.addr).await.map_or(0.0, |c| c.late) - late0;
        drop(gw); // `load` waited 1.5 s after the last answer: the log is written
        r.whatif = whatif(&binary, &log_dir);
        let _ = std::fs::remove_dir_all(&log_dir);
        r.name = name;
        results.push(r);
    }
    println!(
        "\n## yield: 8 log-normal partners, tmax {TMAX} ms, {} rps open loop, {} s per run (after {} s warm-up)\n",
        args.rate, args.duration, args.warmup
    );
    println!(
        "| run | auctions | revenue ÷ oracle | p50 ms | p99 ms | late (client, > tmax+5) | late (bidgate) | whatif as recorded ÷ actual |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in &results {
        let whatif = r.whatif.map_or("–".to_string(), |(actual, replay)| {
            format!(
                "{:+.2}% ({replay:.2} / {actual:.2})",
                100.0 * (replay / actual.max(1e-9) - 1.0)
            )
        });
        println!(
            "| {} | {} | {:.2}% | {:.1} | {:.1} | {} | {} | {whatif} |",
            r.name,
            r.sent,
            100.0 * r.revenue / r.oracle.max(1e-9),
            r.p50_ms,
            r.p99_ms,
            r.late_client,
            r.late_bidgate,
        );
    }
    println!("\npartners (median ms, sigma, price cents, bid prob, error, hang):");
    for p in &PARTNERS {
        println!(
            "- {}: {} ms, {}, {}–{}, {}, {}, {}",
            p.name, p.median_ms, p.sigma, p.cents.0, p.cents.1, p.bid_prob, p.error, p.hang
        );
    }
    Ok(())
}

/// Open-loop load: `rate` requests per second for `secs`, each with its own id (`tag`-n);
/// revenue is the winning prices answered, the oracle the best bid the fleet made per id.
async fn load(addr: SocketAddr, log: &BidLog, rate: f64, secs: u64, tag: &str) -> Run {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .pool_idle_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .build()
        .expect("client");
    let url = format!("http://{addr}/openrtb2/auction");
    let n = (rate * secs as f64).round() as u64;
    let start = Instant::now() + Duration::from_millis(20);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let at = start + Duration::from_secs_f64(i as f64 / rate);
        sleep_until(at).await;
        let id = format!("{tag}-{i}");
        let body = serde_json::json!({
            "id": id, "tmax": TMAX,
            "imp": [{"id": "1", "audio": {"mimes": ["audio/mpeg"], "minduration": 15, "maxduration": 30}}],
            "app": {"bundle": "com.example.music", "publisher": {"id": "pub-1"}},
        });
        let (client, url) = (client.clone(), url.clone());
        tasks.spawn(async move {
            let send = async {
                let r = client
                    .post(url)
                    .header("content-type", "application/json")
                    .body(serde_json::to_vec(&body).expect("json"))
                    .send()
                    .await?;
                let status = r.status().as_u16();
                let bytes = r.bytes().await?;
                Ok::<_, reqwest::Error>((status, bytes))
            };
            let price = match timeout(Duration::from_secs(2), send).await {
                Ok(Ok((200, bytes))) => serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| v["seatbid"][0]["bid"][0]["price"].as_f64())
                    .unwrap_or(0.0),
                _ => 0.0,
            };
            (id, price, at.elapsed())
        });
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    let (mut revenue, mut late, mut answers) = (0.0, 0, Vec::new());
    while let Some(Ok((id, price, took))) = tasks.join_next().await {
        let _ = hist.record(took.as_micros() as u64);
        if took > Duration::from_millis(TMAX + 5) {
            late += 1;
        }
        revenue += price;
        answers.push(id);
    }
    // The fleet's partners finish their answers after bidgate stopped waiting: give them
    // time to record the last bids.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let oracle: f64 = {
        let log = log.lock().unwrap_or_else(|e| e.into_inner());
        answers
            .iter()
            .filter_map(|id| log.get(id))
            .map(|c| *c as f64 / 100.0)
            .sum()
    };
    Run {
        name: String::new(),
        sent: n,
        revenue,
        oracle,
        p50_ms: hist.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: hist.value_at_quantile(0.99) as f64 / 1000.0,
        late_client: late,
        late_bidgate: 0.0,
        whatif: None,
    }
}
