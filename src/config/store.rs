//! The `[store]` settings: where state shared by replicas lives. Only stored here; the
//! `store` module owns the connection and every policy built on it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Shared state (`[store]`): billing dedup, frequency caps, pacing leases and partner QPS
/// caps. `memory` (the default) keeps them in this process, as a single replica needs;
/// `redis` shares them between replicas. Redis is never waited on past `timeout_ms`, and
/// when it is down or slow every use falls back to a local policy (see
/// docs/operations.md): a client never gets an error because of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct StoreConfig {
    /// `memory` (in this process) or `redis` (shared by every replica using `url`).
    #[serde(default)]
    pub backend: Backend,
    /// With `redis`: `redis://[user:password@]host:port[/db]` (TLS, `rediss://`, is not
    /// built in). With a password, best set from the environment: `BIDGATE_STORE__URL`.
    #[serde(default = "defaults::url")]
    pub url: String,
    /// Longest wait for one Redis round trip, in ms. Small: an auction does at most one, and
    /// Redis must never eat a request's tmax. Past it the use falls back to its local policy.
    /// Not too small: on a busy node CPU time slices alone hold a reply back for milliseconds,
    /// and timeouts in a row open the store's breaker (at 5 ms they did, in the load test).
    #[serde(default = "defaults::timeout_ms")]
    pub timeout_ms: u64,
    /// Longest wait for (re)connecting, in ms; never on a request's path.
    #[serde(default = "defaults::connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Commands the one multiplexed connection may have in flight at once; more fall back
    /// at once instead of queueing (a queue would only make them late).
    #[serde(default = "defaults::max_in_flight")]
    pub max_in_flight: usize,
    /// How many replicas share the store: the fallback policies split a global limit by it
    /// (a frequency cap allows `ceil(cap / replicas)` locally, a partner's QPS cap
    /// `qps_limit / replicas`) while Redis is unreachable.
    #[serde(default = "defaults::replicas")]
    pub replicas: u32,
    /// Pacing: impressions of a line item leased from Redis at a time (its spend goal is
    /// leased in the same proportion). Smaller chunks: less stranded budget on a replica,
    /// more round trips (one per chunk, never on an auction's path).
    #[serde(default = "defaults::lease_impressions")]
    pub lease_impressions: u64,
    /// Partner QPS caps: the share of a partner's `qps_limit` leased at a time (per second
    /// window), e.g. 0.1 = a tenth. Smaller shares follow traffic shifts between replicas
    /// more closely, larger ones need fewer round trips.
    #[serde(default = "defaults::qps_lease_share")]
    pub qps_lease_share: f64,
    /// Consecutive failed or late Redis operations that open the store's breaker: while
    /// open, every use falls back at once without asking Redis.
    #[serde(default = "defaults::failure_threshold")]
    pub failure_threshold: u32,
    /// How long the breaker stays open before one probe asks whether Redis is back, in ms.
    #[serde(default = "defaults::cooloff_ms")]
    pub cooloff_ms: u64,
    /// Prefix of every key bidgate writes (several deployments may share a Redis).
    #[serde(default = "defaults::key_prefix")]
    pub key_prefix: String,
}

/// Where shared state lives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// In this process: exact for one replica, per replica for several.
    #[default]
    Memory,
    /// In Redis, shared by every replica.
    Redis,
}

mod defaults {
    pub fn url() -> String {
        "redis://127.0.0.1:6379".into()
    }
    pub fn timeout_ms() -> u64 {
        20
    }
    pub fn connect_timeout_ms() -> u64 {
        500
    }
    pub fn max_in_flight() -> usize {
        4096
    }
    pub fn replicas() -> u32 {
        1
    }
    pub fn lease_impressions() -> u64 {
        100
    }
    pub fn qps_lease_share() -> f64 {
        0.1
    }
    pub fn failure_threshold() -> u32 {
        3
    }
    pub fn cooloff_ms() -> u64 {
        1000
    }
    pub fn key_prefix() -> String {
        "bidgate".into()
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            backend: Backend::default(),
            url: defaults::url(),
            timeout_ms: defaults::timeout_ms(),
            connect_timeout_ms: defaults::connect_timeout_ms(),
            max_in_flight: defaults::max_in_flight(),
            replicas: defaults::replicas(),
            lease_impressions: defaults::lease_impressions(),
            qps_lease_share: defaults::qps_lease_share(),
            failure_threshold: defaults::failure_threshold(),
            cooloff_ms: defaults::cooloff_ms(),
            key_prefix: defaults::key_prefix(),
        }
    }
}

/// Semantic checks of `[store]`, with key paths.
pub(super) fn validate(s: &StoreConfig, p: &mut Vec<super::Problem>) {
    use super::Problem;
    if s.backend == Backend::Redis {
        match reqwest::Url::parse(&s.url) {
            Ok(u) if matches!(u.scheme(), "redis" | "redis+unix") => {}
            Ok(_) => p.push(Problem::new("store.url", "must be a redis:// URL")),
            Err(e) => p.push(Problem::new("store.url", format!("invalid URL: {e}"))),
        }
    }
    if !(1..=50).contains(&s.timeout_ms) {
        p.push(Problem::new(
            "store.timeout_ms",
            "must be between 1 and 50: Redis must never eat a request's tmax",
        ));
    }
    if s.connect_timeout_ms == 0 {
        p.push(Problem::new("store.connect_timeout_ms", "must be > 0"));
    }
    if s.max_in_flight == 0 {
        p.push(Problem::new("store.max_in_flight", "must be > 0"));
    }
    if !(1..=10_000).contains(&s.replicas) {
        p.push(Problem::new(
            "store.replicas",
            "must be between 1 and 10000",
        ));
    }
    if s.lease_impressions == 0 {
        p.push(Problem::new("store.lease_impressions", "must be > 0"));
    }
    if !(s.qps_lease_share > 0.0 && s.qps_lease_share <= 1.0) {
        p.push(Problem::new(
            "store.qps_lease_share",
            "must be > 0 and <= 1 (a share of each partner's qps_limit)",
        ));
    }
    if s.failure_threshold == 0 {
        p.push(Problem::new("store.failure_threshold", "must be > 0"));
    }
    if s.cooloff_ms == 0 {
        p.push(Problem::new("store.cooloff_ms", "must be > 0"));
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    if s.key_prefix.is_empty() || s.key_prefix.len() > 64 || !s.key_prefix.chars().all(plain) {
        p.push(Problem::new(
            "store.key_prefix",
            "must be 1-64 characters of a-z, A-Z, 0-9, '-', '_', '.' or ':'",
        ));
    }
}
