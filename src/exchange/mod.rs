//! One auction from a validated bid request to the bid response: prepare the outbound
//! request, fan out, screen and rank the bids, and write winners and diagnostics.

mod debug;
mod group;
mod markup;
mod notices;
mod observe;
mod replay;
mod report;
mod response;
mod screen;

pub use debug::asked as debug_asked;
pub use markup::NO_MARKUP_CODE;
pub use report::{ErrorEntry, MORE_ERRORS_CODE, ResponseExt};
pub use response::{bid_response, record};
pub use screen::MAX_BIDS_PER_IMP;
/// Public for the fuzz targets (`fuzz/`): the markup check of screening.
#[doc(hidden)]
pub use screen::playable_markup;

use crate::auction::{self, ImpFloor, Rules};
use crate::deadline::Deadline;
use crate::fanout::{self, Called};
use crate::gateway::Gateway;
use crate::money::Micros;
use crate::openrtb::{Bid, BidRequest};
use crate::partners::{Booking, Outcome, PartnerIx};
use crate::telemetry;
use crate::vocab::Listener;
use screen::{offers, refuse_bid_floods, take_bid};
use std::collections::BTreeMap;

/// What the auction needs to know about each imp beyond the request itself.
#[derive(Debug, Clone, Default)]
pub struct ImpSpec {
    /// In the auction currency.
    pub floor: Micros,
    pub pod: Option<auction::Pod>,
    /// Partners (indices into `Gateway::partners`) allowed to bid; `None` = all.
    pub partners: Option<Vec<PartnerIx>>,
    /// The answer must carry playable markup (`/v1/ads` audio and video): a bid whose `adm`
    /// is neither readable VAST nor a media URL with `dur` is refused before the auction
    /// (307), so the next best bid wins instead of the slot going empty.
    pub playable: bool,
}

/// Whether the auction bills anyone: not with `test = 1` (OpenRTB: "test mode in which
/// auctions are not billable"). A test auction fires no win, loss or billing notice and
/// counts no win or revenue; its partners were told `test = 1` too.
pub fn billable(request: &BidRequest) -> bool {
    request.rest.get("test").and_then(serde_json::Value::as_i64) != Some(1)
}

/// A winning bid, as the partner sent it (macros not yet substituted).
#[derive(Debug)]
pub struct Won {
    /// Index into the request's imps.
    pub imp: usize,
    /// Index into `Gateway::partners`.
    pub partner: PartnerIx,
    pub bid: Bid,
    /// The response's `bidid`, for `${AUCTION_BID_ID}`.
    pub bidid: Option<String>,
    /// In the auction currency, after the partner's `bid_adjustment`: what the client is
    /// answered and revenue is counted in.
    pub clearing: Micros,
    /// The clearing price in the partner's own units (the bid's currency, before its
    /// `bid_adjustment`, never above its bid), for the billing macros (§4.4); `None` when it
    /// cannot be expressed (no rate).
    pub partner_price: Option<Micros>,
    /// The bid's currency (the response's `cur`, USD when absent), for `${AUCTION_CURRENCY}`.
    pub bid_currency: String,
    /// Direct demand's booking of the bid: the line item its impression delivers.
    pub booking: Option<Booking>,
}

impl Won {
    /// The OpenRTB macro values (§4.4) of this win, for its markup and notice URLs: prices
    /// in the partner's own currency and units, as the spec has them (they go on invoices).
    pub fn macros<'a>(&'a self, auction_id: &'a str, seat: &'a str) -> crate::macros::Values<'a> {
        crate::macros::Values {
            auction_id,
            bid_id: self.bidid.as_deref(),
            imp_id: &self.bid.impid,
            seat_id: seat,
            ad_id: self.bid.str_field("adid"),
            price: self.partner_price,
            currency: &self.bid_currency,
            loss: None,
            min_to_win: None,
        }
    }
}

