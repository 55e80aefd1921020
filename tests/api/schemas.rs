//! The published JSON Schemas of the client API and the event log are generated from the
//! types; these tests fail when a committed schema drifts from its type.
//! `BIDGATE_BLESS=1 cargo test --test api schema_is_up_to_date` rewrites them.

use serde_json::Value;

fn check(file: &str, schema: Value) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(file);
    if std::env::var("BIDGATE_BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, serde_json::to_string_pretty(&schema).unwrap() + "\n").unwrap();
        return;
    }
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (BIDGATE_BLESS=1 cargo test --test api schema_is_up_to_date)",
                path.display()
            )
        }))
        .unwrap();
    assert!(
        committed == schema,
        "{} is out of date; run `BIDGATE_BLESS=1 cargo test --test api schema_is_up_to_date` and commit it",
        path.display()
    );
}

#[test]
fn ads_request_schema_is_up_to_date() {
    check(
        "ads-request.schema.json",
        serde_json::to_value(schemars::schema_for!(bidgate::ads::AdRequest)).unwrap(),
    );
}

#[test]
fn ads_response_schema_is_up_to_date() {
    check(
        "ads-response.schema.json",
        serde_json::to_value(schemars::schema_for!(bidgate::ads::AdResponse)).unwrap(),
    );
}

#[test]
fn event_log_schema_is_up_to_date() {
    check(
        "event-log.schema.json",
        bidgate::events::record::json_schema(),
    );
}

/// The README's example request is a valid request for the demo's placements.
#[test]
fn the_example_ad_request_parses() {
    let config = bidgate::config::from_toml_str(bidgate::demo::CONFIG, Vec::new()).unwrap();
    let req = bidgate::ads::parse(bidgate::demo::ADS_FIXTURE.as_bytes(), &config.placements)
        .expect("the fixture is valid");
    assert_eq!(req.slots.len(), 2);
}
