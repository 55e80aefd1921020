//! The strict type check: a body parsed into the complete model, so that every field the spec
//! names has the spec's JSON type, at any depth.
//!
//! The hot path (`validation::parse`) types only what the gateway acts on and passes the rest
//! through unread; this check is for when a wrong type anywhere should be the sender's 400
//! rather than a partner's surprise. It is not wired into the request path: the edge decides
//! (behind a config switch) whether to pay for a second, complete parse.

use super::{BidRequest, BidResponse};
use serde::de::DeserializeOwned;

/// Checks that `body` is a bid request whose every known field has its spec type; the error
/// is one line naming the field, e.g.
/// `request.imp[0].banner.w: invalid type: string "300", expected i64`.
pub fn check_types(body: &[u8]) -> Result<(), String> {
    check::<BidRequest>(body, "request")
}

/// As [`check_types`], for a bid response (`response.seatbid[0].bid[1].price: …`).
pub fn check_response_types(body: &[u8]) -> Result<(), String> {
    check::<BidResponse>(body, "response")
}

fn check<T: DeserializeOwned>(body: &[u8], root: &str) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|e| {
        let inner = e.inner();
        if inner.is_syntax() || inner.is_eof() {
            return format!("{root} is not valid JSON: {inner}");
        }
        let path = e.path().to_string();
        let at = if path == "." {
            root.to_string()
        } else {
            format!("{root}.{path}")
        };
        format!("{at}: {}", without_position(inner))
    })?;
    de.end()
        .map_err(|e| format!("{root} is not valid JSON: {e}"))
}

/// serde_json appends " at line L column C"; the path already says where, and a position in a
/// body the sender never saw formatted is noise.
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    const BASE: &str = r#"{"id":"r","imp":[{"id":"1","banner":{"w":300,"h":250}}]}"#;

    /// `BASE` with `patch` merged in at the top level (objects merged recursively, arrays
    /// replaced), so each case states only what it breaks.
    fn with(patch: &str) -> Vec<u8> {
        fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
            match (a, b) {
                (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                    for (k, v) in b {
                        merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                    }
                }
                (a, b) => *a = b,
            }
        }
        let mut doc: serde_json::Value = serde_json::from_str(BASE).unwrap();
        merge(&mut doc, serde_json::from_str(patch).unwrap());
        serde_json::to_vec(&doc).unwrap()
    }

    #[test]
    fn accepts_a_well_typed_request() {
        assert_eq!(check_types(BASE.as_bytes()), Ok(()));
    }

    #[test]
    fn names_the_nested_field_of_the_wrong_type() {
        let cases = [
            (
                r#"{"imp":[{"id":"1","banner":{"w":"300","h":250}}]}"#,
                r#"request.imp[0].banner.w: invalid type: string "300", expected i64"#,
            ),
            (
                r#"{"device":{"geo":{"lat":"52.5","lon":13.4}}}"#,
                r#"request.device.geo.lat: invalid type: string "52.5", expected f64"#,
            ),
            (
                r#"{"user":{"eids":{"source":"id5-sync.com"}}}"#,
                "request.user.eids: invalid type: map, expected a sequence",
            ),
            (
                r#"{"regs":{"gpp":"DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA","gpp_sid":["2"]}}"#,
                r#"request.regs.gpp_sid[0]: invalid type: string "2", expected i64"#,
            ),
            (
                r#"{"regs":{"gpp_sid":2}}"#,
                "request.regs.gpp_sid: invalid type: integer `2`, expected a sequence",
            ),
            (
                r#"{"imp":[{"id":"1","video":{"mimes":["video/mp4"],"w":640.5}}]}"#,
                "request.imp[0].video.w: invalid type: floating point `640.5`, expected i64",
            ),
            (
                r#"{"imp":[{"id":"1","secure":true,"banner":{}}]}"#,
                "request.imp[0].secure: invalid type: boolean `true`, expected i64",
            ),
            (
                r#"{"source":{"schain":{"complete":1,"ver":"1.0","nodes":[{"asi":"x.com"}]}}}"#,
                "request.source.schain.nodes[0]: missing field `sid`",
            ),
            (
                r#"{"site":{"content":{"producer":{"cat":"IAB1"}}}}"#,
                r#"request.site.content.producer.cat: invalid type: string "IAB1", expected a sequence"#,
            ),
            (
                r#"{"tmax":null}"#,
                "request.tmax: invalid type: null, expected i64",
            ),
        ];
        for (patch, want) in cases {
            let got = check_types(&with(patch)).expect_err(patch);
            assert_eq!(got, want, "{patch}");
        }
    }

    #[test]
    fn names_missing_required_fields_and_bad_json() {
        assert_eq!(
            check_types(br#"{"imp":[]}"#).unwrap_err(),
            "request: missing field `id`"
        );
        assert_eq!(
            check_types(br#"{"id":"r","imp":[{"banner":{}}]}"#).unwrap_err(),
            "request.imp[0]: missing field `id`"
        );
        for bad in [
            &br#"{"id":"r","imp":[]"#[..],
            br#"{"id":"r","imp":[]} x"#,
            b"",
        ] {
            let e = check_types(bad).unwrap_err();
            assert!(e.starts_with("request is not valid JSON"), "{e}");
        }
    }

    #[test]
    fn ext_and_unknown_fields_may_hold_anything() {
        let body = with(r#"{"ext":null,"x":"y","imp":[{"id":"1","ext":7,"banner":{"zz":[]}}]}"#);
        assert_eq!(check_types(&body), Ok(()));
    }

    #[test]
    fn checks_responses_too() {
        let ok =
            br#"{"id":"r","seatbid":[{"bid":[{"id":"b","impid":"1","price":1.5,"mtype":2}]}]}"#;
        assert_eq!(check_response_types(ok), Ok(()));
        let bad = br#"{"id":"r","seatbid":[{"bid":[{"id":"b","impid":"1","price":"1.5"}]}]}"#;
        assert_eq!(
            check_response_types(bad).unwrap_err(),
            r#"response.seatbid[0].bid[0].price: invalid type: string "1.5", expected f64"#
        );
    }

    /// Every bid request and response the project keeps as a fixture passes the check.
    #[test]
    fn every_fixture_passes() {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "json") {
                    out.push(path);
                }
            }
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in ["fixtures/openrtb", "fixtures/requests/audio"] {
            walk(&root.join(dir), &mut files);
        }
        let shared = root.join("../shared/openrtb");
        if shared.is_dir() {
            walk(&shared, &mut files);
        }
        assert!(files.len() >= 27, "only {} fixtures", files.len());
        for path in files {
            let body = std::fs::read(&path).unwrap();
            let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let result = if doc.get("imp").is_some() {
                check_types(&body)
            } else {
                check_response_types(&body)
            };
            assert_eq!(result, Ok(()), "{}", path.display());
        }
    }
}