/// A clearing price (auction currency, adjusted) in the partner's own units: its currency,
/// before its `bid_adjustment`, never above its bid (§4.4); `None` without a rate. A
/// contract price (`fixed`: a fixed-price deal) is what the partner agreed to pay, so no
/// adjustment is undone: it is billed the deal price, not more.
pub(crate) fn partner_price(
    gw: &Gateway,
    partner: PartnerIx,
    clearing: Micros,
    bid: &Bid,
    currency: &str,
    fixed: bool,
) -> Option<Micros> {
    let adjustment = match fixed {
        true => crate::outbound::UNADJUSTED,
        false => gw.partners[partner].bid_adjustment_nanos,
    };
    gw.rates
        .to_partner(clearing, adjustment, currency)
        .map(|p| Micros::from_f64(bid.price).map_or(p, |own| p.min(own)))
}

/// An auction's result: the request as sent, the winners in imp order (a pod's highest price
/// first), and the diagnostics (`ext`, written only when something won).
#[derive(Debug)]
pub struct Settled {
    pub request: BidRequest,
    pub wins: Vec<Won>,
    pub ext: ResponseExt,
    /// Every partner called or skipped: index, outcome label, milliseconds.
    pub outcomes: Vec<(PartnerIx, &'static str, u64)>,
    /// The currency to answer in: the first of the request's `cur` with a rate, else the
    /// auction currency.
    pub currency: String,
    /// Nothing won is answered with a 200 and an empty `seatbid` (`no_bid_status`).
    pub answer_empty: bool,
    /// Every answer and bid, when this auction is sampled for replay (`record_bids`).
    pub replay: Option<crate::events::replay::ReplayRecord>,
}

/// `/openrtb2/auction`'s status when nothing won: the request's `ext.no_bid_status` (200 or
/// 204), else 200 with debug output (which a 204 could not carry), else
/// `auction.no_bid_status`.
pub fn no_bid_status(gw: &Gateway, request: &BidRequest, debug: bool) -> u16 {
    let configured = match debug {
        true => 200,
        false => gw.config.auction.no_bid_status,
    };
    request
        .rest
        .get("ext")
        .and_then(|e| e.get("no_bid_status"))
        .and_then(serde_json::Value::as_u64)
        .filter(|s| *s == 200 || *s == 204)
        .map_or(configured, |s| s as u16)
}

/// Fans out, screens, and runs the auction: the part every endpoint shares. `listener`: the
/// client's typed targeting values, where it gave them (`/v1/ads`). `debug`: the answer
/// carries `ext.debug.httpcalls` (the edge decided the caller may have them).
pub async fn settle(
    gw: &Gateway,
    mut request: BidRequest,
    specs: &[ImpSpec],
    listener: Option<&Listener>,
    deadline: &Deadline,
    debug: bool,
) -> Settled {
    let currency = gw.config.auction.currency.as_str();
    // Ad pods clear at first price (a second price per slot is not defined when the
    // knapsack, not the price order, decides who gets in): a request with a pod is sent,
    // and cleared, as a first-price auction throughout, so that what partners are told is
    // how they are charged.
    let answer_currency = request
        .cur
        .as_deref()
        .and_then(|listed| gw.rates.answer_currency(listed))
        .unwrap_or(currency)
        .to_ascii_uppercase();
    let pods = specs.iter().any(|s| s.pod.is_some());
    request.at = Some(if pods { 1 } else { gw.auction_type() });
    request.cur = Some(vec![currency.to_string()]);

    let eligible: Vec<Option<Vec<PartnerIx>>> = specs.iter().map(|s| s.partners.clone()).collect();
    let fanout_start = tokio::time::Instant::now();
    let mut called = fanout::run(gw, &mut request, deadline, &eligible, listener, debug).await;
    let fanout_end = tokio::time::Instant::now();
    // Shadow partners' answers never go further than `observe`.
    let shadow = observe::take_shadow(gw, &mut called);
    refuse_bid_floods(&mut called, request.imp.len());

    let imps: Vec<ImpFloor> = request
        .imp
        .iter()
        .zip(specs)
        .map(|(imp, spec)| ImpFloor {
            id: &imp.id,
            floor: spec.floor,
            pod: spec.pod,
        })
        .collect();
    let checks = crate::bidcheck::RequestRules::of(&request, &gw.rates);
    let mut offers = offers(gw, &called, &request, specs, &checks);
    let rules = Rules {
        currency,
        pricing: if pods {
            auction::PriceRule::First
        } else {
            gw.pricing
        },
    };
    let decide = |offers: &mut [auction::Offer<'_>]| group::decide(&imps, offers, rules, &called);
    let mut outcome = decide(&mut offers);
    // Winners without `adm` get it from their `nurl`; one whose markup does not come is
    // replaced by the runner-up. Notices, win counts and revenue wait for that, so that the
    // runner-up gets a win notice, not a loss notice, and only delivered wins count.
    let fetched = markup::complete(
        gw,
        &request.id,
        &called,
        &mut offers,
        &mut outcome,
        deadline,
        decide,
    )
    .await;
    let replay = replay::sampled(gw).then(|| {
        let timing = replay::Timing {
            deadline,
            start: fanout_start,
            end: fanout_end,
        };
        replay::capture(gw, &request, &imps, &called, &offers, timing)
    });
    observe::learn(
        gw, &called, &offers, &outcome, &shadow, &request, specs, &checks,
    );
    let billable = billable(&request);
    if billable {
        notices::fire(gw, &called, &offers, &outcome, &request);
    }

    // The ext (times, error messages) is only written when there is a response to carry it:
    // a 204 records metrics and nothing else.
    let answer_empty = no_bid_status(gw, &request, debug) == 200;
    let answering = !outcome.wins.is_empty() || answer_empty;
    let mut ext = ResponseExt {
        debug: (debug && answering).then(debug::Debug::default),
        ..Default::default()
    };
    let body_limit = gw.config.auction.debug_body_limit_bytes;
    let now = tokio::time::Instant::now();
    for c in &called {
        let partner = &gw.partners[c.partner];
        let id = partner.id.as_str();
        partner.metrics.outcome(&c.outcome, c.elapsed);
        partner.stats.record(now, &c.outcome, c.elapsed);
        if let Outcome::Bid(resp) = &c.outcome {
            partner
                .metrics
                .bids(resp.seatbid.iter().map(|s| s.bid.len()).sum());
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
        if let (Some(shown), Some(call)) = (&mut ext.debug, &c.debug) {
            shown.add(id, call, body_limit);
        }
    }
    // Rejections, counted per (partner, code) for metrics and capped per partner in ext.
    let mut counts: BTreeMap<(PartnerIx, u32), u64> = BTreeMap::new();
    for (n, rejection) in &outcome.rejected {
        let offer = &offers[*n];
        let partner = called[offer.key.response].partner;
        *counts.entry((partner, rejection.code())).or_default() += 1;
        if answering {
            let id = gw.partners[partner].id.as_str();
            ext.push_error(id, rejection.code(), rejection.message(offer.bid_id));
            ext.non_bid(id, offer.impid, offer.bid_id, rejection.code());
        }
    }
    for ((partner, code), n) in counts {
        telemetry::bids_rejected(gw.partners[partner].id.as_str(), code, n);
    }
    drop(offers);
    drop(imps);

    let mut wins = Vec::with_capacity(outcome.wins.len());
    for win in &outcome.wins {
        let partner = called[win.key.response].partner;
        let (bidid, bid_currency) = match &called[win.key.response].outcome {
            Outcome::Bid(resp) => (resp.bidid.clone(), notices::bid_currency(resp).to_string()),
            _ => (None, currency.to_string()),
        };
        let mut bid = take_bid(&mut called, win.key);
        if let Some((_, adm)) = fetched.iter().find(|(k, _)| *k == win.key) {
            bid.set_adm(adm);
        }
        let partner_price =
            partner_price(gw, partner, win.clearing, &bid, &bid_currency, win.fixed);
        let booking = called[win.key.response]
            .booked
            .get(win.key.seatbid, win.key.bid)
            .cloned();
        if billable {
            gw.partners[partner].metrics.win(win.clearing);
            gw.partners[partner].stats.win(now);
            gw.partners[partner]
                .demand
                .on_win(booking.as_ref(), win.clearing);
        }
        wins.push(Won {
            imp: win.imp,
            partner,
            bid,
            bidid,
            clearing: win.clearing,
            partner_price,
            bid_currency,
            booking,
        });
    }
    let outcomes = called
        .iter()
        .map(|c| (c.partner, c.outcome.label(), c.elapsed.as_millis() as u64))
        .collect();
    Settled {
        request,
        wins,
        ext,
        outcomes,
        currency: answer_currency,
        answer_empty,
        replay,
    }
}
