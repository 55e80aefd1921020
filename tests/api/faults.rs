//! Never late, whatever partners do: each misbehaving partner next to a good one, over real
//! sockets. The good partner's bid must still win, the answer must come before the deadline
//! (plus a margin generous enough for a loaded CI machine), the fault must be reported with
//! its code, and bidgate must not keep the bad partner's connection open afterwards.

use crate::helpers::raw::{self, Fault};
use crate::helpers::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const TMAX: u64 = 200;
/// Generous on purpose: CI shares two cores. The loadtest measures the real tail.
const MARGIN: Duration = Duration::from_millis(300);

struct Run {
    body: Value,
    took: Duration,
    metrics: String,
    /// The bad partner's id: unique per run, because the metrics recorder is process-wide.
    bad: String,
}

fn unique(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    format!(
        "{prefix}-{}",
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    )
}

/// One auction with a good partner (bids 1.00) and the partner under test.
async fn auction_beside_good_partner(bad_endpoint: String) -> Run {
    let good = mock_partner(Reply::Bids(vec![("1", 1.0)]));
    let bad = unique("bad");
    let cfg = config(
        "pricing = \"first_price\"",
        &[
            ("good", good.endpoint(), 150),
            (&bad, bad_endpoint.clone(), 150),
        ],
    );
    // Partners' answers are gzipped only when asked for; these faults include gzip ones.
    let cfg = with_partner_lines(cfg, &bad_endpoint, "http_client = { gzip = true }");
    let app = spawn_app(&cfg).await;
    let started = Instant::now();
    let resp = app.auction(&request(TMAX, &[("1", 0.0)])).await;
    let took = started.elapsed();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    Run {
        body,
        took,
        metrics: app.metrics().await,
        bad,
    }
}

