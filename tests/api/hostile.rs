//! Hostile clients (issue 15): forged identities for the rate limit, forged origins for
//! tracking URLs, the metrics and admin surface from a browser, oversized requests.

use crate::helpers::*;
use serde_json::{Value, json};

const LIMITED: &str = "\n[client_rate_limit]\nrequests_per_second = 1\nburst = 1\n";
/// `@section key = value` lines of `extra` go into that section of the test config.
const TRUST_LOOPBACK: &str = "\n@server trusted_proxies = [\"127.0.0.0/8\"]\n";

/// Test config for partner `id` at `endpoint` with `extra` appended; `@server …` and
/// `@admin …` lines of `extra` go into the config's own `[server]` and `[admin]` sections.
fn config_with(id: &str, endpoint: String, extra: &str) -> String {
    let mut cfg = config("", &[(id, endpoint, 200)]);
    let mut rest = Vec::new();
    for line in extra.lines() {
        match line.strip_prefix('@').and_then(|l| l.split_once(' ')) {
            Some((section, kv)) => {
                let at = format!("[{section}]\n");
                assert!(cfg.contains(&at), "no [{section}] in the test config");
                cfg = cfg.replacen(&at, &format!("{at}{kv}\n"), 1);
            }
            None => rest.push(line),
        }
    }
    cfg + "\n" + &rest.join("\n") + "\n"
}

/// A gateway whose one partner never bids, with `extra` config (see `config_with`).
async fn quiet_app(id: &str, extra: &str) -> (TestApp, MockPartner) {
    let p = mock_partner(Reply::NoBid);
    let app = spawn_app(&config_with(id, p.endpoint(), extra)).await;
    (app, p)
}

/// POSTs an auction with the given extra headers; its status.
async fn auction_with(app: &TestApp, headers: &[(&str, &str)]) -> u16 {
    let mut r = app
        .client
        .post(app.url("/openrtb2/auction"))
        .json(&request(300, &[("1", 0.0)]));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn a_made_up_api_key_buys_no_fresh_allowance() {
    let (app, _p) = quiet_app("rl-keys", LIMITED).await;
    assert_eq!(auction_with(&app, &[("x-api-key", "made-up-1")]).await, 204);
    assert_eq!(
        auction_with(&app, &[("x-api-key", "made-up-2")]).await,
        429,
        "an unknown key is no identity: the address is, and its allowance is used up"
    );
    // Nor does another app bundle (the body's) make another client.
    let mut other = request(300, &[("1", 0.0)]);
    other["app"]["bundle"] = json!("com.example.other");
    assert_eq!(app.auction(&other).await.status(), 429);
    // The events endpoint is counted against the same address.
    let event = app.url("/v1/events/impression?t=garbage");
    let status = app
        .client
        .get(&event)
        .header("x-api-key", "made-up-3")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 429);
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let (direct, _p) = quiet_app("rl-xff-untrusted", LIMITED).await;
    assert_eq!(
        auction_with(&direct, &[("x-forwarded-for", "198.51.100.1")]).await,
        204
    );
    assert_eq!(
        auction_with(&direct, &[("x-forwarded-for", "198.51.100.2")]).await,
        429,
        "from an untrusted peer, X-Forwarded-For is whatever the client wants it to be"
    );

    // The test client stands for a load balancer on loopback.
    let (proxied, _p) = quiet_app("rl-xff-trusted", &(LIMITED.to_string() + TRUST_LOOPBACK)).await;
    // What the client claims (left) is ignored; what the proxy saw (right-most) counts.
    let from = |client: &'static str| format!("10.9.9.9, {client}");
    assert_eq!(
        auction_with(&proxied, &[("x-forwarded-for", &from("198.51.100.1"))]).await,
        204
    );
    assert_eq!(
        auction_with(&proxied, &[("x-forwarded-for", &from("198.51.100.2"))]).await,
        204,
        "another client behind the same proxy has its own allowance"
    );
    assert_eq!(
        auction_with(&proxied, &[("x-forwarded-for", "6.6.6.6, 198.51.100.1")]).await,
        429
    );
}

#[tokio::test]
async fn a_configured_client_is_known_by_its_key_and_has_its_own_limit() {
    const KEY: &str = "acme-key-0123456789abcdef";
    let p = mock_partner(Reply::NoBid);
    let file = ConfigFile::new(
        "rl-clients",
        &(config("", &[("rl-clients", p.endpoint(), 100)])
            + LIMITED
            + "\n[[clients]]\nid = \"acme\"\nkey_env = \"BIDGATE_TEST_ACME_KEY\"\nrequests_per_second = 1\nburst = 3\n"),
    );
    let (mut child, app) = serve_binary_env(&file, &[("BIDGATE_TEST_ACME_KEY", KEY)]);
    for _ in 0..3 {
        assert_eq!(auction_with(&app, &[("x-api-key", KEY)]).await, 204);
    }
    assert_eq!(auction_with(&app, &[("x-api-key", KEY)]).await, 429);
    // Its allowance is its own: the address still has one.
    assert_eq!(auction_with(&app, &[]).await, 204);
    assert_eq!(
        auction_with(&app, &[("x-api-key", "not-a-client-key")]).await,
        429
    );
    child.kill().unwrap();
    let _ = child.wait();
}

