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
//! lag over a 25 ms interval, so that a single burst does not count). The worker thread's
//! CPU share steers the growth (see `Aimd::tick_busy`): clear headroom lets it grow through a
//! brief lag and keep a margin over what runs, a busy CPU (80%) stops it, a full one (90%,
//! with the limit binding) cuts it. The limit settles where the worker's CPU is just busy,
//! whatever an auction costs today; the excess gets a 503 at once instead of a late answer.
//! `server.max_in_flight` stays as the hard cap across workers.

use std::cell::{Cell, RefCell};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

/// How often each worker measures its own lag.
const TICK: Duration = Duration::from_millis(5);

thread_local! {
    /// This worker's lag at its ticker's last run, in microseconds.
    static LAG_US: Cell<u64> = const { Cell::new(0) };
    /// The worst recent lag, decaying by `PEAK_DECAY_US` a tick (see `recent_lag`).
    static PEAK_US: Cell<u64> = const { Cell::new(0) };
    /// When the ticker is next due. While the worker is stuck, `now − due` is the lag the
    /// requests being polled right now have suffered, before the ticker can report it.
    static DUE: Cell<Option<Instant>> = const { Cell::new(None) };
    static TICKING: Cell<bool> = const { Cell::new(false) };
    /// This worker's adaptive concurrency limit and the auctions it runs now.
    static ADMISSION: RefCell<Aimd> = RefCell::new(Aimd::new(INITIAL_LIMIT));
    static ACTIVE: Cell<usize> = const { Cell::new(0) };
}

/// Each worker starts by admitting this many auctions at once, then adapts. Why not lower:
/// a fresh process meets the clients' opening burst with this limit, and at 16 a fresh
/// worker at 1050 auctions a second shed ~130 of them in its first second (none at 64). 64
/// auctions are ~30 ms of one core's work, well inside any tmax; a standing queue cuts it.
pub const INITIAL_LIMIT: usize = 64;
/// The adaptive limit never goes below this: a worker that lags for reasons of its own
/// (another process on the core) still serves a little.
pub const MIN_LIMIT: usize = 4;
/// At this share of the wall clock running (an interval's mean) the worker's core is busy
/// enough: the limit stops growing. Why not 0.9: a worker allowed to grow up to 0.9 ran at
/// 0.93 under overload, its requests queued behind a backlog that came and went too fast
/// for the standing-lag test, and in 4 of 5 runs at 2× saturation the slowest 503 was
/// 14–30 ms (p99 of all answers up to 115 ms, RSS up to 144 MiB); at 0.8, 8–14 ms with
/// more served (loadtest/README.md, 2026-12-04).
const BUSY_CPU: f64 = 0.8;
/// Above this share (an interval's mean) with the limit binding, the core is full: the
/// limit is cut ×`FULL_CUT`. Why: a limit grown in a lull keeps its height once the lull
/// ends, and lag that comes in clumps (answers arriving together) never stands for a whole
/// interval, so lag alone did not cut it. With both rules, alternated three times with the
/// growth below 0.9 alone at 2× saturation: slowest 503 12.0 / 9.3 / 7.2 ms against 25.0 /
/// 13.8 / 20.7, p99 of all answers ~50 ms against 88–99 (loadtest/README.md, 2026-12-04).
const FULL_CPU: f64 = 0.9;
/// How much a full CPU cuts the limit: gently, as the lag's cut (×0.7) is for a queue.
const FULL_CUT: f64 = 0.9;
/// Below this share the limit grows even through a brief lag (see `Aimd::tick_busy`).
const HEADROOM_CPU: f64 = 0.7;
/// Below `HEADROOM_CPU` the limit grows until it is this many times the most auctions
/// running at once (see `Aimd::tick_busy`). Why: a limit that grows only when reached sits
/// at the peak concurrency seen so far, and the next Poisson burst above it (or a client's
/// reconnect burst) is shed while the core is a third idle: at 2,200 auctions a second the
/// limit hugged 97–110 and 41 of 11,000 requests got a 503 with the worker at 50–70% CPU.
/// Why not more: each admitted auction holds a connection per partner, and at 2× a
/// generator's catch-up burst was admitted whole, opened hundreds of partner connections at
/// once and ended in a standing queue (116–815 503s at 2,500 a second, peak RSS up to
/// 164 MiB); 1.5× did so once in three runs, 1.25× in none (loadtest/README.md).
const HEADROOM_MARGIN: f64 = 1.25;
/// Ticks per control interval (5 ms each): decisions are made every 25 ms, so that a
/// standing queue is cut within a few intervals, well inside one tmax.
const INTERVAL_TICKS: u32 = 5;

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
        let cpu_gauge = metrics::gauge!("bidgate_worker_cpu_share", "worker" => worker.to_string());
        let mut last = usize::MAX;
        let mut busy = Busy::new();
        loop {
            let due = Instant::now() + TICK;
            DUE.with(|d| d.set(Some(due)));
            tokio::time::sleep_until(due).await;
            let lag = due.elapsed();
            LAG_US.with(|l| l.set(lag.as_micros() as u64));
            PEAK_US.with(|p| p.set(peak(p.get(), lag)));
            let share = busy.share();
            let (limit, cpu) = ADMISSION.with(|a| {
                let mut a = a.borrow_mut();
                let limit = a.tick_busy(lag, ACTIVE.with(Cell::get), share);
                (limit, a.cpu_share())
            });
            cpu_gauge.set(cpu);
            if limit != last {
                gauge.set(limit as f64);
                last = limit;
            }
        }
    });
}

