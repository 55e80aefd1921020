//! What the request says about acceptable bids, read once per auction, and the per-bid check.
//!
//! The auction core screens ids, imps, prices, currencies and floors; this module adds the
//! request's own rules: blocked advertisers (`badv`) and categories (`bcat`), the media
//! types and durations each imp offered, seat allow/block lists, and deals (a deal bid must
//! name a deal of its imp and meet that deal's floor, in the deal's own currency; in a
//! private auction only deal bids count; `wadomain`; fixed-price deals, `at = 3`), floors by
//! duration (`durfloor.rs`) and the creative's own rules (`creative.rs`: `bapp`, `acat`,
//! `wlang`/`wlangb`, `battr`). Pure: no I/O, no clock.

mod creative;
mod durfloor;

use creative::CreativeRules;
use durfloor::DurFloors;

use crate::auction::Rejection;
use crate::currency::Rates;
use crate::money::Micros;
use crate::openrtb::{Bid, BidRequest};
use serde_json::Value;

/// Media types as AdCOM numbers them (`bid.mtype`).
const BANNER: u8 = 1;
const VIDEO: u8 = 2;
const AUDIO: u8 = 3;
const NATIVE: u8 = 4;

#[derive(Debug, Default)]
pub struct RequestRules {
    /// Sets, looked up per domain suffix / category prefix: lists can be long (a client's
    /// badv of thousands of domains) and bids many, so no list × list scan.
    badv: std::collections::HashSet<String>,
    bcat: std::collections::HashSet<String>,
    wseat: Vec<String>,
    bseat: Vec<String>,
    creative: CreativeRules,
    imps: Vec<ImpRules>,
}

#[derive(Debug, Default)]
struct ImpRules {
    /// AdCOM media types this imp offered.
    media: Vec<u8>,
    /// Per media type (video/audio): allowed durations.
    durations: Vec<(u8, Durations)>,
    /// Per media type (video/audio): `mincpmpersec` and `durfloors`.
    dur_floors: Vec<(u8, DurFloors)>,
    /// Per media type: blocked creative attributes.
    battr: Vec<(u8, Vec<u64>)>,
    deals: Vec<Deal>,
    private: bool,
}

#[derive(Debug, Default)]
struct Durations {
    min: Option<u64>,
    max: Option<u64>,
    exact: Vec<u64>,
}

#[derive(Debug)]
struct Deal {
    id: String,
    /// In the auction currency; `None` when its currency cannot be converted (then no bid
    /// can be shown to meet it, and deal bids for it are refused).
    floor: Option<Micros>,
    wseat: Vec<String>,
    /// Allowed advertiser domains (lowercase); empty = any.
    wadomain: Vec<String>,
    /// `at = 3`: `bidfloor` is the agreed price, which a winning bid pays.
    fixed: bool,
    dur_floors: DurFloors,
}

/// What a bid that passed brings to the auction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// For a deal bid: the deal's floor, which replaces the imp's.
    pub deal_floor: Option<Micros>,
    pub is_deal: bool,
    /// For an open-market video/audio bid: the floor its duration sets (`mincpmpersec`,
    /// `durfloors`), which applies when above the imp's.
    pub dur_floor: Option<Micros>,
    /// A fixed-price deal (`at = 3`): the bid pays `deal_floor`, the agreed price.
    pub fixed_price: bool,
}

impl Accepted {
    const OPEN: Accepted = Accepted {
        deal_floor: None,
        is_deal: false,
        dur_floor: None,
        fixed_price: false,
    };
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(|s| s.trim().to_ascii_lowercase()))
        .collect()
}

