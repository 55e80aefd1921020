//! What each partner is sent (issue 14, items 7–9): bidgate's supply-chain node, each
//! partner's own `imp.ext` params only, the imps of the media types it bids on, its extra
//! headers, gzip bodies and OpenRTB version; and requests refused as the spec reads (negative counts, a deal
//! without id) or accepted (a 0 × 0 interstitial). Real HTTP: the gateway and mock partners
//! on loopback, each recording what it received.

use crate::helpers::*;
use serde_json::{Value, json};

const SUPPLY_CHAIN: &str = "\n[supply_chain]\nasi = \"bidgate.example\"\nsid = \"seller-42\"\npublisher_id = \"pub-7\"\npublisher_name = \"Example Music AB\"\n";

/// The one bid request `p` received.
fn only_request(p: &MockPartner) -> Value {
    let got = p.requests();
    assert_eq!(got.len(), 1, "one bid request: {got:?}");
    got[0].body.clone()
}

fn node() -> Value {
    json!({"asi": "bidgate.example", "sid": "seller-42", "rid": "req-1", "hp": 1})
}

#[tokio::test]
async fn bidgate_appends_its_node_to_the_supply_chain() {
    let upstream = json!({"asi": "ssp.example", "sid": "9", "hp": 1});
    let cases = [
        // No chain: a new one, bidgate's node alone.
        (
            json!(null),
            json!({"ver": "1.0", "complete": 1, "nodes": [node()]}),
        ),
        // A complete 2.6 chain stays complete.
        (
            json!({"schain": {"ver": "1.0", "complete": 1, "nodes": [upstream]}}),
            json!({"ver": "1.0", "complete": 1, "nodes": [upstream, node()]}),
        ),
        // An incomplete chain stays incomplete.
        (
            json!({"schain": {"ver": "1.0", "complete": 0, "nodes": [upstream]}}),
            json!({"ver": "1.0", "complete": 0, "nodes": [upstream, node()]}),
        ),
        // The 2.5 location (source.ext.schain) moves to source.schain.
        (
            json!({"tid": "t-1", "ext": {"schain": {"ver": "1.0", "complete": 1, "nodes": [upstream]}}}),
            json!({"ver": "1.0", "complete": 1, "nodes": [upstream, node()]}),
        ),
    ];
    for (source, want) in cases {
        let p = mock_partner(Reply::NoBid);
        let app = spawn_app(&(config("", &[("sc", p.endpoint(), 200)]) + SUPPLY_CHAIN)).await;
        let mut body = request(300, &[("1", 0.0)]);
        if !source.is_null() {
            body["source"] = source.clone();
        }
        assert_eq!(app.auction(&body).await.status(), 204);
        let sent = only_request(&p);
        assert_eq!(sent["source"]["schain"], want, "from {source}");
        assert!(
            sent["source"].get("ext").is_none(),
            "no 2.5 copy left: {sent}"
        );
        if source.get("tid").is_some() {
            assert_eq!(sent["source"]["tid"], "t-1", "the rest of source kept");
        }
    }
}

#[tokio::test]
async fn without_supply_chain_config_the_request_goes_out_as_sent() {
    let p = mock_partner(Reply::NoBid);
    let app = spawn_app(&config("", &[("sc-off", p.endpoint(), 200)])).await;
    let mut body = request(300, &[("1", 0.0)]);
    body["source"] = json!({"ext": {"schain": {"ver": "1.0", "complete": 1, "nodes": []}}});
    assert_eq!(app.auction(&body).await.status(), 204);
    assert_eq!(only_request(&p)["source"], body["source"]);
}

