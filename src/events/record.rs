//! The event log's record format: one JSON object per line, `type` = `auction` or `event`.
//! Published as `schemas/event-log.schema.json` (generated from these types).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Auction(AuctionRecord),
    Event(EventRecord),
}

/// One auction (sampled by `event_log.sample_auctions`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AuctionRecord {
    /// Unix time in milliseconds when the answer was ready.
    pub ts_ms: u64,
    pub auction_id: String,
    /// `ads` (`/v1/ads`) or `openrtb2`.
    pub endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_bundle: Option<String>,
    /// From arrival to answer.
    pub duration_ms: u64,
    /// Every partner called or skipped, with its outcome label (as in metrics).
    pub partners: Vec<PartnerRecord>,
    pub wins: Vec<WinRecord>,
    /// Every answer and every bid, for `bidgate whatif` (sampled by `event_log.record_bids`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<super::replay::ReplayRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PartnerRecord {
    pub partner: String,
    /// `bid`, `nobid`, `timeout`, `late`, `error`, `throttled`, `circuit_open`.
    pub outcome: String,
    pub ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct WinRecord {
    pub imp: String,
    pub partner: String,
    pub bid_id: String,
    /// Clearing price in micro-units of `currency`.
    pub price_micros: i64,
    pub currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adomain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dur_s: Option<u32>,
}

/// One call of a tracking URL, valid or not.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EventRecord {
    pub ts_ms: u64,
    /// `impression`, `click`, `start`, `firstQuartile`, `midpoint`, `thirdQuartile`,
    /// `complete`, `error`.
    pub kind: String,
    /// `billed` (a first impression), `counted` (another first event), `duplicate`,
    /// `forged`, `expired`, `malformed`.
    pub result: String,
    /// From the token; absent when it did not verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auction_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bid_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_micros: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Deduplicated by this replica's memory only: the shared store (`[store]` redis) did
    /// not answer in time, so a replay to another replica may have been counted too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dedup_unverified: bool,
}

/// Unix time now in milliseconds (the log's timestamps are wall-clock by nature).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Record)).expect("schema serialises")
}
