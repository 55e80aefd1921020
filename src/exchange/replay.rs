//! Capturing an auction for replay (`event_log.record_bids`): every answer's time and every
//! bid as the auction saw it (`events::replay`), built from the offers the auction ran on so
//! that `bidgate whatif` re-runs exactly what ran here.

use crate::auction::{ImpFloor, Offer, Rejection};
use crate::deadline::Deadline;
use crate::events::replay::{
    AnswerRecord, BidRecord, ImpRecord, MAX_BIDS, MAX_IMPS, MAX_LIST, PodRecord, ReplayRecord,
};
use crate::fanout::Called;
use crate::gateway::Gateway;
use crate::openrtb::{Bid, BidRequest};
use crate::partners::Outcome;
use crate::text::clip;
use tokio::time::Instant;

/// Whether this auction's bids are recorded: `record_bids`, on its sampled share.
pub(super) fn sampled(gw: &Gateway) -> bool {
    let cfg = &gw.config.event_log;
    cfg.record_bids && fastrand::f64() < cfg.record_bids_sample
}

/// The request's deadline, and when its fan-out started and ended.
pub(super) struct Timing<'a> {
    pub deadline: &'a Deadline,
    pub start: Instant,
    pub end: Instant,
}

/// The replay record of one auction. `offers` are the auction's, in the order of `called`.
pub(super) fn capture(
    gw: &Gateway,
    request: &BidRequest,
    imps: &[ImpFloor<'_>],
    called: &[Called],
    offers: &[Offer<'_>],
    times: Timing<'_>,
) -> ReplayRecord {
    let deadline = times.deadline;
    let cfg = &gw.config.auction;
    let since = |t: Instant| t.saturating_duration_since(deadline.arrived);
    let start = since(times.start);
    let truncated = imps.len() > MAX_IMPS || offers.len() > MAX_BIDS;
    let imp_records = imps
        .iter()
        .take(MAX_IMPS)
        .map(|imp| ImpRecord {
            id: clip(imp.id),
            floor_micros: imp.floor.0,
            pod: imp.pod.map(|p| PodRecord {
                max_ads: p.max_ads,
                max_duration_s: p.max_duration_s,
                min_ad_s: p.min_ad_s,
                max_ad_s: p.max_ad_s,
            }),
        })
        .collect();
    let mut answers: Vec<AnswerRecord> = called
        .iter()
        .map(|c| AnswerRecord {
            partner: gw.partners[c.partner].id.to_string(),
            outcome: c.outcome.label().to_string(),
            ms: c.elapsed.as_millis() as u64,
            at_ms: (start + c.elapsed).as_millis() as u64,
            timeout_ms: gw.partners[c.partner].timeout_ms,
            bids: Vec::new(),
        })
        .collect();
    for offer in offers.iter().take(MAX_BIDS) {
        let Outcome::Bid(resp) = &called[offer.key.response].outcome else {
            continue;
        };
        let bid = &resp.seatbid[offer.key.seatbid].bid[offer.key.bid];
        let known_imp = request.imp.iter().any(|i| i.id == bid.impid);
        let refused = match &offer.refused {
            Some(r) => Some(r.code()),
            None if !known_imp => Some(Rejection::UnknownImp(String::new()).code()),
            None => None,
        };
        let converted = offer.currency.eq_ignore_ascii_case(&cfg.currency);
        answers[offer.key.response].bids.push(BidRecord {
            imp: clip(&bid.impid),
            bid_id: clip(&bid.id),
            price_micros: crate::money::Micros::from_f64(bid.price).map(|p| p.0),
            currency: clip(resp.cur.as_deref().unwrap_or("USD")),
            offer_micros: offer.price.map(|p| p.0),
            offer_currency: (!converted).then(|| clip(offer.currency)),
            rank: offer.rank,
            fixed: offer.fixed,
            slot: offer.slot,
            deal: bid.str_field("dealid").map(clip),
            deal_floor_micros: offer.deal_floor.map(|f| f.0),
            dur_s: offer.dur_s,
            adomain: offer.adomain.map(clip),
            cat: list(bid, "cat", |v| v.as_str().map(clip)),
            attr: list(bid, "attr", serde_json::Value::as_i64),
            adm: bid.adm.is_some(),
            nurl: bid.str_field("nurl").is_some(),
            refused,
        });
    }
    if truncated {
        // Cut short: whatever is recorded says only that this auction is not replayable.
        for a in &mut answers {
            a.bids.clear();
        }
    }
    ReplayRecord {
        tmax_ms: deadline.tmax.as_millis() as u64,
        reserve_ms: deadline.reserve.as_millis() as u64,
        buffer_ms: cfg.network_buffer_ms,
        currency: cfg.currency.clone(),
        at: gw.auction_type() as u8,
        increment_micros: crate::money::Micros::from_f64(cfg.second_price_increment)
            .map_or(0, |m| m.0),
        billable: super::billable(request),
        fanout_start_ms: start.as_millis() as u64,
        fanout_end_ms: since(times.end).as_millis() as u64,
        imps: imp_records,
        answers,
        truncated,
    }
}

/// Up to `MAX_LIST` entries of the bid's array `key` that `read` accepts.
fn list<T>(bid: &Bid, key: &str, read: impl Fn(&serde_json::Value) -> Option<T>) -> Vec<T> {
    let Some(values) = bid.get(key).and_then(serde_json::Value::as_array) else {
        return Vec::new();
    };
    values.iter().filter_map(read).take(MAX_LIST).collect()
}
