//! Yield under the deadline: adaptive per-partner deadlines (never later than static, an
//! early close once the partners that matter have answered, secondary partners not waited
//! for except on probes), shadow partners (called, never in the auction, no notices, told
//! `test = 1`) and traffic ramps, and the model on `/admin/status` and `/metrics`.
//! Real mock partners on loopback; no tight timing: counts, or bounds set by the mocks'
//! own delays.

use crate::helpers::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const ADAPTIVE: &str = "deadline_mode = \"adaptive\"\nmax_tmax_ms = 1000\n\n[auction.adaptive]\nmin_samples = 20\nprobe_share = 0.15\n";

/// A fast partner that wins, a slow one that only ever says no bid (worthless, but on
/// time), and one that never answers (its breaker off, so it stays called).
fn three(auction: &str, ids: [&str; 3]) -> (String, [MockPartner; 3]) {
    let partners = [
        mock_partner(Reply::Delayed(
            Duration::from_millis(5),
            Box::new(Reply::Bids(vec![("1", 2.0)])),
        )),
        mock_partner(Reply::Delayed(
            Duration::from_millis(600),
            Box::new(Reply::NoBid),
        )),
        mock_partner(Reply::Hang),
    ];
    let cfg = config(
        auction,
        &[
            (ids[0], partners[0].endpoint(), 1000),
            (ids[1], partners[1].endpoint(), 1000),
            (ids[2], partners[2].endpoint(), 300),
        ],
    );
    let cfg = with_partner_lines(
        cfg,
        &partners[2].endpoint(),
        "circuit_breaker.failure_threshold = 0",
    );
    (cfg, partners)
}

