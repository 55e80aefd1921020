//! The auction core: screens bids and picks one winner per imp with its clearing price, or,
//! for an ad pod, the set of bids that earns most within the pod's limits.
//!
//! Pure by design: no I/O, no clock, no randomness. Inputs are borrowed views of what the
//! partners sent, in arrival order; the output says who won what at which price and why every
//! other bid was dropped. That makes every pricing rule unit- and property-testable.

use crate::money::Micros;

/// Where a bid sits in the fan-out results: the response (an index into the fan-out's
/// results in arrival order — not a partner index: `fanout::Called::partner` is that), its
/// seatbid and bid indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BidKey {
    pub response: usize,
    pub seatbid: usize,
    pub bid: usize,
}

/// An imp as the auction sees it: its id and its floor in the auction currency.
#[derive(Debug, Clone, Copy)]
pub struct ImpFloor<'a> {
    pub id: &'a str,
    pub floor: Micros,
    /// An ad pod (ad break): several ads may win this imp, see `pod::fill`.
    pub pod: Option<Pod>,
}

/// The limits of an ad pod: at most `max_ads` ads, `max_duration_s` in all, each ad between
/// `min_ad_s` and `max_ad_s` long. No two ads from the same advertiser domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pod {
    pub max_ads: u32,
    pub max_duration_s: u32,
    pub min_ad_s: u32,
    pub max_ad_s: u32,
}

/// One bid as offered, before screening. Offers must be given in arrival order.
#[derive(Debug, Clone)]
pub struct Offer<'a> {
    pub key: BidKey,
    pub bid_id: &'a str,
    pub impid: &'a str,
    /// `None` when the JSON price was not a finite, sane number.
    pub price: Option<Micros>,
    pub currency: &'a str,
    /// The ad's duration (`bid.dur`), needed in pods.
    pub dur_s: Option<u32>,
    /// The advertiser's domain (first of `bid.adomain`): pods never carry two of one.
    pub adomain: Option<&'a str>,
    /// Refused before the auction (by the request's rules, `bidcheck`), and why.
    pub refused: Option<Rejection>,
    /// The bid's own floor, which replaces the imp's for it: a deal's floor, or the floor
    /// an open video/audio bid's duration sets when above the imp's (screening refuses such
    /// a bid below it with 304 first).
    pub deal_floor: Option<Micros>,
    /// Higher ranks win over any price of lower ranks: 0 house ads, 1 the open auction,
    /// 2 deals with `prefer_deals`, 3 sponsorships.
    pub rank: u8,
    /// Pays its own price whatever the pricing rule (direct-sold sponsorship and house ads,
    /// whose price is a contract, not a bid; a fixed-price deal's bid, priced at the deal).
    pub fixed: bool,
    /// In a pod, the position the bid is only eligible for (`bid.slotinpod`, OpenRTB list
    /// 7.4): `FIRST` (1), `LAST` (-1), `FIRST_OR_LAST` (2); 0 or absent: any.
    pub slot: i8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceRule {
    /// The winner pays its bid.
    First,
    /// The winner pays max(runner-up, floor) + increment, never more than its bid.
    Second { increment: Micros },
}

#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    pub currency: &'a str,
    pub pricing: PriceRule,
}

pub use rejection::{Rejection, UNPLAYABLE_CODE};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Win {
    /// Index into the imps given to `run`.
    pub imp: usize,
    pub key: BidKey,
    pub bid_price: Micros,
    pub clearing: Micros,
    /// Its price is a contract (`Offer::fixed`: a fixed-price deal, a direct-sold line
    /// item): the partner is billed the clearing price as it is, no `bid_adjustment` undone.
    pub fixed: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// In imp order: at most one per imp, except pods, whose ads come highest price first.
    pub wins: Vec<Win>,
    /// Index into the offers given to `run`, and why that offer was dropped.
    pub rejected: Vec<(usize, Rejection)>,
}

