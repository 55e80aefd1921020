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

/// Why a bid cannot take part. Codes are stable: they appear in `ext.errors` (docs/api.md, status and error codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    MissingBidId,
    UnknownImp(String),
    InvalidPrice,
    BelowFloor {
        price: Micros,
        floor: Micros,
    },
    Currency(String),
    /// A pod bid without a `dur`, or one that does not fit the pod's per-ad limits.
    PodDuration(Option<u32>),
    BlockedAdvertiser(String),
    BlockedCategory(String),
    /// `mtype` (or the imp's single media type) is not one the imp offered.
    MediaType(u8),
    Duration(u64),
    UnknownDeal(String),
    BelowDealFloor {
        price: Micros,
        floor: Micros,
    },
    SeatBlocked(String),
    /// A private auction takes deal bids only.
    NotADeal,
    /// Audio/video markup that cannot be played (`/v1/ads`).
    Unplayable(String),
    /// A `burl` or bid `id` longer than a tracking token can carry (the field, its length).
    Oversized(&'static str, usize),
    /// A winner whose markup never arrived from its `nurl` (why): the runner-up takes its place.
    NoMarkup(String),
    /// The bid's app `bundle` is in the request's `bapp`.
    BlockedApp(String),
    /// None of the bid's `cat` is in the request's `acat` (the first given).
    CategoryNotAllowed(String),
    /// The creative's language is not in the request's `wlang`/`wlangb`.
    Language(String),
    /// A creative attribute (`bid.attr`) the imp's media object blocks (`battr`).
    BlockedAttribute(u64),
    /// A deal bid's advertiser is not in the deal's `wadomain`.
    DealAdvertiser(String),
    /// One bid of a `seatbid.group = 1` (all or nothing) did not win, so none of them does.
    GroupIncomplete,
}

impl Rejection {
    pub fn code(&self) -> u32 {
        match self {
            Rejection::MissingBidId => 301,
            Rejection::UnknownImp(_) => 302,
            Rejection::InvalidPrice => 303,
            Rejection::BelowFloor { .. } => 304,
            Rejection::Currency(_) => 305,
            Rejection::PodDuration(_) => 306,
            Rejection::BlockedAdvertiser(_) => 310,
            Rejection::BlockedCategory(_) => 311,
            Rejection::MediaType(_) => 312,
            Rejection::Duration(_) => 313,
            Rejection::UnknownDeal(_) => 314,
            Rejection::BelowDealFloor { .. } => 315,
            Rejection::SeatBlocked(_) => 316,
            Rejection::NotADeal => 317,
            Rejection::Unplayable(_) => UNPLAYABLE_CODE,
            Rejection::Oversized(..) => 319,
            Rejection::NoMarkup(_) => 318,
            Rejection::BlockedApp(_) => 320,
            Rejection::CategoryNotAllowed(_) => 321,
            Rejection::Language(_) => 322,
            Rejection::BlockedAttribute(_) => 323,
            Rejection::DealAdvertiser(_) => 324,
            Rejection::GroupIncomplete => 325,
        }
    }

    /// The OpenRTB loss reason (`${AUCTION_LOSS}`, spec list 5.25) for a dropped bid.
    pub fn loss_reason(&self) -> u32 {
        match self {
            Rejection::BelowFloor { .. } => 100,
            Rejection::BelowDealFloor { .. } => 101,
            Rejection::SeatBlocked(_) => 104,
            Rejection::MediaType(_)
            | Rejection::Duration(_)
            | Rejection::PodDuration(_)
            | Rejection::Unplayable(_) => 204,
            Rejection::BlockedAdvertiser(_) => 205,
            Rejection::BlockedCategory(_) | Rejection::CategoryNotAllowed(_) => 209,
            Rejection::BlockedApp(_) => 206,
            Rejection::Language(_) => 208,
            Rejection::BlockedAttribute(_) => 210,
            Rejection::DealAdvertiser(_) => 213,
            Rejection::NoMarkup(_) => 7,
            Rejection::GroupIncomplete => 102,
            Rejection::UnknownDeal(_) | Rejection::NotADeal => 4,
            Rejection::MissingBidId
            | Rejection::UnknownImp(_)
            | Rejection::InvalidPrice
            | Rejection::Currency(_)
            | Rejection::Oversized(..) => 3,
        }
    }

