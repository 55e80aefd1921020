//! What an auction teaches the yield model: the value each live partner's answer added
//! (its margin over the best other bid), and what each shadow partner's bids would have
//! done. Shadow partners' results are taken out of the fan-out's before anything else sees
//! them: their bids never reach the auction, the answer, notices or the event log.

use super::ImpSpec;
use super::screen::offers;
use crate::auction::{Offer, Outcome as AuctionOutcome};
use crate::fanout::Called;
use crate::gateway::Gateway;
use crate::money::Micros;
use crate::openrtb::BidRequest;
use crate::partners::Outcome;
use crate::yield_model::ShadowResult;
use crate::yield_model::value::{Priced, margins, shadow_delta};
use std::collections::{HashMap, HashSet};
use tokio::time::Instant;

/// Moves the shadow partners' results out of `called`.
pub(super) fn take_shadow(gw: &Gateway, called: &mut Vec<Called>) -> Vec<Called> {
    if gw.partners.iter().all(|p| p.shadow.is_none()) {
        return Vec::new();
    }
    let (shadow, live) = std::mem::take(called)
        .into_iter()
        .partition(|c| gw.partners[c.partner].shadow.is_some());
    *called = live;
    shadow
}

/// The valid bids among `offers` (not refused, priced in the auction currency, not
/// rejected by the auction when `rejected` says so), with their imp's index.
/// `who`: the partner slot an offer is counted for.
fn priced(
    gw: &Gateway,
    offers: &[Offer<'_>],
    request: &BidRequest,
    rejected: &HashSet<usize>,
    who: impl Fn(&Offer<'_>) -> usize,
) -> Vec<Priced> {
    let imp_of: HashMap<&str, usize> = request
        .imp
        .iter()
        .enumerate()
        .map(|(i, imp)| (imp.id.as_str(), i))
        .collect();
    let base = gw.rates.base.as_str();
    offers
        .iter()
        .enumerate()
        .filter(|(n, o)| o.refused.is_none() && o.currency == base && !rejected.contains(n))
        .filter_map(|(_, o)| {
            Some(Priced {
                partner: who(o),
                imp: *imp_of.get(o.impid)?,
                price: o.price?,
            })
        })
        .collect()
}

/// Teaches each live partner that answered what its answer added, and counts what each
/// shadow partner would have done.
#[allow(clippy::too_many_arguments)]
pub(super) fn learn(
    gw: &Gateway,
    called: &[Called],
    offers: &[Offer<'_>],
    outcome: &AuctionOutcome,
    shadow: &[Called],
    request: &BidRequest,
    specs: &[ImpSpec],
    checks: &crate::bidcheck::RequestRules,
) {
    let now = Instant::now();
    let window = gw.config.auction.adaptive.window_s;
    let rejected: HashSet<usize> = outcome.rejected.iter().map(|(n, _)| *n).collect();
    let bids = priced(gw, offers, request, &rejected, |o| {
        called[o.key.response].partner.0
    });
    let margin = margins(&bids, gw.partners.len());
    for c in called {
        if matches!(c.outcome, Outcome::Bid(_) | Outcome::NoBid) {
            let best = bids
                .iter()
                .filter(|b| b.partner == c.partner.0)
                .map(|b| b.price)
                .max();
            gw.partners[c.partner]
                .model
                .answer(now, window, margin[c.partner.0], best);
        }
    }
    if shadow.is_empty() {
        return;
    }
    let mut made: HashMap<usize, Micros> = HashMap::new();
    for w in &outcome.wins {
        made.entry(w.imp).or_insert(w.clearing);
    }
    let shadow_offers = offers_of(gw, shadow, request, specs, checks);
    for (n, c) in shadow.iter().enumerate() {
        let partner = &gw.partners[c.partner];
        partner.metrics.outcome(&c.outcome, c.elapsed);
        partner.stats.record(now, &c.outcome, c.elapsed);
        let own: Vec<Priced> = shadow_offers
            .iter()
            .filter(|p| p.partner == n)
            .copied()
            .collect();
        let floor = |imp: usize| specs.get(imp).map_or(Micros(0), |s| s.floor);
        let (would_win, delta_micros) = shadow_delta(&own, |imp| made.get(&imp).copied(), floor);
        partner.model.shadow.record(ShadowResult {
            bid: matches!(c.outcome, Outcome::Bid(_)),
            error: matches!(c.outcome, Outcome::Transport(_) | Outcome::BadResponse(_)),
            unanswered: matches!(c.outcome, Outcome::Timeout(_)),
            would_win,
            delta_micros,
        });
    }
}

/// The shadow results' valid bids, screened as live ones are; `partner` is the index into
/// `shadow`.
fn offers_of(
    gw: &Gateway,
    shadow: &[Called],
    request: &BidRequest,
    specs: &[ImpSpec],
    checks: &crate::bidcheck::RequestRules,
) -> Vec<Priced> {
    let screened = offers(gw, shadow, request, specs, checks);
    priced(gw, &screened, request, &HashSet::new(), |o| o.key.response)
}
