//! The client ad API over real sockets: `/v1/ads` mapped to OpenRTB and answered with VAST and
//! signed tracking URLs; `/v1/events` verifying, deduplicating and billing.

use crate::helpers::*;
use serde_json::{Value, json};

const SECRET: &str = "test-events-secret-0123456789abcdef";

/// A VAST 4 audio ad with a 640×640 companion, as a partner would send it.
fn vast(domain: &str, seconds: u32) -> String {
    format!(
        r#"<VAST version="4.2"><Ad id="{domain}"><InLine><AdSystem>partner</AdSystem><AdTitle>{domain} spot</AdTitle><Impression><![CDATA[https://{domain}/imp]]></Impression><Creatives><Creative><Linear><Duration>00:00:{seconds:02}</Duration><MediaFiles><MediaFile delivery="progressive" type="audio/mpeg" bitrate="128"><![CDATA[https://cdn.{domain}/spot.mp3]]></MediaFile></MediaFiles></Linear></Creative><Creative><CompanionAds><Companion width="640" height="640"><StaticResource creativeType="image/jpeg"><![CDATA[https://cdn.{domain}/cover.jpg]]></StaticResource><CompanionClickThrough><![CDATA[https://{domain}/]]></CompanionClickThrough></Companion></CompanionAds></Creative></Creatives></InLine></Ad></VAST>"#
    )
}

/// A partner answering every request with these bids: (impid, price, domain, seconds).
/// `burl` points back at the partner itself, with the price macro.
fn bidding(bids: &[(&str, f64, &str, u32)]) -> MockPartner {
    let partner = mock_partner(Reply::NoBid);
    let bill = format!(
        "http://{}/bill?price=${{AUCTION_PRICE}}&imp=${{AUCTION_IMP_ID}}",
        partner.addr
    );
    let bids: Vec<Value> = bids
        .iter()
        .enumerate()
        .map(|(i, (imp, price, domain, dur))| {
            json!({"id": format!("b{i}"), "impid": imp, "price": price, "adomain": [domain],
                   "dur": dur, "adm": vast(domain, *dur), "burl": bill, "crid": format!("c{i}")})
        })
        .collect();
    partner.set_reply(Reply::Json(
        json!({"id": "x", "cur": "USD", "seatbid": [{"bid": bids}]}),
    ));
    partner
}

fn gateway_config(partners: &[(&str, &MockPartner)], placements: &str) -> String {
    app_config(
        "pricing = \"first_price\"",
        partners,
        &format!("[events]\nsecrets = [\"{SECRET}\"]\n{placements}"),
    )
}

