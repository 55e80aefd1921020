//! Why a bid is dropped: the stable codes of `ext.errors` (docs/api.md's codes table), the
//! OpenRTB loss reasons of its `lurl`, and the message.

use crate::money::Micros;

/// Why a bid cannot take part. Codes are stable: they appear in `ext.errors` (docs/api.md, status and error codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    MissingBidId,
    UnknownImp(String),
    InvalidPrice,
    BelowFloor {
        price: Micros,
        floor: Micros,
    },
    Currency(String),
    /// A pod bid without a `dur`, or one that does not fit the pod's per-ad limits.
    PodDuration(Option<u32>),
    BlockedAdvertiser(String),
    BlockedCategory(String),
    /// `mtype` (or the imp's single media type) is not one the imp offered.
    MediaType(u8),
    Duration(u64),
    UnknownDeal(String),
    BelowDealFloor {
        price: Micros,
        floor: Micros,
    },
    SeatBlocked(String),
    /// A private auction takes deal bids only.
    NotADeal,
    /// Audio/video markup that cannot be played (`/v1/ads`).
    Unplayable(String),
    /// A `burl` or bid `id` longer than a tracking token can carry (the field, its length).
    Oversized(&'static str, usize),
    /// A winner whose markup never arrived from its `nurl` (why): the runner-up takes its place.
    NoMarkup(String),
    /// The bid's app `bundle` is in the request's `bapp`.
    BlockedApp(String),
    /// None of the bid's `cat` is in the request's `acat` (the first given).
    CategoryNotAllowed(String),
    /// The creative's language is not in the request's `wlang`/`wlangb`.
    Language(String),
    /// A creative attribute (`bid.attr`) the imp's media object blocks (`battr`).
    BlockedAttribute(u64),
    /// A deal bid's advertiser is not in the deal's `wadomain`.
    DealAdvertiser(String),
    /// One bid of a `seatbid.group = 1` (all or nothing) did not win, so none of them does.
    GroupIncomplete,
}

impl Rejection {
    pub fn code(&self) -> u32 {
        match self {
            Rejection::MissingBidId => 301,
            Rejection::UnknownImp(_) => 302,
            Rejection::InvalidPrice => 303,
            Rejection::BelowFloor { .. } => 304,
            Rejection::Currency(_) => 305,
            Rejection::PodDuration(_) => 306,
            Rejection::BlockedAdvertiser(_) => 310,
            Rejection::BlockedCategory(_) => 311,
            Rejection::MediaType(_) => 312,
            Rejection::Duration(_) => 313,
            Rejection::UnknownDeal(_) => 314,
            Rejection::BelowDealFloor { .. } => 315,
            Rejection::SeatBlocked(_) => 316,
            Rejection::NotADeal => 317,
            Rejection::Unplayable(_) => UNPLAYABLE_CODE,
            Rejection::Oversized(..) => 319,
            Rejection::NoMarkup(_) => 318,
            Rejection::BlockedApp(_) => 320,
            Rejection::CategoryNotAllowed(_) => 321,
            Rejection::Language(_) => 322,
            Rejection::BlockedAttribute(_) => 323,
            Rejection::DealAdvertiser(_) => 324,
            Rejection::GroupIncomplete => 325,
        }
    }

    /// The OpenRTB loss reason (`${AUCTION_LOSS}`, spec list 5.25) for a dropped bid.
    pub fn loss_reason(&self) -> u32 {
        match self {
            Rejection::BelowFloor { .. } => 100,
            Rejection::BelowDealFloor { .. } => 101,
            Rejection::SeatBlocked(_) => 104,
            Rejection::MediaType(_)
            | Rejection::Duration(_)
            | Rejection::PodDuration(_)
            | Rejection::Unplayable(_) => 204,
            Rejection::BlockedAdvertiser(_) => 205,
            Rejection::BlockedCategory(_) | Rejection::CategoryNotAllowed(_) => 209,
            Rejection::BlockedApp(_) => 206,
            Rejection::Language(_) => 208,
            Rejection::BlockedAttribute(_) => 210,
            Rejection::DealAdvertiser(_) => 213,
            Rejection::NoMarkup(_) => 7,
            Rejection::GroupIncomplete => 102,
            Rejection::UnknownDeal(_) | Rejection::NotADeal => 4,
            Rejection::MissingBidId
            | Rejection::UnknownImp(_)
            | Rejection::InvalidPrice
            | Rejection::Currency(_)
            | Rejection::Oversized(..) => 3,
        }
    }

