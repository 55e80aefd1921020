//! The event log of the real binary: after a clean stop it holds exactly the auctions and
//! events that were acknowledged, and with `fsync = "always"` even a killed process has
//! written every event it answered.

use crate::helpers::*;
use serde_json::{Value, json};
use std::path::Path;

const SECRET: &str = "event-log-test-secret-0123456789abcd";

fn setup(name: &str, fsync: &str) -> (ConfigFile, MockPartner, std::path::PathBuf) {
    let p = mock_partner(Reply::Json(
        json!({"id": "x", "cur": "USD", "seatbid": [{"bid": [
            {"id": "b1", "impid": "s", "price": 1.5, "adomain": ["brand.com"], "dur": 30,
             "adm": "https://cdn.brand.com/spot.mp3"}
        ]}]}),
    ));
    let file = ConfigFile::new(name, "");
    let dir = file.0.parent().unwrap().join("events");
    let cfg = config("", &[("log-p", p.endpoint(), 200)])
        + &format!(
            "\n[events]\nsecrets = [\"{SECRET}\"]\n\n[event_log]\ndir = \"{}\"\nfsync = \"{fsync}\"\n\n[[placements]]\nid = \"a\"\nformat = \"audio\"\n",
            dir.display()
        );
    file.write(&cfg);
    (file, p, dir)
}

/// Every line of every file in `dir`, parsed.
fn records(dir: &Path) -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            name.starts_with("events-") && name.ends_with(".jsonl"),
            "{name}"
        );
        for line in std::fs::read_to_string(&f).unwrap().lines() {
            out.push(serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")));
        }
    }
    out
}

/// The tracking URLs of the ad that fills slot `s`.
async fn tracking(app: &TestApp) -> Value {
    let out = app
        .ads_json(&ad_request(json!([{"id": "s", "placement": "a"}])))
        .await;
    out["slots"][0]["ads"][0]["tracking"].clone()
}

#[tokio::test]
async fn after_a_clean_stop_the_log_holds_exactly_what_was_acknowledged() {
    let (file, _p, dir) = setup("event-log-clean", "interval");
    let (mut child, app) = serve_binary(&file);
    let t = tracking(&app).await;
    let mut sent = Vec::new();
    for kind in [
        "impression",
        "start",
        "first_quartile",
        "midpoint",
        "complete",
        "impression",
    ] {
        let url = t[kind].as_str().unwrap_or_else(|| panic!("{kind} in {t}"));
        assert_eq!(app.get(url).await.status(), 204);
        sent.push(kind);
    }
    let forged =
        app.url("/v1/events/click?t=bm90LmEudG9rZW4.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(app.get(&forged).await.status(), 403);
    send_signal(&child, "TERM");
    assert!(child.wait().unwrap().success());

    let recs = records(&dir);
    let auctions: Vec<_> = recs.iter().filter(|r| r["type"] == "auction").collect();
    let events: Vec<_> = recs.iter().filter(|r| r["type"] == "event").collect();
    assert_eq!(auctions.len(), 1, "{recs:#?}");
    assert_eq!(auctions[0]["wins"][0]["price_micros"], 1_500_000);
    assert_eq!(auctions[0]["partners"][0]["outcome"], "bid");
    let got: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("impression", "billed"),
            ("start", "counted"),
            ("firstQuartile", "counted"),
            ("midpoint", "counted"),
            ("complete", "counted"),
            ("impression", "duplicate"),
            ("click", "forged"),
        ]
    );
    assert_eq!(events[0]["auction_id"], auctions[0]["auction_id"]);
    assert_eq!(events[0]["price_micros"], 1_500_000);
}

#[tokio::test]
async fn with_fsync_always_a_killed_process_has_logged_every_answered_event() {
    let (file, _p, dir) = setup("event-log-kill", "always");
    let (mut child, app) = serve_binary(&file);
    let t = tracking(&app).await;
    for kind in ["impression", "start", "complete"] {
        assert_eq!(app.get(t[kind].as_str().unwrap()).await.status(), 204);
    }
    send_signal(&child, "KILL");
    let _ = child.wait();
    let kinds: Vec<String> = records(&dir)
        .iter()
        .filter(|r| r["type"] == "event")
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["impression", "start", "complete"]);
}
