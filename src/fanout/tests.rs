//! The fan-out's own tests: the breaker's judgement of a call, on a real silent socket.
use super::*;
use crate::partners::{BadResponse, Cut};

#[test]
fn our_own_lateness_is_not_held_against_partners() {
    let ms = Duration::from_millis;
    let timeout = Outcome::Timeout(Cut::OwnTimeout);
    assert_eq!(judge(&timeout, true, false), Some(false), "a fair timeout");
    assert_eq!(
        judge(&timeout, false, false),
        None,
        "cut short by the client"
    );
    assert_eq!(judge(&timeout, true, true), None, "we were behind");
    let refused = Outcome::Transport("connect failed".into());
    assert_eq!(judge(&refused, true, false), Some(false));
    assert_eq!(judge(&refused, true, true), None);
    let garbage = Outcome::BadResponse(BadResponse::Status(500));
    assert_eq!(judge(&garbage, true, true), Some(false), "a 500 is theirs");
    let gw = Gateway::new(crate::config::from_toml_str("", Vec::new()).unwrap()).unwrap();
    crate::limits::set_worker_lag_for_test(Duration::ZERO);
    assert!(!gw.behind(ms(1)), "timer on time");
    assert!(gw.behind(ms(25)), "timer fired 25 ms late");
    crate::limits::set_worker_lag_for_test(ms(30));
    assert!(gw.behind(ms(0)), "worker 30 ms behind");
    crate::limits::set_worker_lag_for_test(Duration::ZERO);
    let off = "[server]\ntarget_worker_lag_ms = 0\n";
    let gw = Gateway::new(crate::config::from_toml_str(off, Vec::new()).unwrap()).unwrap();
    assert!(
        !gw.behind(ms(25)),
        "lag-based judgement off with the adaptive limit"
    );
}

/// A partner that accepts connections and never answers.
async fn silent_partner() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    addr
}

async fn breaker_after_timeouts(lag: Duration) -> crate::breaker::State {
    let addr = silent_partner().await;
    let cfg = crate::config::from_toml_str(
        &format!(
            "[server]\nmax_worker_lag_ms = 0\n\n[circuit_breaker]\nfailure_threshold = 3\n\
             timeout_counts_after_ms = 10\nmin_volume = 0\n\n\
             [[partners]]\nid = \"slow\"\nendpoint = \"http://{addr}/\"\ntimeout_ms = 20\n"
        ),
        Vec::new(),
    )
    .unwrap();
    let gw = Gateway::new(cfg).unwrap();
    crate::limits::set_worker_lag_for_test(lag);
    for _ in 0..5 {
        let mut request: BidRequest =
            serde_json::from_str(r#"{"id":"a","imp":[{"id":"1","banner":{"w":1,"h":1}}]}"#)
                .unwrap();
        let deadline = Deadline::new(
            Instant::now(),
            Some(200),
            &gw.config.auction,
            Duration::ZERO,
        );
        let called = run(&gw, &mut request, &deadline, &[], None, false).await;
        assert!(
            matches!(
                called[0].outcome,
                Outcome::Timeout(_) | Outcome::Throttled(_)
            ),
            "{:?}",
            called[0].outcome
        );
    }
    crate::limits::set_worker_lag_for_test(Duration::ZERO);
    gw.partners[0].breaker.state()
}

#[tokio::test]
async fn a_lagging_worker_opens_no_circuit() {
    // Control: the same silent partner, on a worker that keeps up, is cut off.
    assert!(matches!(
        breaker_after_timeouts(Duration::ZERO).await,
        crate::breaker::State::Open { .. }
    ));
    // On a worker 40 ms behind, the same timeouts say nothing about the partner.
    assert_eq!(
        breaker_after_timeouts(Duration::from_millis(40)).await,
        crate::breaker::State::Closed { failures: 0 }
    );
}
