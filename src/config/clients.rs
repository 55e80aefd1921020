//! Who calls bidgate: the inbound rate limit per client (`[client_rate_limit]`) and the
//! clients known by an API key (`[[clients]]`), with what each may ask for.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Inbound rate limit per client: over it, 429 with `Retry-After`. It applies to
/// `/openrtb2/auction`, `/v1/ads` and `/v1/events`. A client is a configured `[[clients]]`
/// entry when the request carries its `X-Api-Key` (with that entry's own limit); any other
/// request is keyed by its address: the peer IP, or the client address a trusted proxy
/// (`server.trusted_proxies`) put in `X-Forwarded-For`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ClientRateLimitConfig {
    /// Sustained requests per second allowed per client address; 0 = no limit.
    #[serde(default)]
    pub requests_per_second: u32,
    /// Requests a client may send at once above the sustained rate; 0 = same as the rate.
    #[serde(default)]
    pub burst: u32,
}

/// A client known by its API key (`[[clients]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ClientConfig {
    /// Names the client in logs and metrics; unique.
    pub id: String,
    /// The environment variable holding the client's API key (at least 16 characters), which
    /// it sends as `X-Api-Key`. The key itself stays out of the file.
    pub key_env: String,
    /// Sustained requests per second allowed to this client; 0 = no limit.
    #[serde(default)]
    pub requests_per_second: u32,
    /// Requests it may send at once above the sustained rate; 0 = same as the rate.
    #[serde(default)]
    pub burst: u32,
    /// It may ask for `ext.debug.httpcalls` (`ext.debug = 1` in a bid request): every
    /// partner's request and answer body. For trusted callers only: the answers show other
    /// buyers' bids. (A `test = 1` auction gets them whoever asks: nothing in it is billed.)
    #[serde(default)]
    pub debug: bool,
}
