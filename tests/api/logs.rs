//! Structured logs from the real binary: with `[log] format = "json"` every line on stderr is
//! a JSON object, and an event inside an auction carries the auction's span (its id) and the
//! partner call's span (the partner id).

use crate::helpers::*;
use serde_json::Value;
use std::io::BufRead;
use std::time::{Duration, Instant};

#[tokio::test]
async fn json_logs_carry_the_auction_and_partner_spans() {
    let broken = mock_partner(Reply::Status(500));
    let cfg = config("", &[("log-broken", broken.endpoint(), 150)]);
    // One failure opens the circuit: a warning logged inside the partner call.
    let cfg = with_partner_lines(
        cfg,
        &broken.endpoint(),
        "circuit_breaker.failure_threshold = 1",
    ) + "\n[log]\nformat = \"json\"\nlevel = \"info,bidgate::fanout=debug\"\n";
    let file = ConfigFile::new("json-logs", &cfg);
    let (mut child, app) = serve_binary_logged(&file);
    let stderr = child.stderr.take().unwrap();
    // Read the log on a thread; lines come back over a channel.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut body = request(300, &[("1", 0.0)]);
    body["id"] = "auction-for-the-log".into();
    assert_eq!(app.auction(&body).await.status(), 204);

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    let event = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no circuit warning in the log; got:\n{seen:#?}"));
        let json: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
        if json["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("circuit breaker opened"))
        {
            break json;
        }
        seen.push(line);
    };
    // Every line the process writes is in once its log has ended: after it has exited, when
    // the reader sees the end of the pipe (and drops its sender).
    send_signal(&child, "TERM");
    let _ = child.wait();
    let mut after = Vec::new();
    let ended = loop {
        match rx.recv_timeout(PATIENCE) {
            Ok(line) => after.push(line),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break true,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => break false,
        }
    };
    assert!(ended, "the log did not end after the process exited");
    for line in &after {
        let parsed: Result<Value, _> = serde_json::from_str(line);
        assert!(parsed.is_ok(), "a log line that is not JSON: {line}");
    }

    assert_eq!(event["level"], "WARN", "{event}");
    let spans = event["spans"].as_array().expect("the span list");
    assert!(
        spans
            .iter()
            .any(|s| s["name"] == "auction" && s["id"] == "auction-for-the-log"),
        "{event}"
    );
    // The event names its partner itself (at `info` too); the partner span, costly per
    // call, is there when debug is on for the fan-out (docs/operations.md, Logs).
    assert_eq!(event["fields"]["partner"], "log-broken", "{event}");
    assert!(
        spans
            .iter()
            .any(|s| s["name"] == "partner" && s["partner"] == "log-broken"),
        "{event}"
    );
    // The quiet path stays quiet: no line per auction at info level, neither before the
    // warning nor after it (the end of the auction, the shutdown).
    let all: Vec<&String> = seen.iter().chain(&after).collect();
    assert!(
        all.iter()
            .all(|l| !l.contains("auction-for-the-log") || l.contains("WARN")),
        "{all:#?}"
    );
}
