//! Screening what partners sent: flood refusal, and every bid as the auction's borrowed
//! view (currency, adjustment, playable markup, the request's rules, tier rank).

use super::ImpSpec;
use crate::auction::{BidKey, Offer};
use crate::fanout::Called;
use crate::gateway::Gateway;
use crate::money::Micros;
use crate::openrtb::{Bid, BidRequest};
use crate::partners::{BadResponse, Outcome};

/// A partner sending more bids than this per imp is flooding, not bidding.
pub const MAX_BIDS_PER_IMP: usize = 20;

/// Whether an audio/video bid's markup can be played: readable VAST, or a bare media URL
/// with its duration. No `adm` is fine when a `nurl` can deliver it (fetched if it wins).
pub fn playable_markup(bid: &Bid) -> Result<(), String> {
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

/// A response with more than `MAX_BIDS_PER_IMP` bids per imp is refused whole: screening
/// and reporting thousands of bids would spend the time kept back for the answer.
pub(super) fn refuse_bid_floods(called: &mut [Called], imps: usize) {
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
pub(super) fn offers<'a>(
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
        let bid_currency = super::notices::bid_currency(resp);
        for (s, seat) in resp.seatbid.iter().enumerate() {
            for (b, bid) in seat.bid.iter().enumerate() {
                let imp = find_imp(&bid.impid);
                let mut price = Micros::from_f64(bid.price);
                // Converted when a rate is known; otherwise the auction reports the currency.
                let mut currency = bid_currency;
                // Before the adjustment: what a fixed-price deal's terms are checked against.
                let mut unadjusted = None;
                if let Some(p) = price
                    && let Some(converted) = gw.rates.to_base(p, bid_currency)
                {
                    unadjusted = Some(converted);
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
                        match checks.check(i, bid, seat.seat.as_deref(), partner.strict_deals) {
                            Ok(a) => accepted = Some(a),
                            Err(r) => refused = Some(r),
                        }
                    }
                }
                let is_deal = accepted.is_some_and(|a| a.is_deal);
                // A booked (direct) bid ranks by its tier; everyone else is the open auction
                // (1), or above it with a deal when deals are preferred.
                let tier = c.booked.get(s, b).map(|booking| booking.rank());
                // A house line item (rank 0) fills what nothing else fills, at its own price,
                // but never below the imp's floor: the floor is what the publisher sells
                // the impression for at the least (sponsorships alone were sold regardless).
                if tier == Some(0)
                    && refused.is_none()
                    && let (Some(i), Some(p)) = (imp, price)
                    && let Some(floor) = specs.get(i).map(|s| s.floor).filter(|f| p < *f)
                {
                    refused = Some(crate::auction::Rejection::BelowFloor { price: p, floor });
                }
                // Floors the bid's own terms set: a fixed-price deal's price is the price it
                // pays; a video/audio duration's floor (`mincpmpersec`, `durfloors`) counts
                // when above the imp's, for the floor check and the second price alike.
                let mut own_floor = accepted.and_then(|a| a.deal_floor);
                let fixed_price = accepted.is_some_and(|a| a.fixed_price);
                if refused.is_none()
                    && let (Some(a), Some(i), Some(p)) = (accepted, imp, price)
                    && currency == base
                {
                    if let Some(f) = a.deal_floor.filter(|_| a.fixed_price) {
                        // The agreed price is the price, whatever the partner's adjustment:
                        // a bid meets the deal when it offers the deal price as it bid it
                        // (converted, not adjusted), and then pays exactly that, never
                        // an adjusted price below the deal or the floor.
                        let p = unadjusted.unwrap_or(p);
                        match p < f {
                            true => {
                                refused = Some(crate::auction::Rejection::BelowDealFloor {
                                    price: p,
                                    floor: f,
                                })
                            }
                            false => price = Some(f),
                        }
                    } else if let Some(f) = a.dur_floor.filter(|f| *f > specs[i].floor) {
                        if p < f {
                            refused =
                                Some(crate::auction::Rejection::BelowFloor { price: p, floor: f });
                        }
                        own_floor = Some(f);
                    }
                }
                let rank = tier.unwrap_or(1 + u8::from(is_deal && gw.config.auction.prefer_deals));
                offers.push(Offer {
                    key: BidKey {
                        response: p,
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
                    deal_floor: own_floor,
                    rank,
                    fixed: tier.is_some_and(|r| r != 1) || fixed_price,
                    slot: bid
                        .get("slotinpod")
                        .and_then(serde_json::Value::as_i64)
                        .filter(|s| (-1..=2).contains(s))
                        .map_or(0, |s| s as i8),
                });
            }
        }
    }
    offers
}

pub(super) fn take_bid(called: &mut [Called], key: BidKey) -> Bid {
    match &mut called[key.response].outcome {
        Outcome::Bid(resp) => std::mem::take(&mut resp.seatbid[key.seatbid].bid[key.bid]),
        _ => unreachable!("wins only point at bids"),
    }
}