#[tokio::test]
async fn metrics_ask_for_the_admin_token_and_bearer_is_any_case() {
    let (app, _p) = quiet_app("metrics-token", "").await;
    let status = |r: reqwest::RequestBuilder| async move { r.send().await.unwrap().status() };
    assert_eq!(status(app.client.get(app.url("/metrics"))).await, 401);
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let auth = format!("{scheme} {ADMIN_TOKEN}");
        for path in ["/metrics", "/admin/status"] {
            let r = app.client.get(app.url(path)).header("authorization", &auth);
            assert_eq!(status(r).await, 200, "{scheme} on {path}");
        }
    }
    let (open, _p) = quiet_app("metrics-open", "@admin protect_metrics = false").await;
    assert_eq!(status(open.client.get(open.url("/metrics"))).await, 200);
}

#[tokio::test]
async fn reload_refuses_requests_from_another_sites_page() {
    let p = mock_partner(Reply::NoBid);
    let file = ConfigFile::new("csrf", &config("", &[("csrf", p.endpoint(), 100)]));
    let app = spawn_app_from_file(&file).await;
    let post = |headers: &[(&'static str, String)]| {
        let mut r = app
            .client
            .post(app.url("/admin/reload"))
            .basic_auth("ops", Some(ADMIN_TOKEN));
        for (k, v) in headers {
            r = r.header(*k, v);
        }
        async move { r.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        post(&[("origin", "https://evil.example".into())]).await,
        403
    );
    assert_eq!(post(&[("sec-fetch-site", "cross-site".into())]).await, 403);
    assert_eq!(post(&[("origin", "null".into())]).await, 403);
    // The admin page's own origin, and scripts (no Origin at all), are fine.
    let own = format!("http://{}", app.addr);
    assert_eq!(
        post(&[("origin", own), ("sec-fetch-site", "same-origin".into())]).await,
        200
    );
    assert_eq!(post(&[]).await, 200);
}

/// A gateway with one audio placement and a partner that fills it, plus `extra` config.
async fn filled_app(id: &str, extra: &str) -> (TestApp, MockPartner) {
    let p = mock_partner(Reply::Json(
        json!({"id": "x", "cur": "USD", "seatbid": [{"bid": [
            {"id": "b1", "impid": "s", "price": 1.5, "dur": 30, "adm": "https://cdn.brand.com/a.mp3"}
        ]}]}),
    ));
    let extra = format!("{extra}\n[[placements]]\nid = \"a\"\nformat = \"audio\"\n");
    let cfg = with_partner_lines(
        config_with(id, p.endpoint(), &extra),
        &p.endpoint(),
        "vendor_id = 37",
    );
    (spawn_app(&cfg).await, p)
}

/// The impression URL of slot `s`, asked for with these headers.
async fn impression_url(app: &TestApp, headers: &[(&str, &str)]) -> String {
    let mut r = app
        .client
        .post(app.url("/v1/ads"))
        .json(&ad_request(json!([{"id": "s", "placement": "a"}])));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let out: Value = r.send().await.unwrap().json().await.unwrap();
    out["slots"][0]["ads"][0]["tracking"]["impression"]
        .as_str()
        .unwrap_or_else(|| panic!("a filled slot: {out}"))
        .to_string()
}

#[tokio::test]
async fn tracking_urls_believe_forwarded_origins_only_from_trusted_proxies() {
    let forged = [
        ("x-forwarded-proto", "javascript"),
        ("x-forwarded-host", "evil.example"),
        ("forwarded", "proto=javascript;host=evil.example"),
    ];
    let (app, _p) = filled_app("origin-untrusted", "").await;
    let url = impression_url(&app, &forged).await;
    assert!(
        url.starts_with(&format!("http://{}/v1/events/", app.addr)),
        "{url}"
    );

    // Through a trusted proxy: its https and public host, but never another scheme.
    let (proxied, _p) = filled_app("origin-trusted", TRUST_LOOPBACK).await;
    let https = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "ads.example.com"),
    ];
    let url = impression_url(&proxied, &https).await;
    assert!(
        url.starts_with("https://ads.example.com/v1/events/"),
        "{url}"
    );
    let url = impression_url(&proxied, &forged).await;
    assert!(url.starts_with("http://evil.example/v1/events/"), "{url}");
}

#[tokio::test]
async fn a_request_with_more_imps_than_max_imps_gets_a_400() {
    let (app, p) = quiet_app("max-imps", "").await;
    let ids: Vec<String> = (0..101).map(|i| format!("i{i}")).collect();
    let imps: Vec<(&str, f64)> = ids.iter().map(|i| (i.as_str(), 0.0)).collect();
    let resp = app.auction(&request(300, &imps)).await;
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.unwrap();
    assert!(text.contains("auction.max_imps"), "{text}");
    assert!(
        p.requests().is_empty(),
        "refused before any partner is called"
    );
    assert_eq!(app.auction(&request(300, &imps[..100])).await.status(), 204);
}
