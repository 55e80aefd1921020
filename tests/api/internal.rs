//! Internal demand in the real auction: a sponsorship beats a high external bid, a standard
//! line item loses to a higher one, it shows up as the partner `internal` (seat `direct`) in
//! metrics and `ext.responsetimemillis`, its frequency cap counts impression events (not
//! wins), and the catalog reloads when its file changes.

use crate::helpers::*;
use serde_json::{Value, json};
use std::time::Duration;

const CATALOG: &str = r#"
[[campaigns]]
id = "c1"
name = "Test campaigns"

[[line_items]]
id = "sponsor"
campaign = "c1"
advertiser = { name = "Sponsor", domain = "sponsor.example" }
click_url = "https://sponsor.example/"
flight = { start = "2020-01-01T00:00:00Z", end = "2100-01-01T00:00:00Z" }
tier = "sponsorship"
cpm = 1.0
pacing = "asap"
frequency_caps = [{ max = 1, period_s = 86400 }]
targeting = { countries = ["SWE"], content = ["music"], placements = ["sponsored"] }

[[line_items.creatives]]
id = "spot"
format = "audio"
media_url = "https://cdn.example/sponsor-30.mp3"
duration_s = 30
mime = "audio/mpeg"
companion = { image_url = "https://cdn.example/sponsor.jpg", w = 640, h = 640 }

[[line_items]]
id = "standard"
campaign = "c1"
advertiser = { name = "Standard", domain = "standard.example" }
click_url = "https://standard.example/"
flight = { start = "2020-01-01T00:00:00Z", end = "2100-01-01T00:00:00Z" }
tier = "standard"
cpm = 2.0
pacing = "asap"
targeting = { placements = ["open"] }

[[line_items.creatives]]
id = "spot"
format = "audio"
media_url = "https://cdn.example/standard-30.mp3"
duration_s = 30
mime = "audio/mpeg"
"#;

const PLACEMENTS: &str = r#"
[[placements]]
id = "sponsored"
format = "audio"
min_duration_s = 15
floor = 5.0
# External partners allowed here; internal demand picks placements in its catalog.
partners = ["external"]

[[placements]]
id = "open"
format = "audio"
min_duration_s = 15
"#;

/// An external partner bidding 9.00 on every imp, and the gateway with the catalog.
async fn setup(name: &str) -> (TestApp, MockPartner, ConfigFile) {
    let file = ConfigFile::new(name, "");
    let catalog = file.0.parent().unwrap().join("catalog.toml");
    std::fs::write(&catalog, CATALOG).unwrap();
    let external = mock_partner(Reply::NoBid);
    let bids: Vec<Value> = ["a", "b"]
        .iter()
        .map(|imp| json!({"id": format!("x-{imp}"), "impid": imp, "price": 9.0, "dur": 30, "adomain": ["external.example"],
                          "adm": "https://cdn.external.example/spot.mp3"}))
        .collect();
    external.set_reply(Reply::Json(
        json!({"id": "x", "cur": "USD", "seatbid": [{"bid": bids}]}),
    ));
    let cfg = config(
        "pricing = \"first_price\"",
        &[("external", external.endpoint(), 200)],
    ) + &format!(
        "\n[internal]\ncatalog = \"{}\"\n\n[events]\nsecrets = [\"internal-test-secret-0123456789abcdef\"]\n{PLACEMENTS}",
        catalog.display()
    );
    (spawn_app(&cfg).await, external, file)
}

/// An ad request for both placements from one listener (music, Sweden), without a GDPR
/// consent object: the listener's id is what frequency caps count.
async fn ads(app: &TestApp) -> Value {
    let mut body = ad_request(
        json!([{"id": "a", "placement": "sponsored"}, {"id": "b", "placement": "open"}]),
    );
    body["user"] = json!({"id": "listener-9"});
    app.ads_json(&body).await
}

