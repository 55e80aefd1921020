//! OpenRTB money semantics end to end: billing macros in the bid's own currency and units,
//! exchange-side deals, `test=1` auctions that bill nothing, and floors.

use crate::helpers::*;
use serde_json::{Value, json};

fn bids_reply(cur: &str, bids: Value) -> Reply {
    Reply::Json(json!({"id": "x", "cur": cur, "seatbid": [{"seat": "buyer-1", "bid": bids}]}))
}

fn banner_imp(id: &str) -> Value {
    json!({"id": id, "banner": {"w": 320, "h": 50}})
}

/// Waits until the notifier has counted `n` notices of `kind` to `partner` answered `ok`.
async fn notices_ok(app: &TestApp, kind: &str, partner: &str, n: f64) {
    let series =
        format!(r#"bidgate_notices_total{{kind="{kind}",partner="{partner}",result="ok"}}"#);
    app.wait_for_metric(&series, |v| v >= n).await;
}

/// A bid whose nurl, burl, lurl and adm carry the price, currency and min-to-win macros.
fn billed_bid(p: &MockPartner, id: &str, price: f64) -> Value {
    let q = "p=${AUCTION_PRICE}&c=${AUCTION_CURRENCY}&m=${AUCTION_MIN_TO_WIN}";
    json!({"id": id, "impid": "1", "price": price,
        "adm": "<ad>${AUCTION_PRICE} ${AUCTION_CURRENCY}</ad>",
        "nurl": format!("http://{}/win/{id}?{q}", p.addr),
        "burl": format!("http://{}/bill/{id}?{q}", p.addr),
        "lurl": format!("http://{}/loss/{id}?{q}", p.addr)})
}

#[tokio::test]
async fn billing_macros_are_in_the_bids_currency_before_its_adjustment() {
    let eur = mock_partner(Reply::NoBid);
    // 2.00 EUR is 3.00 USD, 2.70 after the adjustment of 0.9; 1.00 EUR is 1.35 USD.
    eur.set_reply(bids_reply(
        "EUR",
        json!([billed_bid(&eur, "w", 2.0), billed_bid(&eur, "l", 1.0)]),
    ));
    let cfg = config(
        "pricing = \"first_price\"",
        &[("money-eur", eur.endpoint(), 300)],
    ) + "\n[currency]\nrates = { EUR = 1.5 }\n";
    let cfg = with_partner_lines(
        cfg,
        &eur.endpoint(),
        "bid_adjustment = 0.9\nnotices = { allow_private = true }",
    );
    let app = spawn_app(&cfg).await;
    let body = app
        .auction_json(&json!({"id": "r", "imp": [banner_imp("1")], "app": {"bundle": "b"}}))
        .await;
    // The client is answered in the auction currency, after the adjustment.
    assert_eq!(body["cur"], "USD");
    let bid = &body["seatbid"][0]["bid"][0];
    assert_eq!(bid["price"], 2.7, "{body}");
    // The partner is told its own price, in its own currency.
    assert_eq!(bid["adm"], "<ad>2 EUR</ad>");
    let burl = bid["burl"].as_str().unwrap();
    assert!(burl.ends_with("/bill/w?p=2&c=EUR&m="), "{burl}");
    notices_ok(&app, "win", "money-eur", 1.0).await;
    notices_ok(&app, "loss", "money-eur", 1.0).await;
    assert_eq!(eur.paths("/win"), ["/win/w?p=2&c=EUR&m="]);
    // The loser needed the winner's 2.70 USD: 2.00 EUR in its units.
    assert_eq!(eur.paths("/loss"), ["/loss/l?p=&c=EUR&m=2"]);
}

#[tokio::test]
async fn an_exchange_side_deal_competes_in_the_open_market_unless_strict() {
    let theirs = mock_partner(bids_reply(
        "USD",
        json!([{"id": "t", "impid": "1", "price": 3.0, "dealid": "theirs", "adm": "x"}]),
    ));
    let strict = mock_partner(bids_reply(
        "USD",
        json!([{"id": "s", "impid": "1", "price": 9.0, "dealid": "theirs-too", "adm": "x"}]),
    ));
    let open = mock_partner(bids_reply(
        "USD",
        json!([{"id": "o", "impid": "1", "price": 2.0, "adm": "x"}]),
    ));
    let cfg = config(
        "pricing = \"first_price\"\nprefer_deals = true",
        &[
            ("xdeal-theirs", theirs.endpoint(), 300),
            ("xdeal-strict", strict.endpoint(), 300),
            ("xdeal-open", open.endpoint(), 300),
        ],
    );
    let cfg = with_partner_lines(cfg, &strict.endpoint(), "strict_deals = true");
    let app = spawn_app(&cfg).await;
    // The request's own deal has a floor of 5.00: an exchange-side deal is not held to it.
    let mut imp = banner_imp("1");
    imp["pmp"] = json!({"deals": [{"id": "d1", "bidfloor": 5.0}]});
    let body = app
        .auction_json(&json!({"id": "r", "imp": [imp], "app": {"bundle": "b"}}))
        .await;
    assert_eq!(
        winners(&body),
        [("xdeal-theirs".into(), "1".into(), 3.0)],
        "{body}"
    );
    assert_eq!(body["seatbid"][0]["bid"][0]["dealid"], "theirs");
    assert_eq!(error_codes(&body, "xdeal-strict"), [314]);
    assert!(error_codes(&body, "xdeal-theirs").is_empty());

    // No deal priority: a higher open-market bid beats it even with prefer_deals.
    open.set_reply(bids_reply(
        "USD",
        json!([{"id": "o", "impid": "1", "price": 4.0, "adm": "x"}]),
    ));
    let body = app
        .auction_json(&json!({"id": "r2", "imp": [banner_imp("1")], "app": {"bundle": "b"}}))
        .await;
    assert_eq!(winners(&body), [("xdeal-open".into(), "1".into(), 4.0)]);
}

#[tokio::test]
async fn a_test_auction_fires_no_notice_and_counts_no_revenue() {
    let p = mock_partner(Reply::NoBid);
    p.set_reply(bids_reply(
        "USD",
        json!([billed_bid(&p, "w", 2.0), billed_bid(&p, "l", 1.0)]),
    ));
    let cfg = config(
        "pricing = \"first_price\"",
        &[("money-test", p.endpoint(), 300)],
    );
    let cfg = with_partner_lines(cfg, &p.endpoint(), "notices = { allow_private = true }");
    let app = spawn_app(&cfg).await;
    let test = json!({"id": "t", "test": 1, "imp": [banner_imp("1")], "app": {"bundle": "b"}});
    let body = app.auction_json(&test).await;
    let bid = &body["seatbid"][0]["bid"][0];
    assert_eq!(bid["price"], 2.0, "it still answers: {body}");
    assert!(
        bid.get("burl").is_none(),
        "no billing notice to fire: {bid}"
    );
    assert_eq!(p.requests()[0].body["test"], 1, "the partner knows");
    // A billable auction after it: once its notices are answered, the test auction's
    // (fired before its answer, so before this one) would have been too.
    let mut live = test.clone();
    live["test"] = json!(0);
    let body = app.auction_json(&live).await;
    assert!(body["seatbid"][0]["bid"][0]["burl"].is_string());
    notices_ok(&app, "win", "money-test", 1.0).await;
    notices_ok(&app, "loss", "money-test", 1.0).await;
    assert_eq!(p.paths("/win").len(), 1, "only the billable auction's");
    assert_eq!(p.paths("/loss").len(), 1, "only the billable auction's");
    let wins = app
        .metric(r#"bidgate_wins_total{partner="money-test"}"#)
        .await;
    assert_eq!(wins, Some(1.0));
    let revenue = r#"bidgate_revenue_micros_total{partner="money-test",currency="USD"}"#;
    assert_eq!(app.metric(revenue).await, Some(2_000_000.0));
}

/// A house line item for placement `open`, without a CPM.
const HOUSE_CATALOG: &str = r#"
[[campaigns]]
id = "c1"
name = "House"

[[line_items]]
id = "house"
campaign = "c1"
advertiser = { name = "Us", domain = "us.example" }
click_url = "https://us.example/"
flight = { start = "2020-01-01T00:00:00Z", end = "2100-01-01T00:00:00Z" }
tier = "house"
pacing = "asap"
targeting = { placements = ["open"] }

[[line_items.creatives]]
id = "spot"
format = "audio"
media_url = "https://cdn.example/house-30.mp3"
duration_s = 30
mime = "audio/mpeg"
"#;

#[tokio::test]
async fn a_house_line_item_never_clears_below_the_floor() {
    let file = ConfigFile::new("money-house", "");
    let catalog = file.0.parent().unwrap().join("catalog.toml");
    std::fs::write(&catalog, HOUSE_CATALOG).unwrap();
    let external = mock_partner(Reply::NoBid);
    let cfg = config(
        "pricing = \"first_price\"",
        &[("external", external.endpoint(), 200)],
    ) + &format!(
        "\n[internal]\ncatalog = \"{}\"\n\n[[placements]]\nid = \"open\"\nformat = \"audio\"\n",
        catalog.display()
    );
    let app = spawn_app(&cfg).await;
    let request = |floor: f64| {
        json!({"id": "r", "imp": [{"id": "a", "tagid": "open", "bidfloor": floor,
            "audio": {"mimes": ["audio/mpeg"], "minduration": 15, "maxduration": 30}}],
            "app": {"bundle": "b"}})
    };
    let body = app.auction_json(&request(0.0)).await;
    assert_eq!(winners(&body).len(), 1, "the house ad fills: {body}");
    let resp = app.auction(&request(999_999_999.0)).await;
    assert_eq!(resp.status(), 204, "not at 0.000001 against that floor");
}

#[tokio::test]
async fn a_floor_without_currency_is_in_usd() {
    let p = mock_partner(bids_reply(
        "EUR",
        json!([{"id": "e", "impid": "1", "price": 1.5, "adm": "x"}]),
    ));
    let cfg = config(
        "pricing = \"first_price\"\ncurrency = \"EUR\"",
        &[("money-floor", p.endpoint(), 300)],
    ) + "\n[currency]\nrates = { USD = 0.5 }\n";
    let app = spawn_app(&cfg).await;
    // 2 (USD, as none is named) is 1.00 EUR: the 1.50 EUR bid clears it.
    let mut imp = banner_imp("1");
    imp["bidfloor"] = json!(2.0);
    let body = app
        .auction_json(&json!({"id": "r", "imp": [imp.clone()], "app": {"bundle": "b"}}))
        .await;
    assert_eq!(
        winners(&body),
        [("money-floor".into(), "1".into(), 1.5)],
        "{body}"
    );
    imp["bidfloorcur"] = json!("EUR");
    let resp = app
        .auction(&json!({"id": "r", "imp": [imp], "app": {"bundle": "b"}}))
        .await;
    assert_eq!(resp.status(), 204, "2 EUR is above the bid");
}

/// A fixed-price deal (`at = 3`) with a partner whose `bid_adjustment` is 0.9 (and one with
/// 1.25): the deal price is the price. The partner is told it as agreed, a bid of exactly the
/// deal price meets it (the adjustment does not push it below), the client is answered the
/// deal price (not an adjusted one below the deal or the floor), and the partner is billed
/// the deal price, not the deal price with its adjustment undone.
#[tokio::test]
async fn a_fixed_price_deal_pays_the_deal_price_whatever_the_adjustment() {
    let low = mock_partner(Reply::NoBid);
    let high = mock_partner(Reply::NoBid);
    let deal_bid = |p: &MockPartner, id: &str, price: f64| {
        let mut b = billed_bid(p, id, price);
        b["dealid"] = json!("pg-1");
        b
    };
    low.set_reply(bids_reply("USD", json!([deal_bid(&low, "w", 4.0)])));
    let cfg = config(
        "pricing = \"second_price\"\nprefer_deals = true",
        &[
            ("money-fixed-low", low.endpoint(), 300),
            ("money-fixed-high", high.endpoint(), 300),
        ],
    );
    let cfg = with_partner_lines(
        cfg,
        &low.endpoint(),
        "bid_adjustment = 0.9\nnotices = { allow_private = true }",
    );
    let cfg = with_partner_lines(
        cfg,
        &high.endpoint(),
        "bid_adjustment = 1.25\nnotices = { allow_private = true }",
    );
    let app = spawn_app(&cfg).await;
    let request = json!({"id": "r", "app": {"bundle": "b"}, "imp": [{
        "id": "1", "banner": {"w": 320, "h": 50}, "bidfloor": 3.9,
        "pmp": {"deals": [{"id": "pg-1", "bidfloor": 4.0, "at": 3}]}}]});
    let body = app.auction_json(&request).await;
    assert_eq!(
        winners(&body),
        [("money-fixed-low".into(), "1".into(), 4.0)],
        "{body}"
    );
    // Told the agreed price as it is; the open floor is divided by the adjustment as ever.
    let sent = &low.requests()[0].body["imp"][0];
    assert_eq!(sent["pmp"]["deals"][0]["bidfloor"], 4.0);
    assert!((sent["bidfloor"].as_f64().unwrap() - 3.9 / 0.9).abs() < 1e-6);
    let bid = &body["seatbid"][0]["bid"][0];
    assert_eq!(bid["adm"], "<ad>4 USD</ad>", "{body}");
    assert!(bid["burl"].as_str().unwrap().contains("p=4&"), "{bid}");
    notices_ok(&app, "win", "money-fixed-low", 1.0).await;
    assert!(
        low.paths("/win/w")[0].contains("p=4&"),
        "{:?}",
        low.paths("/win")
    );

    // A partner whose adjustment is above 1 bids under the deal price: 3.5 × 1.25 = 4.375
    // would pass an adjusted check, but it did not offer the agreed price.
    low.set_reply(Reply::NoBid);
    high.set_reply(bids_reply("USD", json!([deal_bid(&high, "h", 3.5)])));
    let resp = app.auction(&request).await;
    assert_eq!(resp.status(), 204, "below the deal price: no winner");
    // At the deal price it wins, pays the deal price and is billed it (not 4 / 1.25 = 3.2).
    high.set_reply(bids_reply("USD", json!([deal_bid(&high, "h", 6.0)])));
    let body = app.auction_json(&request).await;
    assert_eq!(
        winners(&body),
        [("money-fixed-high".into(), "1".into(), 4.0)]
    );
    let bid = &body["seatbid"][0]["bid"][0];
    assert_eq!(bid["adm"], "<ad>4 USD</ad>", "{body}");
}

#[tokio::test]
async fn direct_demand_reads_the_floor_in_its_own_currency() {
    // A standard line item at 2.00 (the auction currency, EUR): it meets floors.
    let standard = HOUSE_CATALOG
        .replace("tier = \"house\"", "tier = \"standard\"\ncpm = 2.0")
        .replace("id = \"house\"", "id = \"std\"");
    let file = ConfigFile::new("money-direct-floor", "");
    let catalog = file.0.parent().unwrap().join("catalog.toml");
    std::fs::write(&catalog, standard).unwrap();
    let external = mock_partner(Reply::NoBid);
    let cfg = config(
        "pricing = \"first_price\"\ncurrency = \"EUR\"",
        &[("external", external.endpoint(), 200)],
    ) + &format!(
        "\n[currency]\nrates = {{ USD = 0.5, JPY = 0.006 }}\n\n[internal]\ncatalog = \"{}\"\n\n\
         [[placements]]\nid = \"open\"\nformat = \"audio\"\n",
        catalog.display()
    );
    let app = spawn_app(&cfg).await;
    let request = |floor: Value| {
        let mut imp = json!({"id": "a", "tagid": "open",
            "audio": {"mimes": ["audio/mpeg"], "minduration": 15, "maxduration": 30}});
        imp.as_object_mut()
            .unwrap()
            .extend(floor.as_object().unwrap().clone());
        json!({"id": "r", "imp": [imp], "app": {"bundle": "b"}})
    };
    // 300 JPY is 1.80 EUR: the 2.00 EUR line item clears it (read as 300 EUR, it would not).
    let body = app
        .auction_json(&request(json!({"bidfloor": 300, "bidfloorcur": "JPY"})))
        .await;
    assert_eq!(
        winners(&body),
        [("direct".into(), "a".into(), 2.0)],
        "{body}"
    );
    // 3.00 without a currency is USD, 1.50 EUR: it clears that too.
    let body = app.auction_json(&request(json!({"bidfloor": 3.0}))).await;
    assert_eq!(winners(&body).len(), 1, "{body}");
    // 5.00 USD is 2.50 EUR: above it, no direct bid at all (none refused either).
    let resp = app.auction(&request(json!({"bidfloor": 5.0}))).await;
    assert_eq!(resp.status(), 204);
}
