//! The OpenRTB answer to a settled auction, and its event-log record.

use super::Settled;
use crate::events::record::{AuctionRecord, PartnerRecord, WinRecord};
use crate::gateway::Gateway;
use crate::money::Micros;
use crate::openrtb::{BidResponse, SeatBid};

/// The OpenRTB answer to a settled auction; `None` when nothing won.
pub fn bid_response(gw: &Gateway, settled: Settled) -> Option<BidResponse> {
    if settled.wins.is_empty() && !settled.answer_empty {
        return None;
    }
    // The client's currency (validated to have a rate; a rates file that lost it since
    // leaves the auction currency).
    let currency = match gw.rates.from_base(Micros(1_000_000), &settled.currency) {
        Some(_) => settled.currency.as_str(),
        None => gw.config.auction.currency.as_str(),
    };
    let billable = super::billable(&settled.request);
    // Winners, grouped into one seatbid per partner in order of first win.
    let mut seatbid: Vec<SeatBid> = Vec::new();
    let mut seat_of: Vec<Option<usize>> = vec![None; gw.partners.len()];
    for won in settled.wins {
        // Markup and the billing notice (fired by whoever sees the impression) get the
        // auction's macros; the markup in its raw JSON form (`Bid::substitute_adm`), so it
        // is not unescaped on the way through.
        let (adm, burl) = {
            let values = won.macros(&settled.request.id, gw.partners[won.partner].id.as_str());
            let burl = won
                .bid
                .str_field("burl")
                .and_then(|t| match crate::macros::substitute_url(t, &values) {
                    std::borrow::Cow::Owned(r) => Some(r),
                    std::borrow::Cow::Borrowed(_) => None,
                });
            (won.bid.adm_substituted(&values), burl)
        };
        let mut bid = won.bid;
        if adm.is_some() {
            bid.adm = adm;
        }
        // What the partner bid, as it bid it (Prebid Server's `origbidcpm`/`origbidcur`).
        let orig = bid.price;
        let ext = bid.member_or_insert("ext", || serde_json::json!({}));
        if let Some(ext) = ext.as_object_mut() {
            ext.insert("origbidcpm".into(), orig.into());
            ext.insert("origbidcur".into(), won.bid_currency.as_str().into());
        }
        bid.price = gw
            .rates
            .from_base(won.clearing, currency)
            .unwrap_or(won.clearing)
            .to_f64();
        // bidgate fired the win and loss notices itself: the client must not fire them again.
        bid.remove("nurl");
        bid.remove("lurl");
        if let Some(burl) = burl {
            bid.insert("burl", burl.into());
        }
        // Nothing bills a test auction: the client gets no billing notice to fire.
        if !billable {
            bid.remove("burl");
        }
        let s = *seat_of[won.partner.0].get_or_insert_with(|| {
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
    // An auction sampled for replay is recorded whatever `sample_auctions` says.
    let share = gw.config.event_log.sample_auctions;
    if settled.replay.is_none() && (share <= 0.0 || fastrand::f64() >= share) {
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
        replay: settled.replay.clone(),
    })
}