#[tokio::test]
async fn a_sponsorship_beats_a_high_bid_and_a_standard_line_item_loses_to_one() {
    let (app, _external, _file) = setup("internal-tiers").await;
    let out = ads(&app).await;
    let sponsored = &out["slots"][0]["ads"][0];
    assert_eq!(sponsored["seat"], "direct", "{out}");
    assert_eq!(sponsored["adomain"], json!(["sponsor.example"]));
    assert!(
        sponsored["vast"]
            .as_str()
            .unwrap()
            .contains("cdn.example/sponsor-30.mp3")
    );
    assert_eq!(sponsored["companion"]["width"], 640);
    let open = &out["slots"][1]["ads"][0];
    assert_eq!(
        open["seat"], "external",
        "9.00 beats the standard line item's 2.00: {out}"
    );

    // The same auction through OpenRTB: `internal` is a partner like the others.
    let req = json!({"id": "r", "imp": [
        {"id": "a", "tagid": "sponsored", "audio": {"mimes": ["audio/mpeg"], "minduration": 15, "maxduration": 30, "feed": 1}}],
        "app": {"bundle": "b"}, "device": {"geo": {"country": "SWE"}}, "user": {"id": "someone-else"}});
    let body = app.auction_json(&req).await;
    assert_eq!(
        winners(&body),
        [("direct".into(), "a".into(), 1.0)],
        "a sponsorship pays its CPM"
    );
    assert!(
        body["ext"]["responsetimemillis"].get("internal").is_some(),
        "{}",
        body["ext"]
    );
    let m = app.metrics().await;
    assert!(
        metric(
            &m,
            r#"bidgate_partner_requests_total{partner="internal",outcome="bid"}"#
        )
        .unwrap()
            >= 2.0
    );
    assert!(metric(&m, r#"bidgate_wins_total{partner="internal"}"#).unwrap() >= 2.0);
}

#[tokio::test]
async fn the_frequency_cap_counts_impressions_not_wins() {
    let (app, _external, _file) = setup("internal-cap").await;
    // Two wins without an impression: the cap (1 a day) is not touched.
    let first = ads(&app).await;
    assert_eq!(first["slots"][0]["ads"][0]["seat"], "direct");
    let second = ads(&app).await;
    let ad = &second["slots"][0]["ads"][0];
    assert_eq!(ad["seat"], "direct", "a win is not an impression");
    // The listener hears it: from now on the sponsorship is capped for them.
    let imp = ad["tracking"]["impression"].as_str().unwrap();
    assert_eq!(app.get(imp).await.status(), 204);
    let third = ads(&app).await;
    assert_eq!(third["slots"][0]["ads"][0]["seat"], "external", "{third}");
}

#[tokio::test]
async fn the_catalog_reloads_when_its_file_changes() {
    let file = ConfigFile::new("internal-reload", "");
    let catalog = file.0.parent().unwrap().join("catalog.toml");
    std::fs::write(&catalog, CATALOG).unwrap();
    let external = mock_partner(Reply::NoBid);
    file.write(
        &(config("", &[("external", external.endpoint(), 200)])
            + &format!(
                "\n[internal]\ncatalog = \"{}\"\n{PLACEMENTS}",
                catalog.display()
            )),
    );
    let (mut child, app) = serve_binary(&file);
    assert_eq!(ads(&app).await["slots"][0]["ads"][0]["seat"], "direct");
    // The sponsorship ends (its flight moved into the past): written atomically, picked up
    // by the file watch without a restart or a failed request.
    let tmp = catalog.with_extension("tmp");
    std::fs::write(
        &tmp,
        CATALOG.replacen(
            "end = \"2100-01-01T00:00:00Z\"",
            "end = \"2021-01-01T00:00:00Z\"",
            1,
        ),
    )
    .unwrap();
    std::fs::rename(&tmp, &catalog).unwrap();
    let started = std::time::Instant::now();
    loop {
        let out = ads(&app).await;
        if out["slots"][0]["filled"] == false {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the catalog was not reloaded: {out}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    send_signal(&child, "TERM");
    let _ = child.wait();
}

/// The line item example in `docs/internal-demand.md` is a valid catalog entry.
#[test]
fn the_readme_example_line_item_loads() {
    let readme = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/internal-demand.md"
    ))
    .unwrap();
    let start = readme.find("```toml\n[[line_items]]").expect("the example") + "```toml\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let text = format!(
        "[[campaigns]]\nid = \"stride-winter-26\"\nname = \"x\"\n\n{}",
        &readme[start..end]
    );
    let catalog = bidgate::internal::Catalog::parse(&text, bidgate::internal::Syntax::Toml)
        .unwrap_or_else(|p| panic!("{p:?}"));
    assert_eq!(catalog.line_items().len(), 1);
}

/// With an auction currency other than USD, the catalog's CPMs are in that currency (not
/// read as USD and refused or converted).
#[tokio::test]
async fn internal_prices_are_in_the_auction_currency() {
    let file = ConfigFile::new("internal-eur", "");
    let catalog = file.0.parent().unwrap().join("catalog.toml");
    std::fs::write(&catalog, CATALOG).unwrap();
    let external = mock_partner(Reply::NoBid);
    let cfg = config(
        "pricing = \"first_price\"\ncurrency = \"EUR\"",
        &[("external", external.endpoint(), 200)],
    ) + &format!(
        "\n[internal]\ncatalog = \"{}\"\n{PLACEMENTS}",
        catalog.display()
    );
    let app = spawn_app(&cfg).await;
    let req = json!({"id": "r", "imp": [
        {"id": "a", "tagid": "sponsored", "audio": {"mimes": ["audio/mpeg"], "minduration": 15, "maxduration": 30, "feed": 1}}],
        "app": {"bundle": "b"}, "device": {"geo": {"country": "SWE"}}, "user": {"id": "u"}});
    let body = app.auction_json(&req).await;
    assert_eq!(
        winners(&body),
        [("direct".into(), "a".into(), 1.0)],
        "{body}"
    );
    assert_eq!(body["cur"], "EUR");
}

/// `/v1/ads` hands its typed values to direct demand as they are: a car is a car, though
/// OpenRTB's device type 6 is any connected device (read back as a speaker).
#[tokio::test]
async fn direct_demand_targets_the_typed_device_type_of_an_ad_request() {
    let file = ConfigFile::new("internal-car", "");
    let catalog = file.0.parent().unwrap().join("catalog.toml");
    let car = CATALOG
        .replacen(
            "targeting = { placements = [\"open\"] }",
            "targeting = { placements = [\"open\"], device_types = [\"car\"] }",
            1,
        )
        .replacen("tier = \"standard\"", "tier = \"sponsorship\"", 1);
    std::fs::write(&catalog, car).unwrap();
    let external = mock_partner(Reply::NoBid);
    let cfg = config("", &[("external", external.endpoint(), 200)])
        + &format!(
            "\n[internal]\ncatalog = \"{}\"\n{PLACEMENTS}",
            catalog.display()
        );
    let app = spawn_app(&cfg).await;
    let mut body = ad_request(json!([{"id": "b", "placement": "open"}]));
    for (device, filled) in [("car", true), ("speaker", false)] {
        body["device"]["type"] = json!(device);
        let out = app.ads_json(&body).await;
        assert_eq!(out["slots"][0]["filled"], filled, "{device}: {out}");
    }
    let req = json!({"id": "r", "imp": [
        {"id": "b", "tagid": "open", "audio": {"mimes": ["audio/mpeg"], "minduration": 15, "maxduration": 30}}],
        "app": {"bundle": "b"}, "device": {"devicetype": 6}});
    let resp = app.auction(&req).await;
    assert_eq!(resp.status(), 204, "code 6 may be a speaker");
}