/// `n` auctions at once; each answer's time.
async fn concurrently(app: &TestApp, n: usize) -> Vec<Duration> {
    let runs = (0..n).map(|_| async {
        let t = Instant::now();
        let body = app.auction_json(&request(1000, &[("1", 0.5)])).await;
        assert_eq!(winners(&body)[0].2, 2.0, "{body}");
        t.elapsed()
    });
    futures_util::future::join_all(runs).await
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test]
async fn adaptive_closes_once_the_partners_that_matter_answered_never_later_than_static() {
    let ids = ["yl-winner", "yl-worthless", "yl-silent"];
    // Static: every auction waits for the worthless partner's 600 ms no-bid.
    let (cfg, _static_partners) = three("max_tmax_ms = 1000", ids);
    let static_app = spawn_app(&cfg).await;
    let fastest_static = *concurrently(&static_app, 5).await.iter().min().unwrap();
    assert!(fastest_static >= Duration::from_millis(600));

    let (cfg, partners) = three(ADAPTIVE, ids);
    let app = spawn_app(&cfg).await;
    // The models learn from 25 auctions (each partner waited for statically until then).
    concurrently(&app, 25).await;
    let learnt = partners[0].requests().len();
    let times: Vec<Duration> = {
        let mut t = Vec::new();
        for _ in 0..60 {
            t.extend(concurrently(&app, 1).await);
        }
        t
    };
    // Most auctions close as soon as the winner is in: far sooner than static ever does.
    assert!(median(times) < fastest_static, "adaptive answers sooner");

    // Every partner was told a tmax no larger than static's, and the winner its own p99.
    let static_tmax = [985, 985, 300];
    for (p, max) in partners.iter().zip(static_tmax) {
        for r in p.requests() {
            let tmax = r.body["tmax"].as_u64().unwrap();
            assert!(tmax <= max, "told {tmax}, static {max}");
        }
    }
    let told: Vec<u64> = partners[0].requests()[learnt..]
        .iter()
        .map(|r| r.body["tmax"].as_u64().unwrap())
        .collect();
    assert!(
        told.iter().filter(|t| **t < 900).count() > told.len() / 2,
        "the fast winner is told its own p99, well below static's 985: {told:?}"
    );

    // The worthless partner is cut by the early close ("late"), except on probes, where it
    // answers; the silent one is not waited for (secondary: "late") except on probes,
    // which wait for its whole timeout ("timeout").
    let text = app.metrics().await;
    let count = |id: &str, outcome: &str| {
        let series =
            format!(r#"bidgate_partner_requests_total{{partner="{id}",outcome="{outcome}"}}"#);
        metric(&text, &series).unwrap_or(0.0)
    };
    let worthless_cut = count(ids[1], "late");
    assert!(worthless_cut >= 30.0, "cut {worthless_cut} of 60");
    let silent_cut = count(ids[2], "late");
    let silent_probed = count(ids[2], "timeout") - 25.0;
    assert!(silent_cut >= 30.0, "not waited for: {silent_cut} of 60");
    // 15% of 60 is 9; the bound is loose because on a loaded machine a few auctions of the
    // learning phase end after the model has already moved (seen: 27). That most calls are
    // not waited for is asserted just above.
    assert!(
        (1.0..=40.0).contains(&silent_probed),
        "probes (15% of 60) wait for it: {silent_probed}"
    );

    // The model on /admin/status and in /metrics.
    let status = app.admin_status().await;
    let winner = &partner_in(&status, ids[0])["model"];
    assert!(winner["samples"].as_u64().unwrap() >= 60, "{winner}");
    assert!(
        winner["latency_p50_ms"].as_f64().unwrap() < 300.0,
        "{winner}"
    );
    assert_eq!(winner["on_time_rate"], 1.0, "{winner}");
    assert_eq!(winner["win_share"], 1.0, "{winner}");
    assert!((winner["value_per_answer"].as_f64().unwrap() - 2.0).abs() < 1e-9);
    let silent = &partner_in(&status, ids[2])["model"];
    assert_eq!(silent["on_time_rate"], 0.0, "{silent}");
    assert_eq!(
        silent["latency_p50_ms"],
        Value::Null,
        "never answered: {silent}"
    );
    assert_eq!(partner_in(&status, ids[1])["model"]["win_share"], 0.0);
    let text = app.metrics().await;
    let share = metric(
        &text,
        &format!(r#"bidgate_partner_model_win_share{{partner="{}"}}"#, ids[0]),
    );
    assert_eq!(share, Some(1.0), "gauges are exported");
    assert!(
        text.contains(
            r#"bidgate_partner_model_latency_seconds{partner="yl-winner",quantile="0.99"}"#
        )
    );
}

/// A bid on imp "1" at `price` whose notices go back to `partner`'s own server.
fn bid_with_notices(partner: &MockPartner, price: f64) -> Reply {
    let at = |kind: &str| format!("http://{}/{kind}", partner.addr);
    Reply::Json(json!({"id": "req-1", "cur": "USD", "seatbid": [{"bid": [{
        "id": "b1", "impid": "1", "price": price, "adm": "<VAST/>", "crid": "c1",
        "nurl": at("win"), "lurl": at("loss")}]}]}))
}

#[tokio::test]
async fn a_shadow_partner_never_wins_gets_no_notices_is_told_test_and_is_reported() {
    // The shadow partner is never waited for: it answers before the live one here, so
    // that every one of its answers is counted.
    let live = mock_partner(Reply::NoBid);
    live.set_reply(Reply::Delayed(
        Duration::from_millis(100),
        Box::new(bid_with_notices(&live, 2.0)),
    ));
    let shadow = mock_partner(Reply::NoBid);
    shadow.set_reply(bid_with_notices(&shadow, 9.0));
    let cfg = config(
        "",
        &[
            ("sh-live", live.endpoint(), 300),
            ("sh-shadow", shadow.endpoint(), 300),
        ],
    );
    let cfg = with_partner_lines(cfg, &live.endpoint(), "notices = { allow_private = true }");
    let cfg = with_partner_lines(
        cfg,
        &shadow.endpoint(),
        "notices = { allow_private = true }\nmode = \"shadow\"\nshadow_test = true",
    );
    let app = spawn_app(&cfg).await;
    for _ in 0..5 {
        let resp = app.auction(&request(300, &[("1", 0.5)])).await;
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert_eq!(status, 200, "{text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            winners(&body),
            vec![("sh-live".into(), "1".into(), 2.0)],
            "{body}"
        );
        assert!(body["ext"]["errors"].get("sh-shadow").is_none(), "{body}");
        assert!(body["ext"]["responsetimemillis"].get("sh-shadow").is_none());
    }
    // The live winner's notices arrive; the shadow partner, which would have won, gets none.
    eventually("the live partner's win notices", || async {
        (live.paths("/win").len() == 5).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(shadow.paths("/win").is_empty() && shadow.paths("/loss").is_empty());
    let asked: Vec<Received> = shadow
        .requests()
        .into_iter()
        .filter(|r| r.path == "/bid")
        .collect();
    assert_eq!(asked.len(), 5);
    assert!(asked.iter().all(|r| r.body["test"] == 1), "shadow_test");
    assert!(
        live.requests()
            .iter()
            .filter(|r| r.path == "/bid")
            .all(|r| r.body.get("test").is_none())
    );

    let status = app.admin_status().await;
    let p = partner_in(&status, "sh-shadow");
    assert_eq!(p["mode"], "shadow");
    let s = &p["shadow"];
    assert_eq!(
        (s["calls"].as_u64(), s["would_have_won"].as_u64()),
        (Some(5), Some(5)),
        "{p}"
    );
    assert_eq!(s["bid_rate"], 1.0);
    assert!(
        (s["revenue_delta"].as_f64().unwrap() - 35.0).abs() < 1e-6,
        "5 × (9 − 2): {s}"
    );
    assert!(partner_in(&status, "sh-live").get("shadow").is_none());
    let would = app
        .metric(r#"bidgate_shadow_would_win_total{partner="sh-shadow"}"#)
        .await;
    assert_eq!(would, Some(5.0));
}

#[tokio::test]
async fn traffic_share_ramps_a_partner_and_samples_a_shadow() {
    let full = mock_partner(Reply::Bids(vec![("1", 1.0)]));
    let ramp = mock_partner(Reply::NoBid);
    let sample = mock_partner(Reply::NoBid);
    let cfg = config(
        "",
        &[
            ("tr-full", full.endpoint(), 300),
            ("tr-ramp", ramp.endpoint(), 300),
            ("tr-sample", sample.endpoint(), 300),
        ],
    );
    let cfg = with_partner_lines(cfg, &ramp.endpoint(), "traffic_share = 0.3");
    let cfg = with_partner_lines(
        cfg,
        &sample.endpoint(),
        "mode = \"shadow\"\ntraffic_share = 0.1",
    );
    let app = spawn_app(&cfg).await;
    for _ in 0..200 {
        app.auction(&request(300, &[("1", 0.5)])).await;
    }
    assert_eq!(full.requests().len(), 200);
    // Binomial(200, 0.3): mean 60, sd 6.5; (200, 0.1): mean 20, sd 4.2. Bounds at > 4 sd.
    let ramped = ramp.requests().len();
    assert!((30..=90).contains(&ramped), "ramp at 30%: {ramped}");
    let sampled = sample.requests().len();
    assert!((3..=40).contains(&sampled), "shadow at 10%: {sampled}");
    let status = app.admin_status().await;
    assert_eq!(partner_in(&status, "tr-ramp")["traffic_share"], 0.3);
}

#[test]
fn adaptive_knobs_and_shadow_keys_are_validated_with_their_paths() {
    let bad = "[auction]\ndeadline_mode = \"adaptive\"\n\n[auction.adaptive]\nhigh_value_quantile = 0.8\nlow_value_quantile = 0.9\nprobe_share = 2\nwait_cost_per_ms = -1\n\n\
               [[partners]]\nid = \"a\"\nendpoint = \"http://127.0.0.1:1/\"\ntimeout_ms = 100\ntraffic_share = 0\nshadow_test = true\n";
    let problems = bidgate::config::from_toml_str(bad, Vec::new()).unwrap_err();
    let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    let text = text.join("\n");
    for key in [
        "auction.adaptive.low_value_quantile",
        "auction.adaptive.probe_share",
        "auction.adaptive.wait_cost_per_ms",
        "partners[0].traffic_share",
        "partners[0].shadow_test",
    ] {
        assert!(text.contains(key), "{key} in {text}");
    }
    let mode = "[auction]\ndeadline_mode = \"sometimes\"\n";
    assert!(bidgate::config::from_toml_str(mode, Vec::new()).is_err());
}
