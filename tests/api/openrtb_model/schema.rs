//! The fixtures against the committed JSON Schemas.
//!
//! This is deliberately not a JSON Schema validator (no crate for it): the schemas are
//! generated from the very types that parse every fixture, so a fixture that parses satisfies
//! them by construction. What the walk adds is evidence of that claim: it reads the *committed*
//! schema files and checks each fixture against their `required`, `type`, `properties` and
//! `items`, so a schema that said something the parser does not (a nullable field, a missing
//! `required`) fails here.

use super::{EVERY_FIELD, ROOT, fixtures, is_request, json_files, read};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;

/// Walks a document along a generated schema (see the file's doc): `$ref` into `$defs`,
/// `type`, `required`, `properties`, `items`. With `strict`, a key the schema does not name is
/// an error. Records every (object, property) it meets, for the coverage check.
struct Walk<'s> {
    schema: &'s Value,
    strict: bool,
    seen: BTreeSet<(String, String)>,
}

impl Walk<'_> {
    fn check(&mut self, v: &Value, s: &Value, def: &str, at: &str) -> Result<(), String> {
        if let Some(target) = s.get("$ref").and_then(Value::as_str) {
            let name = target.strip_prefix("#/$defs/").expect("local ref");
            return self.check(v, &self.schema["$defs"][name], name, at);
        }
        if let Some(types) = s.get("type") {
            let types: Vec<&str> = match types {
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                t => vec![t.as_str().unwrap()],
            };
            if !types.iter().any(|t| has_type(v, t)) {
                return Err(format!("{at}: {v} is not of type {types:?}"));
            }
        }
        if let Value::Object(fields) = v {
            for required in s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let required = required.as_str().unwrap();
                if !fields.contains_key(required) {
                    return Err(format!("{at}: required field `{required}` is missing"));
                }
            }
            for (key, child) in fields {
                match s.get("properties").and_then(|p| p.get(key)) {
                    Some(sub) => {
                        self.seen.insert((def.to_string(), key.clone()));
                        self.check(child, sub, def, &format!("{at}.{key}"))?;
                    }
                    // `ext` (no `properties` in its schema) may hold anything.
                    None if self.strict && s.get("properties").is_some() => {
                        return Err(format!("{at}.{key}: not in {def}"));
                    }
                    None => {}
                }
            }
        }
        if let (Value::Array(items), Some(sub)) = (v, s.get("items")) {
            for (i, item) in items.iter().enumerate() {
                self.check(item, sub, def, &format!("{at}[{i}]"))?;
            }
        }
        Ok(())
    }
}

fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        other => panic!("unexpected schema type {other}"),
    }
}

pub(super) fn committed(file: &str) -> Value {
    read(&Path::new(ROOT).join("schemas").join(file))
}

/// Checks `doc` against the committed schema for its kind; returns the properties it met.
fn conforms(doc: &Value, strict: bool) -> Result<BTreeSet<(String, String)>, String> {
    let schema = committed(if is_request(doc) {
        "openrtb-bid-request.schema.json"
    } else {
        "openrtb-bid-response.schema.json"
    });
    let root = schema["title"].as_str().unwrap().to_string();
    let mut walk = Walk {
        schema: &schema,
        strict,
        seen: BTreeSet::new(),
    };
    walk.check(
        doc,
        &schema,
        &root,
        if is_request(doc) {
            "request"
        } else {
            "response"
        },
    )?;
    Ok(walk.seen)
}

#[test]
fn every_fixture_satisfies_its_committed_schema() {
    for path in fixtures() {
        conforms(&read(&path), false).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn the_schema_walk_can_fail() {
    let ok = json!({"id": "r", "imp": [{"id": "1", "banner": {"w": 300}}]});
    assert!(conforms(&ok, false).is_ok());
    let cases = [
        (
            json!({"id": "r", "imp": [{"id": "1", "banner": {"w": "300"}}]}),
            "request.imp[0].banner.w",
        ),
        (
            json!({"id": "r", "imp": [{"banner": {}}]}),
            "`id` is missing",
        ),
        (
            json!({"id": "r", "imp": [], "regs": {"gpp_sid": [2.5]}}),
            "request.regs.gpp_sid[0]",
        ),
        (json!({"id": "r", "imp": [], "tmax": null}), "request.tmax"),
        (
            json!({"id": "r", "seatbid": [{"bid": [{"id": "b", "impid": "1"}]}]}),
            "`price`",
        ),
    ];
    for (doc, want) in cases {
        let e = conforms(&doc, false).expect_err(&doc.to_string());
        assert!(e.contains(want), "{doc}: {e}");
    }
    let e = conforms(&json!({"id": "r", "imp": [{"id": "1", "bannr": {}}]}), true).unwrap_err();
    assert!(e.contains("request.imp[0].bannr: not in Imp"), "{e}");
}

/// The every-field documents put each key in a typed field (none falls into `rest`, so no
/// field name of the model is misspelt against them) and together use every property of every
/// object, so the round-trip tests exercise each field's own (de)serialisation.
#[test]
fn every_field_documents_cover_the_whole_model() {
    for (schema, want_request) in [
        ("openrtb-bid-request.schema.json", true),
        ("openrtb-bid-response.schema.json", false),
    ] {
        let schema = committed(schema);
        let mut all = BTreeSet::new();
        let root = schema["title"].as_str().unwrap();
        let objects = schema["$defs"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(n, s)| (n.as_str(), s));
        for (name, s) in objects.chain([(root, &schema)]) {
            for key in s["properties"].as_object().unwrap().keys() {
                all.insert((name.to_string(), key.clone()));
            }
        }
        let mut seen = BTreeSet::new();
        for path in json_files(&Path::new(ROOT).join(EVERY_FIELD)) {
            let doc = read(&path);
            if is_request(&doc) == want_request {
                seen.extend(
                    conforms(&doc, true).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
                );
            }
        }
        let missing: Vec<_> = all.difference(&seen).collect();
        assert!(
            missing.is_empty(),
            "no every-field document uses {missing:?}"
        );
    }
}
