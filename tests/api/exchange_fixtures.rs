//! Table-driven end-to-end cases from `fixtures/exchange/*.json`: each names the partners
//! (their config lines and their one reply), the request, and what must come of it: the
//! status, the winners, the error codes per partner, values in the answer and values in what
//! each partner was sent (JSON pointers). The fixtures carry the paths that once went wrong:
//! supply chain, eids and GPP, pods with `slotinpod`, duration floors, a fixed-price deal and
//! non-USD bids.

use crate::helpers::*;
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/exchange");

async fn run_case(path: &std::path::Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let case: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let partners: Vec<(String, MockPartner, String)> = case["partners"]
        .as_array()
        .ok_or("no partners")?
        .iter()
        .map(|p| {
            let reply = match &p["reply"] {
                Value::Null => Reply::NoBid,
                v => Reply::Json(v.clone()),
            };
            let lines = p["lines"].as_str().unwrap_or_default().to_string();
            (
                p["id"].as_str().unwrap_or_default().to_string(),
                mock_partner(reply),
                lines,
            )
        })
        .collect();
    let list: Vec<(&str, String, u64)> = partners
        .iter()
        .map(|(id, p, _)| (id.as_str(), p.endpoint(), 300))
        .collect();
    let mut cfg = config(case["auction"].as_str().unwrap_or_default(), &list);
    for (_, p, lines) in &partners {
        if !lines.is_empty() {
            cfg = with_partner_lines(cfg, &p.endpoint(), lines);
        }
    }
    cfg.push('\n');
    cfg.push_str(case["config"].as_str().unwrap_or_default());
    let app = spawn_app(&cfg).await;
    let expect = &case["expect"];
    let resp = match case["endpoint"].as_str() {
        Some("/v1/ads") => app.ads(&case["request"]).await,
        _ => app.auction(&case["request"]).await,
    };
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let mut wrong = Vec::new();
    if let Some(want) = expect["status"].as_u64()
        && want != status as u64
    {
        wrong.push(format!("status {status}, expected {want}"));
    }
    if let Some(want) = expect["winners"].as_array() {
        let want: Vec<(String, String, f64)> = want
            .iter()
            .map(|w| {
                (
                    w[0].as_str().unwrap_or_default().into(),
                    w[1].as_str().unwrap_or_default().into(),
                    w[2].as_f64().unwrap_or_default(),
                )
            })
            .collect();
        if winners(&body) != want {
            wrong.push(format!("winners {:?}, expected {want:?}", winners(&body)));
        }
    }
    for (partner, codes) in expect["errors"].as_object().into_iter().flatten() {
        let want: Vec<u64> = codes
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .collect();
        if error_codes(&body, partner) != want {
            wrong.push(format!(
                "{partner} errors {:?}, expected {want:?}",
                error_codes(&body, partner)
            ));
        }
    }
    let check = |doc: &Value, pairs: &Value, what: &str, wrong: &mut Vec<String>| {
        for pair in pairs.as_array().into_iter().flatten() {
            let pointer = pair[0].as_str().unwrap_or_default();
            let got = doc.pointer(pointer).unwrap_or(&Value::Null);
            if got != &pair[1] {
                wrong.push(format!("{what}{pointer} = {got}, expected {}", pair[1]));
            }
        }
    };
    check(&body, &expect["response"], "answer", &mut wrong);
    for (id, pairs) in expect["sent"].as_object().into_iter().flatten() {
        let Some((_, p, _)) = partners.iter().find(|(pid, ..)| pid == id) else {
            wrong.push(format!("no partner {id}"));
            continue;
        };
        let sent = p
            .requests()
            .into_iter()
            .find(|r| r.path == "/bid")
            .map_or(Value::Null, |r| r.body);
        check(&sent, pairs, &format!("sent to {id}: "), &mut wrong);
    }
    match wrong.is_empty() {
        true => Ok(()),
        false => Err(format!("{}\n    answer: {body}", wrong.join("\n    "))),
    }
}

#[tokio::test]
async fn every_exchange_fixture_comes_out_as_it_says() {
    let mut files: Vec<_> = std::fs::read_dir(DIR)
        .expect("fixtures/exchange")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "the fixtures are there: {files:?}");
    let mut failures = Vec::new();
    for f in &files {
        if let Err(why) = run_case(f).await {
            failures.push(format!("{}: {why}", f.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
