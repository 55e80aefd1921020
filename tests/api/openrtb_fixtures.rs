//! Real OpenRTB documents parse into bidgate's types and serialise back to the same JSON.
//!
//! The types keep every field they do not model in `rest`, so a parse → serialise round trip
//! must neither drop nor invent keys. Every audio request must also pass request validation.

use bidgate::openrtb::{BidRequest, BidResponse, semantically_equal};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The project's own copies of the IAB examples and audio requests (a fresh clone has them);
/// `../shared/openrtb` is the workplace's original, compared with these when present.
const IAB_REQUESTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/openrtb/iab-examples/bid-request"
);
const IAB_RESPONSES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/openrtb/iab-examples/bid-response"
);
const OWN_AUDIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/requests/audio");
const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/openrtb");

/// Every `.json` file under `dir`, recursively, in a stable order.
fn json_files(dir: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new(dir), &mut out);
    out.sort();
    out
}

/// Parses `path` as `T` and back; returns the typed value or what went wrong.
fn round_trip<T: DeserializeOwned + Serialize>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("read: {e}"))?;
    let original: Value = serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    let typed: T = serde_json::from_str(&text)
        .map_err(|e| format!("does not parse as {}: {e}", std::any::type_name::<T>()))?;
    let back = serde_json::to_value(&typed).map_err(|e| format!("does not serialise: {e}"))?;
    if !semantically_equal(&original, &back) {
        return Err(format!(
            "round trip changed the document\n    original: {original}\n    back:     {back}"
        ));
    }
    Ok(typed)
}

/// Round-trips every file as `T`, runs `check` on each, and fails listing every failure.
/// Returns the number of files checked.
fn check_all<T: DeserializeOwned + Serialize>(
    files: &[PathBuf],
    check: impl Fn(&T) -> Result<(), String>,
) -> usize {
    let failures: Vec<String> = files
        .iter()
        .filter_map(|path| {
            round_trip::<T>(path)
                .and_then(|v| check(&v))
                .err()
                .map(|e| format!("{}: {e}", path.display()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} files failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    files.len()
}

fn no_check<T>(_: &T) -> Result<(), String> {
    Ok(())
}

fn validates(req: &BidRequest) -> Result<(), String> {
    bidgate::validation::validate(
        req,
        &bidgate::currency::Rates::new("USD", Default::default()),
    )
    .map(drop)
    .map_err(|e| format!("fails validation: {e}"))
}

#[test]
fn iab_example_bid_requests_round_trip() {
    let files = json_files(IAB_REQUESTS);
    let n = check_all::<BidRequest>(&files, no_check);
    assert!(n >= 5, "only {n} bid request files under {IAB_REQUESTS}");
}

#[test]
fn iab_example_bid_responses_round_trip() {
    let files = json_files(IAB_RESPONSES);
    let n = check_all::<BidResponse>(&files, no_check);
    assert!(n >= 4, "only {n} bid response files under {IAB_RESPONSES}");
}

#[test]
fn own_copies_match_the_shared_originals() {
    if !Path::new(SHARED).is_dir() {
        eprintln!("{SHARED} is not here (a clone outside the workplace): nothing to compare");
        return;
    }
    let pairs = [
        (
            format!("{SHARED}/iab-examples"),
            concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/openrtb/iab-examples"),
        ),
        (format!("{SHARED}/audio-requests"), OWN_AUDIO),
    ];
    let mut compared = 0;
    for (shared, own) in pairs {
        for file in json_files(&shared) {
            let rel = file.strip_prefix(&shared).unwrap();
            let mine = Path::new(own).join(rel);
            assert_eq!(
                std::fs::read(&file).unwrap(),
                std::fs::read(&mine).unwrap_or_else(|e| panic!("{}: {e}", mine.display())),
                "{} differs from {}",
                mine.display(),
                file.display()
            );
            compared += 1;
        }
    }
    assert!(compared >= 27, "compared only {compared} files");
}

#[test]
fn own_audio_fixtures_round_trip_and_validate() {
    let files = json_files(OWN_AUDIO);
    let n = check_all::<BidRequest>(&files, validates);
    assert!(n >= 8, "only {n} audio request files under {OWN_AUDIO}");
}

#[test]
fn audio_fixtures_have_audio_imps() {
    // Guards against the directories being filled with something else: each request really
    // is an audio request (at least one imp carries an `audio` object).
    for dir in [OWN_AUDIO] {
        for path in json_files(dir) {
            let req: BidRequest = round_trip(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                req.imp.iter().any(|imp| imp.rest.contains_key("audio")),
                "{}: no imp has an `audio` object",
                path.display()
            );
        }
    }
}

#[test]
fn round_trip_detects_a_changed_document() {
    // The comparison the tests above rely on must be able to fail.
    let a: Value = serde_json::json!({"id": "r", "imp": [{"id": "1", "bidfloor": 1}]});
    let same: Value = serde_json::json!({"id": "r", "imp": [{"id": "1", "bidfloor": 1.0}]});
    let dropped: Value = serde_json::json!({"id": "r", "imp": [{"id": "1"}]});
    let changed: Value = serde_json::json!({"id": "r", "imp": [{"id": "1", "bidfloor": 2}]});
    assert!(semantically_equal(&a, &same));
    assert!(!semantically_equal(&a, &dropped));
    assert!(!semantically_equal(&a, &changed));
}
