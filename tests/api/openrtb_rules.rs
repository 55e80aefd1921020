//! OpenRTB rules end to end: the request's own limits on bids (badv, bcat, media types,
//! durations, seats, deals), currencies, bid adjustments, macros, win/loss notices with the
//! SSRF guard, markup from the win notice, and gzip both ways.

use crate::helpers::*;
use serde_json::{Value, json};
use std::io::Write;
use std::time::Duration;

fn bids_reply(cur: &str, bids: Value) -> Reply {
    Reply::Json(json!({"id": "x", "cur": cur, "seatbid": [{"seat": "buyer-1", "bid": bids}]}))
}

fn audio_imp(id: &str) -> Value {
    json!({"id": id, "audio": {"mimes": ["audio/mpeg"], "minduration": 15, "maxduration": 30}})
}

#[tokio::test]
async fn bids_breaking_the_requests_rules_are_dropped_with_their_codes() {
    let bad = mock_partner(bids_reply(
        "USD",
        json!([
            {"id": "adv", "impid": "1", "price": 9.0, "adomain": ["blocked.com"], "adm": "x"},
            {"id": "cat", "impid": "1", "price": 9.0, "cat": ["IAB25-3"], "adm": "x"},
            {"id": "type", "impid": "1", "price": 9.0, "mtype": 1, "adm": "x"},
            {"id": "long", "impid": "1", "price": 9.0, "dur": 60, "adm": "x"},
        ]),
    ));
    let good = mock_partner(bids_reply(
        "USD",
        json!([{"id": "ok", "impid": "1", "price": 1.0, "dur": 30, "adm": "x"}]),
    ));
    let cfg = config(
        "pricing = \"first_price\"",
        &[
            ("rules-bad", bad.endpoint(), 200),
            ("rules-good", good.endpoint(), 200),
        ],
    );
    let app = spawn_app(&cfg).await;
    let req = json!({"id": "r", "tmax": 300, "imp": [audio_imp("1")], "badv": ["blocked.com"], "bcat": ["IAB25"], "app": {"bundle": "b"}});
    let body = app.auction_json(&req).await;
    assert_eq!(winners(&body), [("rules-good".into(), "1".into(), 1.0)]);
    assert_eq!(
        error_codes(&body, "rules-bad"),
        [310, 311, 312, 313],
        "{}",
        body["ext"]
    );
    // The partner was told what is blocked.
    assert_eq!(bad.requests()[0].body["badv"], json!(["blocked.com"]));
}

#[tokio::test]
async fn other_currencies_are_converted_and_unknown_ones_refused() {
    let eur = mock_partner(bids_reply(
        "EUR",
        json!([{"id": "e", "impid": "1", "price": 2.0, "adm": "x"}]),
    ));
    let gbp = mock_partner(bids_reply(
        "GBP",
        json!([{"id": "g", "impid": "1", "price": 50.0, "adm": "x"}]),
    ));
    let cfg = config(
        "pricing = \"first_price\"",
        &[
            ("cur-eur", eur.endpoint(), 200),
            ("cur-gbp", gbp.endpoint(), 200),
        ],
    ) + "\n[currency]\nrates = { EUR = 1.5 }\n";
    let app = spawn_app(&cfg).await;
    // The floor, 1.5 EUR, is 2.25 USD: the 2 EUR (3 USD) bid clears it.
    let mut imp = audio_imp("1");
    imp["bidfloor"] = json!(1.5);
    imp["bidfloorcur"] = json!("EUR");
    let body = app
        .auction_json(&json!({"id": "r", "imp": [imp], "app": {"bundle": "b"}}))
        .await;
    assert_eq!(winners(&body), [("cur-eur".into(), "1".into(), 3.0)]);
    assert_eq!(body["cur"], "USD");
    assert_eq!(error_codes(&body, "cur-gbp"), [305]);
}