/// Screens the offers and runs one auction per imp.
pub fn run(imps: &[ImpFloor<'_>], offers: &[Offer<'_>], rules: Rules<'_>) -> Outcome {
    // Best (rank, price, offer) and the runner-up price of the same rank, per imp; ties
    // keep the earlier offer (arrival order). A higher rank (a preferred deal) beats any
    // price of a lower one, and only same-rank bids set a second price.
    let mut best: Vec<Option<(u8, Micros, usize)>> = vec![None; imps.len()];
    let mut second: Vec<Option<Micros>> = vec![None; imps.len()];
    let mut rejected = Vec::new();
    let index = ImpIndex::new(imps);
    // Pod imps collect their eligible offers (index into `offers`) and are filled at the end.
    let mut pod_offers: Vec<Vec<usize>> = vec![Vec::new(); imps.len()];

    for (n, offer) in offers.iter().enumerate() {
        let imp = match screen(imps, &index, offer, rules.currency) {
            Ok(imp) => imp,
            Err(r) => {
                rejected.push((n, r));
                continue;
            }
        };
        if let Some(p) = imps[imp].pod {
            match offer.dur_s {
                Some(d) if d >= p.min_ad_s && d <= p.max_ad_s.min(p.max_duration_s) && d > 0 => {
                    pod_offers[imp].push(n)
                }
                d => rejected.push((n, Rejection::PodDuration(d))),
            }
            continue;
        }
        let price = offer.price.expect("screened");
        match best[imp] {
            Some((rank, _, _)) if offer.rank < rank => {}
            Some((rank, top, _)) if offer.rank == rank && price <= top => {
                second[imp] = second[imp].max(Some(price));
            }
            prev => {
                second[imp] = prev.filter(|(r, _, _)| *r == offer.rank).map(|(_, p, _)| p);
                best[imp] = Some((offer.rank, price, n));
            }
        }
    }

    let mut wins = Vec::new();
    for (i, imp) in imps.iter().enumerate() {
        if let Some(p) = imp.pod {
            // Pods clear at first price: a runner-up per position is not defined.
            for n in pod::fill(&p, offers, &pod_offers[i]) {
                let price = offers[n].price.expect("screened");
                wins.push(Win {
                    imp: i,
                    key: offers[n].key,
                    bid_price: price,
                    clearing: price,
                    fixed: offers[n].fixed,
                });
            }
        } else if let Some((_, bid_price, n)) = best[i] {
            let floor = offers[n].deal_floor.unwrap_or(imp.floor);
            let clearing = if offers[n].fixed {
                bid_price
            } else {
                clearing_price(bid_price, second[i], floor, rules.pricing)
            };
            wins.push(Win {
                imp: i,
                key: offers[n].key,
                bid_price,
                clearing,
                fixed: offers[n].fixed,
            });
        }
    }
    Outcome { wins, rejected }
}

/// Finds an imp by id: a scan for the usual handful of imps, a hash map for many, so that a
/// request with thousands of imps and bids stays linear.
enum ImpIndex<'a> {
    Scan,
    Map(std::collections::HashMap<&'a str, usize>),
}

impl<'a> ImpIndex<'a> {
    fn new(imps: &[ImpFloor<'a>]) -> Self {
        if imps.len() <= 16 {
            return ImpIndex::Scan;
        }
        ImpIndex::Map(
            imps.iter()
                .enumerate()
                .map(|(i, imp)| (imp.id, i))
                .collect(),
        )
    }

    fn find(&self, imps: &[ImpFloor<'_>], id: &str) -> Option<usize> {
        match self {
            ImpIndex::Scan => imps.iter().position(|i| i.id == id),
            ImpIndex::Map(m) => m.get(id).copied(),
        }
    }
}

/// Checks one offer against the request; returns the index of its imp.
fn screen(
    imps: &[ImpFloor<'_>],
    index: &ImpIndex<'_>,
    offer: &Offer<'_>,
    currency: &str,
) -> Result<usize, Rejection> {
    if offer.bid_id.is_empty() {
        return Err(Rejection::MissingBidId);
    }
    let imp = index
        .find(imps, offer.impid)
        .ok_or_else(|| Rejection::UnknownImp(offer.impid.to_string()))?;
    if let Some(r) = &offer.refused {
        return Err(r.clone());
    }
    let price = match offer.price {
        Some(p) if p > Micros::ZERO => p,
        _ => return Err(Rejection::InvalidPrice),
    };
    if !offer.currency.eq_ignore_ascii_case(currency) {
        return Err(Rejection::Currency(offer.currency.to_string()));
    }
    match offer.deal_floor {
        Some(floor) if price < floor => return Err(Rejection::BelowDealFloor { price, floor }),
        Some(_) => {}
        // Fixed-price direct deals (sponsorship, house) were sold regardless of the floor.
        None if price < imps[imp].floor && !offer.fixed => {
            return Err(Rejection::BelowFloor {
                price,
                floor: imps[imp].floor,
            });
        }
        None => {}
    }
    Ok(imp)
}

/// The price the winner pays. Always within `[floor, bid]` when `bid >= floor`.
pub fn clearing_price(
    bid: Micros,
    runner_up: Option<Micros>,
    floor: Micros,
    rule: PriceRule,
) -> Micros {
    match rule {
        PriceRule::First => bid,
        PriceRule::Second { increment } => {
            let base = runner_up.unwrap_or(Micros::ZERO).max(floor);
            base.saturating_add(increment).min(bid)
        }
    }
}

pub mod pod;
mod rejection;

#[cfg(test)]
mod tests;
