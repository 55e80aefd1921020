//! Markup from the win notice: a winning bid without `adm` gets it from its `nurl`. A winner
//! whose markup does not arrive is refused (318) and the auction decided again, so that the
//! runner-up takes its place (`settle` fires notices only after that, so the runner-up never
//! got a loss notice first).

use super::Called;
use crate::auction::{BidKey, Offer, Outcome as AuctionOutcome, Rejection};
use crate::deadline::Deadline;
use crate::gateway::Gateway;
use crate::macros::Values;
use crate::partners::Outcome;

/// Rounds of fetches: the first winners' markup, then their replacements'. A replacement
/// still without markup after that is refused without a fetch (there is no time for more).
const ROUNDS: usize = 2;

/// Fetches the markup of every winner in `outcome` that has none, refusing (318) those whose
/// fetch fails, and re-decides (`decide`) until every winner has markup. Returns the fetched
/// markup by bid.
pub(super) async fn complete(
    gw: &Gateway,
    auction_id: &str,
    called: &[Called],
    offers: &mut [Offer<'_>],
    outcome: &mut AuctionOutcome,
    deadline: &Deadline,
    decide: impl Fn(&mut [Offer<'_>]) -> AuctionOutcome,
) -> Vec<(BidKey, String)> {
    let mut fetched: Vec<(BidKey, String)> = Vec::new();
    let mut rounds = 0;
    loop {
        let missing: Vec<BidKey> = outcome
            .wins
            .iter()
            .map(|w| w.key)
            .filter(|k| needs_markup(called, *k) && !fetched.iter().any(|(f, _)| f == k))
            .collect();
        if missing.is_empty() {
            return fetched;
        }
        let mut failed = Vec::new();
        if rounds == ROUNDS {
            failed.extend(
                missing
                    .iter()
                    .map(|k| (*k, "no time left to fetch its markup".into())),
            );
        } else {
            rounds += 1;
            let fetches = missing.iter().map(|&key| {
                let win = outcome.wins.iter().find(|w| w.key == key).expect("a win");
                let url = nurl(gw, auction_id, called, win);
                let partner = &gw.partners[called[key.response].partner];
                async move {
                    // The answer still has to be built after this: stop with the processing
                    // reserve left, as the fan-out does.
                    let until = deadline.fanout_close();
                    let markup = crate::notices::fetch_markup(
                        &gw.events.notifier,
                        &url,
                        until,
                        partner.demand.max_response_bytes(),
                        partner.notices.allow_private,
                    )
                    .await;
                    (key, markup)
                }
            });
            for (key, markup) in futures_util::future::join_all(fetches).await {
                match markup {
                    Ok(adm) => fetched.push((key, adm)),
                    Err(why) => failed.push((key, why)),
                }
            }
        }
        if failed.is_empty() {
            return fetched;
        }
        for (key, why) in failed {
            if let Some(o) = offers.iter_mut().find(|o| o.key == key) {
                o.refused = Some(Rejection::NoMarkup(why));
            }
        }
        *outcome = decide(offers);
    }
}

fn bid(called: &[Called], key: BidKey) -> Option<&crate::openrtb::Bid> {
    match &called[key.response].outcome {
        Outcome::Bid(resp) => resp.seatbid.get(key.seatbid)?.bid.get(key.bid),
        _ => None,
    }
}

fn needs_markup(called: &[Called], key: BidKey) -> bool {
    bid(called, key).is_some_and(|b| !b.has_markup() && b.str_field("nurl").is_some())
}

/// The winner's `nurl` with the auction's macros (prices in the partner's own units).
fn nurl(gw: &Gateway, auction_id: &str, called: &[Called], win: &crate::auction::Win) -> String {
    let key = win.key;
    let Outcome::Bid(resp) = &called[key.response].outcome else {
        return String::new();
    };
    let b = &resp.seatbid[key.seatbid].bid[key.bid];
    let partner = &gw.partners[called[key.response].partner];
    let currency = super::notices::bid_currency(resp);
    let values = Values {
        auction_id,
        bid_id: resp.bidid.as_deref(),
        imp_id: &b.impid,
        seat_id: partner.id.as_str(),
        ad_id: b.str_field("adid"),
        price: super::partner_price(
            gw,
            called[key.response].partner,
            win.clearing,
            b,
            currency,
            win.fixed,
        ),
        currency,
        loss: None,
        min_to_win: None,
    };
    crate::macros::substitute_url(b.str_field("nurl").unwrap_or_default(), &values).into_owned()
}

/// `ext.errors` code of a winning bid whose markup could not be fetched from its `nurl`.
pub const NO_MARKUP_CODE: u32 = 318;
