use super::*;
use proptest::prelude::*;

const USD: &str = "USD";

fn key(response: usize, bid: usize) -> BidKey {
    BidKey {
        response,
        seatbid: 0,
        bid,
    }
}

fn offer(partner: usize, impid: &'static str, cents: i64) -> Offer<'static> {
    Offer {
        key: key(partner, 0),
        bid_id: "b",
        impid,
        price: Some(Micros(cents * 10_000)),
        currency: USD,
        dur_s: None,
        adomain: None,
        refused: None,
        deal_floor: None,
        rank: 1,
        fixed: false,
        slot: 0,
    }
}

fn rules(pricing: PriceRule) -> Rules<'static> {
    Rules {
        currency: USD,
        pricing,
    }
}

const SECOND: PriceRule = PriceRule::Second {
    increment: Micros(10_000),
};

#[test]
fn first_price_highest_wins_at_its_bid() {
    let imps = [ImpFloor {
        id: "1",
        floor: Micros(0),
        pod: None,
    }];
    let offers = [offer(0, "1", 150), offer(1, "1", 320), offer(2, "1", 275)];
    let out = run(&imps, &offers, rules(PriceRule::First));
    assert_eq!(out.wins.len(), 1);
    assert_eq!(out.wins[0].key.response, 1);
    assert_eq!(out.wins[0].clearing, Micros(3_200_000));
    assert!(out.rejected.is_empty());
}

#[test]
fn second_price_is_runner_up_plus_increment() {
    let imps = [ImpFloor {
        id: "1",
        floor: Micros(1_000_000),
        pod: None,
    }];
    let offers = [offer(0, "1", 150), offer(1, "1", 320), offer(2, "1", 275)];
    let out = run(&imps, &offers, rules(SECOND));
    assert_eq!(out.wins[0].key.response, 1);
    assert_eq!(out.wins[0].clearing, Micros(2_760_000));
}

#[test]
fn second_price_alone_clears_at_floor_plus_increment() {
    let imps = [ImpFloor {
        id: "1",
        floor: Micros(2_000_000),
        pod: None,
    }];
    let out = run(&imps, &[offer(0, "1", 500)], rules(SECOND));
    assert_eq!(out.wins[0].clearing, Micros(2_010_000));
}

#[test]
fn second_price_never_exceeds_the_bid() {
    let imps = [ImpFloor {
        id: "1",
        floor: Micros(0),
        pod: None,
    }];
    let out = run(
        &imps,
        &[offer(0, "1", 300), offer(1, "1", 300)],
        rules(SECOND),
    );
    assert_eq!(
        out.wins[0].key.response, 0,
        "tie goes to the earlier arrival"
    );
    assert_eq!(out.wins[0].clearing, Micros(3_000_000));
}

#[test]
fn screens_bad_bids() {
    let imps = [ImpFloor {
        id: "1",
        floor: Micros(1_000_000),
        pod: None,
    }];
    let mut nan = offer(0, "1", 100);
    nan.price = None;
    let mut eur = offer(1, "1", 900);
    eur.currency = "EUR";
    let mut anonymous = offer(2, "1", 900);
    anonymous.bid_id = "";
    let offers = [
        nan,
        eur,
        anonymous,
        offer(3, "9", 900),
        offer(4, "1", -5),
        offer(5, "1", 99),
        offer(6, "1", 100),
    ];
    let out = run(&imps, &offers, rules(PriceRule::First));
    let codes: Vec<u32> = out.rejected.iter().map(|(_, r)| r.code()).collect();
    assert_eq!(codes, [303, 305, 301, 302, 303, 304]);
    assert_eq!(
        out.wins[0].key.response, 6,
        "a bid equal to the floor is valid"
    );
}

#[test]
fn each_imp_has_its_own_auction() {
    let imps = [
        ImpFloor {
            id: "a",
            floor: Micros(0),
            pod: None,
        },
        ImpFloor {
            id: "b",
            floor: Micros(0),
            pod: None,
        },
        ImpFloor {
            id: "c",
            floor: Micros(0),
            pod: None,
        },
    ];
    let offers = [offer(0, "b", 100), offer(1, "a", 200), offer(2, "b", 300)];
    let out = run(&imps, &offers, rules(PriceRule::First));
    let wins: Vec<(usize, usize)> = out.wins.iter().map(|w| (w.imp, w.key.response)).collect();
    assert_eq!(wins, [(0, 1), (1, 2)], "imp c has no bid and no win");
}

