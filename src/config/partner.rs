//! The partner sections: `[[partners]]`, and the `[http_client]` and `[circuit_breaker]`
//! defaults each partner inherits key by key.

use super::defaults;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The outbound HTTP client. Each partner has its own keep-alive pool on each worker thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct HttpClientConfig {
    /// Idle keep-alive connections kept per partner host.
    #[serde(default = "defaults::pool_max_idle_per_host")]
    pub pool_max_idle_per_host: usize,
    /// An idle pooled connection is closed after this long. A partner that closes idle
    /// connections sooner (actix and Node.js servers: 5 s) may close one just as it is
    /// used: a request lost that way is sent again on another connection; below the
    /// partner's own keep-alive timeout, none is lost.
    #[serde(default = "defaults::pool_idle_timeout_ms")]
    pub pool_idle_timeout_ms: u64,
    /// Limit on establishing a TCP connection (the auction deadline applies on top).
    #[serde(default = "defaults::connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Largest partner response body accepted, counted after decompression.
    #[serde(default = "defaults::max_response_bytes")]
    pub max_response_bytes: usize,
    /// Speak HTTP/2 without negotiation (h2c) to `http://` endpoints. `https://` endpoints
    /// negotiate HTTP/2 by ALPN whenever the partner offers it, whatever this says.
    #[serde(default)]
    pub http2_prior_knowledge: bool,
    /// Connections each worker opens to each partner at start (before `/readyz` answers
    /// 200) and to new or changed partners after a reload (pools are per worker thread), so that the first burst of auctions does not
    /// pay for connection set-up. 0 = none.
    #[serde(default = "defaults::warm_connections")]
    pub warm_connections: usize,
    /// At most this many connection attempts to one partner at a time, per worker (pools
    /// are per worker thread): a burst waits for a pooled connection instead of becoming a
    /// connect storm. 0 = no bound.
    #[serde(default = "defaults::max_connecting")]
    pub max_connecting: usize,
    /// Ask partners for gzip-compressed answers (`Accept-Encoding: gzip`). Off by default:
    /// on loopback or a fast link, inflating costs more CPU than the bytes save.
    #[serde(default)]
    pub gzip: bool,
}

