//! Direct demand's side of the seam: bookings beside bids, and impressions counted by the
//! line item the token carries (or, for tokens signed before it had a claim, the bid id).

use super::*;
use crate::internal::{Store, Syntax};

/// A line item open to everyone, with one 30 s audio spot.
fn line_item(id: &str, tier: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "campaign": "c", "tier": tier, "cpm": 1.0, "pacing": "asap",
        "advertiser": { "name": id, "domain": format!("{id}.example") },
        "click_url": format!("https://{id}.example/"),
        "flight": { "start": "2020-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z" },
        "creatives": [{ "id": "spot", "format": "audio", "duration_s": 30, "mime": "audio/mpeg",
                        "media_url": format!("https://cdn.example/{id}.mp3") }]
    })
}

/// 2026-11-26T12:00:00Z.
const NOW: u64 = 1_795_694_400;

fn direct() -> Direct {
    Direct {
        index: Index::build(
            Catalog::parse(
                &serde_json::json!({
                    "campaigns": [{ "id": "c", "name": "C" }],
                    "line_items": [line_item("sponsor", "sponsorship"), line_item("house", "house")]
                })
                .to_string(),
                Syntax::Json,
            )
            .unwrap(),
        ),
        store: Default::default(),
        shared: crate::store::Shared::memory(),
        currency: "EUR".into(),
        rates: eur_rates(),
    }
}

/// The auction currency EUR: 1 USD = 0.9 EUR, 1 JPY = 0.006 EUR.
fn eur_rates() -> Arc<crate::currency::Rates> {
    let rate = |r| crate::currency::Rate::from_f64(r).unwrap();
    let configured = [
        ("USD".to_string(), rate(0.9)),
        ("JPY".to_string(), rate(0.006)),
    ];
    Arc::new(crate::currency::Rates::new("EUR", configured.into()))
}

fn request() -> BidRequest {
    serde_json::from_value(serde_json::json!({"id": "r", "imp": [
        {"id": "1", "audio": {"mimes": ["audio/mpeg"], "maxseq": 2}},
        {"id": "2", "audio": {"mimes": ["audio/mpeg"]}}]}))
    .unwrap()
}

#[test]
fn every_bid_is_booked_with_its_tier_and_line_item() {
    let d = direct();
    let (outcome, booked) = d.answer(&request(), &[], None, NOW);
    let Outcome::Bid(resp) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(resp.cur.as_deref(), Some("EUR"));
    let bids = &resp.seatbid[0].bid;
    assert_eq!(bids.len(), 3, "a pod of two, then one");
    let expected = [
        ("1", Tier::Sponsorship, "sponsor", 3),
        ("1", Tier::House, "house", 0),
        ("2", Tier::Sponsorship, "sponsor", 3),
    ];
    for (n, (imp, tier, line_item, rank)) in expected.into_iter().enumerate() {
        let booking = booked.get(0, n).unwrap();
        assert_eq!(bids[n].impid, imp);
        assert_eq!(
            (booking.tier, booking.line_item.as_str()),
            (tier, line_item)
        );
        assert_eq!(booking.rank(), rank);
    }
    assert_eq!(booked.get(0, 3), None);
    assert_eq!(booked.get(1, 0), None, "one seat");
    // Only the imps offered are answered.
    let (_, booked) = d.answer(&request(), &[false, true], None, NOW);
    assert_eq!(booked.0.len(), 1);
}

#[test]
fn an_impression_counts_for_the_line_item_its_token_names() {
    let d = direct();
    let impression = |line_item, bid_id| Impression {
        line_item,
        bid_id,
        user_key: Some("listener"),
        price: Micros(1_000),
        now_unix: NOW,
    };
    d.on_impression(&impression(Some("house"), "whatever"));
    // A token signed before the line item had a claim: read from the bid id.
    d.on_impression(&impression(None, "house~0"));
    d.on_impression(&impression(None, "sponsor~1"));
    assert_eq!(d.store.delivered("house", None).impressions, 2);
    assert_eq!(d.store.delivered("sponsor", None).impressions, 1);
}

#[test]
fn the_floor_is_converted_from_its_own_currency_before_it_filters() {
    // One standard line item at 1.00 EUR: the only tier that meets floors.
    let d = Direct {
        index: Index::build(
            Catalog::parse(
                &serde_json::json!({
                    "campaigns": [{ "id": "c", "name": "C" }],
                    "line_items": [line_item("std", "standard")]
                })
                .to_string(),
                Syntax::Json,
            )
            .unwrap(),
        ),
        ..direct()
    };
    let bids = |floor: serde_json::Value| {
        let mut imp = serde_json::json!({"id": "1", "audio": {"mimes": ["audio/mpeg"]}});
        imp.as_object_mut()
            .unwrap()
            .extend(floor.as_object().unwrap().clone());
        let r: BidRequest =
            serde_json::from_value(serde_json::json!({"id": "r", "imp": [imp]})).unwrap();
        matches!(d.answer(&r, &[], None, NOW).0, Outcome::Bid(_))
    };
    use serde_json::json;
    assert!(bids(json!({})), "no floor");
    assert!(bids(json!({"bidfloor": 1.0, "bidfloorcur": "EUR"})));
    assert!(!bids(json!({"bidfloor": 1.01, "bidfloorcur": "EUR"})));
    // 1.05 USD is 0.945 EUR: below the line item's price.
    assert!(bids(json!({"bidfloor": 1.05, "bidfloorcur": "USD"})));
    // Without bidfloorcur the floor is in USD (OpenRTB), not the auction currency: 1.2 USD
    // is 1.08 EUR.
    assert!(!bids(json!({"bidfloor": 1.2})));
    assert!(bids(json!({"bidfloor": 1.1})), "1.1 USD = 0.99 EUR");
    // 100 JPY = 0.60 EUR.
    assert!(bids(json!({"bidfloor": 100, "bidfloorcur": "JPY"})));
    // No rate: never sold below a floor it cannot read.
    assert!(!bids(json!({"bidfloor": 0.01, "bidfloorcur": "GBP"})));
}
