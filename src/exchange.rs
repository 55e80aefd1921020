//! One auction from a validated bid request to the bid response: prepare the outbound
//! request, fan out, screen and rank the bids, and write winners and diagnostics.

use crate::auction::{self, BidKey, ImpFloor, Offer, Rules};
use crate::deadline::Deadline;
use crate::fanout::{self, Called};
use crate::gateway::Gateway;
use crate::money::Micros;
use crate::openrtb::{Bid, BidRequest, BidResponse, SeatBid};
use crate::partners::Outcome;
use crate::telemetry;
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
}

#[derive(Debug, Serialize)]
pub struct ErrorEntry {
    pub code: u32,
    pub message: String,
}

/// Runs the auction. `None` means nothing won (the endpoint answers 204).
pub async fn run(
    gw: &Gateway,
    mut request: BidRequest,
    floors: &[Micros],
    deadline: &Deadline,
) -> Option<BidResponse> {
    let currency = gw.config.auction.currency.as_str();
    request.at = Some(gw.auction_type());
    request.cur = Some(vec![currency.to_string()]);

    let mut called = fanout::run(gw, &mut request, deadline).await;

    let imps: Vec<ImpFloor> = request
        .imp
        .iter()
        .zip(floors)
        .map(|(imp, floor)| ImpFloor {
            id: &imp.id,
            floor: *floor,
        })
        .collect();
    let offers = offers(&called);
    let rules = Rules {
        currency,
        pricing: gw.pricing,
    };
    let outcome = auction::run(&imps, &offers, rules);

    let mut ext = ResponseExt::default();
    for c in &called {
        let id = gw.partners[c.partner].id.as_str();
        telemetry::partner_outcome(id, c.outcome.label(), c.elapsed);
        if let Outcome::Bid(resp) = &c.outcome {
            telemetry::bids(id, resp.seatbid.iter().map(|s| s.bid.len()).sum());
        }
        ext.responsetimemillis
            .insert(id.to_string(), c.elapsed.as_millis() as u64);
        if let Some((code, message)) = c.outcome.error(c.elapsed) {
            ext.errors
                .entry(id.to_string())
                .or_default()
                .push(ErrorEntry { code, message });
        }
    }
    for (key, rejection) in &outcome.rejected {
        let id = gw.partners[called[key.partner].partner].id.as_str();
        let bid_id = offers
            .iter()
            .find(|o| o.key == *key)
            .map_or("", |o| o.bid_id);
        telemetry::bid_rejected(id, rejection.code());
        ext.errors
            .entry(id.to_string())
            .or_default()
            .push(ErrorEntry {
                code: rejection.code(),
                message: rejection.message(bid_id),
            });
    }
    if outcome.wins.is_empty() {
        return None;
    }
    drop(offers);

    // Winners, grouped into one seatbid per partner in order of first win.
    let mut seatbid: Vec<SeatBid> = Vec::new();
    let mut seat_of: Vec<Option<usize>> = vec![None; called.len()];
    for win in &outcome.wins {
        let partner_id = &gw.partners[called[win.key.partner].partner].id;
        let mut bid = take_bid(&mut called, win.key);
        bid.price = win.clearing.to_f64();
        telemetry::win(partner_id.as_str(), currency, win.clearing);
        let s = *seat_of[win.key.partner].get_or_insert_with(|| {
            seatbid.push(SeatBid {
                bid: Vec::new(),
                seat: Some(partner_id.to_string()),
                rest: Default::default(),
            });
            seatbid.len() - 1
        });
        seatbid[s].bid.push(bid);
    }
    Some(BidResponse {
        id: request.id,
        seatbid,
        bidid: None,
        cur: Some(currency.to_string()),
        nbr: None,
        ext: Some(serde_json::to_value(ext).expect("ext serialises")),
        rest: Default::default(),
    })
}

/// Every bid received, in arrival order, as the auction's borrowed view.
fn offers(called: &[Called]) -> Vec<Offer<'_>> {
    let mut offers = Vec::new();
    for (p, c) in called.iter().enumerate() {
        let Outcome::Bid(resp) = &c.outcome else {
            continue;
        };
        // OpenRTB: an absent `cur` means USD.
        let currency = resp.cur.as_deref().unwrap_or("USD");
        for (s, seat) in resp.seatbid.iter().enumerate() {
            for (b, bid) in seat.bid.iter().enumerate() {
                offers.push(Offer {
                    key: BidKey {
                        partner: p,
                        seatbid: s,
                        bid: b,
                    },
                    bid_id: &bid.id,
                    impid: &bid.impid,
                    price: Micros::from_f64(bid.price),
                    currency,
                });
            }
        }
    }
    offers
}

fn take_bid(called: &mut [Called], key: BidKey) -> Bid {
    match &mut called[key.partner].outcome {
        Outcome::Bid(resp) => std::mem::take(&mut resp.seatbid[key.seatbid].bid[key.bid]),
        _ => unreachable!("wins only point at bids"),
    }
}
