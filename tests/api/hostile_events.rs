//! Hostile conditions for billing (issue 15): an event log that cannot write, a full
//! deduplication memory, partners whose `burl` or bid id would make a token too long.

use crate::helpers::*;
use serde_json::{Value, json};

const SECRET: &str = "hostile-events-secret-0123456789abcd";
const PRICE_MICROS: f64 = 1_500_000.0;

/// A partner filling slot `s` at 1.50 with a `burl` back to itself (`/bill`).
fn partner() -> MockPartner {
    partner_with_burl(1.5, None)
}

/// A partner filling slot `s` at `price`, its `burl` back to itself padded to `len` bytes.
fn partner_with_burl(price: f64, len: Option<usize>) -> MockPartner {
    let p = mock_partner(Reply::NoBid);
    let mut burl = format!("http://{}/bill?p=${{AUCTION_PRICE}}&x=", p.addr);
    if let Some(len) = len {
        burl += &"x".repeat(len - burl.len());
    }
    p.set_reply(Reply::Json(
        json!({"id": "x", "cur": "USD", "seatbid": [{"bid": [
            {"id": "b1", "impid": "s", "price": price, "dur": 30, "burl": burl,
             "adm": "https://cdn.brand.com/a.mp3"}
        ]}]}),
    ));
    p
}

/// Config for partners (id, mock) filling one audio placement, plus `extra`.
fn gateway(partners: &[(&str, &MockPartner)], extra: &str) -> String {
    let list: Vec<_> = partners
        .iter()
        .map(|(id, p)| (*id, p.endpoint(), 200))
        .collect();
    let mut cfg = config("", &list);
    for (_, p) in partners {
        cfg = with_partner_lines(
            cfg,
            &p.endpoint(),
            "notices = { allow_private = true }\nvendor_id = 37",
        );
    }
    cfg + &format!(
        "\n[[placements]]\nid = \"a\"\nformat = \"audio\"\n\n[events]\nsecrets = [\"{SECRET}\"]\n{extra}\n"
    )
}

/// A new ad for slot `s`: the slot as answered.
async fn ad(app: &TestApp) -> Value {
    let out = app
        .ads_json(&ad_request(json!([{"id": "s", "placement": "a"}])))
        .await;
    out["slots"][0].clone()
}

/// The impression URL of a new ad.
async fn impression(app: &TestApp) -> String {
    let slot = ad(app).await;
    slot["ads"][0]["tracking"]["impression"]
        .as_str()
        .unwrap_or_else(|| panic!("a filled slot: {slot}"))
        .to_string()
}

async fn billed(app: &TestApp, partner: &str) -> f64 {
    app.metric(&format!(
        r#"bidgate_billed_micros_total{{partner="{partner}",currency="USD"}}"#
    ))
    .await
    .unwrap_or(0.0)
}

async fn events(app: &TestApp, result: &str) -> f64 {
    app.metric(&format!(
        r#"bidgate_events_total{{kind="impression",result="{result}"}}"#
    ))
    .await
    .unwrap_or(0.0)
}

#[tokio::test]
async fn an_impression_whose_record_is_lost_gets_a_503_and_bills_only_on_retry() {
    let dir = std::env::temp_dir().join(format!("bidgate-lost-log-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let p = partner();
    let log = format!(
        "\n[event_log]\ndir = \"{}\"\nfsync = \"always\"\n",
        dir.display()
    );
    let app = spawn_app(&gateway(&[("lost-log", &p)], &log)).await;
    // The log's directory turns into a file: nothing can be opened in it, root or not.
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::write(&dir, "not a directory").unwrap();

    let imp = impression(&app).await;
    let refused = app.get(&imp).await;
    assert_eq!(refused.status(), 503, "not recorded, not acknowledged");
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(events(&app, "not_recorded").await, 1.0);
    assert_eq!(billed(&app, "lost-log").await, 0.0, "not billed either");

    // The disk is back: the app's retry is the impression that counts, once.
    std::fs::remove_file(&dir).unwrap();
    std::fs::create_dir(&dir).unwrap();
    assert_eq!(app.get(&imp).await.status(), 204);
    assert_eq!(app.get(&imp).await.status(), 204);
    assert_eq!(billed(&app, "lost-log").await, PRICE_MICROS);
    app.wait_for_metric(
        r#"bidgate_notices_total{kind="billing",partner="lost-log",result="ok"}"#,
        |v| v >= 1.0,
    )
    .await;
    assert_eq!(p.paths("/bill").len(), 1, "one billing notice");
    let lines = std::fs::read_dir(&dir)
        .unwrap()
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .collect::<String>();
    let results: Vec<String> = lines
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["type"] == "event")
        .map(|r| r["result"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(results, ["billed", "duplicate"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_full_dedup_memory_refuses_new_impressions_and_never_bills_one_twice() {
    let p = partner();
    let app = spawn_app(&gateway(&[("dedup-full", &p)], "dedup_capacity = 2")).await;
    let mut urls = Vec::new();
    for _ in 0..6 {
        urls.push(impression(&app).await);
    }
    let mut first = Vec::new();
    for url in &urls {
        let r = app.get(url).await;
        if r.status() == 503 {
            assert!(r.headers().contains_key("retry-after"));
        }
        first.push(r.status().as_u16());
    }
    // Time for the cache's housekeeping (where a size-bound cache evicts), and every
    // impression again: the oldest is still remembered, whatever came after it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for url in &urls[1..] {
        app.get(url).await;
    }
    let replay = app.get(&urls[0]).await.status();
    let accepted = first.iter().filter(|s| **s == 204).count() as f64;
    assert_eq!(
        billed(&app, "dedup-full").await,
        accepted * PRICE_MICROS,
        "the replay of the oldest impression billed again"
    );
    assert_eq!(replay, 204);
    assert_eq!(
        first,
        [204, 204, 503, 503, 503, 503],
        "full: refused, not billed"
    );
    assert_eq!(events(&app, "dedup_full").await, 8.0);
    assert_eq!(events(&app, "duplicate").await, 2.0);
}

/// A 3 KB `burl` would make tracking URLs that verification refuses (an ad delivered, never
/// billed): that bid is refused at screening, and the longest `burl` accepted bills.
#[tokio::test]
async fn a_bid_whose_burl_no_token_can_carry_loses_and_the_longest_accepted_one_bills() {
    let long = partner_with_burl(2.0, Some(3000));
    let longest = partner_with_burl(1.5, Some(bidgate::vocab::MAX_BURL_BYTES));
    let app = spawn_app(&gateway(
        &[("burl-long", &long), ("burl-max", &longest)],
        "",
    ))
    .await;
    let slot = ad(&app).await;
    assert_eq!(slot["ads"][0]["seat"], "burl-max", "{slot}");
    let imp = slot["ads"][0]["tracking"]["impression"].as_str().unwrap();
    assert_eq!(
        app.get(imp).await.status(),
        204,
        "the tracking URL verifies"
    );
    assert_eq!(billed(&app, "burl-max").await, PRICE_MICROS);
    app.wait_for_metric(
        r#"bidgate_notices_total{kind="billing",partner="burl-max",result="ok"}"#,
        |v| v >= 1.0,
    )
    .await;
    assert_eq!(longest.paths("/bill").len(), 1);
    assert_eq!(
        app.metric(r#"bidgate_bids_rejected_total{partner="burl-long",code="319"}"#)
            .await,
        Some(1.0)
    );
}
