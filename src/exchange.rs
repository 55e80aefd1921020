//! One auction from a validated bid request to the bid response: prepare the outbound
//! request, fan out, screen and rank the bids, and write winners and diagnostics.

use crate::auction::{self, BidKey, ImpFloor, Offer, Rules};
use crate::deadline::Deadline;
use crate::fanout::{self, Called};
use crate::gateway::Gateway;
use crate::money::Micros;
use crate::openrtb::{Bid, BidRequest, BidResponse, SeatBid};
use crate::partners::{BadResponse, Outcome};
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

/// Errors listed per partner; past this, one summary entry says how many more there were.
const MAX_ERRORS_PER_PARTNER: usize = 10;
/// Partner text echoed in messages (bid ids, serde's quotes of bad values) is cut to this.
const MAX_MESSAGE_CHARS: usize = 200;
/// A partner sending more bids than this per imp is flooding, not bidding.
pub const MAX_BIDS_PER_IMP: usize = 20;
/// `ext.errors` code of the summary entry for errors past `MAX_ERRORS_PER_PARTNER`.
pub const MORE_ERRORS_CODE: u32 = 399;

impl ResponseExt {
    fn push_error(&mut self, partner: &str, code: u32, mut message: String) {
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
    refuse_bid_floods(&mut called, request.imp.len());

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

    // The ext (times, error messages) is only written when there is a response to carry it:
    // a 204 records metrics and nothing else.
    let answering = !outcome.wins.is_empty();
    let mut ext = ResponseExt::default();
    let now = tokio::time::Instant::now();
    for c in &called {
        let partner = &gw.partners[c.partner];
        let id = partner.id.as_str();
        telemetry::partner_outcome(id, &c.outcome, c.elapsed);
        partner.stats.record(now, &c.outcome, c.elapsed);
        if let Outcome::Bid(resp) = &c.outcome {
            telemetry::bids(id, resp.seatbid.iter().map(|s| s.bid.len()).sum());
        }
        if !answering {
            continue;
        }
        if !matches!(c.outcome, Outcome::Throttled(_)) {
            ext.responsetimemillis
                .insert(id.to_string(), c.elapsed.as_millis() as u64);
        }
        if let Some((code, message)) = c.outcome.error(c.elapsed) {
            ext.push_error(id, code, message);
        }
    }
    // Rejections, counted per (partner, code) for metrics and capped per partner in ext.
    let mut counts: BTreeMap<(usize, u32), u64> = BTreeMap::new();
    for (n, rejection) in &outcome.rejected {
        let offer = &offers[*n];
        let partner = called[offer.key.partner].partner;
        *counts.entry((partner, rejection.code())).or_default() += 1;
        if answering {
            let id = gw.partners[partner].id.as_str();
            ext.push_error(id, rejection.code(), rejection.message(offer.bid_id));
        }
    }
    for ((partner, code), n) in counts {
        telemetry::bids_rejected(gw.partners[partner].id.as_str(), code, n);
    }
    if !answering {
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
        gw.partners[called[win.key.partner].partner].stats.win(now);
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

/// A response with more than `MAX_BIDS_PER_IMP` bids per imp is refused whole: screening
/// and reporting thousands of bids would spend the time kept back for the answer.
fn refuse_bid_floods(called: &mut [Called], imps: usize) {
    let limit = MAX_BIDS_PER_IMP * imps;
    for c in called.iter_mut() {
        let Outcome::Bid(resp) = &c.outcome else {
            continue;
        };
        let n: usize = resp.seatbid.iter().map(|s| s.bid.len()).sum();
        if n > limit {
            c.outcome = Outcome::BadResponse(BadResponse::Body(format!(
                "{n} bids for {imps} imps (at most {MAX_BIDS_PER_IMP} per imp)"
            )));
        }
    }
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
