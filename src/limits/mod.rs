//! Load shedding: refuse an auction at once (503) when it could not finish in time anyway.
//!
//! Three signals. Worker lag is the one that sees CPU starvation: when the cores are
//! saturated, requests wait in socket buffers and run queues *before* their handler starts,
//! where the deadline clock has not started yet, and partner answers wait unread. A worker
//! whose timers fire late is a worker whose requests waited that long unseen: their arrival
//! is backdated by the lag (so the deadline still holds for the client), and past
//! `server.max_worker_lag_ms` the worker stops admitting until it catches up.
//!
//! Lag alone reacts too late: an admitted auction's CPU work mostly comes ~20 ms later, when
//! its partners' answers arrive to be parsed, so by the time the lag shows, a backlog of
//! work is already committed. Each worker therefore also keeps an adaptive limit on the
//! auctions it runs at once ([`Aimd`]): additive increase while its lag stays under
//! `server.target_worker_lag_ms` and the limit is being used, multiplicative decrease when
//! the lag stays above it for a whole interval (CoDel's standing-queue test: the *minimum*
//! lag over a 25 ms interval, so that a single burst does not count). The limit settles where
//! the worker's CPU is just busy, whatever an auction costs today; the excess gets a 503 at
//! once instead of a late answer. `server.max_in_flight` stays as the hard cap across workers.
//!
//! A standing lag is ours to cure only when the worker itself is saturated, judged by its
//! thread's own CPU time: busy for most of the last ~100 ms ([`BUSY_TO_CUT`], a moving
//! average over intervals), or busy through this whole interval with the lag past twice the
//! target (the onset of a surge, which must be cut within an interval or two). Lag with idle
//! time in it is a burst (partner answers landing together) or the core taken by someone
//! else; shedding then refused traffic there was capacity and deadline slack for: one worker
//! at 40% of its CPU shed 0.5-2% of requests at 300 rps. While the worker is not saturated,
//! a limit that binds grows, whatever the lag: the limit is there for CPU, not for bursts.

use std::cell::{Cell, RefCell};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

/// How often each worker measures its own lag.
const TICK: Duration = Duration::from_millis(5);

thread_local! {
    /// This worker's lag at its ticker's last run, in microseconds.
    static LAG_US: Cell<u64> = const { Cell::new(0) };
    /// When the ticker is next due. While the worker is stuck, `now − due` is the lag the
    /// requests being polled right now have suffered, before the ticker can report it.
    static DUE: Cell<Option<Instant>> = const { Cell::new(None) };
    static TICKING: Cell<bool> = const { Cell::new(false) };
    /// This worker's adaptive concurrency limit and the auctions it runs now.
    static ADMISSION: RefCell<Aimd> = RefCell::new(Aimd::new(INITIAL_LIMIT));
    static ACTIVE: Cell<usize> = const { Cell::new(0) };
}

/// Each worker starts by admitting this many auctions at once, then adapts.
pub const INITIAL_LIMIT: usize = 16;
/// The adaptive limit never goes below this: a worker that lags for reasons of its own
/// (another process on the core) still serves a little.
pub const MIN_LIMIT: usize = 4;
/// Ticks per control interval (5 ms each): decisions are made every 25 ms, so that a
/// standing queue is cut within a few intervals, well inside one tmax.
const INTERVAL_TICKS: u32 = 5;
/// The share of the last ~100 ms the worker must have spent running (its own CPU time) for
/// a standing lag to count as its own backlog.
pub const BUSY_TO_CUT: f64 = 0.85;
/// Within one interval: busy at least this share, and the lag past twice the target, is a
/// surge starting, cut at once.
const BUSY_SURGE: f64 = 0.95;
/// The weight of the last interval in the moving average of the busy share (4 intervals:
/// ~100 ms).
const BUSY_ALPHA: f64 = 0.25;