    pub fn message(&self, bid_id: &str) -> String {
        match self {
            Rejection::MissingBidId => "bid has no id".into(),
            Rejection::UnknownImp(imp) => {
                format!("bid {bid_id}: impid `{imp}` is not in the request")
            }
            Rejection::InvalidPrice => format!("bid {bid_id}: price must be a finite number > 0"),
            Rejection::BelowFloor { price, floor } => {
                format!("bid {bid_id}: price {price} is below the floor {floor}")
            }
            Rejection::Currency(cur) => {
                format!("bid {bid_id}: currency `{cur}` is not the auction currency")
            }
            Rejection::PodDuration(None) => {
                format!("bid {bid_id}: an ad pod needs the ad's duration in `dur`")
            }
            Rejection::PodDuration(Some(d)) => {
                format!("bid {bid_id}: dur {d} s does not fit the ad pod")
            }
            Rejection::BlockedAdvertiser(d) => {
                format!("bid {bid_id}: advertiser `{d}` is blocked by the request (badv)")
            }
            Rejection::BlockedCategory(c) => {
                format!("bid {bid_id}: category `{c}` is blocked by the request (bcat)")
            }
            Rejection::MediaType(m) => {
                format!("bid {bid_id}: mtype {m} is not a media type the imp offered")
            }
            Rejection::Duration(d) => {
                format!("bid {bid_id}: dur {d} s is outside the imp's allowed durations")
            }
            Rejection::UnknownDeal(d) => {
                format!("bid {bid_id}: dealid `{d}` is not a deal of the imp")
            }
            Rejection::BelowDealFloor { price, floor } => {
                format!("bid {bid_id}: price {price} is below the deal's floor {floor}")
            }
            Rejection::SeatBlocked(s) => {
                format!("bid {bid_id}: buyer seat `{s}` is not allowed (wseat/bseat)")
            }
            Rejection::NotADeal => {
                format!("bid {bid_id}: the imp is a private auction and the bid names no deal")
            }
            Rejection::Unplayable(why) => format!("bid {bid_id}: markup cannot be played: {why}"),
            Rejection::Oversized(field, len) => {
                format!("bid {bid_id}: {field} is {len} bytes, too long for a tracking URL")
            }
            Rejection::NoMarkup(why) => format!("bid {bid_id}: {why}"),
            Rejection::BlockedApp(b) => {
                format!("bid {bid_id}: app bundle `{b}` is blocked by the request (bapp)")
            }
            Rejection::CategoryNotAllowed(c) => {
                format!("bid {bid_id}: category `{c}` is not allowed by the request (acat)")
            }
            Rejection::Language(l) => {
                format!("bid {bid_id}: language `{l}` is not allowed by the request (wlang/wlangb)")
            }
            Rejection::BlockedAttribute(a) => {
                format!("bid {bid_id}: creative attribute {a} is blocked by the imp (battr)")
            }
            Rejection::DealAdvertiser(d) => {
                format!("bid {bid_id}: advertiser `{d}` is not allowed in the deal (wadomain)")
            }
            Rejection::GroupIncomplete => format!(
                "bid {bid_id}: its seatbid is all or nothing (group = 1) and another of its bids did not win"
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Win {
    /// Index into the imps given to `run`.
    pub imp: usize,
    pub key: BidKey,
    pub bid_price: Micros,
    pub clearing: Micros,
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

/// `ext.errors` code of a bid whose audio/video markup cannot be played (refused before the
/// auction, or found unusable when the answer is built).
pub const UNPLAYABLE_CODE: u32 = 307;

pub mod pod;

#[cfg(test)]
mod tests;