/// Skips a failing partner for a while instead of spending every auction's time on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CircuitBreakerConfig {
    /// Consecutive failures (timeouts, transport errors, bad responses) that open the
    /// circuit; 0 disables the breaker.
    #[serde(default = "defaults::failure_threshold")]
    pub failure_threshold: u32,
    /// How long an open circuit skips the partner before probing it.
    #[serde(default = "defaults::cooloff_ms")]
    pub cooloff_ms: u64,
    /// Share of auctions (0–1] that probe a recovering partner; the rest skip it.
    #[serde(default = "defaults::probe_share")]
    pub probe_share: f64,
    /// Successful probes in a row that close the circuit again.
    #[serde(default = "defaults::probe_successes")]
    pub probe_successes: u32,
    /// A timeout counts as a failure only when the partner was waited for at least this long
    /// (or for its whole `timeout_ms`): a client asking for a 40 ms tmax must not switch off a
    /// partner that answers in 60, but a partner silent for 100 ms+ is failing.
    #[serde(default = "defaults::timeout_counts_after_ms")]
    pub timeout_counts_after_ms: u64,
    /// Besides the run of `failure_threshold` failures, the circuit opens only when at
    /// least this share of the partner's judged calls failed over the last one to two
    /// seconds: a short burst of timeouts from a partner that mostly answers does not cut
    /// it off. Applies once the window holds `min_volume` calls.
    #[serde(default = "defaults::failure_rate")]
    pub failure_rate: f64,
    /// Judged calls in the window below which the run of failures alone decides (a quiet
    /// partner has too few calls for a rate to mean anything). 0 = the run alone, always.
    #[serde(default = "defaults::min_volume")]
    pub min_volume: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PartnerConfig {
    /// Unique id; also the `seat` of this partner's bids in responses and a metrics label.
    pub id: String,
    /// Where bid requests are POSTed (http or https).
    pub endpoint: String,
    /// This partner never gets longer than this, whatever the request's `tmax` says.
    pub timeout_ms: u64,
    /// `false` keeps the partner in the file but out of every auction: it is not called, has
    /// no stats or metrics, and its breaker, limiter and stats start afresh when it is
    /// enabled again.
    #[serde(default = "defaults::enabled")]
    pub enabled: bool,
    /// Most bid requests per second this partner may receive (its contract's QPS cap); over
    /// it, the partner is skipped for that auction (outcome `Throttled`), never exceeded.
    /// Bursts up to the same number are allowed. Absent = no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qps_limit: Option<u32>,
    /// Overrides of the top-level `[http_client]` keys for this partner only.
    #[serde(default)]
    pub http_client: HttpClientConfig,
    /// Overrides of the top-level `[circuit_breaker]` keys for this partner only.
    #[serde(default)]
    pub circuit_breaker: CircuitBreakerConfig,
    /// Multiplies this partner's bid prices before the auction (e.g. 0.85 for a partner that
    /// bids gross of its fee). Clearing prices are computed on the adjusted prices.
    #[serde(default = "defaults::bid_adjustment")]
    pub bid_adjustment: f64,
    /// The partner's IAB TCF vendor id: with GDPR applying, personal data reaches it only with
    /// that vendor's consent in the TCF string. Absent = treated as not consented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<u16>,
    /// Whether its win and loss notices (`nurl`, `lurl`) are fired after the auction, and
    /// whether its notice URLs, `burl` included, may point at private addresses. A `burl` is
    /// fired on the first impression whatever `win` says.
    #[serde(default)]
    pub notices: NoticeConfig,
    /// The media types this partner bids on (`banner`, `video`, `audio`, `native`): it is
    /// offered only imps with at least one of them, and not called when none remain, so a
    /// video-only bidder costs neither a request nor its QPS allowance on a banner auction.
    #[serde(default = "defaults::media_types")]
    pub media_types: Vec<MediaType>,
    /// Extra HTTP headers sent with every bid request to this partner, e.g. an auth token:
    /// `headers = { "X-Api-Key" = { env = "PARTNER_KEY" } }` (read from the environment when
    /// the config is loaded, so the secret stays out of the file) or a literal string.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, HeaderSource>,
    /// Gzip bid request bodies (`Content-Encoding: gzip`): for partners that ask for it or
    /// links where bytes cost more than CPU. Each distinct body is compressed once per
    /// auction, however many partners get it.
    #[serde(default)]
    pub gzip_requests: bool,
    /// The OpenRTB version this partner speaks: `"2.6"`, or `"2.5"` for a partner that
    /// reads the 2.6 fields only where 2.5 put them in `ext`. Its bodies are then downgraded
    /// as Prebid Server does (`regs.gdpr`, `regs.us_privacy`, `user.consent`, `user.eids`
    /// and `source.schain` moved into their object's `ext`, whose own members win) and
    /// its `x-openrtb-version` header says 2.5.
    #[serde(default)]
    pub openrtb_version: OpenRtbVersion,
    /// Refuse (code 314) a bid whose `dealid` names no deal of the request's `pmp`. By
    /// default such a bid is a deal the partner arranged on its side: it competes in the open
    /// market (no deal priority, no deal floor) and keeps its `dealid` in the answer.
    #[serde(default = "defaults::strict_deals")]
    pub strict_deals: bool,
    /// `live` (its bids compete) or `shadow` (called and reported on, its bids never enter
    /// the auction, no notices): a way to try a new partner without touching revenue.
    #[serde(default)]
    pub mode: super::PartnerMode,
    /// Share of auctions (0–1] this partner is called on: a shadow partner's sample, or a
    /// live partner's ramp (1% → 100%).
    #[serde(default = "defaults::traffic_share")]
    pub traffic_share: f64,
    /// Shadow partners: send `test = 1` (OpenRTB: not billable), so the partner knows.
    #[serde(default)]
    pub shadow_test: bool,
    /// Shadow partners: most calls in flight at once; past it the shadow call is skipped.
    #[serde(default = "defaults::shadow_max_in_flight")]
    pub shadow_max_in_flight: usize,
}

