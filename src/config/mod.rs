//! The configuration file: its shape, its defaults, and how it is read.
//!
//! A config is parsed and validated once, as a whole, and is immutable afterwards: the
//! request path never re-reads or re-checks it. `load` reports *every* problem it finds
//! (unknown keys, wrong types, inconsistent values) with its key path, because an operator
//! fixing a file one error per restart is an operator having a bad night.

mod adaptive;
mod ads;
mod check;
mod clients;
mod defaults;
mod event_log;
mod event_stream;
mod load;
mod partner;
mod store;

pub use adaptive::{AdaptiveConfig, DeadlineMode, PartnerMode};
pub use ads::{AdFormat, EventsConfig, PlacementConfig, PodConfig, Position};

pub use check::advice;
pub(crate) use check::is_currency_code;
pub use clients::{ClientConfig, ClientRateLimitConfig};
pub use event_log::{EventLogConfig, Fsync};
pub use event_stream::{EventStreamConfig, StreamBackend};
pub use load::{INHERITED_SECTIONS, Problem, env_overrides, from_toml_str, load_file};
pub use partner::{
    CircuitBreakerConfig, HeaderSource, HttpClientConfig, MediaType, NoticeConfig, OpenRtbVersion,
    PartnerConfig,
};
pub use store::{Backend as StoreBackend, StoreConfig};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// The whole configuration. Unknown keys anywhere are an error: `load` collects them all
/// (serde's `deny_unknown_fields` would stop at the first one).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub auction: AuctionConfig,
    /// Defaults for every partner's HTTP client; a partner's own `http_client` overrides keys.
    #[serde(default)]
    pub http_client: HttpClientConfig,
    /// Defaults for every partner's circuit breaker; a partner may override keys.
    #[serde(default)]
    pub circuit_breaker: CircuitBreakerConfig,
    #[serde(default)]
    pub admin: AdminConfig,
    #[serde(default)]
    pub client_rate_limit: ClientRateLimitConfig,
    /// Clients known by an API key (`X-Api-Key`), each with its own rate limit. A request
    /// whose key is not one of these is limited by its address, as if it had none: a key
    /// made up per request must not buy a fresh allowance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<ClientConfig>,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub currency: CurrencyConfig,
    /// Direct-sold demand decided in-process (the partner `internal`, seat `direct`).
    #[serde(default)]
    pub internal: InternalConfig,
    /// Tracking events of the client ad API.
    #[serde(default)]
    pub events: EventsConfig,
    /// The local log of auctions and events (JSON lines, hourly files).
    #[serde(default)]
    pub event_log: EventLogConfig,
    /// Where the event log's records go: the local files (default) or Kafka.
    #[serde(default)]
    pub event_stream: EventStreamConfig,
    /// bidgate's own node in every outbound request's supply chain (`source.schain`).
    #[serde(default)]
    pub supply_chain: SupplyChainConfig,
    /// State shared by replicas (dedup, caps, pacing, partner QPS): memory or Redis.
    #[serde(default)]
    pub store: StoreConfig,
    /// Where apps show ads (`/v1/ads` slots name one).
    #[serde(default)]
    pub placements: Vec<PlacementConfig>,
    /// External demand partners, called over HTTP for every auction.
    #[serde(default)]
    pub partners: Vec<PartnerConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address the gateway listens on. Port 0 picks a free port (tests do this).
    #[serde(default = "defaults::listen")]
    pub listen: SocketAddr,
    /// HTTP worker threads; 0 means one per CPU core.
    #[serde(default)]
    pub workers: usize,
    /// Largest accepted request body; larger bodies get HTTP 413.
    #[serde(default = "defaults::max_request_bytes")]
    pub max_request_bytes: usize,
    /// On SIGTERM, how long in-flight requests may take to finish before workers stop.
    #[serde(default = "defaults::shutdown_timeout_s")]
    pub shutdown_timeout_s: u64,
    /// On SIGTERM/SIGINT, keep serving this long with `/readyz` answering 503 before
    /// stopping, so that load balancers stop sending traffic first. 0 = stop at once.
    #[serde(default)]
    pub drain_delay_ms: u64,
    /// Auctions allowed to run at once; more get an immediate 503 with `Retry-After` instead
    /// of queueing past their deadline. 0 = no limit.
    #[serde(default = "defaults::max_in_flight")]
    pub max_in_flight: usize,
    /// A worker whose event loop runs this many ms behind refuses new auctions (503) until
    /// it catches up. (Smaller lags are absorbed: a request's arrival is backdated by its
    /// worker's lag.) 0 = off.
    #[serde(default = "defaults::max_worker_lag_ms")]
    pub max_worker_lag_ms: u64,
    /// Each worker adapts how many auctions it runs at once so that its event loop stays
    /// within this many ms of schedule: a standing lag above it shrinks the limit, spare
    /// time grows it back; requests over the limit get an immediate 503. 0 = off (only
    /// `max_in_flight` and `max_worker_lag_ms` apply).
    #[serde(default = "defaults::target_worker_lag_ms")]
    pub target_worker_lag_ms: u64,
    /// Gzip answers for clients that send `Accept-Encoding: gzip`. Off by default: most
    /// deployments sit behind a load balancer on a fast network, where deflating every
    /// answer costs more CPU than it saves.
    #[serde(default)]
    pub gzip_responses: bool,
    /// Load balancers and proxies in front of bidgate, as IP addresses or CIDR ranges
    /// (`10.0.0.0/8`, `::1`). Only from these are `X-Forwarded-For` (the client's address,
    /// for the per-client limit) and `X-Forwarded-Proto`/`X-Forwarded-Host` (tracking URLs
    /// without `events.base_url`) believed; from anyone else they are ignored, since any
    /// client can send them. Empty = no proxy is trusted.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct AuctionConfig {
    /// Used when a request has no `tmax` (or `tmax` = 0).
    #[serde(default = "defaults::default_tmax_ms")]
    pub default_tmax_ms: u64,
    /// A larger request `tmax` is capped to this.
    #[serde(default = "defaults::max_tmax_ms")]
    pub max_tmax_ms: u64,
    /// Subtracted from the time left before telling partners their `tmax`: time on the wire.
    #[serde(default = "defaults::network_buffer_ms")]
    pub network_buffer_ms: u64,
    /// Kept back from the fan-out for the auction and for writing the response, at least:
    /// a worker that has lately run behind schedule keeps back its recent worst lag too
    /// (fading at 10 ms a second, at most a quarter of the tmax), so that its close still
    /// ends in time.
    #[serde(default = "defaults::processing_reserve_ms")]
    pub processing_reserve_ms: u64,
    /// ISO-4217 code of the auction currency: floors, clearing prices and the revenue metric
    /// are in it. A bid in another currency is converted at the `[currency]` rate for it
    /// (before `bid_adjustment`); with no rate known, it is refused (code 305).
    #[serde(default = "defaults::currency")]
    pub currency: String,
    /// What the winner pays: `first_price`, its own bid (OpenRTB `at` = 1); `second_price`,
    /// the runner-up's price or the floor, whichever is higher, plus
    /// `second_price_increment`, never more than its bid (`at` = 2).
    #[serde(default)]
    pub pricing: Pricing,
    /// Second price: added to the runner-up (or floor), in currency units (0.01 = one cent).
    #[serde(default = "defaults::second_price_increment")]
    pub second_price_increment: f64,
    /// Any valid deal bid beats any open-auction bid (deals are ranked first, then price).
    #[serde(default)]
    pub prefer_deals: bool,
    /// Check every field of an incoming OpenRTB request against the full 2.6 object model
    /// (a wrong type anywhere is a 400 naming it, e.g. `request.imp[0].banner.w: invalid
    /// type`). Off: only the fields bidgate acts on are typed, the rest is passed on as sent.
    #[serde(default)]
    pub strict_types: bool,
    /// Most imps a bid request may have; more get a 400. Every imp costs work in the
    /// fan-out, the auction and the answer, all inside the request's tmax.
    #[serde(default = "defaults::max_imps")]
    pub max_imps: usize,
    /// `/openrtb2/auction`'s answer when nothing won: 204 (empty body), or 200 with an empty
    /// `seatbid` and `ext` (errors, response times, dropped bids), which integrators debugging
    /// a setup want to see. A request overrides it with `ext.no_bid_status`.
    #[serde(default = "defaults::no_bid_status")]
    pub no_bid_status: u16,
    /// `ext.debug.httpcalls` (a `test = 1` auction, or `ext.debug = 1` from a `[[clients]]`
    /// entry with `debug = true`): each partner's request and response body is cut to this
    /// many bytes (on a UTF-8 character boundary).
    #[serde(default = "defaults::debug_body_limit_bytes")]
    pub debug_body_limit_bytes: usize,
    /// How long each partner is waited for: `static` (its `timeout_ms`) or `adaptive`
    /// (from its latency and value model, never longer than static; see docs/yield.md).
    #[serde(default)]
    pub deadline_mode: DeadlineMode,
    /// The knobs of `deadline_mode = "adaptive"`.
    #[serde(default)]
    pub adaptive: AdaptiveConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Pricing {
    #[default]
    FirstPrice,
    SecondPrice,
}

