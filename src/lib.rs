//! bidgate: an OpenRTB 2.6 exchange gateway. See ARCHITECTURE.md for the map.
//!
//! `build(config)` wires everything into a bound, ready-to-run HTTP server; `main.rs` and the
//! integration tests both start the gateway through it and nothing else.

pub mod auction;
pub mod breaker;
pub mod config;
pub mod deadline;
pub mod demo;
pub mod exchange;
pub mod fanout;
pub mod gateway;
pub mod http;
pub mod limits;
pub mod money;
pub mod openrtb;
pub mod partners;
pub mod reload;
pub mod telemetry;
pub mod validation;

use actix_web::{App, HttpServer, web};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A gateway bound to its socket and ready to serve.
pub struct Application {
    addr: SocketAddr,
    server: actix_web::dev::Server,
    live: Arc<reload::Live>,
    watch_every: Duration,
}

impl Application {
    /// The bound address (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle to stop the server gracefully from elsewhere.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped; SIGINT/SIGTERM stop accepting and let in-flight requests finish.
    /// Built with a config file, it also reloads that file on SIGHUP and when it changes.
    pub async fn run(self) -> std::io::Result<()> {
        let watcher = self.live.clone().watch(self.watch_every);
        let result = self.server.await;
        watcher.abort();
        result
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
    let gateway = gateway::Gateway::new(config).map_err(std::io::Error::other)?;
    let live = Arc::new(reload::Live::new(gateway, path));
    let shared = web::Data::from(live.clone());
    let metrics = web::Data::new(telemetry::metrics());
    let server = HttpServer::new(move || {
        limits::start_worker_ticker();
        App::new()
            .app_data(shared.clone())
            .app_data(metrics.clone())
            .wrap_fn(http::count_requests)
            .configure(http::routes)
    })
    .workers(workers)
    .shutdown_timeout(shutdown.as_secs())
    .listen(listener)?
    .run();
    Ok(Application {
        addr,
        server,
        live,
        watch_every: Duration::from_secs(1),
    })
}
