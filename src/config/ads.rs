//! Config of the client ad API: placements (what an app may ask for) and tracking events.

use super::Problem;
pub use crate::vocab::AdFormat;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A place in an app where ads run, set up by ops. Apps name it in `/v1/ads` slots; everything
/// a bidder needs to know about the inventory (format, sizes, durations, floor) comes from here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PlacementConfig {
    /// Unique; what apps put in `slots[].placement`.
    pub id: String,
    /// The kind of ad it takes (`audio`, `video` or `display`): the OpenRTB imp object
    /// partners are offered (`imp.audio`, `imp.video`, `imp.banner`) and which other keys
    /// apply (durations and mimes, or sizes).
    pub format: AdFormat,
    /// Audio and video: shortest ad, in seconds (`minduration`).
    #[serde(default = "defaults::min_duration_s")]
    pub min_duration_s: u32,
    /// Audio and video: longest ad, in seconds (`maxduration`; > 0, ≥ `min_duration_s`);
    /// a longer ad is not offered. For a pod, see `pod.max_duration_s`.
    #[serde(default = "defaults::max_duration_s")]
    pub max_duration_s: u32,
    /// Audio and video: accepted media types. Empty = the format's usual ones.
    #[serde(default)]
    pub mimes: Vec<String>,
    /// Display: the sizes offered, `[[w, h], …]` (required). Video: the player size.
    #[serde(default)]
    pub sizes: Vec<[u32; 2]>,
    /// Audio and video: a companion image of this size is asked for (e.g. `[640, 640]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub companion: Option<[u32; 2]>,
    /// Where the ad plays relative to the content: before, during or after it.
    #[serde(default)]
    pub position: Position,
    /// Lowest accepted price, CPM in the auction currency.
    #[serde(default)]
    pub floor: f64,
    /// Partner ids allowed to bid here; empty = every enabled partner.
    #[serde(default)]
    pub partners: Vec<String>,
    /// This placement's deadline in ms (the smallest of a request's placements applies);
    /// unset = `auction.default_tmax_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmax_ms: Option<u64>,
    /// An ad break of several ads: the auction fills it with the set of bids that earns most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodConfig>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    #[default]
    Pre,
    Mid,
    Post,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PodConfig {
    /// At most this many ads in the break (≤ 10).
    pub max_ads: u32,
    /// The break's total length in seconds (≤ 600).
    pub max_duration_s: u32,
}

/// Tracking events (`/v1/events/…`): how their URLs are made and checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct EventsConfig {
    /// Public URL prefix of the tracking URLs, e.g. `https://ads.example.com`. Unset = the
    /// scheme and host the ad request came in on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// HMAC keys for tracking tokens, each ≥ 32 characters: the first signs, every one
    /// verifies (list the old key after the new one to rotate). Set them from the environment
    /// (`BIDGATE_EVENTS__SECRETS='["…"]'`). Empty = a random key per process (tokens do not
    /// survive a restart and do not verify on another replica).
    #[serde(default, skip_serializing)]
    pub secrets: Vec<String>,
    /// How long a tracking URL stays valid.
    #[serde(default = "defaults::token_ttl_s")]
    pub token_ttl_s: u64,
    /// Impressions remembered for deduplication, each until its own token expires (plus a
    /// margin): a replayed impression is billed once. None is forgotten early: when the
    /// memory is full, new impressions are refused with a 503 (counted) until old ones
    /// expire, rather than risk billing one twice. 0 = sized from
    /// `dedup_impressions_per_second` × (`token_ttl_s` + the margin).
    #[serde(default)]
    pub dedup_capacity: u64,
    /// The sustained impression rate the deduplication memory is sized for (when
    /// `dedup_capacity` is 0): about 100 bytes per impression remembered.
    #[serde(default = "super::defaults::dedup_impressions_per_second")]
    pub dedup_impressions_per_second: u64,
    /// Time allowed for one notice call (`burl`, `nurl`, `lurl`), in ms (> 0): a partner
    /// slower than this misses that notice (counted), and the call is abandoned.
    #[serde(default = "defaults::notice_timeout_ms")]
    pub notice_timeout_ms: u64,
    /// Notice calls in flight at once (> 0); up to 16 times this many wait their turn, and
    /// past that a notice is dropped (counted), so that a slow partner cannot pile up tasks.
    #[serde(default = "defaults::notice_concurrency")]
    pub notice_concurrency: usize,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            base_url: None,
            secrets: Vec::new(),
            token_ttl_s: defaults::token_ttl_s(),
            dedup_capacity: 0,
            dedup_impressions_per_second: super::defaults::dedup_impressions_per_second(),
            notice_timeout_ms: defaults::notice_timeout_ms(),
            notice_concurrency: defaults::notice_concurrency(),
        }
    }
}