proptest! {
    #[test]
    fn clearing_price_stays_between_floor_and_bid(
        prices in prop::collection::vec(1i64..5_000_000_000, 1..12),
        floor in 0i64..3_000_000_000,
        increment in 0i64..1_000_000,
        second in any::<bool>(),
    ) {
        let imps = [ImpFloor { id: "1", floor: Micros(floor), pod: None }];
        let offers: Vec<Offer> = prices.iter().enumerate().map(|(i, p)| Offer {
            key: key(i, 0), bid_id: "x", impid: "1", price: Some(Micros(*p)), currency: USD, dur_s: None, adomain: None, refused: None,
        deal_floor: None,
        rank: 1,
        fixed: false,
        slot: 0,
        }).collect();
        let pricing = if second { PriceRule::Second { increment: Micros(increment) } } else { PriceRule::First };
        let out = run(&imps, &offers, rules(pricing));
        let valid: Vec<(usize, i64)> = prices.iter().copied().enumerate().filter(|(_, p)| *p >= floor).collect();
        match valid.iter().map(|(_, p)| *p).max() {
            None => prop_assert!(out.wins.is_empty()),
            Some(top) => {
                let win = out.wins[0];
                prop_assert_eq!(win.bid_price, Micros(top));
                let first_at_top = valid.iter().find(|(_, p)| *p == top).unwrap().0;
                prop_assert_eq!(win.key.response, first_at_top);
                prop_assert!(win.clearing <= win.bid_price);
                prop_assert!(win.clearing >= Micros(floor));
                // The exact rule: first price pays the bid; second price pays
                // min(max(runner-up, floor) + increment, bid).
                let mut rest: Vec<i64> = valid.iter().map(|(_, p)| *p).collect();
                rest.remove(rest.iter().position(|p| *p == top).unwrap());
                let runner_up = rest.into_iter().max().unwrap_or(0);
                let want = if second { (runner_up.max(floor) + increment).min(top) } else { top };
                prop_assert_eq!(win.clearing, Micros(want));
            }
        }
        prop_assert_eq!(out.rejected.len(), prices.len() - valid.len());
    }
}

#[test]
fn a_preferred_deal_beats_any_open_price_and_clears_against_its_own_rank() {
    let imps = [ImpFloor {
        id: "1",
        floor: Micros(500_000),
        pod: None,
    }];
    let mut deal = offer(0, "1", 200);
    deal.rank = 2;
    deal.deal_floor = Some(Micros(1_500_000));
    let offers = [offer(1, "1", 500), deal, offer(2, "1", 450)];
    let out = run(&imps, &offers, rules(SECOND));
    assert_eq!(out.wins.len(), 1);
    assert_eq!(
        out.wins[0].key.response, 0,
        "the deal wins at 2.00 over 5.00 open"
    );
    // No other deal bid: the deal's floor (not the open bids) sets the second price.
    assert_eq!(out.wins[0].clearing, Micros(1_510_000));
}

#[test]
fn a_deal_bid_must_meet_the_deals_floor_not_the_imps() {
    let imps = [ImpFloor {
        id: "1",
        floor: Micros(500_000),
        pod: None,
    }];
    let mut deal = offer(0, "1", 100);
    deal.deal_floor = Some(Micros(1_500_000));
    let mut cheap_deal = offer(1, "1", 40);
    cheap_deal.deal_floor = Some(Micros(300_000));
    let out = run(&imps, &[deal, cheap_deal], rules(PriceRule::First));
    assert_eq!(
        out.rejected[0].1,
        Rejection::BelowDealFloor {
            price: Micros(1_000_000),
            floor: Micros(1_500_000)
        }
    );
    assert_eq!(
        out.wins[0].key.response, 1,
        "0.40 meets its deal's 0.30 though the imp floor is 0.50"
    );
}

#[test]
fn a_refused_offer_never_wins() {
    let imps = [ImpFloor {
        id: "1",
        floor: Micros(0),
        pod: None,
    }];
    let mut blocked = offer(0, "1", 900);
    blocked.refused = Some(Rejection::BlockedAdvertiser("bad.com".into()));
    let out = run(
        &imps,
        &[blocked, offer(1, "1", 100)],
        rules(PriceRule::First),
    );
    assert_eq!(out.wins[0].key.response, 1);
    assert_eq!(out.rejected[0].1.code(), 310);
}

#[test]
fn fixed_price_direct_ads_ignore_the_floor() {
    let imps = [ImpFloor {
        id: "1",
        floor: Micros(2_000_000),
        pod: None,
    }];
    let mut sponsorship = offer(0, "1", 100);
    sponsorship.rank = 3;
    sponsorship.fixed = true;
    let out = run(&imps, &[offer(1, "1", 150), sponsorship], rules(SECOND));
    assert_eq!(out.wins[0].key.response, 0);
    assert_eq!(
        out.wins[0].clearing,
        Micros(1_000_000),
        "pays its own price"
    );
    assert_eq!(
        out.rejected[0].1.code(),
        304,
        "the open bid is still below the floor"
    );
}
