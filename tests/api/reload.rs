//! Config reload without a restart: swapped whole, under load, refused whole when invalid.

use crate::helpers::*;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const FIRST: &str = "pricing = \"first_price\"";

#[tokio::test]
async fn reload_swaps_partners_and_timeouts_under_load_without_a_failed_request() {
    let a = mock_partner(Reply::Bids(vec![("1", 1.0)]));
    let b = mock_partner(Reply::Bids(vec![("1", 2.0)]));
    let only_a = config(FIRST, &[("a", a.endpoint(), 60)]);
    let a_and_b = config(FIRST, &[("a", a.endpoint(), 90), ("b", b.endpoint(), 90)]);
    let only_b = config(FIRST, &[("b", b.endpoint(), 90)]);
    let file = ConfigFile::new("swap", &only_a);
    let app = Arc::new(spawn_app_from_file(&file).await);

    let body: Value = app.auction_json(&request(300, &[("1", 0.0)])).await;
    assert_eq!(winners(&body), [("a".into(), "1".into(), 1.0)]);
    assert_eq!(a.requests().last().unwrap().body["tmax"], 60);

    // Traffic keeps flowing while the config changes underneath it.
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (app, stop) = (app.clone(), stop.clone());
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    statuses.push(
                        app.auction(&request(300, &[("1", 0.0)]))
                            .await
                            .status()
                            .as_u16(),
                    );
                }
                statuses
            })
        })
        .collect();

    file.write(&a_and_b);
    assert_eq!(app.reload().await, (200, "reloaded: 2 partners\n".into()));
    let body: Value = app.auction_json(&request(300, &[("1", 0.0)])).await;
    assert_eq!(
        winners(&body),
        [("b".into(), "1".into(), 2.0)],
        "the added partner bids"
    );
    assert_eq!(
        a.requests().last().unwrap().body["tmax"],
        90,
        "the new timeout applies"
    );

    for _ in 0..5 {
        file.write(&only_b);
        assert_eq!(app.reload().await.0, 200);
        file.write(&a_and_b);
        assert_eq!(app.reload().await.0, 200);
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for l in load {
        let statuses = l.await.unwrap();
        total += statuses.len();
        assert!(
            statuses.iter().all(|s| *s == 200),
            "a request failed during reloads: {statuses:?}"
        );
    }
    assert!(
        total >= 8,
        "the load ran during the reloads ({total} requests)"
    );

    // With no auction in flight under the old config, a removed partner is never called.
    // The auction after the reload has an id of its own, so that requests of earlier
    // auctions reaching `a` late (ones that were given up on) do not count against it.
    file.write(&only_b);
    assert_eq!(app.reload().await.0, 200);
    let mut after = request(300, &[("1", 0.0)]);
    after["id"] = json!("after-removal");
    let body: Value = app.auction_json(&after).await;
    assert_eq!(winners(&body), [("b".into(), "1".into(), 2.0)]);
    // The answer comes once every partner the auction called has answered or been given up
    // on, and it times each of them: only `b` was called.
    let called: Vec<&String> = body["ext"]["responsetimemillis"]
        .as_object()
        .expect("response times")
        .keys()
        .collect();
    assert_eq!(called, ["b"], "{}", body["ext"]);
    assert!(b.request_ids().contains(&"after-removal".to_string()));
    assert!(
        !a.request_ids().contains(&"after-removal".to_string()),
        "a removed partner is not called"
    );
}

#[tokio::test]
async fn an_invalid_config_is_refused_whole_and_the_running_one_stays() {
    let a = mock_partner(Reply::Bids(vec![("1", 1.0)]));
    let good = config(FIRST, &[("a", a.endpoint(), 100)]);
    let file = ConfigFile::new("invalid", &good);
    let app = spawn_app_from_file(&file).await;

    file.write(&(good.replace("timeout_ms = 100", "timeout_ms = 0") + "\n[typo]\nx = 1\n"));
    let (status, text) = app.reload().await;
    assert_eq!(status, 400);
    assert!(
        text.contains("partners[0].timeout_ms") && text.contains("typo: unknown key"),
        "{text}"
    );

    file.write("this is [not toml");
    assert_eq!(app.reload().await.0, 400);

    let body: Value = app.auction_json(&request(300, &[("1", 0.0)])).await;
    assert_eq!(
        winners(&body),
        [("a".into(), "1".into(), 1.0)],
        "the running config stays"
    );
    assert_eq!(a.requests().last().unwrap().body["tmax"], 100);
    let m = app.metrics().await;
    assert!(
        metric(&m, r#"bidgate_config_reloads_total{result="invalid"}"#).is_some_and(|v| v >= 2.0),
        "{m}"
    );
}

#[tokio::test]
async fn breaker_state_survives_a_reload() {
    let good = mock_partner(Reply::Bids(vec![("1", 1.0)]));
    let flaky = mock_partner(Reply::Status(500));
    let text = config(
        FIRST,
        &[
            ("good", good.endpoint(), 150),
            ("reload-flaky", flaky.endpoint(), 150),
        ],
    ) + "\n[circuit_breaker]\nfailure_threshold = 2\ncooloff_ms = 60000\n";
    let file = ConfigFile::new("breaker", &text);
    let app = spawn_app_from_file(&file).await;
    for _ in 0..2 {
        app.auction(&request(300, &[("1", 0.0)])).await;
    }
    file.write(&text.replace("timeout_ms = 150", "timeout_ms = 120"));
    assert_eq!(app.reload().await.0, 200);
    let body: Value = app.auction_json(&request(300, &[("1", 0.0)])).await;
    assert_eq!(
        error_codes(&body, "reload-flaky"),
        [7],
        "still open after the reload"
    );
    assert_eq!(flaky.requests().len(), 2);
}

#[tokio::test]
async fn the_binary_reloads_on_sighup_and_when_the_file_changes() {
    let a = mock_partner(Reply::NoBid);
    let b = mock_partner(Reply::NoBid);
    let file = ConfigFile::new("binary", &config(FIRST, &[("a", a.endpoint(), 100)]));
    let (mut child, app) = serve_binary(&file);
    let until = |want: &'static [&'static str]| {
        let app = &app;
        async move {
            eventually(&format!("partners {want:?}"), || async move {
                (app.partner_ids().await == want).then_some(())
            })
            .await
        }
    };
    assert_eq!(app.partner_ids().await, ["a"]);

    file.write(&config(
        FIRST,
        &[("a", a.endpoint(), 100), ("b", b.endpoint(), 100)],
    ));
    send_signal(&child, "HUP");
    until(&["a", "b"]).await;

    // No signal this time: the watcher notices the new modification time.
    tokio::time::sleep(Duration::from_millis(1100)).await; // coarse mtime clocks
    file.write(&config(FIRST, &[("b", b.endpoint(), 100)]));
    until(&["b"]).await;

    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGHUP must not stop the server"
    );
    let _ = child.kill();
    let _ = child.wait();
}
