//! The yield model: per partner, how fast it answers (a decayed latency sketch), how often
//! it answers within its static budget, and what waiting for it is worth (how often and by
//! how much its bids beat the best other bid). `deadline_mode = "adaptive"` reads it to
//! choose each partner's wait (`choice`); `/admin/status` and metrics show it; shadow
//! partners' would-be results are counted here too (`shadow`).
//!
//! Why here and not in `stats`: stats answers "what happened in the last minute" for
//! people; this is a decision input, read by every auction, so it keeps a snapshot that is
//! recomputed a few times a second and read without locks. It decays by rotating windows
//! (the current and the previous `window_s`), and lives in `gateway::State`, carried over
//! reloads like stats.

pub mod choice;
mod shadow;
mod sketch;
pub mod value;

pub use choice::{Kind, Snapshot, Wait};
pub use shadow::{ShadowReport, ShadowResult, ShadowSlot, ShadowView};

use crate::money::Micros;
use arc_swap::ArcSwap;
use metrics::Gauge;
use serde::Serialize;
use sketch::Sketch;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// How often the snapshot (and the gauges) are recomputed from the windows.
const REFRESH: Duration = Duration::from_millis(200);
/// Judged calls below which the on-time rate is not given (nor acted on).
const MIN_JUDGED: u32 = 20;

#[derive(Clone, Default)]
struct Window {
    latency: Sketch,
    /// Calls waited for their whole static budget, and those answered within it.
    judged: u32,
    on_time: u32,
    /// Auctions it answered in, those where its bid beat all others, and the margin sum.
    answers: u32,
    beat: u32,
    margin_micros: u64,
    /// Its best bid price in the auctions it bid in (tens of micros: see `PRICE_UNIT`).
    prices: Sketch,
}

/// Prices go into a sketch made for microseconds (0.1 ms to 10 s) in units of 10 micros,
/// so that it spans 0.001 to 100 CPM at 4% accuracy.
const PRICE_UNIT: u64 = 10;

impl Window {
    fn merge(&mut self, o: &Window) {
        self.latency.merge(&o.latency);
        self.judged += o.judged;
        self.on_time += o.on_time;
        self.answers += o.answers;
        self.beat += o.beat;
        self.margin_micros += o.margin_micros;
        self.prices.merge(&o.prices);
    }
}

struct Windows {
    number: u64,
    current: Window,
    previous: Window,
}

/// One partner's model; shared by every `Partner` built for its id (`gateway::State`).
pub struct PartnerModel {
    origin: Instant,
    windows: Mutex<Windows>,
    snapshot: ArcSwap<Snapshot>,
    /// Milliseconds since `origin` of the last refresh.
    refreshed_ms: AtomicU64,
    gauges: Gauges,
    /// A shadow partner's report (counted for every partner; only shadow ones show it).
    pub shadow: ShadowReport,
}

struct Gauges {
    latency: [Gauge; 3],
    on_time: Gauge,
    win_share: Gauge,
    value: Gauge,
}

/// The quantiles exported as `bidgate_partner_model_latency_seconds{quantile}`.
const GAUGE_QS: [(f64, &str); 3] = [(0.5, "0.5"), (0.9, "0.9"), (0.99, "0.99")];

impl std::fmt::Debug for PartnerModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartnerModel").finish_non_exhaustive()
    }
}

/// The model as `/admin/status` shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ModelView {
    pub samples: u32,
    /// `None` without data; `null` in JSON also for "beyond every wait" (infinite).
    pub latency_p50_ms: Option<f64>,
    pub latency_p90_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub on_time_rate: Option<f64>,
    pub win_share: Option<f64>,
    /// Revenue added per answer, in auction currency units (CPM).
    pub value_per_answer: f64,
}

impl PartnerModel {
    pub fn new(partner: &str) -> Self {
        let _ = crate::telemetry::metrics();
        let p = partner.to_string();
        let g = |name: &'static str| metrics::gauge!(name, "partner" => p.clone());
        Self {
            origin: Instant::now(),
            windows: Mutex::new(Windows {
                number: 0,
                current: Window::default(),
                previous: Window::default(),
            }),
            snapshot: ArcSwap::default(),
            refreshed_ms: AtomicU64::new(0),
            gauges: Gauges {
                latency: GAUGE_QS.map(|(_, q)| {
                    metrics::gauge!("bidgate_partner_model_latency_seconds", "partner" => p.clone(), "quantile" => q)
                }),
                on_time: g("bidgate_partner_model_on_time_ratio"),
                win_share: g("bidgate_partner_model_win_share"),
                value: g("bidgate_partner_model_value_per_answer"),
            },
            shadow: ShadowReport::new(partner),
        }
    }

    /// The latest snapshot (cheap: no lock).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Puts `snap` in place as if the windows had produced it (unit tests of the decisions).
    #[cfg(test)]
    pub(crate) fn set_snapshot_for_test(&self, snap: Snapshot) {
        self.snapshot.store(Arc::new(snap));
    }