    pub fn message(&self, bid_id: &str) -> String {
        match self {
            Rejection::MissingBidId => "bid has no id".into(),
            Rejection::UnknownImp(imp) => {
                format!("bid {bid_id}: impid `{imp}` is not in the request")
            }
            Rejection::InvalidPrice => format!("bid {bid_id}: price must be a finite number > 0"),
            Rejection::BelowFloor { price, floor } => {
                format!("bid {bid_id}: price {price} is below the floor {floor}")
            }
            Rejection::Currency(cur) => {
                format!("bid {bid_id}: currency `{cur}` is not the auction currency")
            }
            Rejection::PodDuration(None) => {
                format!("bid {bid_id}: an ad pod needs the ad's duration in `dur`")
            }
            Rejection::PodDuration(Some(d)) => {
                format!("bid {bid_id}: dur {d} s does not fit the ad pod")
            }
            Rejection::BlockedAdvertiser(d) => {
                format!("bid {bid_id}: advertiser `{d}` is blocked by the request (badv)")
            }
            Rejection::BlockedCategory(c) => {
                format!("bid {bid_id}: category `{c}` is blocked by the request (bcat)")
            }
            Rejection::MediaType(m) => {
                format!("bid {bid_id}: mtype {m} is not a media type the imp offered")
            }
            Rejection::Duration(d) => {
                format!("bid {bid_id}: dur {d} s is outside the imp's allowed durations")
            }
            Rejection::UnknownDeal(d) => {
                format!("bid {bid_id}: dealid `{d}` is not a deal of the imp")
            }
            Rejection::BelowDealFloor { price, floor } => {
                format!("bid {bid_id}: price {price} is below the deal's floor {floor}")
            }
            Rejection::SeatBlocked(s) => {
                format!("bid {bid_id}: buyer seat `{s}` is not allowed (wseat/bseat)")
            }
            Rejection::NotADeal => {
                format!("bid {bid_id}: the imp is a private auction and the bid names no deal")
            }
            Rejection::Unplayable(why) => format!("bid {bid_id}: markup cannot be played: {why}"),
            Rejection::Oversized(field, len) => {
                format!("bid {bid_id}: {field} is {len} bytes, too long for a tracking URL")
            }
            Rejection::NoMarkup(why) => format!("bid {bid_id}: {why}"),
            Rejection::BlockedApp(b) => {
                format!("bid {bid_id}: app bundle `{b}` is blocked by the request (bapp)")
            }
            Rejection::CategoryNotAllowed(c) => {
                format!("bid {bid_id}: category `{c}` is not allowed by the request (acat)")
            }
            Rejection::Language(l) => {
                format!("bid {bid_id}: language `{l}` is not allowed by the request (wlang/wlangb)")
            }
            Rejection::BlockedAttribute(a) => {
                format!("bid {bid_id}: creative attribute {a} is blocked by the imp (battr)")
            }
            Rejection::DealAdvertiser(d) => {
                format!("bid {bid_id}: advertiser `{d}` is not allowed in the deal (wadomain)")
            }
            Rejection::GroupIncomplete => format!(
                "bid {bid_id}: its seatbid is all or nothing (group = 1) and another of its bids did not win"
            ),
        }
    }
}

/// `ext.errors` code of a bid whose audio/video markup cannot be played (refused before the
/// auction, or found unusable when the answer is built).
pub const UNPLAYABLE_CODE: u32 = 307;
