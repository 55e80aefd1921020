//! After the auction: the winner's win notice (`nurl`) and every other bidder's loss notice
//! (`lurl`, with the spec's loss reason), macros substituted, fired in the background.

use super::Called;
use crate::auction::{Offer, Outcome as AuctionOutcome, Rejection};
use crate::gateway::Gateway;
use crate::macros::{self, Values};
use crate::money::Micros;
use crate::notices::Kind;
use crate::openrtb::{Bid, BidRequest, BidResponse};
use crate::partners::Outcome;

/// Loss reasons of the OpenRTB list (5.25) used for bids that were valid but did not win.
const LOST_TO_HIGHER_BID: u32 = 102;
const LOST_TO_DEAL: u32 = 103;

/// The currency of a response's bids: its `cur`, USD when absent (OpenRTB's default).
pub(super) fn bid_currency(resp: &BidResponse) -> &str {
    resp.cur.as_deref().unwrap_or("USD")
}

pub(super) fn fire(
    gw: &Gateway,
    called: &[Called],
    offers: &[Offer<'_>],
    outcome: &AuctionOutcome,
    request: &BidRequest,
) {
    let bid = |o: &Offer<'_>| -> Option<(&Bid, Option<&str>, &str)> {
        match &called[o.key.response].outcome {
            Outcome::Bid(resp) => Some((
                &resp.seatbid[o.key.seatbid].bid[o.key.bid],
                resp.bidid.as_deref(),
                bid_currency(resp),
            )),
            _ => None,
        }
    };
    // Most auctions have nothing to notify (no partner takes notices, or no bid names a
    // notice URL): then the lookups below are not built at all.
    let notified = |o: &Offer<'_>| {
        let notices = &gw.partners[called[o.key.response].partner].notices;
        bid(o).is_some_and(|(b, _, _)| {
            (notices.win && b.str_field("nurl").is_some())
                || (notices.loss && b.str_field("lurl").is_some())
        })
    };
    if !offers.iter().any(notified) {
        return;
    }
    // Looked up per offer, so built once (requests can carry thousands of imps and bids):
    // imp id → (winner's rank, clearing price): for a pod the highest rank and the lowest
    // winning price, which is what a loser had to beat to get in (its MIN_TO_WIN); offer
    // index → its rejection; winning keys → clearing price.
    let rank_of: std::collections::HashMap<_, u8> =
        offers.iter().map(|o| (o.key, o.rank)).collect();
    let mut winner_of: std::collections::HashMap<&str, (u8, Micros)> =
        std::collections::HashMap::new();
    let mut won: std::collections::HashMap<_, Micros> = std::collections::HashMap::new();
    for w in &outcome.wins {
        let rank = rank_of.get(&w.key).copied().unwrap_or(1);
        winner_of
            .entry(request.imp[w.imp].id.as_str())
            .and_modify(|(r, p)| (*r, *p) = ((*r).max(rank), (*p).min(w.clearing)))
            .or_insert((rank, w.clearing));
        won.insert(w.key, w.clearing);
    }
    let rejected: std::collections::HashMap<usize, &Rejection> =
        outcome.rejected.iter().map(|(n, r)| (*n, r)).collect();
    for (n, offer) in offers.iter().enumerate() {
        let Some((bid, bidid, currency)) = bid(offer) else {
            continue;
        };
        let partner = &gw.partners[called[offer.key.response].partner];
        // Prices in the partner's own units (§4.4): its currency, before its adjustment
        // (a contract price, `fixed`, is billed as agreed: no adjustment to undo).
        let own_at = |amount: Option<Micros>, adjustment: i64| {
            gw.rates.to_partner(amount?, adjustment, currency)
        };
        let own = |amount: Option<Micros>| own_at(amount, partner.bid_adjustment_nanos);
        let price_adjustment = match offer.fixed {
            true => crate::outbound::UNADJUSTED,
            false => partner.bid_adjustment_nanos,
        };
        let values =
            |price: Option<Micros>, loss: Option<u32>, min_to_win: Option<Micros>| Values {
                auction_id: &request.id,
                bid_id: bidid,
                imp_id: &bid.impid,
                seat_id: partner.id.as_str(),
                ad_id: bid.str_field("adid"),
                price: own_at(price, price_adjustment)
                    .map(|p| Micros::from_f64(bid.price).map_or(p, |bid| p.min(bid))),
                currency,
                loss,
                min_to_win: own(min_to_win),
            };
        if let Some(&clearing) = won.get(&offer.key) {
            // A win notice that delivered the markup has been called already.
            if partner.notices.win
                && bid.has_markup()
                && let Some(nurl) = bid.str_field("nurl")
            {
                let url = macros::substitute_url(nurl, &values(Some(clearing), None, None));
                gw.events.notifier.fire(
                    Kind::Win,
                    partner.id.as_str(),
                    &url,
                    partner.notices.allow_private,
                );
            }
            continue;
        }
        if !partner.notices.loss {
            continue;
        }
        let Some(lurl) = bid.str_field("lurl") else {
            continue;
        };
        let winner = winner_of.get(bid.impid.as_str()).copied();
        let loss = match rejected.get(&n) {
            // Its `nurl` was called for its markup: it has had its notice.
            Some(Rejection::NoMarkup(_)) => continue,
            Some(r) => r.loss_reason(),
            None if winner.is_some_and(|(rank, _)| rank > offer.rank) => LOST_TO_DEAL,
            None => LOST_TO_HIGHER_BID,
        };
        let url = macros::substitute_url(lurl, &values(None, Some(loss), winner.map(|(_, p)| p)));
        gw.events.notifier.fire(
            Kind::Loss,
            partner.id.as_str(),
            &url,
            partner.notices.allow_private,
        );
    }
}