#[tokio::test]
async fn app_requests_carry_the_chain_and_the_publisher() {
    let p = mock_partner(Reply::NoBid);
    let cfg = with_partner_lines(
        config("", &[("sc-ads", p.endpoint(), 200)]),
        &p.endpoint(),
        "vendor_id = 37",
    ) + "\n[events]\nsecrets = [\"0123456789abcdef0123456789abcdef\"]\n"
        + "[[placements]]\nid = \"a\"\nformat = \"audio\"\n"
        + SUPPLY_CHAIN;
    let app = spawn_app(&cfg).await;
    let resp = app
        .ads(&ad_request(json!([{"id": "s1", "placement": "a"}])))
        .await;
    assert!(resp.status().is_success(), "{}", resp.status());
    let sent = only_request(&p);
    assert_eq!(
        sent["app"]["publisher"],
        json!({"id": "pub-7", "name": "Example Music AB"})
    );
    let chain = &sent["source"]["schain"];
    assert_eq!(chain["complete"], 1);
    assert_eq!(chain["nodes"][0]["asi"], "bidgate.example");
    assert_eq!(chain["nodes"][0]["sid"], "seller-42");
    assert_eq!(chain["nodes"][0]["hp"], 1);
    assert_eq!(chain["nodes"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn each_partner_sees_only_its_own_imp_params() {
    let (a, b, c) = (
        mock_partner(Reply::NoBid),
        mock_partner(Reply::NoBid),
        mock_partner(Reply::NoBid),
    );
    let app = spawn_app(&config(
        "",
        &[
            ("pa", a.endpoint(), 200),
            ("pb", b.endpoint(), 200),
            ("pc", c.endpoint(), 200),
        ],
    ))
    .await;
    let mut body = request(300, &[("1", 0.0), ("2", 0.0)]);
    body["imp"][0]["ext"] = json!({"pa": {"placement": 1}, "gpid": "/home/top",
        "prebid": {"bidder": {"pb": {"zone": "z"}}}, "data": {"pbadslot": "x"}});
    body["imp"][1]["ext"] = json!({"pb": {"zone": "z2"}, "gpid": "/home/bottom"});
    assert_eq!(app.auction(&body).await.status(), 204);
    let exts = |p: &MockPartner| -> Vec<Value> {
        let sent = only_request(p);
        sent["imp"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["ext"].clone())
            .collect()
    };
    assert_eq!(
        exts(&a),
        [
            json!({"bidder": {"placement": 1}, "gpid": "/home/top", "data": {"pbadslot": "x"}}),
            json!({"gpid": "/home/bottom"}),
        ]
    );
    assert_eq!(
        exts(&b),
        [
            json!({"bidder": {"zone": "z"}, "gpid": "/home/top", "data": {"pbadslot": "x"}}),
            json!({"bidder": {"zone": "z2"}, "gpid": "/home/bottom"}),
        ]
    );
    assert_eq!(
        exts(&c),
        [
            json!({"gpid": "/home/top", "data": {"pbadslot": "x"}}),
            json!({"gpid": "/home/bottom"}),
        ],
        "a partner without params sees nobody's"
    );
}

#[tokio::test]
async fn a_partner_is_offered_only_the_media_types_it_bids_on() {
    let (video, all) = (mock_partner(Reply::NoBid), mock_partner(Reply::NoBid));
    let cfg = with_partner_lines(
        config(
            "",
            &[
                ("mt-video", video.endpoint(), 200),
                ("mt-all", all.endpoint(), 200),
            ],
        ),
        &video.endpoint(),
        "media_types = [\"video\"]",
    );
    let app = spawn_app(&cfg).await;
    let banner = json!({"id": "b", "banner": {"w": 300, "h": 250}});
    let clip = json!({"id": "v", "video": {"mimes": ["video/mp4"], "w": 640, "h": 360}});
    let ids = |sent: &Value| -> Vec<String> {
        sent["imp"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };
    let both =
        json!({"id": "req-1", "imp": [banner, clip], "site": {"page": "https://example.com/"}});
    assert_eq!(app.auction(&both).await.status(), 204);
    assert_eq!(ids(&only_request(&video)), ["v"]);
    assert_eq!(ids(&only_request(&all)), ["b", "v"]);
    // Banner only: the video partner is not called at all.
    let display = json!({"id": "req-2", "imp": [banner], "site": {"page": "https://example.com/"}});
    assert_eq!(app.auction(&display).await.status(), 204);
    assert_eq!(video.requests().len(), 1);
    assert_eq!(all.requests().len(), 2);
}

#[tokio::test]
async fn extra_headers_from_the_environment_and_gzip_bodies() {
    let (zipped, plain) = (mock_partner(Reply::NoBid), mock_partner(Reply::NoBid));
    let cfg = with_partner_lines(
        config(
            "",
            &[
                ("hz", zipped.endpoint(), 200),
                ("hp", plain.endpoint(), 200),
            ],
        ),
        &zipped.endpoint(),
        "gzip_requests = true\nheaders = { \"X-Auth\" = { env = \"BIDGATE_TEST_PARTNER_TOKEN\" }, \"X-Tenant\" = \"radio\" }",
    );
    let file = ConfigFile::new("partner-headers", &cfg);
    let (mut child, app) =
        serve_binary_env(&file, &[("BIDGATE_TEST_PARTNER_TOKEN", "token-0123456789")]);
    assert_eq!(
        app.auction(&request(300, &[("1", 0.0)])).await.status(),
        204
    );
    let got = zipped.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("x-auth"), Some("token-0123456789"));
    assert_eq!(got[0].header("x-tenant"), Some("radio"));
    assert_eq!(got[0].header("content-encoding"), Some("gzip"));
    assert_eq!(
        got[0].body["id"], "req-1",
        "the gzip body inflates to the request"
    );
    let got = plain.requests();
    assert_eq!(got[0].header("x-auth"), None, "headers are per partner");
    // The Host header bidgate writes once per partner: one, its endpoint's host and port.
    for (partner, got) in [(&zipped, zipped.requests()), (&plain, got.clone())] {
        let hosts: Vec<_> = got[0]
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(hosts, [partner.addr.to_string()]);
    }
    assert_eq!(got[0].header("content-encoding"), None);
    assert_eq!(got[0].body["id"], "req-1");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn a_2_5_partner_gets_the_2_6_fields_in_ext_and_a_2_5_header() {
    let (old, new) = (mock_partner(Reply::NoBid), mock_partner(Reply::NoBid));
    let cfg = with_partner_lines(
        config(
            "",
            &[("v25", old.endpoint(), 200), ("v26", new.endpoint(), 200)],
        ),
        &old.endpoint(),
        "openrtb_version = \"2.5\"",
    ) + SUPPLY_CHAIN;
    let app = spawn_app(&cfg).await;
    let eids = json!([{"source": "id5-sync.com", "uids": [{"id": "ID5-abc", "atype": 1}]}]);
    let mut body = request(300, &[("1", 0.0)]);
    body["regs"] = json!({"gdpr": 0, "us_privacy": "1YNN", "coppa": 0});
    body["user"] = json!({"id": "u-1", "consent": "CONSENT", "eids": eids,
                          "ext": {"data": "kept", "consent": "FROM-EXT"}});
    assert_eq!(app.auction(&body).await.status(), 204);
    let chain = json!({"ver": "1.0", "complete": 1, "nodes": [node()]});

    let got = old.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("x-openrtb-version"), Some("2.5"));
    let sent = &got[0].body;
    assert_eq!(
        sent["regs"],
        json!({"coppa": 0, "ext": {"gdpr": 0, "us_privacy": "1YNN"}})
    );
    assert_eq!(
        sent["user"],
        json!({"id": "u-1", "ext": {"data": "kept", "consent": "FROM-EXT", "eids": eids}}),
        "moved into ext, whose own consent wins"
    );
    assert_eq!(sent["source"], json!({"ext": {"schain": chain}}));
    assert_eq!(sent["id"], "req-1");

    let got = new.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("x-openrtb-version"), Some("2.6"));
    let sent = &got[0].body;
    assert_eq!(sent["regs"], body["regs"]);
    assert_eq!(sent["user"], body["user"]);
    assert_eq!(sent["source"], json!({"schain": chain}));
}

#[test]
fn an_unknown_openrtb_version_is_a_config_error_with_its_path() {
    for bad in ["\"2.4\"", "2.5", "\"\""] {
        let cfg = config("", &[("hv", "http://127.0.0.1:9/".into(), 100)])
            + &format!("openrtb_version = {bad}\n");
        let problems = bidgate::config::from_toml_str(&cfg, Vec::new()).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.path == "partners[0].openrtb_version" && p.message.contains("2.6")),
            "{bad}: {problems:?}"
        );
    }
    let cfg = config("", &[("hv", "http://127.0.0.1:9/".into(), 100)]);
    let parsed = bidgate::config::from_toml_str(&cfg, Vec::new()).unwrap();
    assert_eq!(
        parsed.partners[0].openrtb_version,
        bidgate::config::OpenRtbVersion::V2_6,
        "2.6 by default"
    );
}

