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
    assert!(
        w.check(0, &bid(json!({})), Some(" Seat-1 "), false).is_ok(),
        "seats compare trimmed, in any case"
    );
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
    assert_eq!(
        b.check(0, &bid(json!({})), Some(" SEAT-2"), false),
        Err(Rejection::SeatBlocked("seat-2".into()))
    );
    assert!(b.check(0, &bid(json!({})), Some("seat-22"), false).is_ok());
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
            is_deal: true,
            dur_floor: None,
            fixed_price: false,
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
    let open = Accepted::OPEN;
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

/// The creative's own rules, one row each: (request fields, imp, bid fields, expected).
#[test]
fn bapp_acat_languages_and_battr_are_enforced() {
    let banner = json!({"id": "1", "banner": {"battr": [1, 3]}});
    let multi = json!({"id": "1", "banner": {"battr": [1]}, "video": {"mimes": ["video/mp4"], "battr": [6]}});
    let rows: Vec<(Value, Value, Value, Result<(), Rejection>)> = vec![
        (
            json!({"bapp": ["com.Bad.app"]}),
            banner.clone(),
            json!({"bundle": "com.bad.app"}),
            Err(Rejection::BlockedApp("com.bad.app".into())),
        ),
        (
            json!({"bapp": ["com.bad.app"]}),
            banner.clone(),
            json!({"bundle": "com.good.app"}),
            Ok(()),
        ),
        (
            json!({"acat": ["IAB2"]}),
            banner.clone(),
            json!({"cat": ["IAB2-3"]}),
            Ok(()),
        ),
        (
            json!({"acat": ["IAB2"]}),
            banner.clone(),
            json!({"cat": ["IAB7", "IAB2"]}),
            Ok(()),
        ),
        (
            json!({"acat": ["IAB2"]}),
            banner.clone(),
            json!({"cat": ["IAB7-1"]}),
            Err(Rejection::CategoryNotAllowed("IAB7-1".into())),
        ),
        (json!({"acat": ["IAB2"]}), banner.clone(), json!({}), Ok(())),
        (
            json!({"wlang": ["en", "de"]}),
            banner.clone(),
            json!({"language": "fr"}),
            Err(Rejection::Language("fr".into())),
        ),
        (
            json!({"wlang": ["en", "de"]}),
            banner.clone(),
            json!({"language": "DE"}),
            Ok(()),
        ),
        (
            json!({"wlangb": ["en-GB"]}),
            banner.clone(),
            json!({"langb": "en-US"}),
            Err(Rejection::Language("en-US".into())),
        ),
        (
            json!({"wlangb": ["en-GB"]}),
            banner.clone(),
            json!({"langb": "en-gb"}),
            Ok(()),
        ),
        (json!({"wlang": ["en"]}), banner.clone(), json!({}), Ok(())),
        (
            json!({}),
            banner.clone(),
            json!({"attr": [2, 3]}),
            Err(Rejection::BlockedAttribute(3)),
        ),
        (json!({}), banner.clone(), json!({"attr": [2]}), Ok(())),
        (
            json!({}),
            multi.clone(),
            json!({"mtype": 1, "attr": [6]}),
            Ok(()),
        ),
        (
            json!({}),
            multi.clone(),
            json!({"mtype": 2, "attr": [6]}),
            Err(Rejection::BlockedAttribute(6)),
        ),
        (
            json!({}),
            multi,
            json!({"attr": [6]}),
            Err(Rejection::BlockedAttribute(6)),
        ),
    ];
    for (top, imp, fields, want) in rows {
        let r = rules(req(imp.clone(), top.clone()));
        let got = r.check(0, &bid(fields.clone()), None, false).map(|_| ());
        assert_eq!(got, want, "request {top} imp {imp} bid {fields}");
    }
}

#[test]
fn duration_floors_apply_to_open_video_bids_in_the_imps_currency() {
    // Floors in EUR (rate 2.0): 0.10 EUR per second; 15 s and under 1 EUR, 16–30 s 4 EUR.
    let imp = json!({"id": "1", "bidfloorcur": "EUR", "video": {"mimes": ["video/mp4"],
        "mincpmpersec": 0.1,
        "durfloors": [{"maxdur": 15, "bidfloor": 1.0}, {"mindur": 16, "maxdur": 30, "bidfloor": 4.0}]}});
    let r = rules(req(imp, json!({})));
    let floor = |dur: u64| {
        r.check(0, &bid(json!({"dur": dur})), None, false)
            .unwrap()
            .dur_floor
    };
    assert_eq!(floor(10), Some(Micros(2_000_000)), "1 EUR beats 10 × 0.10");
    assert_eq!(floor(30), Some(Micros(8_000_000)), "4 EUR beats 30 × 0.10");
    assert_eq!(
        floor(60),
        Some(Micros(12_000_000)),
        "no range: 60 × 0.10 EUR"
    );
    assert_eq!(
        r.check(0, &bid(json!({})), None, false).unwrap().dur_floor,
        None,
        "no dur, no duration floor"
    );
}

#[test]
fn fixed_price_deals_and_deal_advertisers() {
    let imp = json!({"id": "1", "banner": {}, "pmp": {"deals": [
        {"id": "fixed", "bidfloor": 3.0, "at": 3},
        {"id": "brands", "bidfloor": 1.0, "wadomain": ["Brand.com"]}
    ]}});
    let r = rules(req(imp, json!({})));
    let fixed = r
        .check(0, &bid(json!({"dealid": "fixed"})), None, false)
        .unwrap();
    assert!(fixed.fixed_price && fixed.is_deal);
    assert_eq!(fixed.deal_floor, Some(Micros(3_000_000)));
    assert!(
        !r.check(
            0,
            &bid(json!({"dealid": "brands", "adomain": ["shop.brand.com"]})),
            None,
            false
        )
        .unwrap()
        .fixed_price
    );
    assert_eq!(
        r.check(
            0,
            &bid(json!({"dealid": "brands", "adomain": ["other.com"]})),
            None,
            false
        ),
        Err(Rejection::DealAdvertiser("other.com".into()))
    );
    assert_eq!(
        r.check(0, &bid(json!({"dealid": "brands"})), None, false),
        Err(Rejection::DealAdvertiser(String::new())),
        "a bid naming no advertiser cannot show it is allowed"
    );
}