#[tokio::test]
async fn private_auctions_take_deal_bids_only_at_the_deals_own_floor() {
    let open = mock_partner(bids_reply(
        "USD",
        json!([{"id": "o", "impid": "1", "price": 9.0, "adm": "x"}]),
    ));
    let low = mock_partner(bids_reply(
        "USD",
        json!([{"id": "l", "impid": "1", "price": 2.5, "dealid": "d1", "adm": "x"}]),
    ));
    let deal = mock_partner(bids_reply(
        "USD",
        json!([{"id": "d", "impid": "1", "price": 3.5, "dealid": "d1", "adm": "x"}]),
    ));
    let cfg = config(
        "pricing = \"first_price\"",
        &[
            ("pmp-open", open.endpoint(), 200),
            ("pmp-low", low.endpoint(), 200),
            ("pmp-deal", deal.endpoint(), 200),
        ],
    ) + "\n[currency]\nrates = { EUR = 1.5 }\n";
    let app = spawn_app(&cfg).await;
    let mut imp = audio_imp("1");
    imp["pmp"] = json!({"private_auction": 1, "deals": [{"id": "d1", "bidfloor": 2.0, "bidfloorcur": "EUR"}]});
    let body = app
        .auction_json(&json!({"id": "r", "imp": [imp], "app": {"bundle": "b"}}))
        .await;
    assert_eq!(winners(&body), [("pmp-deal".into(), "1".into(), 3.5)]);
    assert_eq!(error_codes(&body, "pmp-open"), [317]);
    assert_eq!(error_codes(&body, "pmp-low"), [315], "2.50 < 2 EUR = 3.00");
    // Deals are forwarded to partners as sent.
    assert_eq!(
        open.requests()[0].body["imp"][0]["pmp"]["deals"][0]["id"],
        "d1"
    );
}

#[tokio::test]
async fn prefer_deals_and_bid_adjustment_change_who_wins() {
    let open = mock_partner(bids_reply(
        "USD",
        json!([{"id": "o", "impid": "1", "price": 5.0, "adm": "x"}]),
    ));
    let deal = mock_partner(bids_reply(
        "USD",
        json!([{"id": "d", "impid": "1", "price": 2.0, "dealid": "d1", "adm": "x"}]),
    ));
    let gross = mock_partner(bids_reply(
        "USD",
        json!([{"id": "g", "impid": "1", "price": 6.0, "adm": "x"}]),
    ));
    let cfg = config(
        "pricing = \"first_price\"\nprefer_deals = true",
        &[
            ("pref-open", open.endpoint(), 200),
            ("pref-deal", deal.endpoint(), 200),
            ("pref-gross", gross.endpoint(), 200),
        ],
    );
    let cfg = with_partner_lines(cfg, &gross.endpoint(), "bid_adjustment = 0.5");
    let app = spawn_app(&cfg).await;
    let mut imp = audio_imp("1");
    imp["pmp"] = json!({"deals": [{"id": "d1"}]});
    let body = app
        .auction_json(&json!({"id": "r", "imp": [imp.clone()], "app": {"bundle": "b"}}))
        .await;
    assert_eq!(
        winners(&body),
        [("pref-deal".into(), "1".into(), 2.0)],
        "a deal beats 5.00 open"
    );
    // Without the deal bid: 6.00 × 0.5 = 3.00 loses to 5.00.
    deal.set_reply(Reply::NoBid);
    let body = app
        .auction_json(&json!({"id": "r", "imp": [imp], "app": {"bundle": "b"}}))
        .await;
    assert_eq!(winners(&body), [("pref-open".into(), "1".into(), 5.0)]);
}

