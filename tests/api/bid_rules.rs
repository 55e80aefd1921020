//! The remaining money and rules points of OpenRTB 2.6, end to end on `/openrtb2/auction`:
//! a winner without markup replaced by the runner-up, fixed-price deals, duration floors, the
//! creative rules (`bapp`, `acat`, `wlang`, `battr`, deal `wadomain`) and `seatbid.group`.

use crate::helpers::*;
use serde_json::{Value, json};

fn seat(bids: Value) -> Reply {
    Reply::Json(json!({"id": "x", "cur": "USD", "seatbid": [{"seat": "s", "bid": bids}]}))
}

fn banner(id: &str) -> Value {
    json!({"id": id, "banner": {"w": 320, "h": 50}})
}

fn auction(imps: Value) -> Value {
    json!({"id": "r", "imp": imps, "app": {"bundle": "b"}})
}

#[tokio::test]
async fn a_winner_without_markup_is_replaced_by_the_runner_up_which_gets_no_loss_notice() {
    let dead = mock_partner(Reply::Status(500));
    let first = mock_partner(seat(json!([
        {"id": "a", "impid": "1", "price": 5.0, "nurl": format!("http://{}/markup", dead.addr)}
    ])));
    let second = mock_partner(Reply::NoBid);
    second.set_reply(seat(
        json!([{"id": "b", "impid": "1", "price": 3.0, "adm": "<ad/>",
        "nurl": format!("http://{}/win/b", second.addr),
        "lurl": format!("http://{}/loss/b", second.addr)}]),
    ));
    let cfg = config(
        "pricing = \"first_price\"",
        &[
            ("nomarkup-first", first.endpoint(), 300),
            ("nomarkup-second", second.endpoint(), 300),
        ],
    );
    let mut cfg = with_partner_lines(cfg, &first.endpoint(), "notices = { allow_private = true }");
    cfg = with_partner_lines(
        cfg,
        &second.endpoint(),
        "notices = { allow_private = true }",
    );
    let app = spawn_app(&cfg).await;
    let body = app.auction_json(&auction(json!([banner("1")]))).await;
    assert_eq!(
        winners(&body),
        [("nomarkup-second".into(), "1".into(), 3.0)],
        "{body}"
    );
    assert_eq!(error_codes(&body, "nomarkup-first"), [318]);
    app.wait_for_metric(
        r#"bidgate_notices_total{kind="win",partner="nomarkup-second",result="ok"}"#,
        |v| v >= 1.0,
    )
    .await;
    assert_eq!(second.paths("/win"), ["/win/b"]);
    assert!(second.paths("/loss").is_empty(), "it won: no loss notice");
    // Only the delivered win counts.
    assert_eq!(
        app.metric(r#"bidgate_wins_total{partner="nomarkup-first"}"#)
            .await
            .unwrap_or(0.0),
        0.0
    );
    assert_eq!(
        app.metric(r#"bidgate_wins_total{partner="nomarkup-second"}"#)
            .await,
        Some(1.0)
    );
}

#[tokio::test]
async fn a_fixed_price_deal_clears_at_the_deal_price_whatever_the_bid() {
    let p = mock_partner(seat(json!([
        {"id": "d", "impid": "1", "price": 9.0, "dealid": "fixed", "adm": "x"},
        {"id": "o", "impid": "2", "price": 9.0, "dealid": "fixed", "adm": "x"}
    ])));
    let app = spawn_app(&config(
        "pricing = \"first_price\"",
        &[("fixed-deal", p.endpoint(), 300)],
    ))
    .await;
    let mut fixed = banner("1");
    fixed["pmp"] = json!({"deals": [{"id": "fixed", "bidfloor": 4.0, "at": 3}]});
    let mut high = banner("2");
    high["pmp"] = json!({"deals": [{"id": "fixed", "bidfloor": 12.0, "at": 3}]});
    let body = app.auction_json(&auction(json!([fixed, high]))).await;
    // 9.00 pays the agreed 4.00; a bid under an agreed 12.00 is below the deal's price.
    assert_eq!(
        winners(&body),
        [("fixed-deal".into(), "1".into(), 4.0)],
        "{body}"
    );
    assert_eq!(error_codes(&body, "fixed-deal"), [315]);
}

#[tokio::test]
async fn duration_floors_refuse_long_cheap_video_and_set_the_second_price() {
    let p = mock_partner(seat(json!([
        {"id": "short", "impid": "1", "price": 2.0, "dur": 15, "mtype": 2, "adm": "x"},
        {"id": "long", "impid": "2", "price": 2.0, "dur": 30, "mtype": 2, "adm": "x"},
        {"id": "slow", "impid": "3", "price": 2.0, "dur": 60, "mtype": 2, "adm": "x"}
    ])));
    let app = spawn_app(&config(
        "pricing = \"second_price\"",
        &[("durfloors", p.endpoint(), 300)],
    ))
    .await;
    let video = |id: &str| {
        json!({"id": id, "bidfloor": 0.5, "video": {"mimes": ["video/mp4"],
            "mincpmpersec": 0.05,
            "durfloors": [{"maxdur": 15, "bidfloor": 1.0}, {"mindur": 16, "maxdur": 30, "bidfloor": 2.5}]}})
    };
    let body = app
        .auction_json(&auction(json!([video("1"), video("2"), video("3")])))
        .await;
    // 15 s: floor 1.00 (above the imp's 0.50), so the lone bid pays 1.00 + increment, not
    // 0.50. 30 s: floor 2.50 refuses 2.00. 60 s: 60 × 0.05 = 3.00 refuses 2.00.
    let won = winners(&body);
    assert_eq!(won.len(), 1, "{body}");
    assert_eq!(won[0].1, "1");
    assert!(
        (1.0..=1.02).contains(&won[0].2),
        "cleared at the duration floor: {body}"
    );
    assert_eq!(error_codes(&body, "durfloors"), [304, 304]);
}

#[tokio::test]
async fn the_creative_rules_of_the_request_are_enforced() {
    let p = mock_partner(seat(json!([
        {"id": "app", "impid": "1", "price": 5.0, "bundle": "com.blocked", "adm": "x"},
        {"id": "cat", "impid": "1", "price": 4.5, "cat": ["IAB7"], "adm": "x"},
        {"id": "lang", "impid": "1", "price": 4.0, "language": "fr", "adm": "x"},
        {"id": "attr", "impid": "1", "price": 3.5, "attr": [1], "adm": "x"},
        {"id": "deal", "impid": "1", "price": 3.2, "dealid": "brands", "adomain": ["other.com"], "adm": "x"},
        {"id": "ok", "impid": "1", "price": 1.0, "cat": ["IAB2-1"], "language": "en", "attr": [2], "adm": "x"}
    ])));
    let app = spawn_app(&config(
        "pricing = \"first_price\"",
        &[("creative-rules", p.endpoint(), 300)],
    ))
    .await;
    let mut imp = json!({"id": "1", "banner": {"w": 320, "h": 50, "battr": [1]}});
    imp["pmp"] = json!({"deals": [{"id": "brands", "wadomain": ["brand.com"]}]});
    let mut request = auction(json!([imp]));
    request["bapp"] = json!(["com.blocked"]);
    request["acat"] = json!(["IAB2"]);
    request["wlang"] = json!(["en"]);
    let body = app.auction_json(&request).await;
    assert_eq!(
        winners(&body),
        [("creative-rules".into(), "1".into(), 1.0)],
        "{body}"
    );
    assert_eq!(
        error_codes(&body, "creative-rules"),
        [320, 321, 322, 323, 324]
    );
}

#[tokio::test]
async fn an_all_or_nothing_seatbid_wins_every_imp_or_none() {
    let group = mock_partner(Reply::Json(
        json!({"id": "x", "seatbid": [{"seat": "g", "group": 1, "bid": [
            {"id": "g1", "impid": "1", "price": 5.0, "adm": "x"},
            {"id": "g2", "impid": "2", "price": 1.0, "adm": "x"}
        ]}]}),
    ));
    let other = mock_partner(seat(json!([
        {"id": "o1", "impid": "1", "price": 2.0, "adm": "x"},
        {"id": "o2", "impid": "2", "price": 3.0, "adm": "x"}
    ])));
    let app = spawn_app(&config(
        "pricing = \"first_price\"",
        &[
            ("group-all", group.endpoint(), 300),
            ("group-other", other.endpoint(), 300),
        ],
    ))
    .await;
    let body = app
        .auction_json(&auction(json!([banner("1"), banner("2")])))
        .await;
    // g2 loses imp 2, so g1 may not take imp 1 alone: the other seat wins both.
    let mut won = winners(&body);
    won.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        won,
        [
            ("group-other".into(), "1".into(), 2.0),
            ("group-other".into(), "2".into(), 3.0)
        ],
        "{body}"
    );
    assert_eq!(error_codes(&body, "group-all"), [325, 325]);
}

#[tokio::test]
async fn the_answer_is_in_the_first_requested_currency_with_a_rate() {
    let p = mock_partner(Reply::Json(
        json!({"id": "x", "cur": "EUR", "seatbid": [{"bid": [
        {"id": "e", "impid": "1", "price": 2.0, "adm": "x"}]}]}),
    ));
    let cfg = config(
        "pricing = \"first_price\"",
        &[("answer-cur", p.endpoint(), 300)],
    ) + "\n[currency]\nrates = { EUR = 1.5, GBP = 2.0 }\n";
    let app = spawn_app(&cfg).await;
    let mut request = auction(json!([banner("1")]));
    // JPY has no rate: GBP is the first the client accepts that bidgate can answer in.
    request["cur"] = json!(["JPY", "GBP", "USD"]);
    let body = app.auction_json(&request).await;
    assert_eq!(body["cur"], "GBP", "{body}");
    let bid = &body["seatbid"][0]["bid"][0];
    // 2.00 EUR = 3.00 USD = 1.50 GBP; the partner's own bid stays visible.
    assert_eq!(bid["price"], 1.5, "{body}");
    assert_eq!(bid["ext"]["origbidcpm"], 2.0);
    assert_eq!(bid["ext"]["origbidcur"], "EUR");
    assert_eq!(
        p.requests()[0].body["cur"],
        json!(["USD"]),
        "partners bid in the auction currency"
    );

    request["cur"] = json!(["JPY", "CHF"]);
    let resp = app.auction(&request).await;
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.unwrap();
    assert!(text.contains("request.cur"), "{text}");
}

#[tokio::test]
async fn a_partner_is_sent_its_floors_divided_by_its_bid_adjustment() {
    let adjusted = mock_partner(Reply::NoBid);
    let plain = mock_partner(Reply::NoBid);
    let cfg = config(
        "pricing = \"first_price\"",
        &[
            ("floor-adjusted", adjusted.endpoint(), 300),
            ("floor-plain", plain.endpoint(), 300),
        ],
    );
    let cfg = with_partner_lines(cfg, &adjusted.endpoint(), "bid_adjustment = 0.8");
    let app = spawn_app(&cfg).await;
    let mut imp = banner("1");
    imp["bidfloor"] = json!(1.0);
    imp["pmp"] = json!({"deals": [{"id": "d", "bidfloor": 2.0}]});
    let resp = app.auction(&auction(json!([imp]))).await;
    assert_eq!(resp.status(), 204);
    let sent = &adjusted.requests()[0].body["imp"][0];
    // A 1.25 bid × 0.8 is exactly the 1.00 floor.
    assert_eq!(sent["bidfloor"], 1.25, "{sent}");
    assert_eq!(sent["pmp"]["deals"][0]["bidfloor"], 2.5);
    let sent = &plain.requests()[0].body["imp"][0];
    assert_eq!(sent["bidfloor"], 1.0);
    assert_eq!(sent["pmp"]["deals"][0]["bidfloor"], 2.0);
}

#[tokio::test]
async fn nothing_won_is_a_200_with_ext_when_asked_and_every_dropped_bid_is_listed() {
    let p = mock_partner(seat(json!([
        {"id": "low", "impid": "1", "price": 0.5, "adm": "x"},
        {"id": "stray", "impid": "9", "price": 3.0, "adm": "x"}
    ])));
    let cfg = config(
        "pricing = \"first_price\"\nno_bid_status = 200",
        &[("nobid-200", p.endpoint(), 300)],
    );
    let app = spawn_app(&cfg).await;
    let mut imp = banner("1");
    imp["bidfloor"] = json!(1.0);
    let mut request = auction(json!([imp]));
    let resp = app.auction(&request).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["id"], "r");
    assert!(winners(&body).is_empty(), "{body}");
    assert_eq!(error_codes(&body, "nobid-200"), [304, 302]);
    assert!(body["ext"]["responsetimemillis"]["nobid-200"].is_u64());
    assert_eq!(
        body["ext"]["seatnonbid"],
        json!([{"seat": "nobid-200", "nonbid": [
            {"impid": "1", "bidid": "low", "code": 304},
            {"impid": "9", "bidid": "stray", "code": 302}
        ]}]),
        "{body}"
    );
    // The request decides over the config.
    request["ext"] = json!({"no_bid_status": 204});
    let resp = app.auction(&request).await;
    assert_eq!(resp.status(), 204);
}