impl RequestRules {
    pub fn of(r: &BidRequest, rates: &Rates) -> Self {
        let imps = r
            .imp
            .iter()
            .map(|imp| {
                let mut rules = ImpRules::default();
                for (key, t) in [
                    ("banner", BANNER),
                    ("video", VIDEO),
                    ("audio", AUDIO),
                    ("native", NATIVE),
                ] {
                    let Some(o) = imp.rest.get(key).filter(|o| o.is_object()) else {
                        continue;
                    };
                    rules.media.push(t);
                    let battr: Vec<u64> = o
                        .get("battr")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_u64).collect())
                        .unwrap_or_default();
                    if !battr.is_empty() {
                        rules.battr.push((t, battr));
                    }
                    if t == VIDEO || t == AUDIO {
                        let cur = imp.bidfloorcur.as_deref().unwrap_or("USD");
                        let floors = DurFloors::of(o, cur, rates);
                        if !floors.is_empty() {
                            rules.dur_floors.push((t, floors));
                        }
                        let n = |k: &str| o.get(k).and_then(Value::as_u64);
                        let exact = o
                            .get("rqddurs")
                            .and_then(Value::as_array)
                            .map(|d| d.iter().filter_map(Value::as_u64).collect())
                            .unwrap_or_default();
                        rules.durations.push((
                            t,
                            Durations {
                                min: n("minduration"),
                                max: n("maxduration"),
                                exact,
                            },
                        ));
                    }
                }
                let pmp = imp.rest.get("pmp");
                rules.private = pmp
                    .and_then(|p| p.get("private_auction"))
                    .and_then(Value::as_i64)
                    == Some(1);
                for d in pmp
                    .and_then(|p| p.get("deals"))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let Some(id) = d.get("id").and_then(Value::as_str) else {
                        continue;
                    };
                    // A deal's floor is in the deal's currency (default USD), not the imp's.
                    let amount = d
                        .get("bidfloor")
                        .and_then(Value::as_f64)
                        .and_then(Micros::from_f64)
                        .unwrap_or(Micros::ZERO);
                    let cur = d
                        .get("bidfloorcur")
                        .and_then(Value::as_str)
                        .unwrap_or("USD");
                    let floor = if amount == Micros::ZERO {
                        Some(Micros::ZERO)
                    } else {
                        rates.to_base(amount, cur)
                    };
                    rules.deals.push(Deal {
                        id: id.to_string(),
                        floor,
                        wseat: strings(d.get("wseat")),
                        wadomain: strings(d.get("wadomain")),
                        fixed: d.get("at").and_then(Value::as_i64) == Some(3),
                        dur_floors: DurFloors::of(d, cur, rates),
                    });
                }
                rules
            })
            .collect();
        Self {
            badv: strings(r.rest.get("badv")).into_iter().collect(),
            bcat: strings(r.rest.get("bcat")).into_iter().collect(),
            wseat: strings(r.rest.get("wseat")),
            bseat: strings(r.rest.get("bseat")),
            creative: CreativeRules::of(&r.rest),
            imps,
        }
    }

    /// Checks a bid for imp `imp` (index into the request's imps) from buyer seat `seat`.
    /// `strict_deals`: refuse a `dealid` the imp did not offer, rather than take it as a deal
    /// arranged on the partner's side (an open-market bid).
    pub fn check(
        &self,
        imp: usize,
        bid: &Bid,
        seat: Option<&str>,
        strict_deals: bool,
    ) -> Result<Accepted, Rejection> {
        bounded(bid)?;
        let Some(rules) = self.imps.get(imp) else {
            return Ok(Accepted::OPEN);
        };
        // The lists hold lowercase seats: compared without lowercasing a copy of the bid's
        // (16 bids an auction, most of them accepted).
        let seat = seat.map(str::trim);
        let listed = |list: &[String], s: &str| list.iter().any(|x| x.eq_ignore_ascii_case(s));
        let seat_ok = |allowed: &[String], blocked: &[String]| match seat {
            Some(s) => (allowed.is_empty() || listed(allowed, s)) && !listed(blocked, s),
            None => allowed.is_empty(),
        };
        let blocked = || Rejection::SeatBlocked(seat.unwrap_or_default().to_ascii_lowercase());
        if !seat_ok(&self.wseat, &self.bseat) {
            return Err(blocked());
        }
        if !self.badv.is_empty() {
            for d in strings(bid.get("adomain")) {
                // The domain itself and each parent domain (`shop.bad.com` → `bad.com`).
                let blocked = std::iter::successors(Some(d.as_str()), |s| {
                    s.split_once('.').map(|(_, parent)| parent)
                })
                .any(|suffix| self.badv.contains(suffix));
                if blocked {
                    return Err(Rejection::BlockedAdvertiser(d));
                }
            }
        }
        if !self.bcat.is_empty() {
            for c in strings(bid.get("cat")) {
                // The category and its tier-1 parent (`IAB25-3` → `IAB25`).
                let parent = c.split_once('-').map(|(p, _)| p);
                if self.bcat.contains(&c) || parent.is_some_and(|p| self.bcat.contains(p)) {
                    return Err(Rejection::BlockedCategory(c));
                }
            }
        }
        let mtype = match bid.get("mtype").and_then(Value::as_u64) {
            Some(m) => Some(m as u8),
            None if rules.media.len() == 1 => Some(rules.media[0]),
            None => None, // not stated and not implied: nothing to check against
        };
        // Blocked attributes: those of the bid's media type, or of every media object when
        // the type is not known.
        let battr: &[u64] = match (mtype, rules.battr.as_slice()) {
            (_, []) => &[],
            (Some(m), list) => list
                .iter()
                .find(|(t, _)| *t == m)
                .map_or(&[], |(_, a)| a.as_slice()),
            (None, [(_, a)]) => a,
            (None, _) => &[],
        };
        self.creative.check(bid, battr)?;
        if mtype.is_none() && rules.battr.len() > 1 {
            for (_, list) in &rules.battr {
                self.creative.check(bid, list)?;
            }
        }
        let dur = bid.get("dur").and_then(Value::as_u64);
        let mut dur_floor = None;
        if let Some(m) = mtype {
            if !rules.media.contains(&m) {
                return Err(Rejection::MediaType(m));
            }
            if let (Some(dur), Some((_, allowed))) =
                (dur, rules.durations.iter().find(|(t, _)| *t == m))
            {
                let fits = if allowed.exact.is_empty() {
                    allowed.min.is_none_or(|min| dur >= min)
                        && allowed.max.is_none_or(|max| max == 0 || dur <= max)
                } else {
                    allowed.exact.contains(&dur)
                };
                if !fits {
                    return Err(Rejection::Duration(dur));
                }
            }
            if let (Some(dur), Some((_, floors))) =
                (dur, rules.dur_floors.iter().find(|(t, _)| *t == m))
            {
                dur_floor = floors.floor(dur);
            }
        }
        match bid
            .get("dealid")
            .and_then(Value::as_str)
            .filter(|d| !d.is_empty())
        {
            Some(id) => {
                let Some(deal) = rules.deals.iter().find(|d| d.id == id) else {
                    // A deal the exchange (the partner) arranged itself: about one real
                    // response in six. It is an open-market bid, unless only the request's
                    // deals may bid (a private auction) or the partner is held to them.
                    if strict_deals || rules.private {
                        return Err(Rejection::UnknownDeal(id.to_string()));
                    }
                    return Ok(Accepted {
                        dur_floor,
                        ..Accepted::OPEN
                    });
                };
                if !deal.wseat.is_empty() && !seat_ok(&deal.wseat, &[]) {
                    return Err(blocked());
                }
                if !deal.wadomain.is_empty() {
                    // Every advertiser of the bid must be one the deal was struck with (or a
                    // subdomain of one); a bid that names none cannot show it is.
                    let domains = strings(bid.get("adomain"));
                    let allowed = |d: &String| {
                        std::iter::successors(Some(d.as_str()), |s| {
                            s.split_once('.').map(|(_, parent)| parent)
                        })
                        .any(|suffix| deal.wadomain.iter().any(|w| w == suffix))
                    };
                    if let Some(d) = domains.iter().find(|d| !allowed(d)) {
                        return Err(Rejection::DealAdvertiser(d.clone()));
                    }
                    if domains.is_empty() {
                        return Err(Rejection::DealAdvertiser(String::new()));
                    }
                }
                let floor = deal.floor.ok_or_else(|| {
                    Rejection::UnknownDeal(format!("{id} (its floor currency has no rate)"))
                })?;
                // A fixed price is the price: no duration can raise it.
                let by_dur = dur
                    .filter(|_| !deal.fixed)
                    .and_then(|d| deal.dur_floors.floor(d));
                Ok(Accepted {
                    deal_floor: Some(floor.max(by_dur.unwrap_or(Micros::ZERO))),
                    is_deal: true,
                    dur_floor: None,
                    fixed_price: deal.fixed,
                })
            }
            None if rules.private => Err(Rejection::NotADeal),
            None => Ok(Accepted {
                dur_floor,
                ..Accepted::OPEN
            }),
        }
    }
}

#[cfg(test)]
mod tests;

/// A bid whose `burl` or `id` a tracking token could not carry (see
/// `vocab::MAX_BURL_BYTES`): refused here, so that the next best bid wins, rather than
/// winning with tracking URLs that can never be verified (an ad delivered, never billed).
pub fn bounded(bid: &Bid) -> Result<(), Rejection> {
    let id = crate::text::json_len(&bid.id);
    if id > crate::vocab::MAX_BID_ID_BYTES {
        return Err(Rejection::Oversized("id", id));
    }
    if let Some(burl) = bid.str_field("burl") {
        let len = crate::text::json_len(burl);
        if len > crate::vocab::MAX_BURL_BYTES {
            return Err(Rejection::Oversized("burl", len));
        }
    }
    Ok(())
}
