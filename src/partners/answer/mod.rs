//! Reading a partner's 200 body into a `BidResponse`, fast.
//!
//! Two ways to the same result: [`reader`], which walks the body once and builds the response
//! directly (the scanner in `scan` finds where each string ends, 64 bytes a step), and
//! serde_json alone ([`read_plain`]), the reference, taken whenever the reader is not sure
//! and for every error message. Why the reader: markup is nearly all of an answer (a 4 KB
//! VAST and a 3 KB display tag per partner, escaped quotes every ~20 bytes), and serde_json,
//! which pays ~100 instructions at every escape and its generic machinery on every member,
//! was a quarter of an auction's instructions. The fuzz target `partner_response` and
//! `tests` check that both ways agree.

mod reader;
#[cfg(test)]
mod tests;

use crate::openrtb::BidResponse;
use crate::outcome::{BadResponse, Outcome};

/// Reads a 200 body: empty or bid-less means no bid; anything but a BidResponse is bad.
pub fn parse(body: &[u8]) -> Outcome {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Outcome::NoBid;
    }
    match read(body) {
        Ok(r) if r.seatbid.iter().all(|s| s.bid.is_empty()) => Outcome::NoBid,
        Ok(r) => Outcome::Bid(r),
        Err(e) => Outcome::BadResponse(BadResponse::Body(format!(
            "response is not an OpenRTB BidResponse: {e}"
        ))),
    }
}

/// The `BidResponse` in `body`: the fast way when it applies, else serde_json's own.
pub fn read(body: &[u8]) -> serde_json::Result<BidResponse> {
    match reader::read(body) {
        Some(response) => Ok(response),
        None => read_plain(body),
    }
}

/// serde_json alone (the reference the fast path must agree with).
pub fn read_plain(body: &[u8]) -> serde_json::Result<BidResponse> {
    serde_json::from_slice::<BidResponse>(body)
}