fn assert_good_wins_and_bad_reports(run: &Run, code: u64, label: &str) {
    assert!(
        run.took < Duration::from_millis(TMAX) + MARGIN,
        "answered after {:?}",
        run.took
    );
    assert_eq!(
        winners(&run.body),
        [("good".into(), "1".into(), 1.0)],
        "{}",
        run.body
    );
    assert_eq!(error_codes(&run.body, "good"), Vec::<u64>::new());
    assert_eq!(
        error_codes(&run.body, &run.bad),
        [code],
        "{}",
        run.body["ext"]
    );
    // `label` is the outcome, or `error/<kind>` for the error outcome and its detail.
    let bad = &run.bad;
    let (outcome, kind) = label
        .split_once('/')
        .map_or((label, None), |(o, k)| (o, Some(k)));
    let series =
        format!(r#"bidgate_partner_requests_total{{partner="{bad}",outcome="{outcome}"}}"#);
    assert_eq!(metric(&run.metrics, &series), Some(1.0), "{series}");
    if let Some(kind) = kind {
        let series = format!(r#"bidgate_partner_errors_total{{partner="{bad}",kind="{kind}"}}"#);
        assert_eq!(metric(&run.metrics, &series), Some(1.0), "{series}");
    }
}

async fn raw_fault(fault: Fault, code: u64, label: &str) -> raw::RawPartner {
    let bad = raw::raw_partner(fault).await;
    let run = auction_beside_good_partner(bad.endpoint()).await;
    assert_good_wins_and_bad_reports(&run, code, label);
    bad
}

#[tokio::test]
async fn accepts_and_never_answers_is_a_timeout_and_the_connection_is_dropped() {
    let bad = raw_fault(Fault::Silent, 1, "timeout").await;
    assert!(
        bad.all_closed_within(Duration::from_secs(2)).await,
        "bidgate kept the silent partner's connection open (a leaked call)"
    );
}

#[tokio::test]
async fn dripping_body_is_a_timeout_and_the_connection_is_dropped() {
    let bad = raw_fault(Fault::Drip, 1, "timeout").await;
    assert!(
        bad.all_closed_within(Duration::from_secs(2)).await,
        "drip connection leaked"
    );
}

#[tokio::test]
async fn never_accepting_listener_is_a_timeout() {
    let (addr, _listener) = raw::never_accepting();
    let run = auction_beside_good_partner(format!("http://{addr}/bid")).await;
    assert_good_wins_and_bad_reports(&run, 1, "timeout");
}

#[tokio::test]
async fn full_backlog_is_a_timeout() {
    let (addr, _listener, _fillers) = raw::full_backlog().await;
    let run = auction_beside_good_partner(format!("http://{addr}/bid")).await;
    // The SYN is dropped; connect would wait for retransmits, the deadline does not.
    assert_good_wins_and_bad_reports(&run, 1, "timeout");
}

#[tokio::test]
async fn refused_connection_is_a_transport_error() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // The listener is dropped: nothing listens on `addr` any more.
    let run = auction_beside_good_partner(format!("http://{addr}/bid")).await;
    assert_good_wins_and_bad_reports(&run, 2, "error/transport");
}

#[tokio::test]
async fn connection_reset_is_a_transport_error() {
    raw_fault(Fault::Reset, 2, "error/transport").await;
}

#[tokio::test]
async fn declared_huge_body_is_refused_unread() {
    raw_fault(Fault::HugeDeclared, 5, "error/too_large").await;
}

#[tokio::test]
async fn endless_chunked_body_is_cut_at_the_cap() {
    let bad = raw_fault(Fault::HugeChunked, 5, "error/too_large").await;
    assert!(
        bad.all_closed_within(Duration::from_secs(2)).await,
        "huge body connection leaked"
    );
}

#[tokio::test]
async fn gzip_bomb_is_cut_at_the_cap_after_decompression() {
    raw::gzip_bomb(); // compressed before the clock starts
    raw_fault(Fault::GzipBomb, 5, "error/too_large").await;
}

#[tokio::test]
async fn gzip_is_asked_for_and_understood() {
    let gz = raw::raw_partner(Fault::GzipBid).await;
    let good = mock_partner(Reply::Bids(vec![("1", 1.0)]));
    let cfg = config(
        "pricing = \"first_price\"",
        &[("good", good.endpoint(), 150), ("gz", gz.endpoint(), 150)],
    );
    let cfg = with_partner_lines(cfg, &gz.endpoint(), "http_client = { gzip = true }");
    let app = spawn_app(&cfg).await;
    let resp = app.auction(&request(TMAX, &[("1", 0.0)])).await;
    let body: Value = resp.json().await.unwrap();
    assert!(
        gz.asked_gzip.load(std::sync::atomic::Ordering::SeqCst),
        "Accept-Encoding: gzip sent"
    );
    assert_eq!(winners(&body), [("gz".into(), "1".into(), 4.0)]);
}

#[tokio::test]
async fn a_gzip_error_answer_is_shown_inflated_in_debug_output() {
    let gz = raw::raw_partner(Fault::GzipError).await;
    let cfg = config("", &[("gz", gz.endpoint(), 150)]);
    let cfg = with_partner_lines(cfg, &gz.endpoint(), "http_client = { gzip = true }");
    let app = spawn_app(&cfg).await;
    let mut test = request(TMAX, &[("1", 0.0)]);
    test["test"] = 1.into();
    let body = app.auction_json(&test).await;
    let call = &body["ext"]["debug"]["httpcalls"]["gz"][0];
    assert_eq!(call["status"], 500, "{body}");
    assert_eq!(
        call["responsebody"], r#"{"error":"upstream down"}"#,
        "{body}"
    );
}

#[tokio::test]
async fn server_errors_are_bad_responses() {
    for status in [500, 503, 302, 404] {
        let bad = mock_partner(Reply::Status(status));
        let run = auction_beside_good_partner(bad.endpoint()).await;
        assert_good_wins_and_bad_reports(&run, 3, "error/status");
        assert!(
            run.body["ext"]["errors"][&run.bad][0]["message"]
                .as_str()
                .unwrap()
                .contains(&status.to_string())
        );
    }
}

#[tokio::test]
async fn bodies_that_are_not_bid_responses_are_bad_responses() {
    let bodies = [
        "<html><body>502 Bad Gateway</body></html>".to_string(),
        "[]".to_string(),
        r#"{"foo": 1}"#.to_string(),
        r#"{"id":"req-1","seatbid":[{"bid":[{"id":"b","impid":"1","price":"NaN"}]}]}"#.to_string(),
        r#"{"id":"req-1","seatbid":[{"bid":[{"id":"b","impid":"1","price":1e999}]}]}"#.to_string(),
        r#"{"id":"req-1","seatbid":[{"bid":[{"id":"b","impid":"1","price":3.0}]}"#.to_string(),
        "\u{0}\u{1}\u{2}".to_string(),
    ];
    for body in bodies {
        let bad = mock_partner(Reply::Raw("application/json", body.clone()));
        let run = auction_beside_good_partner(bad.endpoint()).await;
        assert_good_wins_and_bad_reports(&run, 4, "error/body");
    }
}

#[tokio::test]
async fn bad_bids_are_dropped_but_the_response_counts_as_a_bid() {
    let cases = [
        (json!("nope"), 5.0, 302),
        (json!("1"), -3.0, 303),
        (json!("1"), 0.0, 303),
    ];
    for (impid, price, code) in cases {
        let bad = mock_partner(Reply::Json(json!({
            "id": "req-1", "seatbid": [{"bid": [{"id": "b", "impid": impid, "price": price}]}]
        })));
        let run = auction_beside_good_partner(bad.endpoint()).await;
        assert_good_wins_and_bad_reports(&run, code, "bid");
    }
}

#[tokio::test]
async fn no_content_is_a_no_bid_not_an_error() {
    let bad = mock_partner(Reply::NoBid);
    let run = auction_beside_good_partner(bad.endpoint()).await;
    assert_eq!(winners(&run.body), [("good".into(), "1".into(), 1.0)]);
    assert!(run.body["ext"].get("errors").is_none(), "{}", run.body);
}

#[tokio::test]
async fn slow_partners_do_not_add_up() {
    // Four partners each answering after 150 ms: called one after the other they would take
    // 600 ms; called concurrently the auction closes after about 150 ms.
    let partners: Vec<MockPartner> = (0..4)
        .map(|i| {
            mock_partner(Reply::Delayed(
                Duration::from_millis(150),
                Box::new(Reply::Bids(vec![("1", 1.0 + i as f64)])),
            ))
        })
        .collect();
    let entries: Vec<(&str, String, u64)> = ["p0", "p1", "p2", "p3"]
        .iter()
        .zip(&partners)
        .map(|(id, p)| (*id, p.endpoint(), 800))
        .collect();
    let app = spawn_app(&config("pricing = \"first_price\"", &entries)).await;
    let started = Instant::now();
    let resp = app.auction(&request(1000, &[("1", 0.0)])).await;
    let took = started.elapsed();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(winners(&body), [("p3".into(), "1".into(), 4.0)]);
    assert!(
        took < Duration::from_millis(450),
        "partners were not called concurrently: {took:?}"
    );
    // And the auction closes as soon as all have answered, long before the 1000 ms tmax.
}

#[tokio::test]
async fn circuit_breaker_skips_a_failing_partner_then_probes_and_restores_it() {
    let good = mock_partner(Reply::Bids(vec![("1", 1.0)]));
    let flaky = mock_partner(Reply::Status(500));
    let cfg = config(
        "pricing = \"first_price\"",
        &[
            ("good", good.endpoint(), 150),
            ("flaky", flaky.endpoint(), 150),
        ],
    ) + "\n[circuit_breaker]\nfailure_threshold = 3\ncooloff_ms = 400\nprobe_share = 1.0\nprobe_successes = 1\n";
    let app = spawn_app(&cfg).await;
    let auction = || async {
        let body: Value = app.auction_json(&request(TMAX, &[("1", 0.0)])).await;
        assert_eq!(winners(&body), [("good".into(), "1".into(), 1.0)]);
        let codes = error_codes(&body, "flaky");
        // A skipped partner was not called: it has no response time.
        let timed = body["ext"]["responsetimemillis"].get("flaky").is_some();
        assert_eq!(timed, codes != [7], "{}", body["ext"]);
        codes
    };
    let status = || async { app.partner_status("flaky").await["circuit"]["state"].clone() };
    for _ in 0..3 {
        assert_eq!(auction().await, [3]);
    }
    assert_eq!(status().await, "open");
    assert_eq!(auction().await, [7], "open circuit: skipped");
    assert_eq!(flaky.requests().len(), 3, "no request sent while open");

    flaky.set_reply(Reply::NoBid);
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        auction().await,
        Vec::<u64>::new(),
        "probe after cool-off succeeds"
    );
    assert_eq!(flaky.requests().len(), 4);
    assert_eq!(status().await, "closed");
    let m = app.metrics().await;
    assert_eq!(
        metric(
            &m,
            r#"bidgate_partner_requests_total{partner="flaky",outcome="circuit_open"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &m,
            r#"bidgate_circuit_transitions_total{partner="flaky",to="open"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(&m, r#"bidgate_partner_circuit_state{partner="flaky"}"#),
        Some(0.0)
    );
}

#[tokio::test]
async fn per_partner_response_cap_overrides_the_global_one() {
    let big = format!(
        r#"{{"id":"req-1","seatbid":[{{"bid":[{{"id":"b","impid":"1","price":2.0,"adm":"{}"}}]}}]}}"#,
        "x".repeat(4096)
    );
    let bad = mock_partner(Reply::Raw("application/json", big));
    let good = mock_partner(Reply::Bids(vec![("1", 1.0)]));
    let cfg = with_partner_lines(
        config(
            "pricing = \"first_price\"",
            &[("good", good.endpoint(), 150), ("bad", bad.endpoint(), 150)],
        ),
        &bad.endpoint(),
        "http_client = { max_response_bytes = 1024 }",
    );
    let app = spawn_app(&cfg).await;
    let body: Value = app.auction_json(&request(TMAX, &[("1", 0.0)])).await;
    assert_eq!(winners(&body), [("good".into(), "1".into(), 1.0)]);
    assert_eq!(error_codes(&body, "bad"), [5]);
}

#[tokio::test]
async fn http2_prior_knowledge_is_spoken_where_configured() {
    let h1 = mock_partner(Reply::Bids(vec![("1", 1.0)]));
    let h2 = mock_partner(Reply::Bids(vec![("1", 2.0)]));
    let cfg = with_partner_lines(
        config(
            "pricing = \"first_price\"",
            &[("h1", h1.endpoint(), 150), ("h2", h2.endpoint(), 150)],
        ),
        &h2.endpoint(),
        "http_client = { http2_prior_knowledge = true }",
    );
    let app = spawn_app(&cfg).await;
    for _ in 0..3 {
        let body: Value = app.auction_json(&request(TMAX, &[("1", 0.0)])).await;
        assert_eq!(winners(&body), [("h2".into(), "1".into(), 2.0)]);
    }
    use actix_web::http::Version;
    assert!(h1.requests().iter().all(|r| r.version == Version::HTTP_11));
    assert!(h2.requests().iter().all(|r| r.version == Version::HTTP_2));
    let peers: std::collections::HashSet<_> = h2.requests().iter().map(|r| r.peer).collect();
    assert_eq!(peers.len(), 1, "one multiplexed HTTP/2 connection");
}

#[tokio::test]
async fn a_short_client_tmax_does_not_trip_a_healthy_partners_breaker() {
    // The partner answers in 60 ms. Clients asking for 40 ms cut every call short; that is
    // the clients' doing, not the partner's, so its circuit must stay closed.
    let p = mock_partner(Reply::Delayed(
        Duration::from_millis(60),
        Box::new(Reply::Bids(vec![("1", 1.0)])),
    ));
    let cfg = config(
        "pricing = \"first_price\"",
        &[("steady", p.endpoint(), 150)],
    ) + "\n[circuit_breaker]\nfailure_threshold = 2\ncooloff_ms = 10000\n";
    let app = spawn_app(&cfg).await;
    for _ in 0..4 {
        assert_eq!(app.auction(&request(40, &[("1", 0.0)])).await.status(), 204);
    }
    let body: Value = app.auction_json(&request(400, &[("1", 0.0)])).await;
    assert_eq!(winners(&body), [("steady".into(), "1".into(), 1.0)]);
    assert_eq!(p.requests().len(), 5, "never skipped");
}

#[tokio::test]
async fn a_flood_of_bids_is_refused_whole() {
    let bids: Vec<Value> = (0..500)
        .map(|i| json!({"id": format!("b{i}"), "impid": "1", "price": 9.0}))
        .collect();
    let bad = mock_partner(Reply::Json(
        json!({"id": "req-1", "seatbid": [{"bid": bids}]}),
    ));
    let run = auction_beside_good_partner(bad.endpoint()).await;
    assert_good_wins_and_bad_reports(&run, 4, "error/body");
    let msg = run.body["ext"]["errors"][&run.bad][0]["message"]
        .as_str()
        .unwrap();
    assert!(msg.contains("500 bids for 1 imps"), "{msg}");
}

#[tokio::test]
async fn errors_per_partner_are_capped_and_partner_text_is_clipped() {
    let long_id = "x".repeat(5000);
    let bids: Vec<Value> = (0..15)
        .map(|i| json!({"id": format!("{long_id}{i}"), "impid": format!("unknown-{i}"), "price": 1.0}))
        .collect();
    let bad = mock_partner(Reply::Json(
        json!({"id": "req-1", "seatbid": [{"bid": bids}]}),
    ));
    let run = auction_beside_good_partner(bad.endpoint()).await;
    let errors = run.body["ext"]["errors"][&run.bad].as_array().unwrap();
    assert_eq!(errors.len(), 11, "10 errors and a summary");
    assert!(errors[..10].iter().all(|e| e["code"] == 302));
    assert_eq!(errors[10]["code"], 399);
    for e in errors {
        assert!(
            e["message"].as_str().unwrap().chars().count() <= 201,
            "clipped: {e}"
        );
    }
    let series = format!(
        r#"bidgate_bids_rejected_total{{partner="{}",code="302"}}"#,
        run.bad
    );
    assert_eq!(
        metric(&run.metrics, &series),
        Some(15.0),
        "every rejection is counted"
    );
}

#[tokio::test]
async fn a_silent_partner_trips_its_breaker_even_when_the_deadline_bounds_the_wait() {
    // timeout_ms 2000 > tmax: every wait ends at the client's deadline (~185 ms), which is
    // still long enough (>= timeout_counts_after_ms) to blame the partner.
    let silent = raw::raw_partner(Fault::Silent).await;
    let good = mock_partner(Reply::Bids(vec![("1", 1.0)]));
    let cfg = config(
        "pricing = \"first_price\"",
        &[
            ("good", good.endpoint(), 2000),
            ("silent", silent.endpoint(), 2000),
        ],
    ) + "\n[circuit_breaker]\nfailure_threshold = 2\ncooloff_ms = 10000\n";
    let app = spawn_app(&cfg).await;
    let mut codes = Vec::new();
    for _ in 0..3 {
        let body: Value = app.auction_json(&request(TMAX, &[("1", 0.0)])).await;
        assert_eq!(winners(&body), [("good".into(), "1".into(), 1.0)]);
        codes.push(error_codes(&body, "silent"));
    }
    assert_eq!(codes, [vec![1], vec![1], vec![7]]);
}

/// A partner whose own timeout is longer than the client's tmax allows is cut off by the
/// deadline: outcome `late`, not `timeout` (its contract was not broken, the request was tight).
#[tokio::test]
async fn a_wait_cut_short_by_the_deadline_is_late_not_a_timeout() {
    let good = mock_partner(Reply::Bids(vec![("1", 1.0)]));
    let slow = mock_partner(Reply::Hang);
    let id = unique("patient");
    let cfg = config(
        "pricing = \"first_price\"",
        &[
            ("good", good.endpoint(), 150),
            (&id, slow.endpoint(), 5_000),
        ],
    );
    let app = spawn_app(&cfg).await;
    let body = app.auction_json(&request(TMAX, &[("1", 0.0)])).await;
    assert_eq!(winners(&body), [("good".into(), "1".into(), 1.0)]);
    assert_eq!(error_codes(&body, &id), [1]);
    let metrics = app.metrics().await;
    let late = format!(r#"bidgate_partner_requests_total{{partner="{id}",outcome="late"}}"#);
    assert_eq!(metric(&metrics, &late), Some(1.0), "{late}");
    let timeout = format!(r#"bidgate_partner_requests_total{{partner="{id}",outcome="timeout"}}"#);
    assert_eq!(metric(&metrics, &timeout).unwrap_or(0.0), 0.0);
}