#[test]
fn a_header_from_a_missing_variable_is_a_config_error_with_its_path() {
    let cfg = config("", &[("hm", "http://127.0.0.1:9/".into(), 100)])
        + "headers = { \"X-Auth\" = { env = \"BIDGATE_TEST_NOT_SET_ANYWHERE\" } }\n";
    let problems = bidgate::config::from_toml_str(&cfg, Vec::new()).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.path == "partners[0].headers.X-Auth"
                && p.message.contains("BIDGATE_TEST_NOT_SET_ANYWHERE")),
        "{problems:?}"
    );
    let cfg = config("", &[("hm", "http://127.0.0.1:9/".into(), 100)])
        + "media_types = []\nheaders = { \"Content-Type\" = \"text/plain\" }\n[supply_chain]\nasi = \"x.example\"\n";
    let problems = bidgate::config::from_toml_str(&cfg, Vec::new()).unwrap_err();
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    for want in [
        "partners[0].media_types",
        "partners[0].headers.Content-Type",
        "supply_chain.sid",
    ] {
        assert!(paths.contains(&want), "{want} in {problems:?}");
    }
}

#[tokio::test]
async fn requests_are_checked_as_the_spec_reads() {
    let p = mock_partner(Reply::NoBid);
    let app = spawn_app(&config("", &[("spec", p.endpoint(), 200)])).await;
    let with_imp =
        |imp: Value| json!({"id": "r", "imp": [imp], "site": {"page": "https://e.com/"}});
    let refused = [
        (
            json!({"id": "1", "banner": {"w": -300, "h": 250}}),
            "request.imp[0].banner.w",
        ),
        (
            json!({"id": "1", "banner": {"format": [{"w": 300, "h": -250}]}}),
            "request.imp[0].banner.format[0].h",
        ),
        (
            json!({"id": "1", "banner": {"w": 300, "h": 250, "pos": -1}}),
            "request.imp[0].banner.pos",
        ),
        (
            json!({"id": "1", "video": {"mimes": ["video/mp4"], "minduration": -5}}),
            "request.imp[0].video.minduration",
        ),
        (
            json!({"id": "1", "video": {"mimes": ["video/mp4"], "maxbitrate": -1}}),
            "request.imp[0].video.maxbitrate",
        ),
        (
            json!({"id": "1", "audio": {"mimes": ["audio/mpeg"], "sequence": -2}}),
            "request.imp[0].audio.sequence",
        ),
        (
            json!({"id": "1", "audio": {"mimes": ["audio/mpeg"], "minbitrate": -64}}),
            "request.imp[0].audio.minbitrate",
        ),
        (
            json!({"id": "1", "banner": {"w": 1, "h": 1}, "pmp": {"deals": [{"bidfloor": 1.0}]}}),
            "request.imp[0].pmp.deals[0].id",
        ),
        (
            json!({"id": "1", "video": {"mimes": ["video/mp4"],
                   "companionad": [{"w": 300, "h": -250}]}}),
            "request.imp[0].video.companionad[0].h",
        ),
        (
            json!({"id": "1", "audio": {"mimes": ["audio/mpeg"],
                   "durfloors": [{"mindur": -1, "maxdur": 30, "bidfloor": 2.0}]}}),
            "request.imp[0].audio.durfloors[0].mindur",
        ),
        (
            json!({"id": "1", "banner": {"w": 1, "h": 1}, "refresh": {"count": -1}}),
            "request.imp[0].refresh.count",
        ),
        (
            json!({"id": "1", "banner": {"w": 1, "h": 1},
                   "refresh": {"refsettings": [{"reftype": 1, "minint": -30}]}}),
            "request.imp[0].refresh.refsettings[0].minint",
        ),
    ];
    for (imp, field) in refused {
        let resp = app.auction(&with_imp(imp.clone())).await;
        assert_eq!(resp.status(), 400, "{imp}");
        let text = resp.text().await.unwrap();
        assert!(text.contains(field), "{field} named in {text}");
    }
    let mut device = with_imp(json!({"id": "1", "banner": {"w": 1, "h": 1}}));
    device["device"] = json!({"w": -1, "h": 800});
    let resp = app.auction(&device).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("request.device.w"));
    // The content's length is a duration; a user's location has an accuracy like a device's.
    let mut content = with_imp(json!({"id": "1", "banner": {"w": 1, "h": 1}}));
    content["site"]["content"] = json!({"len": -60});
    let resp = app.auction(&content).await;
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("request.site.content.len")
    );
    let mut user = with_imp(json!({"id": "1", "banner": {"w": 1, "h": 1}}));
    user["user"] = json!({"geo": {"lat": 59.3, "lon": 18.0, "accuracy": -10}});
    let resp = app.auction(&user).await;
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("request.user.geo.accuracy")
    );
    // The IAB's 2.5 mobile example: a full-screen interstitial says 0 × 0.
    let interstitial = json!({"id": "1", "instl": 1, "banner": {"w": 0, "h": 0, "pos": 7}});
    assert_eq!(app.auction(&with_imp(interstitial)).await.status(), 204);
    // Negatives that mean something stay allowed: a post-roll's startdelay is -2.
    let postroll = json!({"id": "1", "video": {"mimes": ["video/mp4"], "startdelay": -2}});
    assert_eq!(app.auction(&with_imp(postroll)).await.status(), 204);
}

#[tokio::test]
async fn credentials_in_the_endpoint_are_sent_as_basic_auth_and_nowhere_else() {
    let partner = mock_partner(Reply::Bids(vec![("1", 1.0)]));
    let with_credentials = partner
        .endpoint()
        .replace("http://", "http://buyer:s%40cret@");
    let app = spawn_app(&config("", &[("creds", with_credentials, 200)])).await;
    assert_eq!(
        app.auction(&request(300, &[("1", 0.0)])).await.status(),
        200
    );
    let got = partner.requests();
    assert_eq!(got.len(), 1);
    // base64("buyer:s@cret")
    assert_eq!(
        got[0].header("authorization"),
        Some("Basic YnV5ZXI6c0BjcmV0")
    );
    assert_eq!(
        got[0].header("host"),
        Some(partner.addr.to_string().as_str())
    );
}
