//! What-if replay (`bidgate whatif`): the auctions recorded with `event_log.record_bids`
//! re-run through the pure auction core (`auction::run`, unchanged) under other settings —
//! another tmax, other partner timeouts, pricing or floor — to see what revenue, fill and
//! latency they would have had, next to what actually happened.
//!
//! The model: a bid counts when its partner answered before the setting's deadline for it,
//! the same rule as the fan-out's (`deadline::partner_budget`): before the fan-out closes
//! (tmax − `processing_reserve_ms`) and within the partner's timeout; a partner is not called
//! when the tmax left for it would be under 1 ms. What a partner that timed out would have
//! sent given longer is unknown: it counts as no bid, and such answers are counted as
//! `censored`, so predictions for a longer tmax than recorded are lower bounds.

mod cli;
mod read;
mod report;
#[cfg(test)]
mod tests;

pub use cli::{Options, run};
pub use read::{LogStats, scan};
pub use report::{Summary, svg, table};

use crate::auction::{self, BidKey, ImpFloor, Offer, Pod, PriceRule, Rules};
use crate::events::record::AuctionRecord;
use crate::events::replay::ReplayRecord;
use crate::money::Micros;
use std::collections::BTreeMap;

/// The pricing rule a setting imposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pricing {
    First,
    /// With the recorded `second_price_increment`.
    Second,
}

/// One what-if setting; `None` and an empty map keep what was recorded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Setting {
    pub label: String,
    pub tmax_ms: Option<u64>,
    /// Partner id → `timeout_ms`.
    pub timeouts: BTreeMap<String, u64>,
    pub pricing: Option<Pricing>,
    /// A floor every imp gets at least (deal floors unchanged), in the auction currency.
    pub floor: Option<Micros>,
}

/// One auction's result, replayed or as it happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Billable revenue: the sum of clearing prices (0 for a `test = 1` auction).
    pub revenue: Micros,
    pub imps: usize,
    /// Imps with at least one winner.
    pub filled: usize,
    /// Arrival to answer: the modelled fan-out close plus the time the recorded auction took
    /// after its last answer.
    pub latency_ms: u64,
    /// (imp index, partner id, clearing price) per win.
    pub wins: Vec<(usize, String, Micros)>,
    /// Answers that timed out when recorded but would have been waited for longer.
    pub censored: usize,
    /// Recorded bids that this setting's deadline cuts off.
    pub cut: usize,
}

const SKIPPED: [&str; 3] = ["throttled", "circuit_open", "no_legal_basis"];
const TIMED_OUT: [&str; 2] = ["timeout", "late"];

