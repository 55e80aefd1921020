//! One auction from a validated bid request to the bid response: prepare the outbound
//! request, fan out, screen and rank the bids, and write winners and diagnostics.

use crate::auction::{self, BidKey, ImpFloor, Offer, Rules};
use crate::deadline::Deadline;
use crate::events::record::{AuctionRecord, PartnerRecord, WinRecord};
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

#[path = "exchange_notices.rs"]
mod notices;

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

/// What the auction needs to know about each imp beyond the request itself.
#[derive(Debug, Clone, Default)]
pub struct ImpSpec {
    /// In the auction currency.
    pub floor: Micros,
    pub pod: Option<auction::Pod>,
    /// Partners (indices into `Gateway::partners`) allowed to bid; `None` = all.
    pub partners: Option<Vec<usize>>,
    /// The answer must carry playable markup (`/v1/ads` audio and video): a bid whose `adm`
    /// is neither readable VAST nor a media URL with `dur` is refused before the auction
    /// (307), so the next best bid wins instead of the slot going empty.
    pub playable: bool,
}

/// A winning bid, as the partner sent it (macros not yet substituted).
#[derive(Debug)]
pub struct Won {
    /// Index into the request's imps.
    pub imp: usize,
    /// Index into `Gateway::partners`.
    pub partner: usize,
    pub bid: Bid,
    /// The response's `bidid`, for `${AUCTION_BID_ID}`.
    pub bidid: Option<String>,
    pub clearing: Micros,
}

impl Won {
    /// The OpenRTB macro values (§4.4) of this win, for its markup and notice URLs.
    pub fn macros<'a>(
        &'a self,
        auction_id: &'a str,
        seat: &'a str,
        currency: &'a str,
    ) -> crate::macros::Values<'a> {
        crate::macros::Values {
            auction_id,
            bid_id: self.bidid.as_deref(),
            imp_id: &self.bid.impid,
            seat_id: seat,
            ad_id: self.bid.str_field("adid"),
            price: Some(self.clearing),
            currency,
            loss: None,
            min_to_win: None,
        }
    }
}

