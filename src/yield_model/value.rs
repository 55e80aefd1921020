//! What each partner's answer was worth in one auction, from its result (pure: prices in,
//! margins out): by how much its best bid on each imp beat the best other partner's (all of
//! it where nobody else bid), and what a shadow partner's bids would have changed.

use crate::money::Micros;
use std::collections::HashMap;

/// One valid bid as the auction ranked it: who (a slot in the caller's list of partners),
/// which imp, and its price in the auction currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priced {
    pub partner: usize,
    pub imp: usize,
    pub price: Micros,
}

/// Per partner slot (`0..partners`), the sum over imps of its best bid's margin over the
/// best bid of any other partner.
pub fn margins(bids: &[Priced], partners: usize) -> Vec<u64> {
    // Per imp: the best (partner, price) and the best price of a different partner.
    let mut top: HashMap<usize, ((usize, i64), i64)> = HashMap::new();
    for b in bids {
        let p = b.price.0;
        match top.get_mut(&b.imp) {
            None => {
                top.insert(b.imp, ((b.partner, p), 0));
            }
            Some(((who, best), second)) => {
                if *who == b.partner {
                    *best = (*best).max(p);
                } else if p > *best {
                    *second = *best;
                    (*who, *best) = (b.partner, p);
                } else {
                    *second = (*second).max(p);
                }
            }
        }
    }
    let mut out = vec![0u64; partners];
    for ((who, best), second) in top.into_values() {
        if let Some(m) = out.get_mut(who) {
            *m += best.saturating_sub(second).max(0) as u64;
        }
    }
    out
}

/// What a shadow partner's valid bids (`bids`, its own only) would have added: per imp its
/// best bid against what the imp made (`made(imp)`: the winner's clearing price, or `None`
/// where nothing won) and the imp's floor. Returns (would it have won anything, the sum of
/// what it would have added).
pub fn shadow_delta(
    bids: &[Priced],
    made: impl Fn(usize) -> Option<Micros>,
    floor: impl Fn(usize) -> Micros,
) -> (bool, u64) {
    let mut best: HashMap<usize, i64> = HashMap::new();
    for b in bids {
        let e = best.entry(b.imp).or_insert(i64::MIN);
        *e = (*e).max(b.price.0);
    }
    let mut won = false;
    let mut delta = 0u64;
    for (imp, price) in best {
        let beaten = match made(imp) {
            Some(m) => m.0,
            None if price >= floor(imp).0 => 0,
            None => continue,
        };
        if price > beaten {
            won = true;
            delta += (price - beaten) as u64;
        }
    }
    (won, delta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(partner: usize, imp: usize, price: i64) -> Priced {
        Priced {
            partner,
            imp,
            price: Micros(price),
        }
    }

    #[test]
    fn margins_are_over_the_best_other_partner() {
        let bids = [
            b(0, 0, 100),
            b(1, 0, 250),
            b(1, 0, 90),
            b(2, 0, 200),
            b(2, 1, 40),
        ];
        // imp 0: partner 1 beats partner 2 by 50; imp 1: partner 2 alone, all of its 40.
        assert_eq!(margins(&bids, 3), vec![0, 50, 40]);
        // Two bids of one partner do not make a margin over itself.
        assert_eq!(margins(&[b(0, 0, 10), b(0, 0, 30)], 1), vec![30]);
        assert_eq!(
            margins(&[b(0, 0, 30), b(1, 0, 30)], 2),
            vec![0, 0],
            "a tie adds nothing"
        );
    }

    #[test]
    fn a_shadow_bid_counts_where_it_beats_the_winner_or_the_floor() {
        let made = |imp| (imp == 0).then_some(Micros(100));
        let floor = |_| Micros(50);
        assert_eq!(shadow_delta(&[b(9, 0, 130)], made, floor), (true, 30));
        assert_eq!(shadow_delta(&[b(9, 0, 90)], made, floor), (false, 0));
        assert_eq!(
            shadow_delta(&[b(9, 1, 60)], made, floor),
            (true, 60),
            "unfilled imp"
        );
        assert_eq!(
            shadow_delta(&[b(9, 1, 40)], made, floor),
            (false, 0),
            "below floor"
        );
    }
}
