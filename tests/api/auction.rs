//! The auction endpoint end to end: real gateway, real mock partners, real sockets.

use crate::helpers::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const FIRST: &str = "pricing = \"first_price\"";
const SECOND: &str = "pricing = \"second_price\"\nsecond_price_increment = 0.01";

async fn three_partners(auction: &str) -> (TestApp, [MockPartner; 3]) {
    let a = mock_partner(Reply::Bids(vec![("1", 1.50)]));
    let b = mock_partner(Reply::Bids(vec![("1", 2.75)]));
    let c = mock_partner(Reply::Bids(vec![("1", 2.10)]));
    let cfg = config(
        auction,
        &[
            ("dsp-a", a.endpoint(), 150),
            ("dsp-b", b.endpoint(), 150),
            ("dsp-c", c.endpoint(), 150),
        ],
    );
    (spawn_app(&cfg).await, [a, b, c])
}

async fn json_of(resp: reqwest::Response) -> Value {
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    resp.json().await.unwrap()
}

#[tokio::test]
async fn first_price_winner_pays_its_bid() {
    let (app, _partners) = three_partners(FIRST).await;
    let body = json_of(app.auction(&request(300, &[("1", 0.0)])).await).await;
    assert_eq!(winners(&body), [("dsp-b".into(), "1".into(), 2.75)]);
    assert_eq!(body["id"], "req-1");
    assert_eq!(body["cur"], "USD");
    let times = body["ext"]["responsetimemillis"].as_object().unwrap();
    assert_eq!(times.len(), 3, "every partner called is timed: {times:?}");
    assert!(body["ext"].get("errors").is_none(), "{body}");
    // The winning bid is passed through as the partner sent it, but for its price.
    assert_eq!(body["seatbid"][0]["bid"][0]["adm"], "<VAST/>");
    assert_eq!(body["seatbid"][0]["bid"][0]["crid"], "c1");
}

#[tokio::test]
async fn second_price_winner_pays_runner_up_plus_a_cent() {
    let (app, _partners) = three_partners(SECOND).await;
    let body = json_of(app.auction(&request(300, &[("1", 0.0)])).await).await;
    assert_eq!(winners(&body), [("dsp-b".into(), "1".into(), 2.11)]);
}

#[tokio::test]
async fn second_price_floor_sets_the_price_when_the_runner_up_is_below_it() {
    let (app, _partners) = three_partners(SECOND).await;
    let body = json_of(app.auction(&request(300, &[("1", 2.50)])).await).await;
    assert_eq!(winners(&body), [("dsp-b".into(), "1".into(), 2.51)]);
    // Bids under the floor are reported, not silently lost.
    assert_eq!(error_codes(&body, "dsp-a"), [304]);
    assert_eq!(error_codes(&body, "dsp-c"), [304]);
}

