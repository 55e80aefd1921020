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
    }
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