/// An auction's result: the request as sent, the winners in imp order (a pod's highest price
/// first), and the diagnostics (`ext`, written only when something won).
#[derive(Debug)]
pub struct Settled {
    pub request: BidRequest,
    pub wins: Vec<Won>,
    pub ext: ResponseExt,
    /// Every partner called or skipped: index, outcome label, milliseconds.
    pub outcomes: Vec<(usize, &'static str, u64)>,
}

/// Partner text cut to `MAX_MESSAGE_CHARS` for echoing in messages.
pub fn clip(s: &str) -> String {
    match s.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

/// The OpenRTB answer to a settled auction; `None` when nothing won.
pub fn bid_response(gw: &Gateway, settled: Settled) -> Option<BidResponse> {
    if settled.wins.is_empty() {
        return None;
    }
    let currency = gw.config.auction.currency.as_str();
    // Winners, grouped into one seatbid per partner in order of first win.
    let mut seatbid: Vec<SeatBid> = Vec::new();
    let mut seat_of: Vec<Option<usize>> = vec![None; gw.partners.len()];
    for won in settled.wins {
        // Markup and the billing notice (fired by whoever sees the impression) get the
        // auction's macros.
        // Only a winner's markup is ever unescaped (`Bid::adm`), and written back only
        // when a macro changed it.
        let (adm, burl) = {
            let values = won.macros(
                &settled.request.id,
                gw.partners[won.partner].id.as_str(),
                currency,
            );
            let owned = |c: std::borrow::Cow<'_, str>| match c {
                std::borrow::Cow::Owned(r) => Some(r),
                std::borrow::Cow::Borrowed(_) => None,
            };
            let adm = won
                .bid
                .adm()
                .and_then(|t| owned(crate::macros::substitute(&t, &values)));
            let burl = won
                .bid
                .str_field("burl")
                .and_then(|t| owned(crate::macros::substitute_url(t, &values)));
            (adm, burl)
        };
        let mut bid = won.bid;
        bid.price = won.clearing.to_f64();
        // bidgate fired the win and loss notices itself: the client must not fire them again.
        bid.rest.remove("nurl");
        bid.rest.remove("lurl");
        if let Some(adm) = adm {
            bid.set_adm(&adm);
        }
        if let Some(burl) = burl {
            bid.rest.insert("burl".into(), burl.into());
        }
        let s = *seat_of[won.partner].get_or_insert_with(|| {
            seatbid.push(SeatBid {
                bid: Vec::new(),
                seat: Some(gw.partners[won.partner].seat().to_string()),
                rest: Default::default(),
            });
            seatbid.len() - 1
        });
        seatbid[s].bid.push(bid);
    }
    Some(BidResponse {
        id: settled.request.id,
        seatbid,
        bidid: None,
        cur: Some(currency.to_string()),
        nbr: None,
        ext: Some(serde_json::to_value(settled.ext).expect("ext serialises")),
        rest: Default::default(),
    })
}

/// The event log's record of a settled auction, or `None` when it is not sampled.
pub fn record(
    gw: &Gateway,
    settled: &Settled,
    endpoint: &str,
    bundle: Option<&str>,
    took: std::time::Duration,
) -> Option<AuctionRecord> {
    let share = gw.config.event_log.sample_auctions;
    if share <= 0.0 || fastrand::f64() >= share {
        return None;
    }
    let currency = &gw.config.auction.currency;
    Some(AuctionRecord {
        ts_ms: crate::events::record::now_ms(),
        auction_id: settled.request.id.clone(),
        endpoint: endpoint.into(),
        app_bundle: bundle.map(String::from),
        duration_ms: took.as_millis() as u64,
        partners: settled
            .outcomes
            .iter()
            .map(|(p, outcome, ms)| PartnerRecord {
                partner: gw.partners[*p].id.to_string(),
                outcome: outcome.to_string(),
                ms: *ms,
            })
            .collect(),
        wins: settled
            .wins
            .iter()
            .map(|w| WinRecord {
                imp: settled.request.imp[w.imp].id.clone(),
                partner: gw.partners[w.partner].id.to_string(),
                bid_id: w.bid.id.clone(),
                price_micros: w.clearing.0,
                currency: currency.clone(),
                adomain: w.bid.first_adomain().map(String::from),
                dur_s: w.bid.dur(),
            })
            .collect(),
    })
}

/// Fans out, screens, and runs the auction: the part every endpoint shares.
pub async fn settle(
    gw: &Gateway,
    mut request: BidRequest,
    specs: &[ImpSpec],
    deadline: &Deadline,
) -> Settled {
    let currency = gw.config.auction.currency.as_str();
    request.at = Some(gw.auction_type());
    request.cur = Some(vec![currency.to_string()]);

    let eligible: Vec<Option<Vec<usize>>> = specs.iter().map(|s| s.partners.clone()).collect();
    let mut called = fanout::run(gw, &mut request, deadline, &eligible).await;
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
    let offers = offers(gw, &called, &request, specs, &checks);
    let rules = Rules {
        currency,
        pricing: gw.pricing,
    };
    let outcome = auction::run(&imps, &offers, rules);
    notices::fire(gw, &called, &offers, &outcome, &request);

    // The ext (times, error messages) is only written when there is a response to carry it:
    // a 204 records metrics and nothing else.
    let answering = !outcome.wins.is_empty();
    let mut ext = ResponseExt::default();
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
    drop(offers);
    drop(imps);

    let mut wins = Vec::with_capacity(outcome.wins.len());
    for win in &outcome.wins {
        let partner = called[win.key.partner].partner;
        let bidid = match &called[win.key.partner].outcome {
            Outcome::Bid(resp) => resp.bidid.clone(),
            _ => None,
        };
        gw.partners[partner].metrics.win(win.clearing);
        gw.partners[partner].stats.win(now);
        wins.push(Won {
            imp: win.imp,
            partner,
            bid: take_bid(&mut called, win.key),
            bidid,
            clearing: win.clearing,
        });
    }
    let outcomes = called
        .iter()
        .map(|c| (c.partner, c.outcome.label(), c.elapsed.as_millis() as u64))
        .collect();
    fetch_missing_markup(gw, &request.id, &mut wins, &mut ext, deadline).await;
    Settled {
        request,
        wins,
        ext,
        outcomes,
    }
}

/// Whether an audio/video bid's markup can be played: readable VAST, or a bare media URL
/// with its duration. No `adm` is fine when a `nurl` can deliver it (fetched if it wins).
fn playable_markup(bid: &Bid) -> Result<(), String> {
    let markup = bid.adm();
    let adm = match markup.as_deref().map(str::trim) {
        Some(a) if !a.is_empty() => a,
        _ if bid.str_field("nurl").is_some() => return Ok(()),
        _ => return Err("no adm and no nurl".into()),
    };
    if crate::vast::is_vast(adm) {
        return crate::vast::summary(adm)
            .map(|_| ())
            .map_err(|e| format!("VAST does not read: {e}"));
    }
    if (adm.starts_with("https://") || adm.starts_with("http://")) && bid.dur().is_some() {
        return Ok(());
    }
    Err("adm is neither VAST nor a media URL with dur".into())
}

/// A winning bid without `adm` gets its markup from its win notice (`nurl`), fetched within
/// the deadline; a bid whose markup does not arrive in time is dropped (code 318).
async fn fetch_missing_markup(
    gw: &Gateway,
    auction_id: &str,
    wins: &mut Vec<Won>,
    ext: &mut ResponseExt,
    deadline: &Deadline,
) {
    let currency = gw.config.auction.currency.as_str();
    let needs =
        |w: &Won| w.bid.adm().is_none_or(|a| a.is_empty()) && w.bid.str_field("nurl").is_some();
    if !wins.iter().any(needs) {
        return;
    }
    let fetches = wins
        .iter()
        .enumerate()
        .filter(|(_, w)| needs(w))
        .map(|(i, w)| {
            let partner = &gw.partners[w.partner];
            let values = w.macros(auction_id, partner.id.as_str(), currency);
            let url =
                crate::macros::substitute_url(w.bid.str_field("nurl").unwrap_or_default(), &values)
                    .into_owned();
            async move {
                // The answer still has to be built after this: stop with the processing
                // reserve left, as the fan-out does.
                let until = deadline.at()
                    - std::time::Duration::from_millis(gw.config.auction.processing_reserve_ms);
                let markup = crate::notices::fetch_markup(
                    &gw.events.notifier,
                    &url,
                    until,
                    partner.max_response_bytes,
                    partner.notices.allow_private,
                )
                .await;
                (i, markup)
            }
        });
    let fetched = futures_util::future::join_all(fetches).await;
    let mut dropped = Vec::new();
    for (i, markup) in fetched {
        match markup {
            Ok(adm) => {
                wins[i].bid.set_adm(&adm);
            }
            Err(why) => dropped.push((i, why)),
        }
    }
    for (i, why) in dropped.iter().rev() {
        let w = wins.remove(*i);
        let id = gw.partners[w.partner].id.as_str();
        telemetry::bids_rejected(id, NO_MARKUP_CODE, 1);
        ext.push_error(
            id,
            NO_MARKUP_CODE,
            format!("bid {}: {why}", clip(&w.bid.id)),
        );
    }
}

/// `ext.errors` code of a winning bid whose markup could not be fetched from its `nurl`.
pub const NO_MARKUP_CODE: u32 = 318;

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

/// Every bid received, in arrival order, as the auction's borrowed view: prices converted to
/// the auction currency and scaled by the partner's `bid_adjustment`, and the request's own
/// rules (`bidcheck`) applied.
fn offers<'a>(
    gw: &'a Gateway,
    called: &'a [Called],
    request: &BidRequest,
    specs: &[ImpSpec],
    checks: &crate::bidcheck::RequestRules,
) -> Vec<Offer<'a>> {
    let mut offers = Vec::new();
    let restricted = specs.iter().any(|s| s.partners.is_some());
    let base = gw.rates.base.as_str();
    // Imp ids to indices: a scan for the usual handful, a map for many.
    let by_id: Option<std::collections::HashMap<&str, usize>> =
        (request.imp.len() > 16).then(|| {
            request
                .imp
                .iter()
                .enumerate()
                .map(|(i, imp)| (imp.id.as_str(), i))
                .collect()
        });
    let find_imp = |id: &str| match &by_id {
        Some(map) => map.get(id).copied(),
        None => request.imp.iter().position(|imp| imp.id == id),
    };
    for (p, c) in called.iter().enumerate() {
        let Outcome::Bid(resp) = &c.outcome else {
            continue;
        };
        let partner = &gw.partners[c.partner];
        // OpenRTB: an absent `cur` means USD.
        let bid_currency = resp.cur.as_deref().unwrap_or("USD");
        for (s, seat) in resp.seatbid.iter().enumerate() {
            for (b, bid) in seat.bid.iter().enumerate() {
                let imp = find_imp(&bid.impid);
                let mut price = Micros::from_f64(bid.price);
                // Converted when a rate is known; otherwise the auction reports the currency.
                let mut currency = bid_currency;
                if let Some(p) = price
                    && let Some(converted) = gw.rates.to_base(p, bid_currency)
                {
                    price = Some(crate::currency::scale(
                        converted,
                        partner.bid_adjustment_nanos,
                    ));
                    currency = base;
                }
                let mut refused = None;
                let mut accepted = None;
                if let Some(i) = imp {
                    // A bid for an imp its partner was not offered is a bid for an unknown imp.
                    let offered = !restricted
                        || specs[i]
                            .partners
                            .as_ref()
                            .is_none_or(|ps| ps.contains(&c.partner));
                    if !offered {
                        refused = Some(crate::auction::Rejection::UnknownImp(bid.impid.clone()));
                    } else if specs.get(i).is_some_and(|s| s.playable)
                        && let Err(why) = playable_markup(bid)
                    {
                        refused = Some(crate::auction::Rejection::Unplayable(why));
                    } else {
                        match checks.check(i, bid, seat.seat.as_deref()) {
                            Ok(a) => accepted = Some(a),
                            Err(r) => refused = Some(r),
                        }
                    }
                }
                let is_deal = accepted.is_some_and(|a| a.is_deal);
                // Internal demand ranks by tier; everyone else is the open auction (1), or
                // above it with a deal when deals are preferred.
                let tier = partner
                    .direct
                    .as_ref()
                    .and_then(|_| bid.rest.get("ext")?.get("tier")?.as_str())
                    .and_then(crate::direct::rank);
                let rank = tier.unwrap_or(1 + u8::from(is_deal && gw.config.auction.prefer_deals));
                offers.push(Offer {
                    key: BidKey {
                        partner: p,
                        seatbid: s,
                        bid: b,
                    },
                    bid_id: &bid.id,
                    impid: &bid.impid,
                    price,
                    currency,
                    dur_s: bid.dur(),
                    adomain: bid.first_adomain(),
                    refused,
                    deal_floor: accepted.and_then(|a| a.deal_floor),
                    rank,
                    fixed: tier.is_some_and(|r| r != 1),
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
