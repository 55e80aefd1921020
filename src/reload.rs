//! Config reload without a restart: the running `Gateway` is replaced whole.
//!
//! A request takes the current gateway once, when it starts, and keeps it to the end: an
//! auction finishes under the config it started with while new ones use the new config. A
//! new gateway keeps what must survive a reload (connection pools with unchanged settings,
//! breaker state of partners that still exist, the in-flight count…: the running gateway's
//! `State::carry_over` decides), and an invalid file is refused whole, leaving the running
//! config untouched.

use crate::config::{self, Problem};
use crate::gateway::Gateway;
use crate::telemetry;
use arc_swap::ArcSwap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

pub struct Live {
    current: ArcSwap<Gateway>,
    /// The config file reloads read; `None` when the gateway was built from a value.
    path: Option<PathBuf>,
    /// Reloads are serialised: two at once would each carry over the same predecessor's state.
    reloading: Mutex<()>,
    /// Set on SIGTERM/SIGINT: `/readyz` says 503 while in-flight work finishes.
    draining: AtomicBool,
    /// Workers whose partner connections are not warm yet: `/readyz` says 503 until none.
    cold_workers: AtomicUsize,
    /// Bumped on every reload, so that each worker warms the pools a reload adds.
    generation: tokio::sync::watch::Sender<u64>,
    /// The event log, opened at start (`event_log.dir`); a reload does not reopen it.
    event_log: Option<crate::eventlog::EventLog>,
}

impl Live {
    pub fn new(
        gateway: Gateway,
        path: Option<PathBuf>,
        event_log: Option<crate::eventlog::EventLog>,
    ) -> Self {
        Self {
            current: ArcSwap::from_pointee(gateway),
            path,
            reloading: Mutex::new(()),
            draining: AtomicBool::new(false),
            cold_workers: AtomicUsize::new(0),
            generation: tokio::sync::watch::Sender::new(0),
            event_log,
        }
    }

    pub fn event_log(&self) -> Option<&crate::eventlog::EventLog> {
        self.event_log.as_ref()
    }

    pub fn begin_drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// `/readyz` waits for this many workers to open their partner connections.
    pub fn expect_warm_workers(&self, n: usize) {
        self.cold_workers.store(n, Ordering::Relaxed);
    }

    /// Whether every worker has opened its partner connections (or given up on them).
    pub fn warm(&self) -> bool {
        self.cold_workers.load(Ordering::Relaxed) == 0
    }

    /// Runs on each worker thread for its life: opens this worker's connections to every
    /// partner (then counts it warm), and after each reload to the partners whose pools
    /// the reload made new. Connections belong to the thread that opens them
    /// (`Partner::client`), so each worker warms its own.
    pub async fn warm_this_worker(self: Arc<Self>) {
        let mut reloads = self.generation.subscribe();
        let mut warmed = self.current();
        warmed.warm(None).await;
        let _ = self
            .cold_workers
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        while reloads.changed().await.is_ok() {
            let next = self.current();
            next.warm(Some(&warmed)).await;
            warmed = next;
        }
    }

    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// The gateway new requests use.
    pub fn current(&self) -> Arc<Gateway> {
        self.current.load_full()
    }

    /// Re-reads and validates the config file and swaps it in; returns the new partner count.
    /// On any problem nothing changes, and every problem is returned (and logged, counted).
    pub fn reload(&self) -> Result<usize, Vec<Problem>> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let result = self.try_reload();
        match &result {
            Ok(n) => {
                telemetry::config_reload("ok");
                tracing::info!(partners = n, "config reloaded");
            }
            Err(problems) => {
                telemetry::config_reload("invalid");
                for p in problems {
                    tracing::error!(problem = %p, "config reload refused");
                }
            }
        }
        result
    }

    fn try_reload(&self) -> Result<usize, Vec<Problem>> {
        let Some(path) = &self.path else {
            return Err(vec![Problem {
                path: "(config)".into(),
                message: "this gateway was not started from a config file".into(),
            }]);
        };
        let config = config::load_file(path)?;
        let previous = self.current();
        if config.server.listen != previous.config.server.listen
            || config.server.workers != previous.config.server.workers
        {
            tracing::warn!("server.listen and server.workers apply at the next restart only");
        }
        // The sampling settings are read per auction: they apply at once.
        let at_start = |c: &config::EventLogConfig| config::EventLogConfig {
            sample_auctions: 0.0,
            record_bids: false,
            record_bids_sample: 0.0,
            ..c.clone()
        };
        if at_start(&config.event_log) != at_start(&previous.config.event_log)
            || config.event_stream != previous.config.event_stream
            || config.admin.listen != previous.config.admin.listen
            || config.log != previous.config.log
        {
            tracing::warn!(
                "event_log, event_stream, admin.listen and log settings apply at the next restart only"
            );
        }
        let next = previous
            .state()
            .carry_over(&config)
            .and_then(|state| Gateway::with_state(config, state))
            .map_err(|e| {
                vec![Problem {
                    path: "(config)".into(),
                    message: e,
                }]
            })?;
        let partners = next.partners.len();
        self.current.store(Arc::new(next));
        // Each worker now opens connections to the partners whose pools are new
        // (`warm_this_worker`); readiness is unchanged meanwhile.
        self.generation.send_modify(|g| *g += 1);
        Ok(partners)
    }

    /// Re-reads `currency.rates_file` now and every `currency.refresh_s`, for as long as the
    /// returned task runs. A file that cannot be read keeps the last good rates (logged,
    /// counted in `bidgate_rates_refreshes_total{result}`).
    pub fn watch_rates(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let gw = self.current();
                let every = Duration::from_secs(gw.config.currency.refresh_s.max(1));
                if let Some(path) = gw.config.currency.rates_file.clone() {
                    let read =
                        tokio::task::spawn_blocking(move || crate::currency::read_file(&path))
                            .await;
                    match read {
                        Ok(Ok(rates)) => {
                            gw.rates.set_file_rates(rates);
                            metrics::counter!("bidgate_rates_refreshes_total", "result" => "ok")
                                .increment(1);
                        }
                        Ok(Err(e)) => {
                            tracing::warn!(problem = %e, "currency rates file not read; keeping the last rates");
                            metrics::counter!("bidgate_rates_refreshes_total", "result" => "error")
                                .increment(1);
                        }
                        Err(_) => {}
                    }
                }
                drop(gw);
                tokio::time::sleep(every).await;
            }
        })
    }

    /// Reloads on SIGHUP and whenever the file's modification time changes (checked every
    /// `every`), for as long as the returned task runs.
    pub fn watch(self: Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let Some(path) = self.path.clone() else {
                return;
            };
            let mtime = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
            // The config file and the direct demand catalog it names: a change of either
            // reloads both.
            let catalog = |live: &Live| live.current().config.internal.catalog.clone();
            let both = |live: &Live| (mtime(&path), catalog(live).and_then(|c| mtime(&c)));
            let mut seen: (Option<SystemTime>, Option<SystemTime>) = both(&self);
            let mut hup =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            let mut tick = tokio::time::interval(every);
            loop {
                let signalled = async {
                    match hup.as_mut() {
                        Some(h) => h.recv().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = signalled => {
                        let _ = self.reload();
                        seen = both(&self);
                    }
                    _ = tick.tick() => {
                        let now = both(&self);
                        if now.0.is_some() && now != seen {
                            let _ = self.reload();
                            seen = both(&self);
                        }
                    }
                }
            }
        })
    }
}
