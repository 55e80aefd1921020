//! `seatbid.group = 1`: a seat's bids win all together or not at all (OpenRTB §4.2.2), as a
//! buyer of a page takeover or a companion set asks.

use super::Called;
use crate::auction::{self, ImpFloor, Offer, Outcome as AuctionOutcome, Rejection, Rules};
use crate::partners::Outcome;

/// Runs the auction, then, while some all-or-nothing seatbid has won only part of its
/// bids, refuses every bid of that seatbid (325) and runs it again. Each round refuses at
/// least one winner, so it ends; without such seatbids (the usual case) it is one `run`.
pub(super) fn decide(
    imps: &[ImpFloor<'_>],
    offers: &mut [Offer<'_>],
    rules: Rules<'_>,
    called: &[Called],
) -> AuctionOutcome {
    let grouped = |response: usize, seatbid: usize| match &called[response].outcome {
        Outcome::Bid(resp) => seatbid < resp.seatbid.len() && grouped_seat(resp, seatbid),
        _ => false,
    };
    let any_group = called.iter().any(|c| match &c.outcome {
        Outcome::Bid(resp) => (0..resp.seatbid.len()).any(|s| grouped_seat(resp, s)),
        _ => false,
    });
    loop {
        let outcome = auction::run(imps, offers, rules);
        if !any_group {
            return outcome;
        }
        // Seatbids (response, seatbid) of group 1 with a winner and a bid that did not win.
        let won = |o: &Offer<'_>| outcome.wins.iter().any(|w| w.key == o.key);
        let mut broken: Vec<(usize, usize)> = Vec::new();
        for o in offers.iter().filter(|o| won(o)) {
            let seat = (o.key.response, o.key.seatbid);
            if broken.contains(&seat) || !grouped(seat.0, seat.1) {
                continue;
            }
            let partial = offers
                .iter()
                .any(|x| (x.key.response, x.key.seatbid) == seat && !won(x));
            if partial {
                broken.push(seat);
            }
        }
        if broken.is_empty() {
            return outcome;
        }
        for o in offers.iter_mut() {
            if o.refused.is_none() && broken.contains(&(o.key.response, o.key.seatbid)) {
                o.refused = Some(Rejection::GroupIncomplete);
            }
        }
    }
}

fn grouped_seat(resp: &crate::openrtb::BidResponse, s: usize) -> bool {
    resp.seatbid[s]
        .rest
        .get("group")
        .and_then(serde_json::Value::as_i64)
        == Some(1)
}
