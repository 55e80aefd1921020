//! The part of an auction record that lets `bidgate whatif` re-run the auction under other
//! settings (`event_log.record_bids`): every partner's answer time and every bid it sent, as
//! the auction saw them, not only the winners. Times are milliseconds since the request
//! arrived (the instant its tmax counts from), truncated.
//!
//! Bounded: at most [`MAX_IMPS`] imps and [`MAX_BIDS`] bids per record, strings clipped; a
//! record that did not fit says `truncated` and is not replayed. The markup itself is never
//! recorded, only whether there was one.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Imps recorded per auction; an auction with more is recorded `truncated`.
pub const MAX_IMPS: usize = 50;
/// Bids recorded per auction; an auction with more is recorded `truncated`.
pub const MAX_BIDS: usize = 200;
/// `cat` entries and `attr` values recorded per bid.
pub const MAX_LIST: usize = 8;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReplayRecord {
    /// The effective tmax of the request (after `default_tmax_ms` and `max_tmax_ms`).
    pub tmax_ms: u64,
    /// The fan-out closed this long before the deadline: `auction.processing_reserve_ms`
    /// plus the worker's recent lag (`deadline::Deadline::new`).
    pub reserve_ms: u64,
    /// `auction.network_buffer_ms`: taken from what each partner is told.
    pub buffer_ms: u64,
    /// The auction currency, which every price below the bids' own is in.
    pub currency: String,
    /// OpenRTB `at`: 1 first price, 2 second price.
    pub at: u8,
    /// `auction.second_price_increment` in micros (recorded whatever `at` is).
    pub increment_micros: i64,
    /// `false` for a `test = 1` auction: nobody is billed, its wins count no revenue.
    pub billable: bool,
    /// When the partner requests were sent.
    pub fanout_start_ms: u64,
    /// When the fan-out closed (every partner answered, or every deadline passed).
    pub fanout_end_ms: u64,
    pub imps: Vec<ImpRecord>,
    /// Every partner called or skipped, in arrival order (the auction's tie-break order).
    pub answers: Vec<AnswerRecord>,
    /// More imps or bids than a record holds: the lists above are cut short.
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImpRecord {
    pub id: String,
    /// The imp's floor in micros of the auction currency.
    pub floor_micros: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodRecord>,
}

/// An ad pod's limits (`auction::Pod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PodRecord {
    pub max_ads: u32,
    pub max_duration_s: u32,
    pub min_ad_s: u32,
    pub max_ad_s: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AnswerRecord {
    pub partner: String,
    /// The outcome label, as in metrics: `bid`, `nobid`, `timeout` (its own `timeout_ms`),
    /// `late` (the request's deadline), `error`, `throttled`, `circuit_open`, `no_legal_basis`.
    pub outcome: String,
    /// From sending to the outcome.
    pub ms: u64,
    /// When the outcome came, since arrival.
    pub at_ms: u64,
    /// The partner's `timeout_ms` at the time.
    pub timeout_ms: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bids: Vec<BidRecord>,
}

/// One bid as the auction saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BidRecord {
    pub imp: String,
    pub bid_id: String,
    /// As sent, in micros of `currency`; absent when the price was not a sane number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_micros: Option<i64>,
    /// The bid's currency (the response's `cur`).
    pub currency: String,
    /// The price the auction ranked: converted to the auction currency and scaled by the
    /// partner's `bid_adjustment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_micros: Option<i64>,
    /// Set when no rate was known: the auction saw the bid in this currency (and refused it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_currency: Option<String>,
    /// 0 house line item, 1 open auction, 2 preferred deal, 3 sponsorship.
    pub rank: u8,
    /// Pays its own price whatever the pricing rule (direct-sold).
    #[serde(default, skip_serializing_if = "is_false")]
    pub fixed: bool,
    /// In a pod, the slot the bid asked for (`bid.slotinpod`; 0: any).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub slot: i8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deal: Option<String>,
    /// The deal's floor, which replaces the imp's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deal_floor_micros: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dur_s: Option<u32>,
    /// The first of `adomain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adomain: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cat: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attr: Vec<i64>,
    /// Whether the bid carried markup (`adm`); without it a winner's is fetched from `nurl`.
    pub adm: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub nurl: bool,
    /// Refused before the auction by the request's rules (its `ext.errors` code): such a bid
    /// takes part in no replay, whatever the setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<u32>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &i8) -> bool {
    *n == 0
}