/// Starts the lag ticker on the current worker thread, once per thread. Called from the
/// per-worker app factory, so each actix worker measures its own event loop.
pub fn start_worker_ticker() {
    if TICKING.with(|t| t.replace(true)) {
        return;
    }
    // Numbers the workers for the `worker` label of the limit gauge.
    static WORKERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let worker = WORKERS.fetch_add(1, Ordering::Relaxed);
    tokio::task::spawn_local(async move {
        let gauge = metrics::gauge!("bidgate_admission_limit", "worker" => worker.to_string());
        let mut last = usize::MAX;
        loop {
            let due = Instant::now() + TICK;
            DUE.with(|d| d.set(Some(due)));
            tokio::time::sleep_until(due).await;
            let lag = due.elapsed();
            LAG_US.with(|l| l.set(lag.as_micros() as u64));
            let cpu = thread_cpu_time();
            let limit = ADMISSION.with(|a| {
                a.borrow_mut()
                    .tick(lag, ACTIVE.with(Cell::get), cpu, Instant::now())
            });
            if limit != last {
                gauge.set(limit as f64);
                last = limit;
            }
        }
    });
}

/// The calling thread's own CPU time (`None` where the clock is missing: every standing lag
/// then counts as ours, as it did before the busy test).
fn thread_cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// One admitted auction on this worker; dropping it frees the slot. Not `Send`: it is
/// taken and dropped on the worker whose count it is.
pub struct Local(std::marker::PhantomData<*const ()>);

impl Drop for Local {
    fn drop(&mut self) {
        ACTIVE.with(|a| a.set(a.get().saturating_sub(1)));
    }
}

/// A slot under this worker's adaptive limit, or `Shed::Adaptive` with the limit.
/// `target` is `server.target_worker_lag_ms`; zero turns the limit off.
pub fn admit_local(target: Duration, max: usize) -> Result<Local, Shed> {
    let active = ACTIVE.with(Cell::get);
    if !target.is_zero() {
        let admitted = ADMISSION.with(|a| {
            let mut a = a.borrow_mut();
            a.configure(target, max);
            a.admit(active)
        });
        if let Err(limit) = admitted {
            return Err(Shed::Adaptive(limit));
        }
    }
    ACTIVE.with(|a| a.set(active + 1));
    Ok(Local(std::marker::PhantomData))
}

/// An additive-increase, multiplicative-decrease concurrency limit driven by event-loop
/// lag. Pure: lag samples and admission attempts come in as arguments.
#[derive(Debug, Clone)]
pub struct Aimd {
    limit: f64,
    max: f64,
    target: Duration,
    ticks: u32,
    min_lag: Duration,
    max_lag: Duration,
    /// Whether the limit was reached (or refused someone) during this interval.
    used: bool,
    /// The most auctions running at once during this interval (0: lag with nothing
    /// running is not ours to cure).
    peak: usize,
    /// When this interval started, and the worker's CPU time then (the busy share).
    start: Option<(Instant, Option<Duration>)>,
    /// The moving average of the busy share over the last intervals, and the last one's.
    busy_avg: f64,
    busy_last: f64,
}

impl Aimd {
    pub fn new(initial: usize) -> Self {
        Self {
            limit: initial as f64,
            max: f64::MAX,
            target: Duration::from_millis(5),
            ticks: 0,
            min_lag: Duration::MAX,
            max_lag: Duration::ZERO,
            used: false,
            peak: 0,
            start: None,
            busy_avg: 0.0,
            busy_last: 0.0,
        }
    }

    pub fn limit(&self) -> usize {
        self.limit as usize
    }

    /// Whether the worker's own work filled its CPU lately (the moving average, or the last
    /// interval all but whole).
    pub fn saturated(&self) -> bool {
        self.busy_avg >= BUSY_TO_CUT || self.busy_last >= BUSY_SURGE
    }

    /// The current settings (from the running config; cheap to repeat on every admission).
    pub fn configure(&mut self, target: Duration, max: usize) {
        self.target = target;
        self.max = if max == 0 { f64::MAX } else { max as f64 };
        self.limit = self.limit.min(self.max);
    }

    /// One more auction, with `active` running now: `Err(limit)` when the limit is reached.
    pub fn admit(&mut self, active: usize) -> Result<(), usize> {
        if active + 1 >= self.limit() {
            self.used = true;
        }
        if active >= self.limit() {
            return Err(self.limit());
        }
        Ok(())
    }