/// bidgate's place in the supply chain (OpenRTB 2.6 §3.2.25, the IAB SupplyChain object).
/// Buyers check each node against the seller's `sellers.json` and the publisher's
/// `ads.txt`/`app-ads.txt`; many discount or drop traffic whose last node is not the
/// entity that sent the request. Set `asi` and `sid`, and bidgate appends its node
/// (`hp = 1`) to every outbound request. Unset: requests go out with the supply chain as
/// the caller sent it (and `/v1/ads` requests with none).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SupplyChainConfig {
    /// The canonical domain of bidgate's operator, as in its `sellers.json` (e.g.
    /// `exchange.example.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asi: Option<String>,
    /// bidgate's seller id for this traffic in that `sellers.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// `/v1/ads` requests (bidgate is the publisher's platform): `app.publisher.id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher_id: Option<String>,
    /// `/v1/ads` requests: `app.publisher.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher_name: Option<String>,
}

/// The `/admin/*` API (status, reload).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct AdminConfig {
    /// Bearer token the admin API requires (`Authorization: Bearer …`); at least 16
    /// characters. Without one the admin API is closed (403). Best set from the environment:
    /// `BIDGATE_ADMIN__TOKEN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Serve the admin API, the `/admin` page and `/metrics` on this address only (e.g. an
    /// internal interface), instead of on `server.listen`. Applies at the next restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// With a token set, `/metrics` asks for it too (it shows revenue per partner): scrape
    /// with `authorization: Bearer …`. Without a token it stays open, like the rest of a
    /// gateway that has no admin secret.
    #[serde(default = "defaults::protect_metrics")]
    pub protect_metrics: bool,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            token: None,
            listen: None,
            protect_metrics: defaults::protect_metrics(),
        }
    }
}