/// Waits until the notifier has counted `n` notices of `kind` to `partner` with `result`.
/// It counts a notice it sent once the partner has answered it (`ok`), and one it refuses
/// when it refuses it. An auction's notices are all fired before the auction is answered, so
/// once the ones expected are counted, the mocks hold every notice of it they will ever get.
async fn notices_counted(app: &TestApp, kind: &str, partner: &str, result: &str, n: f64) {
    let series =
        format!(r#"bidgate_notices_total{{kind="{kind}",partner="{partner}",result="{result}"}}"#);
    app.wait_for_metric(&series, |v| v >= n).await;
}

#[tokio::test]
async fn win_and_loss_notices_carry_the_macros_and_loss_reasons() {
    let winner = mock_partner(Reply::NoBid);
    let loser = mock_partner(Reply::NoBid);
    let guarded = mock_partner(Reply::NoBid);
    let notice = |p: &MockPartner, id: &str, price: f64, extra: Value| {
        let mut b = json!({"id": id, "impid": "1", "price": price, "adm": "<VAST>${AUCTION_PRICE}</VAST>",
            "nurl": format!("http://{}/win?p=${{AUCTION_PRICE}}&a=${{AUCTION_ID}}&i=${{AUCTION_IMP_ID}}", p.addr),
            "lurl": format!("http://{}/loss?r=${{AUCTION_LOSS}}&m=${{AUCTION_MIN_TO_WIN}}", p.addr)});
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    winner.set_reply(bids_reply(
        "USD",
        json!([notice(&winner, "w", 4.0, json!({}))]),
    ));
    loser.set_reply(bids_reply(
        "USD",
        json!([
            notice(&loser, "l1", 3.0, json!({})),
            notice(&loser, "l2", 8.0, json!({"adomain": ["blocked.com"]}))
        ]),
    ));
    guarded.set_reply(bids_reply(
        "USD",
        json!([notice(&guarded, "g", 1.0, json!({}))]),
    ));
    let cfg = config(
        "pricing = \"second_price\"\nsecond_price_increment = 0.01",
        &[
            ("n-win", winner.endpoint(), 200),
            ("n-lose", loser.endpoint(), 200),
            ("n-guard", guarded.endpoint(), 200),
        ],
    );
    let cfg = with_partner_lines(
        cfg,
        &winner.endpoint(),
        "notices = { allow_private = true }",
    );
    let cfg = with_partner_lines(cfg, &loser.endpoint(), "notices = { allow_private = true }");
    let app = spawn_app(&cfg).await;
    let body = app.auction_json(&json!({"id": "auc-9", "imp": [audio_imp("1")], "badv": ["blocked.com"], "app": {"bundle": "b"}})).await;
    let bid = &body["seatbid"][0]["bid"][0];
    assert_eq!(bid["price"], 3.01, "second price");
    assert_eq!(bid["adm"], "<VAST>3.01</VAST>", "macros in adm");
    assert!(
        bid.get("nurl").is_none() && bid.get("lurl").is_none(),
        "fired by bidgate, not left to the client"
    );
    notices_counted(&app, "win", "n-win", "ok", 1.0).await;
    notices_counted(&app, "loss", "n-lose", "ok", 2.0).await;
    // The third partner's notice URLs point at loopback and it is not allowed private ones:
    // its loss notice is refused (and counted so), not sent.
    notices_counted(&app, "loss", "n-guard", "refused", 1.0).await;
    assert_eq!(winner.paths("/win"), ["/win?p=3.01&a=auc-9&i=1"]);
    let mut losses = loser.paths("/loss");
    losses.sort();
    assert_eq!(losses, ["/loss?r=102&m=3.01", "/loss?r=205&m=3.01"]);
    assert!(guarded.paths("/loss").is_empty(), "SSRF guard");
}

#[tokio::test]
async fn markup_comes_from_the_win_notice_when_adm_is_absent() {
    let p = mock_partner(Reply::NoBid);
    // The nurl of this bid is served by the mock too: it answers every path with its reply,
    // so the markup it returns is the same JSON body; good enough to see it fetched once.
    p.set_reply(bids_reply(
        "USD",
        json!([{"id": "w", "impid": "1", "price": 2.0,
        "nurl": format!("http://{}/markup?p=${{AUCTION_PRICE}}", p.addr)}]),
    ));
    let cfg = config(
        "pricing = \"first_price\"",
        &[("nurl-only", p.endpoint(), 200)],
    );
    let cfg = with_partner_lines(cfg, &p.endpoint(), "notices = { allow_private = true }");
    let app = spawn_app(&cfg).await;
    let body = app
        .auction_json(
            &json!({"id": "r", "tmax": 400, "imp": [audio_imp("1")], "app": {"bundle": "b"}}),
        )
        .await;
    let adm = body["seatbid"][0]["bid"][0]["adm"]
        .as_str()
        .expect("markup fetched");
    assert!(adm.contains("\"seatbid\""), "{adm}");
    // A later auction, whose bid has its markup, fires its win notice (at /win). Once that
    // notice has been answered, a win notice fired after the first auction (before its
    // answer, so before this one) would have been too: the nurl was called once.
    p.set_reply(bids_reply(
        "USD",
        json!([{"id": "w2", "impid": "1", "price": 2.0, "adm": "x",
        "nurl": format!("http://{}/win?p=${{AUCTION_PRICE}}", p.addr)}]),
    ));
    app.auction_json(
        &json!({"id": "r2", "tmax": 400, "imp": [audio_imp("1")], "app": {"bundle": "b"}}),
    )
    .await;
    notices_counted(&app, "win", "nurl-only", "ok", 1.0).await;
    assert_eq!(p.paths("/win"), ["/win?p=2"]);
    assert_eq!(
        p.paths("/markup"),
        ["/markup?p=2"],
        "fetched once, not fired again"
    );
    let wins = r#"bidgate_notices_total{kind="win",partner="nurl-only",result="ok"}"#;
    assert_eq!(
        app.metric(wins).await,
        Some(1.0),
        "one win notice: the second auction's"
    );
}

#[tokio::test]
async fn gzip_request_bodies_are_read_and_answers_gzipped_on_request() {
    let p = mock_partner(Reply::Bids(vec![("1", 1.0)]));
    // Answers are gzipped only when configured (deflating costs CPU).
    let cfg = config("pricing = \"first_price\"", &[("gz", p.endpoint(), 200)])
        .replace("workers = 2", "workers = 2\ngzip_responses = true");
    let app = spawn_app(&cfg).await;
    let req = serde_json::to_vec(&request(300, &[("1", 0.0)])).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&req).unwrap();
    // A client that leaves the answer compressed, to see it is.
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let resp = raw
        .post(app.url("/openrtb2/auction"))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .header("accept-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let bytes = resp.bytes().await.unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
        .unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(winners(&body), [("gz".into(), "1".into(), 1.0)]);

    // A gzip body that inflates past the cap is a 413, however small it is on the wire.
    let cfg = config("", &[("gz2", p.endpoint(), 200)])
        .replace("workers = 2", "workers = 2\nmax_request_bytes = 4096");
    let small = spawn_app(&cfg).await;
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    bomb.write_all(&vec![b' '; 1 << 20]).unwrap();
    let resp = small
        .client
        .post(small.url("/openrtb2/auction"))
        .header("content-encoding", "gzip")
        .body(bomb.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
}

#[tokio::test]
async fn the_rates_file_is_reread_and_overrides_the_config() {
    let eur = mock_partner(bids_reply(
        "EUR",
        json!([{"id": "e", "impid": "1", "price": 2.0, "adm": "x"}]),
    ));
    let file = ConfigFile::new("rates", "");
    let rates = file.0.parent().unwrap().join("rates.json");
    std::fs::write(&rates, r#"{"rates": {"EUR": 2.0}}"#).unwrap();
    let cfg = config(
        "pricing = \"first_price\"",
        &[("rates-eur", eur.endpoint(), 200)],
    ) + &format!(
        "\n[currency]\nrates = {{ EUR = 1.5 }}\nrates_file = \"{}\"\nrefresh_s = 1\n",
        rates.display()
    );
    let app = spawn_app(&cfg).await;
    let price = || async {
        winners(
            &app.auction_json(&json!({"id": "r", "imp": [audio_imp("1")], "app": {"bundle": "b"}}))
                .await,
        )[0]
        .2
    };
    let started = std::time::Instant::now();
    while price().await != 4.0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the file's rate never applied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    std::fs::write(&rates, r#"{"rates": {"EUR": 3.0}}"#).unwrap();
    while price().await != 6.0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the new rate never applied"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A broken file keeps the last good rates: once the gateway has read it (a failed read
    // is counted), the price is still the one of the last good file.
    let failed = r#"bidgate_rates_refreshes_total{result="error"}"#;
    let failed_before = app.metric(failed).await.unwrap_or(0.0);
    std::fs::write(&rates, "not json").unwrap();
    app.wait_for_metric(failed, |n| n > failed_before).await;
    assert_eq!(price().await, 6.0);
}

/// A TCF v2 string (from the encoder of `src/privacy/tcf_tests.rs`): purposes 1–4 consented,
/// vendor 37 consented; purpose 2 also under legitimate interest, with vendor 52's legitimate
/// interest (so 52 takes part, without consent); special feature 1.
const TCF: &str = "CO5rKAAO5rKAAEsAHBENCWEIAPAAAEAAAAYgASgAAAAAIAaAAAAAAAABAA";

#[tokio::test]
async fn personal_data_reaches_only_the_partners_the_user_consented_to() {
    let yes = mock_partner(Reply::NoBid);
    let no = mock_partner(Reply::NoBid);
    let unknown = mock_partner(Reply::NoBid);
    let cfg = config(
        "",
        &[
            ("gdpr-37", yes.endpoint(), 200),
            ("gdpr-52", no.endpoint(), 200),
            ("gdpr-none", unknown.endpoint(), 200),
        ],
    );
    let cfg = with_partner_lines(cfg, &yes.endpoint(), "vendor_id = 37");
    let cfg = with_partner_lines(cfg, &no.endpoint(), "vendor_id = 52");
    let app = spawn_app(&cfg).await;
    let mut req = json!({"id": "r", "imp": [audio_imp("1")], "app": {"bundle": "b"},
        "regs": {"gdpr": 1}, "user": {"id": "u-1", "buyeruid": "x", "consent": TCF, "eids": [{"source": "s"}]},
        "device": {"ifa": "AAAA", "ip": "203.0.113.77", "geo": {"lat": 59.334591, "lon": 18.063240, "country": "SWE"}}});
    assert_eq!(app.auction(&req).await.status(), 204);
    let sent = |p: &MockPartner| p.requests().last().unwrap().body.clone();
    let full = sent(&yes);
    assert_eq!(
        (full["user"]["id"].as_str(), full["device"]["ifa"].as_str()),
        (Some("u-1"), Some("AAAA"))
    );
    for stripped in [sent(&no), sent(&unknown)] {
        assert!(
            stripped["user"].get("id").is_none() && stripped["user"].get("buyeruid").is_none(),
            "{stripped}"
        );
        assert!(stripped["user"].get("eids").is_none() && stripped["device"].get("ifa").is_none());
        assert_eq!(stripped["device"]["ip"], "203.0.113.0");
        assert_eq!(stripped["device"]["geo"]["lat"], 59.33);
        assert_eq!(
            stripped["user"]["consent"], TCF,
            "the signal itself is passed on"
        );
    }
    // COPPA: nobody gets personal data.
    req["regs"] = json!({"coppa": 1});
    assert_eq!(app.auction(&req).await.status(), 204);
    assert!(sent(&yes)["user"].get("id").is_none());
    let m = app.metrics().await;
    assert!(
        metric(
            &m,
            r#"bidgate_privacy_stripped_total{partner="gdpr-52",reason="gdpr_no_consent"}"#
        )
        .is_some(),
        "{m}"
    );
}

#[tokio::test]
async fn strict_types_refuse_a_wrong_type_anywhere_with_its_path() {
    let p = mock_partner(Reply::Bids(vec![("1", 1.0)]));
    let lenient = spawn_app(&config("", &[("strict-off", p.endpoint(), 200)])).await;
    let strict = spawn_app(&config(
        "strict_types = true",
        &[("strict-on", p.endpoint(), 200)],
    ))
    .await;
    let mut req = request(300, &[("1", 0.0)]);
    req["device"] = json!({"geo": {"lat": "59.3"}});
    // Lenient (the default): bidgate does not act on geo, so the partner gets it as sent.
    assert_eq!(lenient.auction(&req).await.status(), 200);
    let resp = strict.auction(&req).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.text().await.unwrap().trim(),
        r#"request.device.geo.lat: invalid type: string "59.3", expected f64"#
    );
    req["device"] = json!({"geo": {"lat": 59.3}});
    assert_eq!(strict.auction(&req).await.status(), 200);
}
