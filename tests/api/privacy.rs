//! Privacy over real sockets (issue 15, item 4): what a partner receives, or whether it is
//! called at all, for each signal that used to leak. The rules field by field are unit tests
//! (`src/privacy/table_tests.rs`); these check that the gateway applies them.

use crate::helpers::*;
use serde_json::{Value, json};

/// TCF v2 strings from the encoder of `src/privacy/tcf_tests.rs`: vendor 32 consented,
/// purposes 1–4 consented, with (`TC_FULL`) and without (`TC_NO_GEO`) special feature 1
/// (precise geolocation). No other vendor has consent or legitimate interest.
const TC_FULL: &str = "CO5rKAAO5rKAAEsAHBENCWEIAPAAAAAAAAYgAQAAAAAEAAAAA";
const TC_NO_GEO: &str = "CO5rKAAO5rKAAEsAHBENCWEAAPAAAAAAAAYgAQAAAAAEAAAAA";

/// A GPP header listing only section 2 (TCF EU v2).
const GPP_TCF_EU: &str = "DBABM";

/// A GPP string of one US National section whose user opted out of sale.
const GPP_US_OPT_OUT: &str = "DBABLA~BVVaAAAAAA";

/// Two partners: `v32-<tag>` (vendor 32, consented in the strings above) and `v52-<tag>`
/// (vendor 52, no legal basis for anything).
async fn two_vendors(tag: &str) -> (TestApp, MockPartner, MockPartner) {
    let p32 = mock_partner(Reply::Bids(vec![("1", 1.0)]));
    let p52 = mock_partner(Reply::Bids(vec![("1", 2.0)]));
    let cfg = config(
        "",
        &[
            (&format!("v32-{tag}"), p32.endpoint(), 200),
            (&format!("v52-{tag}"), p52.endpoint(), 200),
        ],
    );
    let cfg = with_partner_lines(cfg, &p32.endpoint(), "vendor_id = 32");
    let cfg = with_partner_lines(cfg, &p52.endpoint(), "vendor_id = 52");
    (spawn_app(&cfg).await, p32, p52)
}

/// A bid request carrying every field the privacy rules touch.
fn personal_request(regs: Value, consent: Option<&str>) -> Value {
    let mut req = request(300, &[("1", 0.0)]);
    req["regs"] = regs;
    req["user"] = json!({
        "id": "u-1", "buyeruid": "b-1", "yob": 1990, "keywords": "jazz",
        "kwarray": ["jazz"], "customdata": "c-1",
        "ext": { "data": { "tier": "gold" }, "eids": [{ "source": "s" }] },
        "geo": { "lat": 59.334591, "lon": 18.063240, "zip": "111 29", "city": "Stockholm",
                 "metro": "x", "country": "SWE" },
    });
    if let Some(c) = consent {
        req["user"]["consent"] = json!(c);
    }
    req["device"] = json!({
        "ifa": "AAAA", "ip": "203.0.113.77", "ipv6": "2001:db8:85a3:8d3:1319:8a2e:370:7348",
        "ext": { "ifv": "F0E1D2C3-0000-4000-8000-000000000001" },
        "geo": { "lat": 59.334591, "lon": 18.063240, "zip": "111 29", "city": "Stockholm",
                 "metro": "x", "country": "SWE" },
    });
    req
}

fn last_sent(p: &MockPartner) -> Value {
    p.requests()
        .last()
        .expect("the partner was called")
        .body
        .clone()
}

#[tokio::test]
async fn without_the_precise_geolocation_opt_in_location_and_addresses_are_coarse() {
    let (app, p32, _) = two_vendors("sf1").await;
    let req = personal_request(json!({ "gdpr": 1 }), Some(TC_NO_GEO));
    assert_eq!(app.auction(&req).await.status(), 200);
    let sent = last_sent(&p32);
    assert_eq!(sent["device"]["ip"], "203.0.113.0");
    assert_eq!(sent["device"]["ipv6"], "2001:db8:85a3::");
    for geo in [&sent["device"]["geo"], &sent["user"]["geo"]] {
        assert_eq!(
            (geo["lat"].as_f64(), geo["lon"].as_f64()),
            (Some(59.33), Some(18.06))
        );
    }
    // Vendor 32 has consent: its identifiers are not what special feature 1 is about.
    assert_eq!(
        (&sent["user"]["id"], &sent["device"]["ifa"]),
        (&json!("u-1"), &json!("AAAA"))
    );
    // With the opt-in, the request goes as sent.
    let req = personal_request(json!({ "gdpr": 1 }), Some(TC_FULL));
    assert_eq!(app.auction(&req).await.status(), 200);
    let sent = last_sent(&p32);
    assert_eq!(sent["device"]["ip"], "203.0.113.77");
    assert_eq!(sent["user"]["geo"]["lat"], 59.334591);
}

