//! The shipped Grafana dashboard (`ops/grafana-dashboard.json`) only queries metrics that
//! bidgate really exports and `docs/operations.md` documents: after a few auctions, every
//! metric a panel uses is present in `/metrics` (so the dashboard cannot drift from the code).

use crate::helpers::*;
use serde_json::Value;
use std::collections::BTreeSet;

/// The `bidgate_*` metric families the dashboard's queries use (histogram suffixes removed).
fn dashboard_metrics() -> BTreeSet<String> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/ops/grafana-dashboard.json"
    ))
    .unwrap();
    let dash: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut names = BTreeSet::new();
    for panel in dash["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            for (i, _) in expr.match_indices("bidgate_") {
                let name: String = expr[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                names.insert(name.trim_end_matches("_bucket").to_string());
            }
        }
    }
    names
}

#[tokio::test]
async fn every_metric_on_the_dashboard_is_exported_and_documented() {
    let names = dashboard_metrics();
    assert!(names.len() >= 12, "{names:?}");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations.md"))
            .unwrap();

    // Make every family appear: bids, a dropped bid, a win, a breaker change, a limit, a reload.
    let good = mock_partner(Reply::Bids(vec![("1", 1.0), ("x", 1.0)]));
    let broken = mock_partner(Reply::Status(500));
    let cfg = config(
        "pricing = \"first_price\"",
        &[
            ("good", good.endpoint(), 150),
            ("broken", broken.endpoint(), 150),
        ],
    ) + "\n[circuit_breaker]\nfailure_threshold = 1\n\n[client_rate_limit]\nrequests_per_second = 1\nburst = 3\n\n[events]\nsecrets = [\"dashboard-test-secret-0123456789abcdef\"]\n";
    let app = spawn_app(&cfg).await;
    // A tracking event with a genuine token: counted, deduplicated, billed.
    let token =
        bidgate::events::token::Signer::new(&["dashboard-test-secret-0123456789abcdef".into()])
            .sign(&bidgate::events::token::Claims {
                auction: "a".into(),
                imp: "1".into(),
                partner: "good".into(),
                bid: "b".into(),
                price_micros: 1_000_000,
                currency: "USD".into(),
                expires: u64::MAX,
                burl: None,
                user_key: None,
                line_item: None,
            })
            .unwrap();
    let event = app.get(&format!("/v1/events/impression?t={token}")).await;
    assert_eq!(event.status(), 204);
    // Auctions from the same address, until its allowance is used up (the limit's family).
    for _ in 0..10 {
        if app.auction(&request(300, &[("1", 0.0)])).await.status() == 429 {
            break;
        }
    }
    app.reload().await; // not from a file: refused, counted
    let exported = app.metrics().await;

    for name in &names {
        assert!(
            readme.contains(&format!("`{name}`")),
            "{name} is not documented in docs/operations.md"
        );
        // A late answer is the one thing that should never happen: documented, but absent.
        if name == "bidgate_auctions_late_total" {
            continue;
        }
        assert!(
            exported.contains(name.as_str()),
            "{name} is not exported:\n{exported}"
        );
    }
}