    /// Runs `f` on the current window (rotated first when its time is up), then refreshes
    /// the snapshot when it is older than `REFRESH`.
    fn update(&self, now: Instant, window_s: u64, f: impl FnOnce(&mut Window)) {
        let since = now.saturating_duration_since(self.origin);
        let number = since.as_secs() / window_s.max(1);
        {
            let mut w = self.windows.lock().unwrap_or_else(|e| e.into_inner());
            if number != w.number {
                w.previous = if number == w.number + 1 {
                    std::mem::take(&mut w.current)
                } else {
                    Window::default()
                };
                w.current = Window::default();
                w.number = number;
            }
            f(&mut w.current);
        }
        let ms = since.as_millis() as u64;
        let last = self.refreshed_ms.load(Ordering::Relaxed);
        if ms.saturating_sub(last) >= REFRESH.as_millis() as u64
            && self
                .refreshed_ms
                .compare_exchange(last, ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.refresh();
        }
    }

    /// Recomputes the snapshot and the gauges from both windows.
    pub fn refresh(&self) {
        let mut all = {
            let w = self.windows.lock().unwrap_or_else(|e| e.into_inner());
            w.previous.clone()
        };
        {
            let w = self.windows.lock().unwrap_or_else(|e| e.into_inner());
            all.merge(&w.current);
        }
        let ratio = |n: u32, d: u32| (d > 0).then(|| n as f64 / d as f64);
        let snap = Snapshot {
            samples: all.latency.total(),
            latency_ms: all
                .latency
                .quantiles_ms(&choice::QS)
                .map(|ms| ms.unwrap_or(f64::INFINITY)),
            on_time: (all.judged >= MIN_JUDGED).then(|| all.on_time as f64 / all.judged as f64),
            win_share: ratio(all.beat, all.answers),
            bid_rate: (all.answers > 0).then(|| all.prices.total() as f64 / all.answers as f64),
            price_micros: (all.prices.total() >= MIN_JUDGED).then(|| {
                all.prices
                    .quantiles_ms(&choice::QS)
                    .map(|ms| ms.unwrap_or(0.0) * 1000.0 * PRICE_UNIT as f64)
            }),
            value_micros: if all.answers > 0 {
                all.margin_micros as f64 / all.answers as f64
            } else {
                0.0
            },
        };
        for ((q, _), g) in GAUGE_QS.iter().zip(&self.gauges.latency) {
            let ms = snap.quantile_ms(*q);
            if ms.is_finite() {
                g.set(ms / 1000.0);
            }
        }
        if let Some(r) = snap.on_time {
            self.gauges.on_time.set(r);
        }
        if let Some(r) = snap.win_share {
            self.gauges.win_share.set(r);
        }
        self.gauges.value.set(snap.value_micros / 1e6);
        self.snapshot.store(Arc::new(snap));
    }

    /// One call that ended by itself (not dropped by an early close): answered after
    /// `elapsed` (`answered`, a bid or a no-bid) or cut off at its wait (`None`).
    /// `whole_budget`: it was waited for its whole static budget, so whether it answered
    /// says something about its on-time rate.
    pub fn call(
        &self,
        now: Instant,
        window_s: u64,
        elapsed: Option<Duration>,
        answered: bool,
        whole_budget: bool,
    ) {
        self.update(now, window_s, |w| {
            match elapsed {
                Some(e) => w.latency.add_us(e.as_micros() as u64),
                None => w.latency.add_beyond(),
            }
            if whole_budget {
                w.judged += 1;
                w.on_time += u32::from(answered && elapsed.is_some());
            }
        });
    }

    /// One auction it answered in: whether its bid beat every other, and by how much in all;
    /// `best`: its best valid bid's price in the auction currency (`None`: no bid).
    pub fn answer(&self, now: Instant, window_s: u64, margin_micros: u64, best: Option<Micros>) {
        self.update(now, window_s, |w| {
            w.answers += 1;
            if let Some(price) = best {
                w.prices.add_us(price.0.max(0) as u64 / PRICE_UNIT);
            }
            if margin_micros > 0 {
                w.beat += 1;
                w.margin_micros += margin_micros;
            }
        });
    }

    pub fn view(&self) -> ModelView {
        let s = self.snapshot();
        let q = |q| Some(s.quantile_ms(q)).filter(|ms| ms.is_finite() && s.samples > 0);
        ModelView {
            samples: s.samples,
            latency_p50_ms: q(0.5),
            latency_p90_ms: q(0.9),
            latency_p99_ms: q(0.99),
            on_time_rate: s.on_time,
            win_share: s.win_share,
            value_per_answer: s.value_micros / 1e6,
        }
    }
}

#[cfg(test)]
mod tests;
