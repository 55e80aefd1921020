//! Graceful shutdown of the real binary: on SIGTERM (after an optional drain with /readyz
//! answering 503) it stops accepting, lets the in-flight auction finish (it is bounded by its
//! tmax), then exits cleanly.

use crate::helpers::*;
use std::time::{Duration, Instant};

#[tokio::test]
async fn sigterm_finishes_in_flight_auctions_then_exits() {
    let slow = mock_partner(Reply::Delayed(
        Duration::from_millis(400),
        Box::new(Reply::Bids(vec![("1", 2.5)])),
    ));
    let file = ConfigFile::new(
        "shutdown",
        &config(
            "pricing = \"first_price\"",
            &[("slow", slow.endpoint(), 800)],
        ),
    );
    let (mut child, app) = serve_binary(&file);

    let in_flight = tokio::spawn({
        let app = app.clone();
        async move {
            let resp = app.auction(&request(1000, &[("1", 0.0)])).await;
            (resp.status(), resp.text().await.unwrap())
        }
    });
    // SIGTERM only once the auction is in flight, waiting on `slow`.
    let waiting = Instant::now();
    while slow.requests().is_empty() {
        assert!(
            waiting.elapsed() < Duration::from_secs(5),
            "the auction never reached the partner"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let term = Instant::now();
    send_signal(&child, "TERM");

    let (status, body) = in_flight.await.unwrap();
    assert_eq!(status, 200, "in-flight auction finished: {body}");
    assert!(body.contains("\"price\":2.5"), "{body}");

    // Exits by itself, soon after the last auction (well within shutdown_timeout_s = 5).
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            term.elapsed() < Duration::from_secs(5),
            "still running after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "exit status {exit:?}");
    // And no longer accepts connections.
    assert!(std::net::TcpStream::connect(app.addr).is_err());
}

#[tokio::test]
async fn sigterm_drains_with_readyz_503_then_stops() {
    let p = mock_partner(Reply::NoBid);
    let cfg = config("pricing = \"first_price\"", &[("p", p.endpoint(), 100)])
        .replace("workers = 2", "workers = 2\ndrain_delay_ms = 1500");
    let file = ConfigFile::new("drain", &cfg);
    let (mut child, app) = serve_binary(&file);
    let get = |path: &'static str| {
        let app = &app;
        async move { app.get(path).await.status().as_u16() }
    };
    // Ready once the partner connections are warm (a few ms on loopback).
    eventually("/readyz answers 200", || async {
        (get("/readyz").await == 200).then_some(())
    })
    .await;

    let term = Instant::now();
    send_signal(&child, "TERM");
    while get("/readyz").await != 503 {
        assert!(
            term.elapsed() < Duration::from_secs(1),
            "readyz never turned 503"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Still alive and serving while the load balancer notices.
    assert_eq!(get("/healthz").await, 200);
    assert_eq!(
        app.auction(&request(300, &[("1", 0.0)])).await.status(),
        204
    );

    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            term.elapsed() < Duration::from_secs(8),
            "still running after the drain"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "exit status {exit:?}");
    assert!(
        term.elapsed() >= Duration::from_millis(1400),
        "stopped before the drain delay"
    );
}