impl PartnerConfig {
    /// Its extra headers as sent (`Err`: the first that cannot be, with its key path).
    pub fn header_values(
        &self,
    ) -> Result<Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>, String> {
        self.headers
            .iter()
            .map(|(name, source)| {
                let at = |e: &dyn std::fmt::Display| format!("headers.{name}: {e}");
                let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| at(&"is not a valid header name"))?;
                let value = source.value().map_err(|e| at(&e))?;
                let value = reqwest::header::HeaderValue::from_str(&value)
                    .map_err(|_| at(&"is not a valid header value"))?;
                Ok((name, value))
            })
            .collect()
    }
}

/// An OpenRTB imp media type: which of `imp.banner`, `video`, `audio`, `native` a partner bids on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediaType {
    Banner,
    Video,
    Audio,
    Native,
}

impl MediaType {
    pub const ALL: [MediaType; 4] = [Self::Banner, Self::Video, Self::Audio, Self::Native];

    /// Its member name in an OpenRTB imp.
    pub fn key(self) -> &'static str {
        match self {
            Self::Banner => "banner",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Native => "native",
        }
    }
}

/// Where its bodies put the fields that OpenRTB 2.6 moved out of `ext`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub enum OpenRtbVersion {
    /// They are sent back in `ext`, where 2.5 had them.
    #[serde(rename = "2.5")]
    V2_5,
    /// Where 2.6 puts them: the request as bidgate reads it.
    #[default]
    #[serde(rename = "2.6")]
    V2_6,
}

impl OpenRtbVersion {
    /// As written in config and in the `x-openrtb-version` header.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2_5 => "2.5",
            Self::V2_6 => "2.6",
        }
    }
}

// Read by hand so that the likely slip, an unquoted `2.5` (a TOML float), gets an error
// that says what to write.
impl<'de> Deserialize<'de> for OpenRtbVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Version;
        impl serde::de::Visitor<'_> for Version {
            type Value = OpenRtbVersion;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(r#""2.5" or "2.6" (a quoted string)"#)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match v {
                    "2.5" => Ok(OpenRtbVersion::V2_5),
                    "2.6" => Ok(OpenRtbVersion::V2_6),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(Version)
    }
}

/// Where an extra header's value comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum HeaderSource {
    /// The value as written (for what is not secret).
    Literal(String),
    /// The value of this environment variable, read at load; unset is a config error.
    Env { env: String },
}

impl HeaderSource {
    /// The value now: the literal, or the environment variable's (`Err`: what is missing).
    pub fn value(&self) -> Result<String, String> {
        match self {
            Self::Literal(v) => Ok(v.clone()),
            Self::Env { env } => {
                std::env::var(env).map_err(|_| format!("${env} is not set (or not UTF-8)"))
            }
        }
    }
}

/// Win and loss notices to a partner (`nurl`, `lurl`), fired after the auction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct NoticeConfig {
    /// Fire the winning bid's `nurl`.
    #[serde(default = "defaults::enabled")]
    pub win: bool,
    /// Fire each losing bid's `lurl` with the loss reason.
    #[serde(default = "defaults::enabled")]
    pub loss: bool,
    /// Allow notice URLs that point at loopback or private addresses (refused otherwise:
    /// a bid must not make bidgate call into its own network).
    #[serde(default)]
    pub allow_private: bool,
}

impl Default for NoticeConfig {
    fn default() -> Self {
        Self {
            win: true,
            loss: true,
            allow_private: false,
        }
    }
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        Self {
            pool_max_idle_per_host: defaults::pool_max_idle_per_host(),
            pool_idle_timeout_ms: defaults::pool_idle_timeout_ms(),
            connect_timeout_ms: defaults::connect_timeout_ms(),
            max_response_bytes: defaults::max_response_bytes(),
            http2_prior_knowledge: false,
            warm_connections: defaults::warm_connections(),
            max_connecting: defaults::max_connecting(),
            gzip: false,
        }
    }
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: defaults::failure_threshold(),
            cooloff_ms: defaults::cooloff_ms(),
            probe_share: defaults::probe_share(),
            probe_successes: defaults::probe_successes(),
            timeout_counts_after_ms: defaults::timeout_counts_after_ms(),
            failure_rate: defaults::failure_rate(),
            min_volume: defaults::min_volume(),
        }
    }
}