#[tokio::test]
async fn nothing_above_the_floor_is_204() {
    let (app, _partners) = three_partners(FIRST).await;
    let resp = app.auction(&request(300, &[("1", 3.00)])).await;
    assert_eq!(resp.status(), 204);
    assert!(resp.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn each_imp_has_its_own_winner_grouped_by_seat() {
    let a = mock_partner(Reply::Bids(vec![("1", 1.0), ("2", 4.0), ("3", 0.5)]));
    let b = mock_partner(Reply::Bids(vec![("1", 2.0), ("2", 3.0)]));
    let cfg = config(FIRST, &[("a", a.endpoint(), 150), ("b", b.endpoint(), 150)]);
    let app = spawn_app(&cfg).await;
    let req = request(300, &[("1", 0.0), ("2", 0.0), ("3", 1.0)]);
    let body = json_of(app.auction(&req).await).await;
    assert_eq!(
        winners(&body),
        [("b".into(), "1".into(), 2.0), ("a".into(), "2".into(), 4.0)]
    );
    assert_eq!(
        body["seatbid"].as_array().unwrap().len(),
        2,
        "one seatbid per partner"
    );
}

#[tokio::test]
async fn a_partner_that_never_answers_costs_nothing_but_its_own_bid() {
    let fast = mock_partner(Reply::Bids(vec![("1", 1.20)]));
    let hang = mock_partner(Reply::Hang);
    let cfg = config(
        FIRST,
        &[
            ("fast", fast.endpoint(), 500),
            ("hang", hang.endpoint(), 500),
        ],
    );
    let app = spawn_app(&cfg).await;
    let started = Instant::now();
    let body = json_of(app.auction(&request(200, &[("1", 0.0)])).await).await;
    let took = started.elapsed();
    // tmax is 200 ms; the margin absorbs a loaded CI machine, the hour-long hang does not fit.
    assert!(
        took < Duration::from_millis(200 + 300),
        "answered after {took:?}"
    );
    assert!(
        took >= Duration::from_millis(150),
        "waited for the slow partner: {took:?}"
    );
    assert_eq!(winners(&body), [("fast".into(), "1".into(), 1.20)]);
    assert_eq!(error_codes(&body, "hang"), [1]);
    assert!(body["ext"]["responsetimemillis"]["hang"].as_u64().unwrap() >= 150);
    assert!(hang.requests().len() == 1, "the hanging partner was asked");
}

#[tokio::test]
async fn partner_errors_are_reported_and_do_not_spoil_the_auction() {
    let good = mock_partner(Reply::Bids(vec![("1", 0.90)]));
    let broken = mock_partner(Reply::Status(500));
    let garbage = mock_partner(Reply::Raw("text/html", "<html>bad gateway</html>".into()));
    let cfg = config(
        FIRST,
        &[
            ("errs-good", good.endpoint(), 150),
            ("errs-broken", broken.endpoint(), 150),
            ("errs-garbage", garbage.endpoint(), 150),
        ],
    );
    let app = spawn_app(&cfg).await;
    let body = json_of(app.auction(&request(300, &[("1", 0.0)])).await).await;
    assert_eq!(winners(&body), [("errs-good".into(), "1".into(), 0.90)]);
    assert_eq!(error_codes(&body, "errs-broken"), [3]);
    assert_eq!(error_codes(&body, "errs-garbage"), [4]);
    assert_eq!(error_codes(&body, "errs-good"), Vec::<u64>::new());
    let metrics = app.metrics().await;
    for series in [
        r#"bidgate_partner_requests_total{partner="errs-broken",outcome="error"}"#,
        r#"bidgate_partner_requests_total{partner="errs-garbage",outcome="error"}"#,
        r#"bidgate_partner_requests_total{partner="errs-good",outcome="bid"}"#,
        r#"bidgate_wins_total{partner="errs-good"}"#,
        r#"bidgate_revenue_micros_total{partner="errs-good",currency="USD"}"#,
    ] {
        let want = if series.contains("revenue") {
            900_000.0
        } else {
            1.0
        };
        assert_eq!(
            metric(&metrics, series),
            Some(want),
            "{series} in\n{metrics}"
        );
    }
}

#[tokio::test]
async fn invalid_bids_are_dropped_with_a_reason() {
    let p = mock_partner(Reply::Json(json!({
        "id": "req-1", "cur": "USD",
        "seatbid": [{"bid": [
            {"id": "x1", "impid": "nope", "price": 9.0},
            {"id": "x2", "impid": "1", "price": -1.0},
            {"id": "x3", "impid": "1", "price": 0},
            {"id": "x4", "impid": "1", "price": 0.75}
        ]}]
    })));
    let eur = mock_partner(Reply::Json(json!({
        "id": "req-1", "cur": "EUR", "seatbid": [{"bid": [{"id": "e", "impid": "1", "price": 5.0}]}]
    })));
    let cfg = config(
        FIRST,
        &[("p", p.endpoint(), 150), ("eur", eur.endpoint(), 150)],
    );
    let app = spawn_app(&cfg).await;
    let body = json_of(app.auction(&request(300, &[("1", 0.0)])).await).await;
    assert_eq!(winners(&body), [("p".into(), "1".into(), 0.75)]);
    assert_eq!(error_codes(&body, "p"), [302, 303, 303]);
    assert_eq!(error_codes(&body, "eur"), [305]);
}

#[tokio::test]
async fn no_bids_anywhere_is_204() {
    let a = mock_partner(Reply::NoBid);
    let b = mock_partner(Reply::Json(json!({"id": "req-1", "seatbid": []})));
    let c = mock_partner(Reply::Raw("application/json", String::new()));
    let cfg = config(
        FIRST,
        &[
            ("nobid-204", a.endpoint(), 150),
            ("nobid-empty", b.endpoint(), 150),
            ("nobid-blank", c.endpoint(), 150),
        ],
    );
    let app = spawn_app(&cfg).await;
    let resp = app.auction(&request(300, &[("1", 0.0)])).await;
    assert_eq!(resp.status(), 204);
    let metrics = app.metrics().await;
    for p in ["nobid-204", "nobid-empty", "nobid-blank"] {
        let series = format!(r#"bidgate_partner_requests_total{{partner="{p}",outcome="nobid"}}"#);
        assert_eq!(metric(&metrics, &series), Some(1.0), "{series}");
    }
}

#[tokio::test]
async fn partners_receive_correct_openrtb() {
    let a = mock_partner(Reply::NoBid);
    let b = mock_partner(Reply::NoBid);
    let off = mock_partner(Reply::NoBid);
    let cfg = with_partner_lines(
        config(
            &format!("{SECOND}\nnetwork_buffer_ms = 10\nprocessing_reserve_ms = 5"),
            &[
                ("a", a.endpoint(), 60),
                ("b", b.endpoint(), 500),
                ("off", off.endpoint(), 500),
            ],
        ),
        &off.endpoint(),
        "enabled = false",
    );
    let app = spawn_app(&cfg).await;
    let mut req = request(400, &[("imp-a", 0.1), ("imp-b", 0.0)]);
    req["cur"] = json!(["EUR", "USD"]);
    req["at"] = json!(1);
    assert_eq!(app.auction(&req).await.status(), 204);

    let (ra, rb) = (a.requests(), b.requests());
    assert_eq!((ra.len(), rb.len()), (1, 1), "each partner asked once");
    let (ra, rb) = (&ra[0], &rb[0]);
    for r in [ra, rb] {
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("x-openrtb-version"), Some("2.6"));
        assert_eq!(r.body["at"], 2, "at follows the configured pricing");
        assert_eq!(r.body["cur"], json!(["USD"]));
        assert_eq!(r.body["id"], "req-1");
        let ids: Vec<&str> = r.body["imp"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["imp-a", "imp-b"]);
        // Unknown fields and ext objects reach the partner unchanged.
        assert_eq!(
            r.body["imp"][0]["ext"],
            json!({"bidder": {"placementId": 42}})
        );
        assert_eq!(r.body["app"], json!({"bundle": "com.example.music"}));
    }
    // a: its own timeout (60) is smaller than what is left (400 - 10 - 5 = 385).
    assert_eq!(ra.body["tmax"], 60);
    // b: the time left, minus what was already spent reading and validating (generous:
    // a loaded CI machine can stall for a while).
    let tb = rb.body["tmax"].as_u64().unwrap();
    assert!((200..=385).contains(&tb), "tmax told to b: {tb}");
    assert!(
        off.requests().is_empty(),
        "a disabled partner is never called"
    );
}

#[tokio::test]
async fn partner_connections_are_kept_alive() {
    let a = mock_partner(Reply::Bids(vec![("1", 1.0)]));
    let app = spawn_app(&config(FIRST, &[("a", a.endpoint(), 150)])).await;
    for _ in 0..5 {
        assert_eq!(
            app.auction(&request(300, &[("1", 0.0)])).await.status(),
            200
        );
    }
    let peers: std::collections::HashSet<_> = a.requests().iter().map(|r| r.peer).collect();
    assert_eq!(
        peers.len(),
        1,
        "one pooled connection serves sequential auctions: {peers:?}"
    );
}

#[tokio::test]
async fn bad_input_is_400_with_a_one_line_reason() {
    let a = mock_partner(Reply::Bids(vec![("1", 1.0)]));
    let app = spawn_app(&config(FIRST, &[("a", a.endpoint(), 150)])).await;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{not json".to_vec(), "not valid JSON"),
        (b"".to_vec(), "not valid JSON"),
        (br#"{"imp":[{"id":"1"}]}"#.to_vec(), "request.id"),
        (br#"{"id":"r"}"#.to_vec(), "request.imp"),
        (br#"{"id":"r","imp":[]}"#.to_vec(), "request.imp"),
        (
            br#"{"id":"r","imp":[{"id":"1","native":{}},{"id":"1","native":{}}]}"#.to_vec(),
            "request.imp[1].id",
        ),
        (
            br#"{"id":"r","tmax":-5,"imp":[{"id":"1"}]}"#.to_vec(),
            "request.tmax",
        ),
        (
            br#"{"id":"r","tmax":"soon","imp":[{"id":"1"}]}"#.to_vec(),
            "request.tmax",
        ),
        (
            br#"{"id":"r","imp":[{"id":"1","bidfloor":"high"}]}"#.to_vec(),
            "request.imp[0].bidfloor",
        ),
        (br#"[1,2,3]"#.to_vec(), "not valid JSON"),
    ];
    for (body, want) in cases {
        let resp = app.auction_raw(body.clone()).await;
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let shown = String::from_utf8_lossy(&body);
        assert_eq!(status, 400, "{shown} → {status} {text}");
        assert!(text.contains(want), "{shown} → {text}");
        assert_eq!(text.trim_end().lines().count(), 1, "one line: {text}");
    }
    // A good auction after them is answered once the partner has bid in it: by then the
    // partner has seen all it will of this test, and that is the good request alone.
    app.auction_json(&request(300, &[("1", 0.0)])).await;
    assert_eq!(
        a.request_ids(),
        ["req-1"],
        "bad input never reaches a partner"
    );
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let a = mock_partner(Reply::NoBid);
    let cfg = config(FIRST, &[("a", a.endpoint(), 150)])
        .replace("workers = 2", "workers = 2\nmax_request_bytes = 1024");
    let app = spawn_app(&cfg).await;
    let mut req = request(300, &[("1", 0.0)]);
    req["app"]["name"] = json!("x".repeat(2000));
    let resp = app.auction(&req).await;
    assert_eq!(resp.status(), 413);
    // Without Content-Length (chunked), the cap still holds while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..8).map(|_| Ok(vec![b' '; 512])).collect();
    let stream = futures_util::stream::iter(chunks);
    let resp = app.auction_raw(reqwest::Body::wrap_stream(stream)).await;
    assert_eq!(resp.status(), 413);
    // The gateway is fine afterwards.
    assert_eq!(
        app.auction(&request(300, &[("1", 0.0)])).await.status(),
        204
    );
}

#[tokio::test]
async fn health_and_metrics_endpoints() {
    let app = spawn_app(&config(FIRST, &[])).await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.auction(&request(300, &[("1", 0.0)])).await.status(),
        204
    );
    let m = app.metrics().await;
    // Other tests in this process may count too (the recorder is process-wide): at least 1.
    for series in [
        r#"bidgate_auctions_total{endpoint="openrtb2",outcome="no_bid"}"#,
        r#"bidgate_http_requests_total{route="/openrtb2/auction",status="204"}"#,
        r#"bidgate_auction_duration_seconds_count{endpoint="openrtb2"}"#,
    ] {
        assert!(
            metric(&m, series).is_some_and(|v| v >= 1.0),
            "{series} in\n{m}"
        );
    }
}

#[tokio::test]
async fn a_body_that_arrives_after_tmax_is_408_not_a_silent_204() {
    let a = mock_partner(Reply::Bids(vec![("1", 1.0)]));
    let app = spawn_app(&config(FIRST, &[("a", a.endpoint(), 150)])).await;
    let head = br#"{"id":"slow","tmax":100,"imp":[{"id":"1","native":{}}]"#.to_vec();
    let stream = futures_util::stream::unfold(0, move |step| {
        let head = head.clone();
        async move {
            match step {
                0 => Some((Ok::<_, std::io::Error>(head), 1)),
                1 => {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Some((Ok(b"}".to_vec()), 2))
                }
                _ => None,
            }
        }
    });
    let resp = app.auction_raw(reqwest::Body::wrap_stream(stream)).await;
    assert_eq!(resp.status(), 408);
    assert!(resp.text().await.unwrap().contains("100 ms"));
    // The next auction is answered once the partner has bid in it: by then the partner has
    // seen all it will of this test, and the late request ("slow") is not part of it.
    app.auction_json(&request(300, &[("1", 0.0)])).await;
    assert_eq!(
        a.request_ids(),
        ["req-1"],
        "the late request was never auctioned"
    );
}

#[tokio::test]
async fn past_max_in_flight_auctions_are_shed_at_once_with_503() {
    let slow = mock_partner(Reply::Delayed(
        Duration::from_millis(300),
        Box::new(Reply::Bids(vec![("1", 1.0)])),
    ));
    let cfg = config(FIRST, &[("slow", slow.endpoint(), 500)])
        .replace("workers = 2", "workers = 2\nmax_in_flight = 2");
    let app = std::sync::Arc::new(spawn_app(&cfg).await);
    let started = Instant::now();
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                let r = app.auction(&request(1000, &[("1", 0.0)])).await;
                let retry = r
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_string());
                let close = r.headers().get("connection").is_some_and(|v| v == "close");
                assert!(!close, "a 503 keeps the connection alive");
                (r.status().as_u16(), retry, started.elapsed())
            })
        })
        .collect();
    let mut results = Vec::new();
    for c in calls {
        results.push(c.await.unwrap());
    }
    let served: Vec<_> = results.iter().filter(|r| r.0 == 200).collect();
    let shed: Vec<_> = results.iter().filter(|r| r.0 == 503).collect();
    assert_eq!((served.len(), shed.len()), (2, 3), "{results:?}");
    for (_, retry, took) in shed {
        assert_eq!(retry.as_deref(), Some("1"));
        assert!(
            *took < Duration::from_millis(250),
            "shed at once, not after queueing: {took:?}"
        );
    }
    // Slots are given back: the next auction is served.
    assert_eq!(
        app.auction(&request(1000, &[("1", 0.0)])).await.status(),
        200
    );
    let m = app.metrics().await;
    assert!(
        metric(&m, r#"bidgate_rate_limited_total{scope="in_flight"}"#).is_some_and(|v| v >= 3.0)
    );
    // Each worker reports its adaptive limit and how busy its thread is (a share of the
    // wall clock: this test's workers idle most of the time).
    for worker in ["0", "1"] {
        let limit = metric(
            &m,
            &format!("bidgate_admission_limit{{worker=\"{worker}\"}}"),
        );
        assert!(limit.is_some_and(|v| v >= 4.0), "{m}");
        let share = metric(
            &m,
            &format!("bidgate_worker_cpu_share{{worker=\"{worker}\"}}"),
        );
        assert!(share.is_some_and(|v| (0.0..0.9).contains(&v)), "{m}");
    }
    // Each refusal is timed by bidgate's clock too: ready well before the auctions' 300 ms.
    assert!(
        metric(
            &m,
            r#"bidgate_shed_duration_seconds_bucket{endpoint="openrtb2",le="0.2"}"#
        )
        .is_some_and(|v| v >= 3.0),
        "{m}"
    );
}

#[tokio::test]
async fn a_fresh_worker_admits_an_opening_burst_under_its_first_adaptive_limit() {
    // The adaptive limit on (with a lag target loose enough for a debug build on a shared
    // machine), one worker, and a burst of 32 auctions at once on a fresh process: a first
    // limit of 16 shed half of them; the first limit is there to take such a burst.
    let slow = mock_partner(Reply::Delayed(
        Duration::from_millis(150),
        Box::new(Reply::Bids(vec![("1", 1.0)])),
    ));
    let cfg = config(FIRST, &[("slow", slow.endpoint(), 1000)])
        .replace("workers = 2", "workers = 1")
        .replace("target_worker_lag_ms = 0", "target_worker_lag_ms = 50");
    let app = std::sync::Arc::new(spawn_app(&cfg).await);
    let calls: Vec<_> = (0..32)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                app.auction(&request(1000, &[("1", 0.0)]))
                    .await
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for c in calls {
        statuses.push(c.await.unwrap());
    }
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}

#[tokio::test]
async fn a_partner_qps_limit_is_never_exceeded() {
    let capped = mock_partner(Reply::Bids(vec![("1", 2.0)]));
    let other = mock_partner(Reply::Bids(vec![("1", 1.0)]));
    let cfg = with_partner_lines(
        config(
            FIRST,
            &[
                ("capped", capped.endpoint(), 150),
                ("other", other.endpoint(), 150),
            ],
        ),
        &capped.endpoint(),
        "qps_limit = 3",
    );
    let app = spawn_app(&cfg).await;
    let started = Instant::now();
    let mut skipped = 0;
    for _ in 0..12 {
        let body: Value = app.auction_json(&request(300, &[("1", 0.0)])).await;
        let codes = error_codes(&body, "capped");
        if codes == [6] {
            skipped += 1;
            assert!(
                body["ext"]["errors"]["capped"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("QPS")
            );
            assert_eq!(
                winners(&body),
                [("other".into(), "1".into(), 1.0)],
                "the others still bid"
            );
        } else {
            assert_eq!(winners(&body), [("capped".into(), "1".into(), 2.0)]);
        }
    }
    // A burst of 3, then 3 more per second: never more than that, however fast we ask.
    let allowed = 3 + (started.elapsed().as_secs_f64() * 3.0).floor() as usize;
    let sent = capped.requests().len();
    assert!(
        sent >= 3 && sent <= allowed,
        "sent {sent}, allowed {allowed}"
    );
    assert_eq!(sent + skipped, 12);
    assert_eq!(other.requests().len(), 12);
}

#[tokio::test]
async fn the_admin_api_needs_its_bearer_token() {
    let app = spawn_app(&config(FIRST, &[])).await;
    let status =
        |req: reqwest::RequestBuilder| async move { req.send().await.unwrap().status().as_u16() };
    let url = app.url("/admin/status");
    assert_eq!(status(app.client.get(&url)).await, 401);
    assert_eq!(
        status(
            app.client
                .get(&url)
                .bearer_auth("test-admin-token-012345678X")
        )
        .await,
        401
    );
    assert_eq!(status(app.client.get(&url).bearer_auth("short")).await, 401);
    assert_eq!(
        status(app.admin(reqwest::Method::GET, "/admin/status")).await,
        200
    );
    let r = app.get(&url).await;
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );

    // Without a configured token the admin API is closed, not open.
    let closed = config(FIRST, &[]).replace(&format!("token = \"{ADMIN_TOKEN}\"\n"), "");
    let app = spawn_app(&closed).await;
    assert_eq!(
        status(app.admin(reqwest::Method::GET, "/admin/status")).await,
        403
    );
    assert_eq!(
        status(app.admin(reqwest::Method::POST, "/admin/reload")).await,
        403
    );
}

#[tokio::test]
async fn clients_over_their_rate_get_429_with_retry_after() {
    let a = mock_partner(Reply::Bids(vec![("1", 1.0)]));
    let cfg = config(FIRST, &[("a", a.endpoint(), 150)])
        + "\n[client_rate_limit]\nrequests_per_second = 1\nburst = 2\n";
    let app = spawn_app(&cfg).await;
    let send = |key: Option<&'static str>| {
        let app = &app;
        async move {
            let mut r = app
                .client
                .post(app.url("/openrtb2/auction"))
                .json(&request(300, &[("1", 0.0)]));
            if let Some(k) = key {
                r = r.header("x-api-key", k);
            }
            let resp = r.send().await.unwrap();
            let retry = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            (resp.status().as_u16(), retry)
        }
    };
    // A burst of 2 per client address, then 1 per second; a made-up API key changes nothing.
    assert_eq!(send(Some("k1")).await.0, 200);
    assert_eq!(send(None).await.0, 200);
    assert_eq!(send(Some("k2")).await, (429, Some("1".to_string())));
    assert_eq!(send(None).await.0, 429);
    // The refused requests never reached the partner: it saw the two that were served.
    assert_eq!(
        a.requests().len(),
        2,
        "refused requests never reach a partner"
    );
    let m = app.metrics().await;
    assert!(metric(&m, r#"bidgate_rate_limited_total{scope="client"}"#).is_some_and(|v| v >= 2.0));
}