mod defaults {
    pub fn min_duration_s() -> u32 {
        5
    }
    pub fn max_duration_s() -> u32 {
        30
    }
    pub fn token_ttl_s() -> u64 {
        3_600
    }
    pub fn notice_timeout_ms() -> u64 {
        2_000
    }
    pub fn notice_concurrency() -> usize {
        64
    }
}

pub(super) fn validate(c: &super::Config, p: &mut Vec<Problem>) {
    let mut seen = std::collections::HashSet::new();
    for (i, pl) in c.placements.iter().enumerate() {
        let key = |k: &str| format!("placements[{i}].{k}");
        super::check::unique_id(&pl.id, key("id"), "placement", &mut seen, p);
        let timed = matches!(pl.format, AdFormat::Audio | AdFormat::Video);
        if timed && (pl.min_duration_s > pl.max_duration_s || pl.max_duration_s == 0) {
            p.push(Problem::new(
                key("max_duration_s"),
                "must be > 0 and >= min_duration_s",
            ));
        }
        if pl.format == AdFormat::Display && pl.sizes.is_empty() {
            p.push(Problem::new(
                key("sizes"),
                "a display placement needs at least one size",
            ));
        }
        if pl
            .sizes
            .iter()
            .chain(&pl.companion)
            .any(|[w, h]| *w == 0 || *h == 0)
        {
            p.push(Problem::new(key("sizes"), "widths and heights must be > 0"));
        }
        if !(pl.floor.is_finite() && (0.0..=1000.0).contains(&pl.floor)) {
            p.push(Problem::new(
                key("floor"),
                "must be a CPM between 0 and 1000",
            ));
        }
        for (j, partner) in pl.partners.iter().enumerate() {
            if !c.partners.iter().any(|x| &x.id == partner) {
                p.push(Problem::new(
                    format!("placements[{i}].partners[{j}]"),
                    format!("`{partner}` is not a configured partner"),
                ));
            }
        }
        if pl
            .tmax_ms
            .is_some_and(|t| t == 0 || t > c.auction.max_tmax_ms)
        {
            p.push(Problem::new(
                key("tmax_ms"),
                format!(
                    "must be between 1 and auction.max_tmax_ms ({})",
                    c.auction.max_tmax_ms
                ),
            ));
        }
        if let Some(pod) = &pl.pod {
            use crate::vocab::{MAX_POD_ADS as MAX_ADS, MAX_POD_DURATION_S as MAX_DURATION_S};
            if !timed {
                p.push(Problem::new(
                    key("pod"),
                    "only audio and video placements can be pods",
                ));
            }
            if pod.max_ads == 0 || pod.max_ads > MAX_ADS {
                p.push(Problem::new(
                    key("pod.max_ads"),
                    format!("must be 1 to {MAX_ADS}"),
                ));
            }
            if pod.max_duration_s < pl.min_duration_s || pod.max_duration_s > MAX_DURATION_S {
                p.push(Problem::new(
                    key("pod.max_duration_s"),
                    format!("must be between min_duration_s and {MAX_DURATION_S}"),
                ));
            }
        }
    }
    let e = &c.events;
    for (i, s) in e.secrets.iter().enumerate() {
        if s.chars().count() < 32 {
            p.push(Problem::new(
                format!("events.secrets[{i}]"),
                "must be at least 32 characters",
            ));
        }
    }
    if let Some(base) = &e.base_url {
        match reqwest::Url::parse(base) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => p.push(Problem::new("events.base_url", "must be an http(s) URL")),
        }
    }
    if e.token_ttl_s == 0 {
        p.push(Problem::new("events.token_ttl_s", "must be > 0"));
    }
    if e.dedup_capacity == 0 && e.dedup_impressions_per_second == 0 {
        p.push(Problem::new(
            "events.dedup_impressions_per_second",
            "must be > 0 when dedup_capacity is 0 (it sizes the deduplication memory)",
        ));
    }
    if e.notice_timeout_ms == 0 || e.notice_concurrency == 0 {
        p.push(Problem::new(
            "events",
            "notice_timeout_ms and notice_concurrency must be > 0",
        ));
    }
}