    /// One lag sample (every tick), with `active` auctions running, the worker's CPU time so
    /// far (`None`: unknown) and the time now; returns the limit.
    pub fn tick(
        &mut self,
        lag: Duration,
        active: usize,
        cpu: Option<Duration>,
        now: Instant,
    ) -> usize {
        let (t0, cpu0) = *self.start.get_or_insert((now, cpu));
        self.min_lag = self.min_lag.min(lag);
        self.max_lag = self.max_lag.max(lag);
        self.peak = self.peak.max(active);
        self.ticks += 1;
        if self.ticks >= INTERVAL_TICKS {
            let busy = match (cpu0, cpu) {
                (Some(a), Some(b)) => {
                    let wall = now.saturating_duration_since(t0).as_secs_f64();
                    if wall > 0.0 {
                        b.saturating_sub(a).as_secs_f64() / wall
                    } else {
                        1.0
                    }
                }
                _ => 1.0,
            };
            self.busy_avg += BUSY_ALPHA * (busy - self.busy_avg);
            self.busy_last = busy;
            let saturated = self.busy_avg >= BUSY_TO_CUT
                || (busy >= BUSY_SURGE && self.min_lag > self.target * 2);
            if self.min_lag > self.target && self.peak > 0 && saturated {
                // Behind for the whole interval, and busy: a standing queue of our own. Cut
                // hard, from what was actually running: a limit that did not bind yet (the
                // onset of a surge) would otherwise take several cuts before it sheds anything.
                let from = self.limit.min(self.peak as f64);
                self.limit = (from * 0.7).max(MIN_LIMIT as f64);
            } else if self.used && (self.max_lag <= self.target || self.busy_avg < BUSY_TO_CUT) {
                // The limit is what binds, and the worker keeps up or has CPU to spare: probe
                // upwards (a burst's lag is no reason to hold a limit the CPU does not need).
                self.limit = (self.limit + (self.limit / 16.0).max(1.0)).min(self.max);
            }
            self.ticks = 0;
            self.min_lag = Duration::MAX;
            self.max_lag = Duration::ZERO;
            self.used = false;
            self.peak = 0;
            self.start = Some((now, cpu));
        }
        self.limit()
    }
}

/// The calling worker's current lag: the last measured one, or how overdue the ticker is
/// now, whichever is larger (0 on threads without a ticker).
pub fn worker_lag() -> Duration {
    let last = Duration::from_micros(LAG_US.with(Cell::get));
    let overdue = DUE.with(Cell::get).map_or(Duration::ZERO, |due| {
        Instant::now().saturating_duration_since(due)
    });
    last.max(overdue)
}

/// Whether the calling worker's own work has filled its CPU lately ([`Aimd::saturated`]).
/// A lag without it is a burst or a stolen core: the requests that waited through it are
/// still served, on the time they have left (their arrival is backdated by the lag).
pub fn saturated() -> bool {
    ADMISSION.with(|a| a.borrow().saturated())
}

/// Why an auction was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shed {
    InFlight(usize),
    WorkerLag(Duration),
    /// This worker's adaptive limit (see [`Aimd`]) is reached.
    Adaptive(usize),
}

impl Shed {
    /// The `scope` label of `bidgate_rate_limited_total`.
    pub fn scope(&self) -> &'static str {
        match self {
            Shed::InFlight(_) => "in_flight",
            Shed::WorkerLag(_) => "worker_lag",
            Shed::Adaptive(_) => "adaptive",
        }
    }
}

impl std::fmt::Display for Shed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shed::InFlight(n) => write!(f, "{n} auctions in flight"),
            Shed::WorkerLag(d) => write!(f, "worker running {} ms behind", d.as_millis()),
            Shed::Adaptive(n) => write!(f, "{n} auctions running on this worker, its limit now"),
        }
    }
}

#[cfg(test)]
pub(crate) fn set_worker_lag_for_test(lag: Duration) {
    LAG_US.with(|l| l.set(lag.as_micros() as u64));
}

#[cfg(test)]
pub(crate) fn set_busy_for_test(busy: f64) {
    ADMISSION.with(|a| {
        let mut a = a.borrow_mut();
        a.busy_avg = busy;
        a.busy_last = busy;
    });
}

#[cfg(test)]
mod tests;
