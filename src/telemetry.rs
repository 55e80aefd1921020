//! Metrics (the `metrics` facade, rendered by the Prometheus exporter) and logging.
//!
//! Metric names and labels are listed in docs/operations.md (Metrics). Label values are bounded: partner ids come
//! from config, outcomes and routes from fixed sets; never a request id.

use crate::money::Micros;
use metrics::{Counter, Histogram, counter, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Latency buckets in seconds: fine-grained where auctions live (1 ms … 1 s).
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0,
];

/// The process-wide recorder. Installed once; every gateway in the process shares it.
pub fn metrics() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .expect("buckets are non-empty")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; keep ours usable anyway.
            let _ = metrics::set_global_recorder(recorder);
            start_upkeep(handle.clone(), UPKEEP_EVERY);
            handle
        })
        .clone()
}

/// How often the histograms' recorded samples are folded into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The name of the thread that runs the exporter's upkeep.
pub const UPKEEP_THREAD: &str = "bidgate-metrics";

/// Runs the exporter's upkeep every `every`, on a thread of its own, for the life of the
/// process. Why: a histogram keeps every recorded sample until upkeep (or a scrape) folds
/// them into its buckets, and `build_recorder` leaves running it to the caller: with
/// nobody scraping `/metrics`, ~11 samples an auction piled up for as long as the process
/// ran (at 4,000 auctions a second, ~350 KB more every second). A thread, not a task: the
/// recorder is process-wide and outlives any one runtime (tests start several gateways).
fn start_upkeep(handle: PrometheusHandle, every: Duration) {
    let spawned = std::thread::Builder::new()
        .name(UPKEEP_THREAD.into())
        .spawn(move || {
            loop {
                std::thread::sleep(every);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "the metrics upkeep thread did not start: histograms fold only when scraped");
    }
}

/// Logs to stderr in the configured format; `RUST_LOG` (e.g. `bidgate=debug`) overrides the
/// configured level. Once per process: later calls (a test's second gateway) change nothing.
///
/// Events inside an auction carry its span (`auction{id=…}`) and, inside a partner call, the
/// partner's (`partner{partner=…}`), so one grep finds everything about one auction.
pub fn init_logging(cfg: &crate::config::LogConfig) {
    use crate::config::LogFormat;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::builder().parse(&cfg.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match cfg.format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
        LogFormat::Pretty => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
}

/// One partner's metric handles, registered once when its `Partner` is built: the hot path
/// then increments handles, with no label formatting or registry lookup per call.
pub struct PartnerMetrics {
    /// One per `Outcome::label` value, in `OUTCOME_LABELS` order.
    outcomes: [Counter; OUTCOME_LABELS.len()],
    /// One per `Outcome::error_kind` value, in `ERROR_KINDS` order.
    errors: [Counter; ERROR_KINDS.len()],
    latency: Histogram,
    bids: Counter,
    wins: Counter,
    revenue: Counter,
}

/// Every value of the `outcome` label of `bidgate_partner_requests_total`.
pub const OUTCOME_LABELS: [&str; 8] = [
    "bid",
    "nobid",
    "timeout",
    "late",
    "error",
    "throttled",
    "circuit_open",
    "no_legal_basis",
];
/// Every value of the `kind` label of `bidgate_partner_errors_total`.
pub const ERROR_KINDS: [&str; 4] = ["transport", "status", "body", "too_large"];

impl PartnerMetrics {
    /// `currency`: the auction currency, the `currency` label of revenue.
    pub fn new(partner: &str, currency: &str) -> Self {
        // Handles taken before the recorder is installed would be no-ops.
        let _ = metrics();
        let p = partner.to_string();
        Self {
            outcomes: OUTCOME_LABELS.map(|o| {
                counter!("bidgate_partner_requests_total", "partner" => p.clone(), "outcome" => o)
            }),
            errors: ERROR_KINDS.map(|k| {
                counter!("bidgate_partner_errors_total", "partner" => p.clone(), "kind" => k)
            }),
            latency: histogram!("bidgate_partner_latency_seconds", "partner" => p.clone()),
            bids: counter!("bidgate_partner_bids_total", "partner" => p.clone()),
            wins: counter!("bidgate_wins_total", "partner" => p.clone()),
            revenue: counter!("bidgate_revenue_micros_total", "partner" => p, "currency" => currency.to_string()),
        }
    }

    /// One partner call (or skip). Skipped partners were not called: no latency to record.
    pub fn outcome(&self, outcome: &crate::outcome::Outcome, elapsed: Duration) {
        use crate::outcome::Outcome;
        let label = outcome.label();
        if let Some(i) = OUTCOME_LABELS.iter().position(|l| *l == label) {
            self.outcomes[i].increment(1);
        }
        if let Some(kind) = outcome.error_kind()
            && let Some(i) = ERROR_KINDS.iter().position(|k| *k == kind)
        {
            self.errors[i].increment(1);
        }
        if !matches!(outcome, Outcome::Throttled(_)) {
            self.latency.record(elapsed.as_secs_f64());
        }
    }

    pub fn bids(&self, n: usize) {
        self.bids.increment(n as u64);
    }

    pub fn win(&self, clearing: Micros) {
        self.wins.increment(1);
        self.revenue.increment(clearing.0.max(0) as u64);
    }
}

pub fn bids_rejected(partner: &str, code: u32, n: u64) {
    counter!("bidgate_bids_rejected_total", "partner" => partner.to_string(), "code" => code.to_string())
        .increment(n);
}

pub fn auction(endpoint: &'static str, outcome: &'static str, elapsed: Duration) {
    auction_outcome(endpoint, outcome);
    histogram!("bidgate_auction_duration_seconds", "endpoint" => endpoint)
        .record(elapsed.as_secs_f64());
}

/// An answer that was ready only after tmax + 5 ms: the one thing bidgate promises not to do.
/// Counted every time; logged at most once a second (with how many since the last line), so
/// that an overload does not also become a log flood.
pub fn late_answer(endpoint: &'static str, late_by: Duration) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST_SECOND: AtomicU64 = AtomicU64::new(0);
    static SINCE: AtomicU64 = AtomicU64::new(0);
    counter!("bidgate_auctions_late_total", "endpoint" => endpoint).increment(1);
    let unsaid = SINCE.fetch_add(1, Ordering::Relaxed) + 1;
    let second = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if LAST_SECOND.swap(second, Ordering::Relaxed) != second {
        SINCE.fetch_sub(unsaid, Ordering::Relaxed);
        tracing::warn!(
            endpoint,
            late_by_ms = late_by.as_millis() as u64,
            late_answers = unsaid,
            "answers later than tmax + 5 ms (count since the last such line)"
        );
    }
}

/// A request refused by admission control, `elapsed` after it arrived (by the worker's
/// clock, backdated by its lag like every arrival): how fast the 503 was ready.
pub fn shed(endpoint: &'static str, elapsed: Duration) {
    histogram!("bidgate_shed_duration_seconds", "endpoint" => endpoint)
        .record(elapsed.as_secs_f64());
}

/// A request refused by a limit (`scope`: which one).
pub fn rate_limited(scope: &'static str) {
    counter!("bidgate_rate_limited_total", "scope" => scope).increment(1);
}

pub fn auction_outcome(endpoint: &'static str, outcome: &'static str) {
    counter!("bidgate_auctions_total", "endpoint" => endpoint, "outcome" => outcome).increment(1);
}

pub fn config_reload(result: &'static str) {
    counter!("bidgate_config_reloads_total", "result" => result).increment(1);
}

pub fn http_request(route: String, status: u16) {
    counter!("bidgate_http_requests_total", "route" => route, "status" => status.to_string())
        .increment(1);
}

/// Circuit state as a gauge (0 closed, 1 half-open, 2 open) plus a transition counter.
pub fn breaker_transition(partner: &str, state: &crate::breaker::State) {
    use crate::breaker::{State, state_name};
    let level = match state {
        State::Closed { .. } => 0.0,
        State::HalfOpen { .. } => 1.0,
        State::Open { .. } => 2.0,
    };
    metrics::gauge!("bidgate_partner_circuit_state", "partner" => partner.to_string()).set(level);
    counter!("bidgate_circuit_transitions_total", "partner" => partner.to_string(), "to" => state_name(state))
        .increment(1);
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn late_answers_are_logged_at_most_once_a_second() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..500 {
                super::late_answer("test", std::time::Duration::from_millis(9));
            }
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines = text.lines().count();
        // One line, or two if the loop crossed a second boundary: never 500.
        assert!((1..=2).contains(&lines), "{lines} lines:\n{text}");
    }

    /// The recorder comes with its upkeep: without it, histogram samples pile up until a
    /// scrape (see `start_upkeep`).
    #[test]
    fn the_recorder_runs_its_upkeep_on_a_thread_of_its_own() {
        let _ = super::metrics();
        // Linux names a thread in /proc/self/task/*/comm (15 bytes at most: ours fits). A new
        // thread names itself once it runs, so its name may come a moment after the spawn.
        let names = || -> Vec<String> {
            std::fs::read_dir("/proc/self/task")
                .unwrap()
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .map(|n| n.trim().to_string())
                .collect()
        };
        let named = |names: &[String]| names.iter().any(|n| n == super::UPKEEP_THREAD);
        for _ in 0..500 {
            if named(&names()) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let names = names();
        assert!(named(&names), "threads after 5 s: {names:?}");
    }
}

#[cfg(test)]
mod label_tests {
    use crate::outcome::{BadResponse, Cut, Outcome, Skip};

    #[test]
    fn every_outcome_has_a_registered_label() {
        let outcomes = [
            Outcome::NoBid,
            Outcome::Timeout(Cut::OwnTimeout),
            Outcome::Timeout(Cut::Deadline),
            Outcome::Transport(String::new()),
            Outcome::BadResponse(BadResponse::Status(500)),
            Outcome::BadResponse(BadResponse::Body(String::new())),
            Outcome::BadResponse(BadResponse::TooLarge(1)),
            Outcome::Throttled(Skip::NoTime),
            Outcome::Throttled(Skip::CircuitOpen),
            Outcome::Throttled(Skip::Qps),
            Outcome::Throttled(Skip::Privacy),
        ];
        for o in &outcomes {
            assert!(super::OUTCOME_LABELS.contains(&o.label()), "{o:?}");
            if let Some(k) = o.error_kind() {
                assert!(super::ERROR_KINDS.contains(&k), "{o:?}");
            }
        }
    }
}