/// Re-runs one recorded auction under `setting`.
pub fn replay(r: &ReplayRecord, duration_ms: u64, setting: &Setting) -> Replayed {
    let tmax = setting.tmax_ms.unwrap_or(r.tmax_ms);
    // `Deadline::fanout_close`, in milliseconds since arrival.
    let close = tmax - r.reserve_ms.min(tmax);
    let start = r.fanout_start_ms;
    let mut out = Replayed::default();
    let mut end = start;
    let mut counted: Vec<(usize, usize)> = Vec::new();
    for (n, a) in r.answers.iter().enumerate() {
        let timeout = setting
            .timeouts
            .get(&a.partner)
            .copied()
            .unwrap_or(a.timeout_ms);
        // `partner_budget`: what the partner would be told; under 1 ms it is not called.
        let told = tmax
            .saturating_sub(start)
            .saturating_sub(r.buffer_ms + r.reserve_ms)
            .min(timeout);
        let wait_until = (start + timeout).min(close);
        if told == 0 {
            out.cut += a.bids.len();
            continue;
        }
        if SKIPPED.contains(&a.outcome.as_str()) {
            // Skipped for lack of time (`throttled`) may have been called given more.
            if a.outcome == "throttled" && tmax > r.tmax_ms {
                out.censored += 1;
            }
            continue;
        }
        if TIMED_OUT.contains(&a.outcome.as_str()) {
            end = end.max(wait_until);
            if wait_until > a.at_ms {
                out.censored += 1;
            }
            continue;
        }
        if a.ms < timeout && a.at_ms < close {
            end = end.max(a.at_ms);
            counted.extend((0..a.bids.len()).map(|b| (n, b)));
        } else {
            end = end.max(wait_until);
            out.cut += a.bids.len();
        }
    }

    let imps: Vec<ImpFloor<'_>> = r
        .imps
        .iter()
        .map(|imp| ImpFloor {
            id: &imp.id,
            floor: Micros(imp.floor_micros).max(setting.floor.unwrap_or(Micros::ZERO)),
            pod: imp.pod.map(|p| Pod {
                max_ads: p.max_ads,
                max_duration_s: p.max_duration_s,
                min_ad_s: p.min_ad_s,
                max_ad_s: p.max_ad_s,
            }),
        })
        .collect();
    let mut offers = Vec::with_capacity(counted.len());
    for (n, b) in counted {
        let bid = &r.answers[n].bids[b];
        if bid.refused.is_some() {
            continue; // refused by the request's rules: no setting here changes those
        }
        let price = bid.offer_micros.map(Micros);
        // A house line item (rank 0) never clears below its imp's floor (exchange::screen):
        // a raised floor can refuse one that was accepted.
        let floor = imps.iter().find(|i| i.id == bid.imp).map(|i| i.floor);
        if bid.rank == 0 && bid.fixed && price.zip(floor).is_some_and(|(p, f)| p < f) {
            continue;
        }
        offers.push(Offer {
            key: BidKey {
                response: n,
                seatbid: 0,
                bid: b,
            },
            bid_id: &bid.bid_id,
            impid: &bid.imp,
            price,
            currency: bid.offer_currency.as_deref().unwrap_or(&r.currency),
            dur_s: bid.dur_s,
            adomain: bid.adomain.as_deref(),
            refused: None,
            deal_floor: bid.deal_floor_micros.map(Micros),
            rank: bid.rank,
            slot: bid.slot,
            fixed: bid.fixed,
        });
    }
    let increment = Micros(r.increment_micros);
    let pricing = match setting.pricing {
        Some(Pricing::First) => PriceRule::First,
        Some(Pricing::Second) => PriceRule::Second { increment },
        None if r.at == 1 => PriceRule::First,
        None => PriceRule::Second { increment },
    };
    let rules = Rules {
        currency: &r.currency,
        pricing,
    };
    let outcome = auction::run(&imps, &offers, rules);
    let mut filled = vec![false; imps.len()];
    for w in &outcome.wins {
        filled[w.imp] = true;
        if r.billable {
            out.revenue = out.revenue.saturating_add(w.clearing);
        }
        let partner = r.answers[w.key.response].partner.clone();
        out.wins.push((w.imp, partner, w.clearing));
    }
    out.imps = imps.len();
    out.filled = filled.iter().filter(|f| **f).count();
    // After the last recorded answer, the real auction took `duration − last` more (waking
    // up, the auction, markup fetches, the answer): the same is added to the modelled close,
    // so that the recorded setting models the recorded latency.
    let last = r.answers.iter().map(|a| a.at_ms).fold(start, u64::max);
    out.latency_ms = end + duration_ms.saturating_sub(last);
    out
}

/// What actually happened in a recorded auction.
pub fn actual(record: &AuctionRecord) -> Replayed {
    let mut out = Replayed {
        latency_ms: record.duration_ms,
        ..Replayed::default()
    };
    let Some(r) = &record.replay else {
        return out;
    };
    out.imps = r.imps.len();
    let mut filled = vec![false; r.imps.len()];
    for w in &record.wins {
        let Some(i) = r
            .imps
            .iter()
            .position(|imp| imp.id == crate::text::clip(&w.imp))
        else {
            continue;
        };
        filled[i] = true;
        if r.billable {
            out.revenue = out.revenue.saturating_add(Micros(w.price_micros));
        }
        out.wins
            .push((i, w.partner.clone(), Micros(w.price_micros)));
    }
    out.filled = filled.iter().filter(|f| **f).count();
    out
}