#[tokio::test]
async fn under_coppa_no_identifier_and_no_fine_location_leaves() {
    let (app, p32, p52) = two_vendors("coppa").await;
    let req = personal_request(json!({ "coppa": 1 }), None);
    assert_eq!(app.auction(&req).await.status(), 200);
    for sent in [last_sent(&p32), last_sent(&p52)] {
        for path in [
            "/device/ext/ifv",
            "/device/ifa",
            "/user/id",
            "/user/keywords",
            "/user/kwarray",
            "/user/customdata",
            "/user/ext/data",
            "/user/ext/eids",
            "/user/geo/zip",
            "/user/geo/city",
            "/user/geo/metro",
            "/user/geo/lat",
            "/device/geo/zip",
            "/device/geo/city",
            "/device/geo/metro",
            "/device/geo/lon",
        ] {
            assert_eq!(sent.pointer(path), None, "{path} left under COPPA: {sent}");
        }
        assert_eq!(sent["device"]["geo"]["country"], "SWE");
        assert_eq!(sent["device"]["ip"], "203.0.113.0");
        assert_eq!(sent["regs"]["coppa"], 1, "the signal itself is passed on");
    }
}

#[tokio::test]
async fn a_vendor_without_a_purpose_2_legal_basis_is_not_called() {
    let (app, p32, p52) = two_vendors("p2").await;
    let req = personal_request(json!({ "gdpr": 1 }), Some(TC_FULL));
    let body = app.auction_json(&req).await;
    assert_eq!(p32.requests().len(), 1);
    assert_eq!(
        p52.requests().len(),
        0,
        "vendor 52 has no purpose 2 legal basis"
    );
    let won: Vec<String> = winners(&body).into_iter().map(|w| w.0).collect();
    assert_eq!(won, ["v32-p2"], "{body}");
    assert_eq!(error_codes(&body, "v52-p2"), [8], "{body}");
    let series = r#"bidgate_partner_requests_total{partner="v52-p2",outcome="no_legal_basis"}"#;
    assert_eq!(app.metric(series).await, Some(1.0));
    // Without GDPR the same string asks nothing of it.
    let req = personal_request(json!({ "gdpr": 0 }), Some(TC_FULL));
    assert_eq!(app.auction(&req).await.status(), 200);
    assert_eq!(last_sent(&p52)["user"]["id"], "u-1");
}

#[tokio::test]
async fn a_gpp_tcf_eu_section_is_gdpr_with_its_consent_string() {
    let (app, p32, p52) = two_vendors("gpp-tcf").await;
    let regs = |tc: &str| json!({ "gpp": format!("{GPP_TCF_EU}~{tc}"), "gpp_sid": [2] });
    let req = personal_request(regs(TC_FULL), None);
    assert_eq!(app.auction(&req).await.status(), 200);
    assert_eq!(
        p52.requests().len(),
        0,
        "no purpose 2 basis in the GPP TC string"
    );
    assert_eq!(last_sent(&p32)["device"]["ip"], "203.0.113.77");
    let req = personal_request(regs(TC_NO_GEO), None);
    assert_eq!(app.auction(&req).await.status(), 200);
    assert_eq!(last_sent(&p32)["device"]["ip"], "203.0.113.0");
    assert_eq!(p52.requests().len(), 0);
}

/// `/v1/ads` with one audio placement and one partner, `consent` as the listener's.
async fn ad_sent_with(consent: Value, id: &str) -> Value {
    let p = mock_partner(Reply::NoBid);
    let mut cfg = config("", &[(id, p.endpoint(), 200)]);
    cfg.push_str(
        "\n[events]\nsecrets = [\"test-events-secret-0123456789abcdef\"]\n\
         [[placements]]\nid = \"a\"\nformat = \"audio\"\n",
    );
    let app = spawn_app(&cfg).await;
    let mut body = ad_request(json!([{"id": "s", "placement": "a"}]));
    body["user"]["consent"] = consent;
    assert_eq!(app.ads(&body).await.status(), 200);
    last_sent(&p)
}

/// Asserts that `/v1/ads` withholds personal data for `consent` (`id`: a fresh partner id).
async fn assert_no_personal_data(consent: Value, id: &str) {
    let sent = ad_sent_with(consent.clone(), id).await;
    assert_eq!(sent["device"]["lmt"], 1, "{consent}: {sent}");
    assert_eq!(sent["device"]["ip"], "203.0.113.0", "{consent}");
    assert!(sent["user"].get("id").is_none() && sent["user"].get("yob").is_none());
}

#[tokio::test]
async fn ads_read_a_us_privacy_opt_out_in_either_case() {
    assert_no_personal_data(json!({ "us_privacy": "1YYN" }), "usp-upper").await;
    assert_no_personal_data(json!({ "us_privacy": "1yyn" }), "usp-lower").await;
    // No opt-out: personal data goes.
    let sent = ad_sent_with(json!({ "us_privacy": "1yNn" }), "usp-in").await;
    assert_eq!(sent["device"]["lmt"], 0);
    assert_eq!(sent["user"]["id"], "listener-1");
}

#[tokio::test]
async fn ads_honour_gpp_opt_outs() {
    let usnat = json!({ "gpp": GPP_US_OPT_OUT, "gpp_sid": [7] });
    assert_no_personal_data(usnat, "gpp-usnat").await;
    let usp = json!({ "gpp": "DBABTA~1yYn", "gpp_sid": [6] });
    assert_no_personal_data(usp, "gpp-usp").await;
}