#[tokio::test]
async fn an_audio_break_of_two_slots_is_filled_from_two_partners() {
    let a = bidding(&[("pre", 4.0, "brand-a.com", 30)]);
    let b = bidding(&[("post", 3.0, "brand-b.com", 15)]);
    let placements = r#"
[[placements]]
id = "audio-pre"
format = "audio"
min_duration_s = 15
companion = [640, 640]
floor = 1.0
partners = ["ads-a"]

[[placements]]
id = "audio-post"
format = "audio"
position = "post"
partners = ["ads-b"]
"#;
    let app = spawn_app(&gateway_config(&[("ads-a", &a), ("ads-b", &b)], placements)).await;
    let body = ad_request(
        json!([{"id": "pre", "placement": "audio-pre"}, {"id": "post", "placement": "audio-post"}]),
    );
    let resp = app.ads(&body).await;
    assert_eq!(resp.status(), 200);
    let out: Value = resp.json().await.unwrap();
    assert_eq!(out["id"], "app-req-1");
    let slots = out["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 2);
    for (slot, seat, domain, dur) in [
        (&slots[0], "ads-a", "brand-a.com", 30),
        (&slots[1], "ads-b", "brand-b.com", 15),
    ] {
        assert_eq!(slot["filled"], true, "{slot}");
        let ad = &slot["ads"][0];
        assert_eq!(ad["seat"], seat);
        assert_eq!(ad["format"], "audio");
        assert_eq!(ad["duration_s"], dur);
        assert_eq!(ad["adomain"], json!([domain]));
        assert_eq!(ad["media_url"], format!("https://cdn.{domain}/spot.mp3"));
        assert_eq!(ad["companion"]["width"], 640);
        assert_eq!(
            ad["companion"]["image_url"],
            format!("https://cdn.{domain}/cover.jpg")
        );
        let vast = ad["vast"].as_str().unwrap();
        assert!(
            vast.contains("<Companion") && vast.contains("cover.jpg"),
            "{vast}"
        );
        let imp = ad["tracking"]["impression"].as_str().unwrap();
        assert!(
            imp.starts_with(&format!("http://{}/v1/events/impression?t=", app.addr)),
            "{imp}"
        );
        assert!(vast.contains(imp), "our impression tracker is in the VAST");
        assert!(
            vast.contains(&format!("https://{domain}/imp")),
            "the partner's is kept"
        );
        assert!(
            ad["tracking"]["complete"]
                .as_str()
                .unwrap()
                .contains("/v1/events/complete?t=")
        );
    }
    // Each partner was offered only its placement's imp, as OpenRTB 2.6 audio.
    for (partner, imp) in [(&a, "pre"), (&b, "post")] {
        let sent = &partner.requests()[0].body;
        let imps = sent["imp"].as_array().unwrap();
        assert_eq!(imps.len(), 1, "{sent}");
        assert_eq!(imps[0]["id"], imp);
        assert_eq!(imps[0]["audio"]["feed"], 1, "music");
        assert_eq!(sent["app"]["bundle"], "com.example.music");
        assert_eq!(sent["app"]["content"]["genre"], "hip-hop");
        assert_eq!(sent["device"]["geo"]["country"], "SWE");
        assert_eq!(sent["regs"]["gdpr"], 1);
        assert_eq!(
            sent["user"]["id"], "listener-1",
            "consent given: the id goes out"
        );
        assert_eq!(sent["device"]["ifa"], "AAAA-BBBB");
    }
    let pre = &a.requests()[0].body["imp"][0];
    assert_eq!(pre["audio"]["companionad"][0]["w"], 640);
    assert_eq!(pre["audio"]["startdelay"], 0);
    assert_eq!(pre["bidfloor"], 1.0);
    assert_eq!(b.requests()[0].body["imp"][0]["audio"]["startdelay"], -2);
}

#[tokio::test]
async fn a_pod_is_filled_with_the_best_set_and_one_ad_per_advertiser() {
    let a = bidding(&[("brk", 5.0, "one.com", 30), ("brk", 4.0, "two.com", 30)]);
    let b = bidding(&[
        ("brk", 4.5, "one.com", 30),
        ("brk", 3.0, "three.com", 15),
        ("brk", 2.9, "four.com", 15),
    ]);
    let placements = r#"
[[placements]]
id = "break"
format = "audio"
min_duration_s = 15
max_duration_s = 30
position = "mid"
pod = { max_ads = 3, max_duration_s = 60 }
"#;
    let app = spawn_app(&gateway_config(&[("pod-a", &a), ("pod-b", &b)], placements)).await;
    let out: Value = app
        .ads_json(&ad_request(json!([{"id": "brk", "placement": "break"}])))
        .await;
    let pod = out["slots"][0]["ads"].as_array().unwrap();
    let got: Vec<(&str, &str)> = pod
        .iter()
        .map(|ad| {
            (
                ad["seat"].as_str().unwrap(),
                ad["adomain"][0].as_str().unwrap(),
            )
        })
        .collect();
    // 5.00 + 3.00 + 2.90 in 60 s beats 5.00 + 4.00 (also 60 s); one.com only once.
    assert_eq!(
        got,
        [
            ("pod-a", "one.com"),
            ("pod-b", "three.com"),
            ("pod-b", "four.com")
        ],
        "{out}"
    );
    let sent = &a.requests()[0].body["imp"][0]["audio"];
    assert_eq!(
        (sent["poddur"].as_u64(), sent["maxseq"].as_u64()),
        (Some(60), Some(3)),
        "{sent}"
    );
    assert_eq!(sent["podid"], "brk");
}

#[tokio::test]
async fn nothing_won_is_still_a_definite_answer() {
    let p = mock_partner(Reply::NoBid);
    let placements = "[[placements]]\nid = \"banner\"\nformat = \"display\"\nsizes = [[320, 50]]\n";
    let app = spawn_app(&gateway_config(&[("none", &p)], placements)).await;
    let resp = app
        .ads(&ad_request(json!([{"id": "b", "placement": "banner"}])))
        .await;
    assert_eq!(resp.status(), 200);
    let out: Value = resp.json().await.unwrap();
    assert_eq!(
        out["slots"],
        json!([{"id": "b", "placement": "banner", "filled": false, "ads": []}])
    );
    assert_eq!(
        p.requests()[0].body["imp"][0]["banner"]["format"],
        json!([{"w": 320, "h": 50}])
    );
}

#[tokio::test]
async fn bad_requests_get_a_400_naming_the_field() {
    let p = mock_partner(Reply::NoBid);
    let placements = "[[placements]]\nid = \"banner\"\nformat = \"display\"\nsizes = [[320, 50]]\n";
    let app = spawn_app(&gateway_config(&[("bad-req", &p)], placements)).await;
    let slot = json!([{"id": "b", "placement": "banner"}]);
    let mut no_slots = ad_request(slot.clone());
    no_slots["slots"] = json!([]);
    let mut country = ad_request(slot.clone());
    country["context"]["country"] = json!("SE");
    let mut wrong_type = ad_request(slot.clone());
    wrong_type["device"]["ip"] = json!("not an ip");
    for (body, expect) in [
        (
            ad_request(json!([{"id": "b", "placement": "nope"}])),
            "request.slots[0].placement: unknown placement `nope`",
        ),
        (no_slots, "request.slots must list at least one slot"),
        (
            country,
            "request.context.country must be an ISO 3166-1 alpha-3",
        ),
        (wrong_type, "request.device.ip:"),
        (
            ad_request(
                json!([{"id": "b", "placement": "banner"}, {"id": "b", "placement": "banner"}]),
            ),
            "request.slots[1].id",
        ),
    ] {
        let resp = app.ads(&body).await;
        assert_eq!(resp.status(), 400);
        let text = resp.text().await.unwrap();
        assert!(text.starts_with(expect), "{text}");
    }
    let resp = app
        .client
        .post(app.url("/v1/ads"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // A good request after them is answered once the partner has answered it: what the
    // partner has seen by then is all it will see of this test, and that is the good one.
    assert_eq!(app.ads(&ad_request(slot)).await.status(), 200);
    assert_eq!(p.requests().len(), 1, "bad requests never reach a partner");
}

#[tokio::test]
async fn without_consent_no_personal_data_leaves() {
    let p = mock_partner(Reply::NoBid);
    let placements = "[[placements]]\nid = \"a\"\nformat = \"audio\"\n";
    let app = spawn_app(&gateway_config(&[("privacy", &p)], placements)).await;
    let mut body = ad_request(json!([{"id": "s", "placement": "a"}]));
    body["user"]["consent"] = json!({"gdpr": true});
    assert_eq!(app.ads(&body).await.status(), 200);
    let sent = &p.requests()[0].body;
    assert!(
        sent["user"].get("id").is_none() && sent["user"].get("yob").is_none(),
        "{sent}"
    );
    assert!(sent["device"].get("ifa").is_none());
    assert_eq!(sent["device"]["ip"], "203.0.113.0");
    assert_eq!(sent["device"]["lmt"], 1);
    assert_eq!(sent["regs"]["gdpr"], 1);
}

/// One filled ad (2.50 from `partner`, whose `burl` points back at itself) and its tracking
/// URLs, from a gateway with a single audio placement.
async fn one_ad(partner: &str) -> (TestApp, MockPartner, Value) {
    let p = bidding(&[("s", 2.5, "brand.com", 30)]);
    let placements = "[[placements]]\nid = \"a\"\nformat = \"audio\"\n";
    let app = spawn_app(&gateway_config(&[(partner, &p)], placements)).await;
    let out: Value = app
        .ads_json(&ad_request(json!([{"id": "s", "placement": "a"}])))
        .await;
    let ad = out["slots"][0]["ads"][0].clone();
    assert!(ad.is_object(), "{out}");
    (app, p, ad)
}

/// Waits until `partner`'s billing notices have been answered `n` times: the notifier counts
/// a notice when the partner has answered it, so by then the mock has it.
async fn billing_notices_answered(app: &TestApp, partner: &str, n: f64) {
    let series =
        format!(r#"bidgate_notices_total{{kind="billing",partner="{partner}",result="ok"}}"#);
    app.wait_for_metric(&series, |v| v >= n).await;
}

/// What the gateway billed `partner` (USD micros), counted when it decides to bill: before it
/// answers the impression and fires the notice.
async fn billed_micros(app: &TestApp, partner: &str) -> Option<f64> {
    app.metric(&format!(
        r#"bidgate_billed_micros_total{{partner="{partner}",currency="USD"}}"#
    ))
    .await
}

#[tokio::test]
async fn an_impression_bills_once_however_often_it_is_sent() {
    let (app, p, ad) = one_ad("ev-once").await;
    let imp = ad["tracking"]["impression"].as_str().unwrap();
    for _ in 0..3 {
        let r = app.get(imp).await;
        assert_eq!(r.status(), 204);
    }
    let pixel = app
        .get(&format!(
            "{}&pixel=1",
            ad["tracking"]["start"].as_str().unwrap()
        ))
        .await;
    assert_eq!(pixel.headers()["content-type"], "image/gif");
    assert_eq!(&pixel.bytes().await.unwrap()[..6], b"GIF89a");
    // Every impression has been answered, and a notice is fired before the answer, only when
    // the gateway bills: it billed once (2.50), so at most one notice is on its way. The
    // notice goes out in the background: once it has been answered, the mock has everything
    // it will ever get, and "once" can be checked.
    assert_eq!(billed_micros(&app, "ev-once").await, Some(2_500_000.0));
    billing_notices_answered(&app, "ev-once", 1.0).await;
    assert_eq!(p.paths("/bill"), ["/bill?price=2.5&imp=s"]);
    let m = app.metrics().await;
    assert_eq!(
        metric(
            &m,
            r#"bidgate_events_total{kind="impression",result="billed"}"#
        )
        .map(|v| v >= 1.0),
        Some(true)
    );
    assert!(
        metric(
            &m,
            r#"bidgate_events_total{kind="impression",result="duplicate"}"#
        )
        .unwrap()
            >= 2.0
    );
    assert!(
        metric(
            &m,
            r#"bidgate_cache_requests_total{cache="event_dedup",result="hit"}"#
        )
        .unwrap()
            >= 2.0
    );
}

#[tokio::test]
async fn forged_tampered_and_expired_tokens_are_refused_and_never_bill() {
    use bidgate::events::token::{Claims, Signer};
    let (app, p, ad) = one_ad("ev-forged").await;
    let imp = ad["tracking"]["impression"].as_str().unwrap();
    let (base, token) = imp.split_once("?t=").unwrap();
    // Tampered: one character of the payload changed.
    let mut chars: Vec<char> = token.chars().collect();
    chars[5] = if chars[5] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    let claims = Claims {
        auction: "a".into(),
        imp: "s".into(),
        partner: "ev-forged".into(),
        bid: "b0".into(),
        price_micros: 99_000_000,
        currency: "USD".into(),
        expires: u64::MAX,
        burl: Some(format!("http://{}/bill?forged", p.addr)),
        user_key: None,
        line_item: None,
    };
    let forged = Signer::new(&["an-attackers-own-secret-of-enough-length".into()])
        .sign(&claims)
        .unwrap();
    let expired = Signer::new(&[SECRET.into()])
        .sign(&Claims {
            expires: 1,
            ..claims
        })
        .unwrap();
    for (token, status) in [
        (tampered.as_str(), 403),
        (forged.as_str(), 403),
        (expired.as_str(), 410),
        ("garbage", 400),
        ("", 400),
    ] {
        let r = app.get(&format!("{base}?t={token}")).await;
        assert_eq!(r.status(), status, "{token}");
    }
    assert_eq!(app.get("/v1/events/teleport?t=x").await.status(), 404);
    // A later, genuine impression is billed; once its notice has been answered, a notice
    // fired for any of the refused tokens (before their answers, so before this one) would
    // have been too. Only the genuine one reached the partner, and only it was billed.
    assert_eq!(app.get(imp).await.status(), 204);
    billing_notices_answered(&app, "ev-forged", 1.0).await;
    assert_eq!(
        p.paths("/bill"),
        ["/bill?price=2.5&imp=s"],
        "only the genuine impression bills"
    );
    assert_eq!(billed_micros(&app, "ev-forged").await, Some(2_500_000.0));
    let m = app.metrics().await;
    for result in ["forged", "expired", "malformed"] {
        let series = format!(r#"bidgate_events_total{{kind="impression",result="{result}"}}"#);
        assert!(metric(&m, &series).is_some(), "{series}");
    }
}

/// `bidgate demo`'s config, partners and fixture (on free ports): the audio break it
/// advertises is filled, every spot with a companion, one advertiser each.
#[tokio::test]
async fn the_demo_fills_its_audio_break() {
    let mut config = bidgate::config::from_toml_str(bidgate::demo::CONFIG, Vec::new()).unwrap();
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.internal.catalog =
        Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/catalog/demo.toml"));
    for (profile, partner) in bidgate::demo::profiles()
        .into_iter()
        .zip(&mut config.partners)
    {
        let (bound, server) =
            bidgate::demo::partner::spawn("127.0.0.1:0".parse().unwrap(), profile).unwrap();
        tokio::spawn(server);
        partner.endpoint = format!("http://{bound}/bid");
    }
    let app = bidgate::build(config).unwrap();
    let addr = app.addr();
    tokio::spawn(app.run());
    let body: Value = serde_json::from_str(bidgate::demo::ADS_FIXTURE).unwrap();
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/v1/ads"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let out: Value = resp.json().await.unwrap();
    let brk = &out["slots"][0];
    assert_eq!(brk["id"], "break-1");
    let spots = brk["ads"].as_array().unwrap();
    // dsp-a always bids (two spots): the break is never empty.
    assert!(!spots.is_empty(), "{out}");
    let total: u64 = spots
        .iter()
        .map(|s| s["duration_s"].as_u64().unwrap())
        .sum();
    assert!(total <= 60 && spots.len() <= 3, "{out}");
    let mut domains: Vec<&str> = spots
        .iter()
        .map(|s| s["adomain"][0].as_str().unwrap())
        .collect();
    domains.sort();
    domains.dedup();
    assert_eq!(domains.len(), spots.len(), "one ad per advertiser: {out}");
    // The simulated partners always send a companion; catalog creatives may not have one.
    for spot in spots.iter().filter(|s| s["seat"] != "direct") {
        assert_eq!(spot["companion"]["width"], 640, "{spot}");
        assert!(spot["vast"].as_str().unwrap().contains("<CompanionAds>"));
    }
    assert_eq!(out["slots"][1]["id"], "banner");
    // The demo catalog's hip-hop sponsorship owns a place in this Swedish hip-hop break.
    assert!(
        spots
            .iter()
            .any(|s| s["seat"] == "direct" && s["adomain"][0] == "stride.example"),
        "{out}"
    );
}

/// Markup that cannot be played is refused before the auction, so the next best bid fills
/// the slot instead of the app getting nothing.
#[tokio::test]
async fn a_bid_with_unplayable_markup_loses_to_the_next_best() {
    let broken = mock_partner(Reply::Json(
        json!({"id": "x", "cur": "USD", "seatbid": [{"bid": [
            {"id": "bad", "impid": "s", "price": 9.0, "adomain": ["broken.example"], "adm": "<VAST version=\"4.2\"><Ad><InLine>"}
        ]}]}),
    ));
    let good = bidding(&[("s", 2.0, "good.example", 30)]);
    let placements = "[[placements]]\nid = \"a\"\nformat = \"audio\"\n";
    let app = spawn_app(&gateway_config(
        &[("unplayable", &broken), ("playable", &good)],
        placements,
    ))
    .await;
    let out: Value = app
        .ads_json(&ad_request(json!([{"id": "s", "placement": "a"}])))
        .await;
    assert_eq!(out["slots"][0]["ads"][0]["seat"], "playable", "{out}");
    let m = app.metrics().await;
    assert_eq!(
        metric(
            &m,
            r#"bidgate_bids_rejected_total{partner="unplayable",code="307"}"#
        ),
        Some(1.0),
        "{m}"
    );
}

/// `/v1/events` writes to the event log without authentication: it shares the per-client
/// rate limit, keyed by API key or IP.
#[tokio::test]
async fn tracking_events_are_under_the_client_rate_limit() {
    let p = mock_partner(Reply::NoBid);
    let placements = "[[placements]]\nid = \"a\"\nformat = \"audio\"\n\n[client_rate_limit]\nrequests_per_second = 1\nburst = 1\n";
    let app = spawn_app(&gateway_config(&[("events-limit", &p)], placements)).await;
    let url = app.url("/v1/events/impression?t=garbage");
    assert_eq!(
        app.get(&url).await.status(),
        400,
        "within the limit: judged"
    );
    let limited = app.get(&url).await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
}