/// The share of the wall clock this worker thread spent running since the last call, by
/// its own CPU clock: near 1 when its own work fills its core. Its own, not the process's:
/// with a worker per core, one overloaded worker beside idle ones is still overloaded.
struct Busy {
    at: Instant,
    cpu: Duration,
}

impl Busy {
    fn new() -> Self {
        Self {
            at: Instant::now(),
            cpu: thread_cpu(),
        }
    }

    fn share(&mut self) -> f64 {
        let (at, cpu) = (Instant::now(), thread_cpu());
        let wall = at.saturating_duration_since(self.at).as_secs_f64();
        let used = cpu.saturating_sub(self.cpu).as_secs_f64();
        (self.at, self.cpu) = (at, cpu);
        if wall <= 0.0 {
            return 0.0;
        }
        used / wall
    }
}

/// CPU time the calling thread has used so far (zero if the clock is missing).
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
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
    /// The worker thread's CPU share summed over this interval's ticks (see `tick_busy`).
    busy: f64,
    /// The last whole interval's mean CPU share (for the `bidgate_worker_cpu_share` gauge).
    last_busy: f64,
}

impl Aimd {
    pub fn new(initial: usize) -> Self {
        Self {
            limit: initial as f64,
            max: f64::MAX,
            target: Duration::from_millis(2),
            ticks: 0,
            min_lag: Duration::MAX,
            max_lag: Duration::ZERO,
            used: false,
            peak: 0,
            busy: 0.0,
            last_busy: 0.0,
        }
    }

