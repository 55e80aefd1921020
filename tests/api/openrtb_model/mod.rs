//! The complete OpenRTB 2.6 model (`bidgate::openrtb_model`): real documents round-trip through
//! it unchanged, unknown fields survive at every depth, and the published JSON Schemas are the
//! types' own (`schema.rs`). `BIDGATE_BLESS=1 cargo test --test api schema_is_up_to_date`
//! rewrites the schemas.

mod schema;

use bidgate::openrtb::semantically_equal;
use bidgate::openrtb_model::{BidRequest, BidResponse, request_schema, response_schema};
use schema::committed;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// The IAB examples, the audio requests, and the documents that carry every field.
const FIXTURES: [&str; 3] = [
    "fixtures/openrtb/iab-examples",
    "fixtures/requests/audio",
    "fixtures/openrtb/model",
];
const EVERY_FIELD: &str = "fixtures/openrtb/model";
/// The workplace's originals, read too when present (a clone outside it has only its copies).
const SHARED: &str = "../shared/openrtb";

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(json_files(&path));
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = FIXTURES
        .iter()
        .flat_map(|d| json_files(&Path::new(ROOT).join(d)))
        .collect();
    let shared = Path::new(ROOT).join(SHARED);
    if shared.is_dir() {
        files.extend(json_files(&shared));
    }
    files
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A bid request has `imp` (required); anything else must be a bid response.
fn is_request(doc: &Value) -> bool {
    doc.get("imp").is_some()
}

/// Parses `doc` into the typed model (request or response by content) and serialises it back.
fn round_trip(doc: &Value) -> Result<Value, String> {
    let text = doc.to_string();
    if is_request(doc) {
        let typed: BidRequest = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        Ok(serde_json::to_value(typed).unwrap())
    } else {
        let typed: BidResponse = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        Ok(serde_json::to_value(typed).unwrap())
    }
}

#[test]
fn every_fixture_round_trips_through_the_typed_model() {
    let files = fixtures();
    assert!(files.len() >= 27, "only {} fixtures", files.len());
    for path in files {
        let doc = read(&path);
        let back = round_trip(&doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            semantically_equal(&doc, &back),
            "{}: round trip changed the document\n    original: {doc}\n    back:     {back}",
            path.display()
        );
    }
}

/// Adds an unknown field to every object of `doc`, at every depth.
fn with_unknown_fields(doc: &mut Value) {
    match doc {
        Value::Object(map) => {
            map.values_mut().for_each(with_unknown_fields);
            map.insert("zz_unknown".into(), json!({"n": [1, null, {"deep": true}]}));
        }
        Value::Array(items) => items.iter_mut().for_each(with_unknown_fields),
        _ => {}
    }
}

#[test]
fn unknown_fields_survive_at_every_depth() {
    for path in fixtures() {
        let mut doc = read(&path);
        with_unknown_fields(&mut doc);
        let back = round_trip(&doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            semantically_equal(&doc, &back),
            "{}: {back}",
            path.display()
        );
    }
    // …and they are kept where they were found, in the object's own `rest`.
    let mut doc = read(
        &Path::new(ROOT)
            .join(EVERY_FIELD)
            .join("every-field-request.json"),
    );
    with_unknown_fields(&mut doc);
    let r: BidRequest = serde_json::from_value(doc).unwrap();
    let imp = &r.imp[0];
    let (video, site, device) = (
        imp.video.as_ref().unwrap(),
        r.site.unwrap(),
        r.device.unwrap(),
    );
    let content = site.content.unwrap();
    for (at, rest) in [
        ("request", &r.rest),
        (
            "video.companionad[0]",
            &video.companionad.as_ref().unwrap()[0].rest,
        ),
        (
            "pmp.deals[0].durfloors[0]",
            &imp.pmp.as_ref().unwrap().deals.as_ref().unwrap()[0]
                .durfloors
                .as_ref()
                .unwrap()[0]
                .rest,
        ),
        ("content.producer", &content.producer.as_ref().unwrap().rest),
        ("content.channel", &content.channel.as_ref().unwrap().rest),
        (
            "device.sua.platform",
            &device.sua.unwrap().platform.unwrap().rest,
        ),
        (
            "user.eids[0].uids[0]",
            &r.user.unwrap().eids.unwrap()[0].uids.as_ref().unwrap()[0].rest,
        ),
        (
            "source.schain.nodes[0]",
            &r.source.unwrap().schain.unwrap().nodes[0].rest,
        ),
    ] {
        assert!(rest.contains_key("zz_unknown"), "{at}: {rest:?}");
    }
    let mut doc = read(
        &Path::new(ROOT)
            .join(EVERY_FIELD)
            .join("every-field-response.json"),
    );
    with_unknown_fields(&mut doc);
    let r: BidResponse = serde_json::from_value(doc).unwrap();
    assert!(r.seatbid.unwrap()[0].bid[0].rest.contains_key("zz_unknown"));
}

fn check_schema(file: &str, schema: Value) {
    let path = Path::new(ROOT).join("schemas").join(file);
    if std::env::var("BIDGATE_BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, serde_json::to_string_pretty(&schema).unwrap() + "\n").unwrap();
        return;
    }
    assert!(
        committed(file) == schema,
        "{} is out of date with the openrtb_model types; run \
         `BIDGATE_BLESS=1 cargo test --test api schema_is_up_to_date` and commit the result",
        path.display()
    );
}

#[test]
fn bid_request_schema_is_up_to_date() {
    check_schema("openrtb-bid-request.schema.json", request_schema());
}

#[test]
fn bid_response_schema_is_up_to_date() {
    check_schema("openrtb-bid-response.schema.json", response_schema());
}