/// Logging, on stderr. Read at start; changes apply at the next restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LogConfig {
    /// `pretty` (human-readable lines) or `json` (one object per line, for log shippers).
    #[serde(default)]
    pub format: LogFormat,
    /// A `tracing` filter: a level (`info`) or per-module directives
    /// (`info,bidgate::fanout=debug`). `RUST_LOG` overrides it.
    #[serde(default = "defaults::log_level")]
    pub level: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::default(),
            level: defaults::log_level(),
        }
    }
}

/// Direct (internal) demand: a catalog of direct-sold campaigns and line items (JSON or
/// TOML, see `schemas/catalog.schema.json`) that bids in-process as the partner `internal`,
/// reloaded with the config and when the file changes. Its delivery counters survive reloads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct InternalConfig {
    /// The catalog file; unset = no direct demand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<std::path::PathBuf>,
}

/// Conversion into the auction currency, for bids and floors in other currencies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CurrencyConfig {
    /// Units of the auction currency per unit of each other currency, e.g. `{ EUR = 1.08 }`.
    #[serde(default)]
    pub rates: std::collections::BTreeMap<String, f64>,
    /// A JSON file `{"rates": {"EUR": 1.08}}` (same meaning), re-read every `refresh_s`;
    /// its rates override `rates`. A file that cannot be read keeps the last good rates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rates_file: Option<std::path::PathBuf>,
    /// Seconds between two reads of `rates_file` (> 0); a new file is first read at the
    /// next one. Without `rates_file`, unused.
    #[serde(default = "defaults::refresh_s")]
    pub refresh_s: u64,
}

impl Default for CurrencyConfig {
    fn default() -> Self {
        Self {
            rates: Default::default(),
            rates_file: None,
            refresh_s: defaults::refresh_s(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: defaults::listen(),
            workers: 0,
            max_request_bytes: defaults::max_request_bytes(),
            shutdown_timeout_s: defaults::shutdown_timeout_s(),
            drain_delay_ms: 0,
            max_in_flight: defaults::max_in_flight(),
            max_worker_lag_ms: defaults::max_worker_lag_ms(),
            target_worker_lag_ms: defaults::target_worker_lag_ms(),
            gzip_responses: false,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for AuctionConfig {
    fn default() -> Self {
        Self {
            default_tmax_ms: defaults::default_tmax_ms(),
            max_tmax_ms: defaults::max_tmax_ms(),
            network_buffer_ms: defaults::network_buffer_ms(),
            processing_reserve_ms: defaults::processing_reserve_ms(),
            currency: defaults::currency(),
            pricing: Pricing::default(),
            second_price_increment: defaults::second_price_increment(),
            prefer_deals: false,
            strict_types: false,
            max_imps: defaults::max_imps(),
            no_bid_status: defaults::no_bid_status(),
            debug_body_limit_bytes: defaults::debug_body_limit_bytes(),
            deadline_mode: DeadlineMode::default(),
            adaptive: AdaptiveConfig::default(),
        }
    }
}

impl Config {
    /// The JSON Schema of the config file, as committed in `schemas/config.schema.json`.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Config)).expect("schema serialises")
    }
}
