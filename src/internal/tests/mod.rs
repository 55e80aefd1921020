//! Tests of the direct demand catalog core. Helpers build line items in code; `catalog.rs` tests the file
//! formats and their problems.

mod caps;
mod catalog;
mod decide;
mod index;
mod pacing;
mod targeting;
mod time;

use super::*;
use std::path::PathBuf;

/// 2026-11-26T12:00:00Z, a Thursday.
pub const NOW: u64 = 1_795_694_400;
pub const DAY: u64 = 86_400;

/// A standard audio line item at CPM 5, flying through 2026, open to everyone.
pub fn item(id: &str) -> LineItem {
    LineItem {
        id: id.into(),
        campaign: "camp".into(),
        advertiser: Advertiser {
            name: format!("Advertiser {id}"),
            domain: format!("{id}.example"),
        },
        categories: vec![],
        exclusions: vec![],
        click_url: format!("https://{id}.example/"),
        creatives: vec![audio("spot-30", 30)],
        flight: Flight {
            start: "2026-01-01T00:00:00Z".into(),
            end: "2027-01-01T00:00:00Z".into(),
        },
        targeting: Targeting::default(),
        tier: Tier::Standard,
        cpm: Some(5.0),
        goal: Goals::default(),
        pacing: Pacing::Asap,
        frequency_caps: vec![],
    }
}

pub fn audio(id: &str, duration_s: u32) -> Creative {
    Creative::Audio(AudioCreative {
        id: id.into(),
        media_url: format!("https://cdn.example/{id}.mp3"),
        duration_s,
        mime: "audio/mpeg".into(),
        companion: None,
        click_url: None,
    })
}

pub fn display(id: &str, w: u32, h: u32) -> Creative {
    Creative::Display(DisplayCreative {
        id: id.into(),
        image_url: format!("https://cdn.example/{id}.png"),
        w,
        h,
        click_url: None,
    })
}

pub fn index(items: Vec<LineItem>) -> Index {
    let file = CatalogFile {
        campaigns: vec![Campaign {
            id: "camp".into(),
            name: "A campaign".into(),
        }],
        line_items: items,
    };
    match Catalog::new(file) {
        Ok(c) => Index::build(c),
        Err(p) => panic!("test catalog has problems: {p:?}"),
    }
}

/// An audio slot on `music-break`, 5–60 s.
pub fn slot() -> Request<'static> {
    Request {
        min_duration_s: 5,
        max_duration_s: 60,
        ..Request::new("music-break", AdFormat::Audio)
    }
}

pub fn rng() -> fastrand::Rng {
    fastrand::Rng::with_seed(7)
}

/// Ids of the candidates, in order.
pub fn decide_ids(
    ix: &Index,
    req: &Request,
    now: u64,
    store: &dyn Store,
    max: usize,
) -> Vec<String> {
    ix.decide(req, now, store, &mut rng(), max)
        .iter()
        .map(|c| c.line_item.id.clone())
        .collect()
}

fn project_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn json_schema_is_up_to_date() {
    let path = project_file("schemas/catalog.schema.json");
    let schema = Catalog::json_schema();
    if std::env::var("BIDGATE_BLESS").as_deref() == Ok("1") {
        let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run `BIDGATE_BLESS=1 cargo test --lib internal` to create it)",
            path.display()
        )
    });
    let committed: serde_json::Value = serde_json::from_str(&committed).expect("schema is JSON");
    assert!(
        committed == schema,
        "{} is out of date with the catalog types; run `BIDGATE_BLESS=1 cargo test --lib internal` and commit the result",
        path.display()
    );
}

/// Ops files are strict: every table of the format refuses keys it does not know.
#[test]
fn json_schema_forbids_unknown_keys_everywhere() {
    let schema = Catalog::json_schema();
    let mut objects = vec![("(root)".to_string(), &schema)];
    for (name, def) in schema["$defs"].as_object().unwrap() {
        objects.push((name.clone(), def));
        for variant in def["oneOf"].as_array().into_iter().flatten() {
            objects.push((format!("{name} variant"), variant));
        }
    }
    let mut checked = 0;
    for (name, s) in objects {
        if s.get("properties").is_some() {
            assert_eq!(s["additionalProperties"], false, "{name}");
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked}");
}

#[test]
fn now_is_what_it_says() {
    assert_eq!(parse_rfc3339("2026-11-26T12:00:00Z"), Some(NOW));
}