    pub fn limit(&self) -> usize {
        self.limit as usize
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

    /// One lag sample (every tick), with `active` auctions running; returns the limit.
    /// Lag alone decides (see `tick_busy` for the CPU share).
    #[cfg(test)]
    pub fn tick(&mut self, lag: Duration, active: usize) -> usize {
        self.tick_busy(lag, active, HEADROOM_CPU)
    }

    /// As `tick`, with the share of the wall clock the worker thread ran since the last tick.
    /// Why the CPU share too: partner answers land in clumps, so a worker at 60% CPU
    /// lags briefly in most intervals, and a limit that grows only in intervals without
    /// any lag sat at the usual concurrency, shedding the Poisson bursts above it. So the
    /// limit may grow through brief lag while the CPU has clear headroom, never while the
    /// CPU is busy, and a full CPU under a binding limit cuts it; a standing queue (lag all
    /// interval long) cuts it whatever the CPU says.
    pub fn tick_busy(&mut self, lag: Duration, active: usize, busy: f64) -> usize {
        self.busy += busy;
        self.min_lag = self.min_lag.min(lag);
        self.max_lag = self.max_lag.max(lag);
        self.peak = self.peak.max(active);
        self.ticks += 1;
        if self.ticks >= INTERVAL_TICKS {
            if self.min_lag > self.target && self.peak > 0 {
                // Behind for the whole interval: a standing queue. Cut hard, from what was
                // actually running: a limit that did not bind yet (the onset of a surge) would
                // otherwise take several cuts before it sheds anything.
                let from = self.limit.min(self.peak as f64);
                self.limit = (from * 0.7).max(MIN_LIMIT as f64);
            } else if self.used && self.busy > FULL_CPU * INTERVAL_TICKS as f64 {
                // The limit binds and the core is full: fewer at once, before a queue stands.
                self.limit = (self.limit * FULL_CUT).max(MIN_LIMIT as f64);
            } else {
                let headroom = self.busy < HEADROOM_CPU * INTERVAL_TICKS as f64;
                // With clear headroom the limit keeps a margin over what runs, so that a
                // burst of arrivals finds room instead of a 503; busier, it grows only where
                // it binds, and never on a busy CPU.
                let wanted =
                    self.used || (headroom && self.peak as f64 * HEADROOM_MARGIN >= self.limit);
                if wanted
                    && self.busy < BUSY_CPU * INTERVAL_TICKS as f64
                    && (self.max_lag <= self.target || headroom)
                {
                    self.limit = (self.limit + (self.limit / 16.0).max(1.0)).min(self.max);
                }
            }
            self.ticks = 0;
            self.min_lag = Duration::MAX;
            self.max_lag = Duration::ZERO;
            self.used = false;
            self.peak = 0;
            self.last_busy = self.busy / INTERVAL_TICKS as f64;
            self.busy = 0.0;
        }
        self.limit()
    }

    /// The worker thread's mean CPU share over the last whole interval.
    pub fn cpu_share(&self) -> f64 {
        self.last_busy
    }
}

/// How fast a lag peak is forgotten: 50 µs per 5 ms tick, 10 ms a second.
const PEAK_DECAY_US: u64 = 50;
/// Timers fire on a 1 ms wheel: up to this much lag is the clock's, not the worker's.
const TIMER_GRAIN_US: u64 = 1_000;

/// The lag peak after one more tick that measured `lag`.
fn peak(previous_us: u64, lag: Duration) -> u64 {
    let lag_us = (lag.as_micros() as u64).saturating_sub(TIMER_GRAIN_US);
    previous_us.saturating_sub(PEAK_DECAY_US).max(lag_us)
}

/// How far behind schedule this worker has run lately: its worst lag, forgotten at 10 ms
/// a second (0 on threads without a ticker). The fan-out closes this much earlier
/// (`Deadline::new`): a worker that just woke 15 ms late may do so again at the close.
pub fn recent_lag() -> Duration {
    Duration::from_micros(PEAK_US.with(Cell::get))
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

/// A worker this far behind lets newly arrived requests be read before it parses another
/// partner answer (see [`yield_if_behind`]).
const YIELD_LAG: Duration = Duration::from_millis(2);

/// When this worker is behind, steps back once behind the sockets that became ready
/// meanwhile. Why: parsing partner answers is the largest part of an auction's CPU (a
/// quarter), done in the order the answers arrived; a request waiting to be read (most
/// likely to be shed, in ~20 µs) would otherwise wait behind every answer already read.
/// Tokio defers a yielded task until after the next I/O poll, so new requests get read,
/// shed or admitted first, and the answer is parsed right after: a 503 stays fast while
/// the worker is loaded, and an admitted auction's answer waits one turn of the loop.
pub async fn yield_if_behind() {
    if worker_lag() > YIELD_LAG {
        tokio::task::yield_now().await;
    }
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
pub(crate) fn peak_for_test(previous_us: u64, lag: Duration) -> u64 {
    peak(previous_us, lag)
}

#[cfg(test)]
pub(crate) fn set_worker_lag_for_test(lag: Duration) {
    LAG_US.with(|l| l.set(lag.as_micros() as u64));
}

#[cfg(test)]
mod tests;
