//! bidgate: an OpenRTB 2.6 exchange gateway. See ARCHITECTURE.md for the map.
//!
//! `build(config)` wires everything into a bound, ready-to-run HTTP server; `main.rs` and the
//! integration tests both start the gateway through it and nothing else.

pub mod ads;
pub mod auction;
pub mod bidcheck;
pub mod billing;
pub mod breaker;
pub mod clients;
pub mod config;
pub mod currency;
pub mod deadline;
pub mod demo;
pub mod direct;
pub mod eventlog;
pub mod events;
pub mod exchange;
pub mod fanout;
pub mod gateway;
pub mod gzip;
pub mod http;
pub mod internal;
pub mod limits;
pub mod macros;
pub mod money;
pub mod netaddr;
pub mod notices;
pub mod openrtb;
pub mod openrtb_model;
pub mod outbound;
pub mod outcome;
pub mod partners;
pub mod privacy;
pub mod reload;
pub mod stats;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod validation;
pub mod vast;
pub mod vocab;
pub mod waits;
pub mod whatif;
pub mod yield_model;

use actix_web::{App, HttpServer, web};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A gateway bound to its socket and ready to serve.
pub struct Application {
    addr: SocketAddr,
    server: actix_web::dev::Server,
    /// The separate admin listener (`admin.listen`), if configured.
    admin: Option<(SocketAddr, actix_web::dev::Server)>,
    live: Arc<reload::Live>,
    watch_every: Duration,
}

impl Application {
    /// The bound address (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of the separate admin listener, when `admin.listen` is set.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|(addr, _)| *addr)
    }

    /// The config the gateway runs with now.
    pub fn config(&self) -> config::Config {
        self.live.current().config.clone()
    }

    /// A handle to stop the server gracefully from elsewhere.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped. On SIGTERM or SIGINT: `/readyz` turns 503, serving goes on for
    /// `server.drain_delay_ms` (load balancers take the instance out), then the server stops
    /// accepting and lets in-flight requests finish (at most `shutdown_timeout_s`).
    /// Built with a config file, it also reloads that file on SIGHUP and when it changes.
    pub async fn run(self) -> std::io::Result<()> {
        let watcher = self.live.clone().watch(self.watch_every);
        let rates = self.live.clone().watch_rates();
        let (live, handle) = (self.live.clone(), self.server.handle());
        let drain = tokio::spawn(async move {
            terminated().await;
            live.begin_drain();
            let delay = live.current().config.server.drain_delay_ms;
            tracing::info!(delay_ms = delay, "stopping: draining");
            tokio::time::sleep(Duration::from_millis(delay)).await;
            handle.stop(true).await;
        });
        let admin = self.admin.map(|(_, server)| {
            let handle = server.handle();
            (handle, tokio::spawn(server))
        });
        let result = self.server.await;
        drain.abort();
        watcher.abort();
        rates.abort();
        // The admin listener lives exactly as long as the main one.
        if let Some((handle, task)) = admin {
            handle.stop(true).await;
            let _ = task.await;
        }
        // Pacing leases not spent go back to the shared store, for the other replicas.
        self.live.current().state().store.drain().await;
        // Everything acknowledged is in the log once the process exits (with Kafka: acked
        // by the broker, or in the spill, after a flush bounded by `flush_timeout_ms`).
        if let Some(log) = self.live.event_log() {
            log.close().await;
        }
        result
    }
}

/// Resolves on the first SIGTERM or SIGINT.
async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        // No signal handling here (should not happen on Unix): never resolve.
        _ => std::future::pending().await,
    }
}

/// Builds the gateway from the config file at `path`, which it reloads on SIGHUP, on
/// `POST /admin/reload` and when the file changes (checked every second).
pub fn build_from_file(path: &std::path::Path) -> Result<Application, Vec<config::Problem>> {
    let config = config::load_file(path)?;
    build_inner(config, Some(path.to_path_buf())).map_err(|e| {
        vec![config::Problem {
            path: "(server)".into(),
            message: e.to_string(),
        }]
    })
}

/// Builds the gateway from a validated config and binds its listening socket.
pub fn build(config: config::Config) -> std::io::Result<Application> {
    build_inner(config, None)
}

fn build_inner(config: config::Config, path: Option<PathBuf>) -> std::io::Result<Application> {
    let listener = TcpListener::bind(config.server.listen)?;
    let addr = listener.local_addr()?;
    let workers = match config.server.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let shutdown = Duration::from_secs(config.server.shutdown_timeout_s);
    let admin_listener = match config.admin.listen {
        Some(at) => Some(TcpListener::bind(at)?),
        None => None,
    };
    let separate_admin = admin_listener.is_some();
    let gzip_responses = config.server.gzip_responses;
    // The recorder first: the event stream registers its metric handles when it starts.
    let metrics = web::Data::new(telemetry::metrics());
    let event_log = eventlog::EventLog::open(&config.event_log, &config.event_stream)?;
    let gateway = gateway::Gateway::new(config).map_err(std::io::Error::other)?;
    let live = Arc::new(reload::Live::new(gateway, path, event_log));
    // Each worker opens its own partner connections before /readyz says 200 (bounded by the
    // connect timeout): the first burst of traffic finds warm pools, not a connect storm.
    live.expect_warm_workers(workers);
    let warmer = live.clone();
    let shared = web::Data::from(live.clone());
    let server = HttpServer::new(move || {
        limits::start_worker_ticker();
        actix_web::rt::spawn(warmer.clone().warm_this_worker());
        App::new()
            .app_data(shared.clone())
            .app_data(metrics.clone())
            .wrap_fn(http::count_requests)
            // Gzip answers for clients that accept them (Accept-Encoding), when configured:
            // deflating every answer costs more CPU than most networks save.
            .wrap(actix_web::middleware::Condition::new(
                gzip_responses,
                actix_web::middleware::Compress::default(),
            ))
            .configure(http::public_routes)
            .configure(|cfg| {
                if !separate_admin {
                    http::admin_routes(cfg);
                }
            })
    })
    .workers(workers)
    // Signals are handled in `Application::run`, to drain before stopping.
    .disable_signals()
    .shutdown_timeout(shutdown.as_secs())
    .listen(listener)?
    .run();
    let admin = match admin_listener {
        Some(listener) => {
            let admin_addr = listener.local_addr()?;
            let (shared, metrics) = (
                web::Data::from(live.clone()),
                web::Data::new(telemetry::metrics()),
            );
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(shared.clone())
                    .app_data(metrics.clone())
                    .wrap_fn(http::count_requests)
                    .configure(http::admin_routes)
                    .configure(http::probes)
            })
            // Admin traffic is a person and a Prometheus scraper: one worker is plenty.
            .workers(1)
            .disable_signals()
            .shutdown_timeout(shutdown.as_secs())
            .listen(listener)?
            .run();
            Some((admin_addr, server))
        }
        None => None,
    };
    Ok(Application {
        addr,
        server,
        admin,
        live,
        watch_every: Duration::from_secs(1),
    })
}
