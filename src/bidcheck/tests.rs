use super::*;
use crate::currency::Rate;
use std::collections::HashMap;

fn rules(request: Value) -> RequestRules {
    let rates = Rates::new(
        "USD",
        HashMap::from([("EUR".into(), Rate::from_f64(2.0).unwrap())]),
    );
    RequestRules::of(&serde_json::from_value(request).unwrap(), &rates)
}

fn bid(extra: Value) -> Bid {
    let mut b = serde_json::json!({"id": "b", "impid": "1", "price": 1.0});
    b.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::from_value(b).unwrap()
}

fn req(imp: Value, top: Value) -> Value {
    let mut r = serde_json::json!({"id": "r", "imp": [imp]});
    r.as_object_mut()
        .unwrap()
        .extend(top.as_object().unwrap().clone());
    r
}

use serde_json::json;

#[test]
fn blocked_advertisers_and_categories_are_refused() {
    let r = rules(req(
        json!({"id": "1", "banner": {}}),
        json!({"badv": ["Bad.com"], "bcat": ["IAB25"]}),
    ));
    assert_eq!(
        r.check(0, &bid(json!({"adomain": ["bad.com"]})), None, false),
        Err(Rejection::BlockedAdvertiser("bad.com".into()))
    );
    assert_eq!(
        r.check(0, &bid(json!({"adomain": ["shop.bad.com"]})), None, false),
        Err(Rejection::BlockedAdvertiser("shop.bad.com".into()))
    );
    assert_eq!(
        r.check(0, &bid(json!({"cat": ["IAB25-3"]})), None, false),
        Err(Rejection::BlockedCategory("iab25-3".into()))
    );
    assert!(
        r.check(
            0,
            &bid(json!({"adomain": ["notbad.com"], "cat": ["IAB2"]})),
            None,
            false
        )
        .is_ok()
    );
}

#[test]
fn media_type_and_duration_must_fit_the_imp() {
    let r = rules(req(
        json!({"id": "1", "audio": {"mimes": ["audio/mpeg"], "minduration": 15, "maxduration": 30}}),
        json!({}),
    ));
    assert!(
        r.check(0, &bid(json!({"dur": 30})), None, false).is_ok(),
        "single media type implied"
    );
    assert_eq!(
        r.check(0, &bid(json!({"mtype": 1})), None, false),
        Err(Rejection::MediaType(1))
    );
    assert_eq!(
        r.check(0, &bid(json!({"mtype": 3, "dur": 60})), None, false),
        Err(Rejection::Duration(60))
    );
    let exact = rules(req(
        json!({"id": "1", "video": {"mimes": ["video/mp4"], "rqddurs": [15, 30]}, "banner": {}}),
        json!({}),
    ));
    assert!(
        exact
            .check(0, &bid(json!({"mtype": 2, "dur": 15})), None, false)
            .is_ok()
    );
    assert_eq!(
        exact.check(0, &bid(json!({"mtype": 2, "dur": 20})), None, false),
        Err(Rejection::Duration(20))
    );
    assert!(
        exact.check(0, &bid(json!({})), None, false).is_ok(),
        "two media types and no mtype: nothing to check"
    );
}

#[test]
fn seats_are_allowed_or_blocked() {
    let w = rules(req(
        json!({"id": "1", "banner": {}}),
        json!({"wseat": ["seat-1"]}),
    ));
    assert!(w.check(0, &bid(json!({})), Some("seat-1"), false).is_ok());
    assert_eq!(
        w.check(0, &bid(json!({})), Some("seat-2"), false),
        Err(Rejection::SeatBlocked("seat-2".into()))
    );
    assert!(
        w.check(0, &bid(json!({})), None, false).is_err(),
        "an unnamed seat is not on the allow list"
    );
    let b = rules(req(
        json!({"id": "1", "banner": {}}),
        json!({"bseat": ["seat-2"]}),
    ));
    assert!(b.check(0, &bid(json!({})), None, false).is_ok());
    assert!(b.check(0, &bid(json!({})), Some("SEAT-2"), false).is_err());
}

#[test]
fn deal_bids_name_a_deal_of_the_imp_and_take_its_floor_in_its_currency() {
    let imp = json!({"id": "1", "banner": {}, "bidfloor": 0.5, "pmp": {"private_auction": 1, "deals": [
        {"id": "d-eur", "bidfloor": 1.5, "bidfloorcur": "EUR"},
        {"id": "d-usd", "bidfloor": 2.0, "wseat": ["vip"]},
        {"id": "d-yen", "bidfloor": 100, "bidfloorcur": "JPY"}
    ]}});
    let r = rules(req(imp, json!({})));
    assert_eq!(
        r.check(0, &bid(json!({"dealid": "d-eur"})), None, false),
        Ok(Accepted {
            deal_floor: Some(Micros(3_000_000)),
            is_deal: true
        }),
        "1.5 EUR at 2.0 = 3.00 in the auction currency; not the imp's floor"
    );
    assert_eq!(
        r.check(0, &bid(json!({"dealid": "nope"})), None, false),
        Err(Rejection::UnknownDeal("nope".into()))
    );
    assert!(
        r.check(0, &bid(json!({"dealid": "d-usd"})), Some("other"), false)
            .is_err(),
        "deal wseat"
    );
    assert!(
        r.check(0, &bid(json!({"dealid": "d-usd"})), Some("vip"), false)
            .is_ok()
    );
    assert!(
        r.check(0, &bid(json!({"dealid": "d-yen"})), None, false)
            .is_err(),
        "no rate: cannot meet it"
    );
    assert_eq!(
        r.check(0, &bid(json!({})), None, false),
        Err(Rejection::NotADeal),
        "private auction"
    );
}

#[test]
fn a_deal_the_request_did_not_offer_is_an_open_market_bid_unless_strict() {
    let open = Accepted {
        deal_floor: None,
        is_deal: false,
    };
    let imp = json!({"id": "1", "banner": {}, "pmp": {"deals": [{"id": "d1", "bidfloor": 2.0}]}});
    let r = rules(req(imp, json!({})));
    let exchange_side = bid(json!({"dealid": "theirs"}));
    assert_eq!(r.check(0, &exchange_side, None, false), Ok(open));
    assert_eq!(
        r.check(0, &exchange_side, None, true),
        Err(Rejection::UnknownDeal("theirs".into())),
        "strict_deals"
    );
    assert!(
        r.check(0, &bid(json!({"dealid": "d1"})), None, false)
            .is_ok_and(|a| a.is_deal)
    );
    let no_pmp = rules(req(json!({"id": "1", "banner": {}}), json!({})));
    assert_eq!(no_pmp.check(0, &exchange_side, None, false), Ok(open));
}
