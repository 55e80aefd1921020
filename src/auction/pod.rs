//! Filling an ad pod: of the eligible bids, the set that earns most while holding at most
//! `max_ads` ads and `max_duration_s` seconds, with no two ads from one advertiser domain.
//!
//! This is a multiple-choice knapsack (each advertiser is a group from which at most one bid
//! is taken) with two capacities, solved exactly by dynamic programming over (ads, seconds).
//! Seconds are counted in units of the greatest common divisor of the durations involved, so
//! the usual 15/30/60 s spots make a table of a handful of columns. Pure and deterministic:
//! on equal revenue the earlier arrivals are kept.

use super::{Offer, Pod};
use crate::money::Micros;

/// What one rank step is worth in the pod's objective (10 million currency units): more
/// than any pod's revenue, and 10 ads × 3 ranks of it still fit an i64.
const RANK_WEIGHT: i64 = 10_000_000_000_000;

/// Largest pod accepted by config validation; bounds the table (ads × seconds).
pub use crate::vocab::{MAX_POD_ADS as MAX_ADS, MAX_POD_DURATION_S as MAX_DURATION_S};

/// The offers (indices into `offers`) that fill the pod best, highest price first (ties in
/// arrival order). `eligible` holds screened offers with a `dur_s` within the per-ad limits.
pub fn fill(pod: &Pod, offers: &[Offer<'_>], eligible: &[usize]) -> Vec<usize> {
    let max_ads = pod.max_ads.min(MAX_ADS) as usize;
    if max_ads == 0 || eligible.is_empty() {
        return Vec::new();
    }
    let dur = |n: usize| offers[n].dur_s.unwrap_or(0);
    // Rank before revenue, as in a single-ad auction: each ad above the open auction
    // (rank 1) is worth more than any open bids together. House ads (rank 0) bid next to
    // nothing, so they only take room that no paying ad wants.
    let price = |n: usize| {
        let p = offers[n]
            .price
            .unwrap_or(Micros::ZERO)
            .0
            .clamp(0, RANK_WEIGHT - 1);
        match offers[n].rank {
            // Whatever its CPM, a house ad is worth less than any paying ad.
            0 => 1,
            r => p + (r as i64 - 1) * RANK_WEIGHT,
        }
    };
    let unit = eligible
        .iter()
        .fold(pod.max_duration_s, |g, &n| gcd(g, dur(n)))
        .max(1);
    let cap = (pod.max_duration_s.min(MAX_DURATION_S) / unit) as usize;

    // Groups: one per advertiser domain (case-insensitive), in order of first arrival; a bid
    // without a domain is its own group (nothing says it competes with another).
    let mut groups: Vec<(Option<String>, Vec<usize>)> = Vec::new();
    for &n in eligible {
        let domain = offers[n].adomain.map(|d| d.trim().to_ascii_lowercase());
        match groups.iter_mut().find(|(d, _)| d.is_some() && *d == domain) {
            Some((_, members)) => members.push(n),
            None => groups.push((domain, vec![n])),
        }
    }

    // Positions bids are limited to (`slotinpod`): with any such bid, each cell also says
    // whether the first and the last slot are taken (2 bits), so that a filled pod can
    // always be played in an order every bid accepts.
    let flags = if eligible.iter().any(|&n| offers[n].slot != 0) {
        4
    } else {
        1
    };
    // best[k][d][f]: most revenue with exactly k ads, d units and slots f taken, or None if
    // unreachable. choice[g][cell]: which member of group g was taken to reach the cell at
    // layer g, and the slots taken before it.
    let width = cap + 1;
    let cell_of = |k: usize, d: usize, f: usize| (k * width + d) * flags + f;
    let mut best: Vec<Option<i64>> = vec![None; (max_ads + 1) * width * flags];
    best[0] = Some(0);
    let mut choice: Vec<Vec<Option<(u16, u8)>>> = Vec::with_capacity(groups.len());
    for (_, members) in &groups {
        let mut next = best.clone();
        let mut taken = vec![None; best.len()];
        for k in 0..max_ads {
            for d in 0..width {
                for f in 0..flags {
                    let Some(base) = best[cell_of(k, d, f)] else {
                        continue;
                    };
                    for (m, &n) in members.iter().enumerate() {
                        let nd = d + (dur(n) / unit) as usize;
                        if nd > cap {
                            continue;
                        }
                        for nf in slot_steps(offers[n].slot, f).into_iter().flatten() {
                            let cell = cell_of(k + 1, nd, nf);
                            let revenue = base.saturating_add(price(n));
                            if next[cell].is_none_or(|r| revenue > r) {
                                next[cell] = Some(revenue);
                                taken[cell] = Some((m as u16, f as u8));
                            }
                        }
                    }
                }
            }
        }
        best = next;
        choice.push(taken);
    }

    // The best cell overall; ties keep the first found (fewest ads, least time).
    let mut end = (0, 0, 0);
    let mut top = 0;
    for k in 0..=max_ads {
        for d in 0..width {
            for f in 0..flags {
                if let Some(r) = best[cell_of(k, d, f)]
                    && r > top
                {
                    (top, end) = (r, (k, d, f));
                }
            }
        }
    }
    // Walk back through the layers: a layer that changed the cell took one of its members.
    let (mut k, mut d, mut f) = end;
    let mut chosen = Vec::new();
    for g in (0..groups.len()).rev() {
        if k == 0 {
            break;
        }
        if let Some((m, before)) = choice[g][cell_of(k, d, f)] {
            let n = groups[g].1[m as usize];
            chosen.push(n);
            k -= 1;
            d -= (dur(n) / unit) as usize;
            f = before as usize;
        }
    }
    // Play order: rank, then price, highest first (ties in arrival order); then a bid
    // limited to the first slot moves to the front, one limited to the last to the end, and
    // one that takes either to whichever end is free (the front, when both are).
    chosen.sort_by_key(|&n| (std::cmp::Reverse(price(n)), n));
    let slot = |n: usize| offers[n].slot;
    let first = chosen
        .iter()
        .position(|&n| slot(n) == FIRST)
        .or_else(|| chosen.iter().position(|&n| slot(n) == FIRST_OR_LAST));
    if let Some(i) = first {
        let n = chosen.remove(i);
        chosen.insert(0, n);
    }
    let last = chosen
        .iter()
        .skip(usize::from(first.is_some()))
        .position(|&n| slot(n) == LAST || slot(n) == FIRST_OR_LAST)
        .map(|i| i + usize::from(first.is_some()));
    if let Some(i) = last {
        let n = chosen.remove(i);
        chosen.push(n);
    }
    chosen
}

/// `bid.slotinpod` values (OpenRTB 2.6 list 7.4; 0 = any slot).
pub const FIRST: i8 = 1;
pub const LAST: i8 = -1;
pub const FIRST_OR_LAST: i8 = 2;

/// The slots-taken flags (bit 0 first, bit 1 last) after adding a bid limited to `slot`
/// to a pod whose flags are `f`: none when its slot is taken, two choices for
/// `FIRST_OR_LAST`. Any other value (0, or one the list does not define) takes no slot.
fn slot_steps(slot: i8, f: usize) -> [Option<usize>; 2] {
    let take = |bit: usize| (f & bit == 0).then_some(f | bit);
    match slot {
        FIRST => [take(1), None],
        LAST => [take(2), None],
        FIRST_OR_LAST => [take(1), take(2)],
        _ => [Some(f), None],
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auction::BidKey;

    fn offer(n: usize, cents: i64, dur: u32, domain: &'static str) -> Offer<'static> {
        Offer {
            key: BidKey {
                response: n,
                seatbid: 0,
                bid: 0,
            },
            bid_id: "b",
            impid: "1",
            price: Some(Micros(cents * 10_000)),
            currency: "USD",
            dur_s: Some(dur),
            adomain: (!domain.is_empty()).then_some(domain),
            refused: None,
            deal_floor: None,
            rank: 1,
            fixed: false,
            slot: 0,
        }
    }

    fn pod(max_ads: u32, max_duration_s: u32) -> Pod {
        Pod {
            max_ads,
            max_duration_s,
            min_ad_s: 0,
            max_ad_s: 600,
        }
    }

    fn all(offers: &[Offer<'_>]) -> Vec<usize> {
        (0..offers.len()).collect()
    }

    #[test]
    fn two_short_ads_beat_one_long_one_when_they_earn_more() {
        let offers = [
            offer(0, 900, 60, "big.com"),
            offer(1, 500, 30, "a.com"),
            offer(2, 450, 30, "b.com"),
        ];
        assert_eq!(fill(&pod(3, 60), &offers, &all(&offers)), [1, 2]);
        let offers = [
            offer(0, 1000, 60, "big.com"),
            offer(1, 500, 30, "a.com"),
            offer(2, 450, 30, "b.com"),
        ];
        assert_eq!(fill(&pod(3, 60), &offers, &all(&offers)), [0]);
    }

    #[test]
    fn one_advertiser_at_most_once() {
        let offers = [
            offer(0, 800, 30, "Brand.com"),
            offer(1, 700, 30, "brand.com"),
            offer(2, 100, 30, "other.com"),
        ];
        assert_eq!(fill(&pod(2, 60), &offers, &all(&offers)), [0, 2]);
    }

    #[test]
    fn bids_without_a_domain_are_each_their_own_advertiser() {
        let offers = [offer(0, 300, 15, ""), offer(1, 200, 15, "")];
        assert_eq!(fill(&pod(2, 30), &offers, &all(&offers)), [0, 1]);
    }

    #[test]
    fn the_ad_count_limit_holds() {
        let offers: Vec<_> = (0..6)
            .map(|i| offer(i, 100 + i as i64, 15, ["a", "b", "c", "d", "e", "f"][i]))
            .collect();
        assert_eq!(fill(&pod(3, 120), &offers, &all(&offers)), [5, 4, 3]);
    }

    #[test]
    fn nothing_fits_nothing_wins() {
        let offers = [offer(0, 900, 45, "a.com")];
        assert!(fill(&pod(2, 30), &offers, &all(&offers)).is_empty());
        assert!(fill(&pod(0, 30), &offers, &all(&offers)).is_empty());
    }

    #[test]
    fn odd_durations_use_second_resolution() {
        let offers = [
            offer(0, 500, 17, "a.com"),
            offer(1, 500, 14, "b.com"),
            offer(2, 600, 31, "c.com"),
        ];
        // 17 + 14 = 31 ≤ 31 earns 10.00 against 6.00 alone.
        assert_eq!(fill(&pod(3, 31), &offers, &all(&offers)), [0, 1]);
    }

    /// A set of pod ads can be played in an order every `slotinpod` accepts, and `order`
    /// (when given) is one.
    fn playable(offers: &[Offer<'_>], set: &[usize], order: bool) -> bool {
        let slot = |n: usize| offers[n].slot;
        let count = |s: i8| set.iter().filter(|&&n| slot(n) == s).count();
        let ends = count(FIRST) + count(LAST) + count(FIRST_OR_LAST);
        let feasible = set.len() <= 1 || (count(FIRST) <= 1 && count(LAST) <= 1 && ends <= 2);
        if !order || set.len() <= 1 {
            return feasible;
        }
        let ok_at = |i: usize, n: usize| match slot(n) {
            FIRST => i == 0,
            LAST => i == set.len() - 1,
            FIRST_OR_LAST => i == 0 || i == set.len() - 1,
            _ => true,
        };
        feasible && set.iter().enumerate().all(|(i, &n)| ok_at(i, n))
    }

    proptest::proptest! {
        /// The DP finds the same revenue as trying every subset, respects every limit, and
        /// plays the ads in an order their `slotinpod` accepts.
        #[test]
        fn matches_brute_force(
            bids in proptest::collection::vec((1i64..2000, 1u32..5, 0usize..4, 0usize..6), 0..9),
            max_ads in 1u32..5,
            max_units in 1u32..8,
        ) {
            let domains = ["a.com", "b.com", "c.com", ""];
            // Mostly any slot, as in real traffic.
            let slots = [0, 0, 0, FIRST, LAST, FIRST_OR_LAST];
            let offers: Vec<_> = bids
                .iter()
                .enumerate()
                .map(|(i, &(c, d, dom, s))| Offer { slot: slots[s], ..offer(i, c, d * 15, domains[dom]) })
                .collect();
            let p = pod(max_ads, max_units * 15);
            let got = fill(&p, &offers, &all(&offers));
            let revenue = |set: &[usize]| set.iter().map(|&n| offers[n].price.unwrap().0).sum::<i64>();
            let valid = |set: &[usize]| {
                let mut seen = std::collections::HashSet::new();
                set.len() as u32 <= p.max_ads
                    && set.iter().map(|&n| offers[n].dur_s.unwrap()).sum::<u32>() <= p.max_duration_s
                    && set.iter().all(|&n| offers[n].adomain.is_none() || seen.insert(offers[n].adomain))
                    && playable(&offers, set, false)
            };
            proptest::prop_assert!(valid(&got));
            proptest::prop_assert!(playable(&offers, &got, true), "play order {:?}", got);
            let mut best = 0;
            for mask in 0u32..(1 << offers.len()) {
                let set: Vec<usize> = (0..offers.len()).filter(|i| mask & (1 << i) != 0).collect();
                if valid(&set) {
                    best = best.max(revenue(&set));
                }
            }
            proptest::prop_assert_eq!(revenue(&got), best);
        }
    }

    #[test]
    fn slotinpod_decides_what_fits_and_the_play_order() {
        let at = |n, cents, domain, slot| Offer {
            slot,
            ..offer(n, cents, 15, domain)
        };
        // Two bids that each want the first slot: only the better one plays.
        let offers = [
            at(0, 500, "a.com", FIRST),
            at(1, 400, "b.com", FIRST),
            at(2, 100, "c.com", 0),
        ];
        assert_eq!(fill(&pod(3, 45), &offers, &all(&offers)), [0, 2]);
        // A cheaper bid for the last slot plays last; one for first or last takes the front.
        let offers = [
            at(0, 100, "a.com", LAST),
            at(1, 900, "b.com", 0),
            at(2, 50, "c.com", FIRST_OR_LAST),
        ];
        assert_eq!(fill(&pod(3, 45), &offers, &all(&offers)), [2, 1, 0]);
    }

    #[test]
    fn a_sponsorship_is_in_the_pod_whatever_the_open_bids_pay_and_house_only_fills() {
        let ranked = |n, cents, domain, rank| Offer {
            rank,
            ..offer(n, cents, 30, domain)
        };
        let offers = [
            ranked(0, 900, "a.com", 1),
            ranked(1, 800, "b.com", 1),
            ranked(2, 100, "sponsor.com", 3),
            ranked(3, 0, "house.com", 0),
        ];
        assert_eq!(
            fill(&pod(2, 60), &offers, &all(&offers)),
            [2, 0],
            "the sponsorship first, then the best open bid"
        );
        let mut house = offers[3].clone();
        house.price = Some(Micros(1)); // what direct demand bids for a house ad
        let only_sponsor_and_house = [offers[2].clone(), house];
        assert_eq!(
            fill(&pod(2, 60), &only_sponsor_and_house, &[0, 1]),
            [0, 1],
            "house fills what is left"
        );
    }
}
