//! The auction's diagnostics: `ext` of the BidResponse (response times, errors per partner),
//! bounded so that a partner cannot buy time with its errors.

use serde::Serialize;
use std::collections::BTreeMap;

/// `ext` of our BidResponse, in Prebid Server's shape, which integrators already parse.
#[derive(Debug, Default, Serialize)]
pub struct ResponseExt {
    /// Partner id → milliseconds from sending its request to its answer (or to giving up).
    pub responsetimemillis: BTreeMap<String, u64>,
    /// Partner id → what went wrong with that partner or its bids.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, Vec<ErrorEntry>>,
    /// Every dropped bid, per partner, in Prebid Server's envelope (`seat`, `nonbid`,
    /// `impid`); the `code` is bidgate's (docs/api.md's codes table), not a PBS status code.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub seatnonbid: Vec<SeatNonBid>,
    /// `ext.debug.httpcalls`, when debug output was asked for and allowed (`debug.rs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debug: Option<super::debug::Debug>,
}

#[derive(Debug, Serialize)]
pub struct SeatNonBid {
    pub seat: String,
    pub nonbid: Vec<NonBid>,
}

#[derive(Debug, Serialize)]
pub struct NonBid {
    pub impid: String,
    /// The bid's `id`.
    pub bidid: String,
    pub code: u32,
}

#[derive(Debug, Serialize)]
pub struct ErrorEntry {
    pub code: u32,
    pub message: String,
}

/// Errors listed per partner; past this, one summary entry says how many more there were.
const MAX_ERRORS_PER_PARTNER: usize = 10;
/// Partner text echoed in messages (bid ids, serde's quotes of bad values) is cut to this.
pub use crate::text::MAX_MESSAGE_CHARS;
/// `ext.errors` code of the summary entry for errors past `MAX_ERRORS_PER_PARTNER`.
pub const MORE_ERRORS_CODE: u32 = 399;

impl ResponseExt {
    /// Records a dropped bid under its partner's seat (kept in order of first drop).
    pub fn non_bid(&mut self, partner: &str, impid: &str, bidid: &str, code: u32) {
        let i = match self.seatnonbid.iter().position(|s| s.seat == partner) {
            Some(i) => i,
            None => {
                self.seatnonbid.push(SeatNonBid {
                    seat: partner.to_string(),
                    nonbid: Vec::new(),
                });
                self.seatnonbid.len() - 1
            }
        };
        self.seatnonbid[i].nonbid.push(NonBid {
            impid: crate::text::clip(impid),
            bidid: crate::text::clip(bidid),
            code,
        });
    }

    pub fn push_error(&mut self, partner: &str, code: u32, mut message: String) {
        let list = self.errors.entry(partner.to_string()).or_default();
        if list.len() > MAX_ERRORS_PER_PARTNER {
            return;
        }
        if list.len() == MAX_ERRORS_PER_PARTNER {
            list.push(ErrorEntry {
                code: MORE_ERRORS_CODE,
                message: "more errors from this partner were left out".into(),
            });
            return;
        }
        if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
            message.truncate(cut);
            message.push('…');
        }
        list.push(ErrorEntry { code, message });
    }
}
