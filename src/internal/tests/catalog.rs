use super::*;
use std::collections::BTreeMap;

const GOOD_TOML: &str = r#"
[[campaigns]]
id = "c1"
name = "Winter"

[[line_items]]
id = "li-1"
campaign = "c1"
advertiser = { name = "Brand", domain = "brand.example" }
categories = ["IAB22"]
click_url = "https://brand.example/"
flight = { start = 2026-11-01T00:00:00Z, end = "2026-12-31T23:00:00+01:00" }
tier = "standard"
cpm = 12.5
goal = { daily = { impressions = 1000, spend = 15.0 } }
frequency_caps = [{ max = 2, period_s = 3600 }]
targeting = { countries = ["SWE"], device_types = ["phone"], day_parting = { hours = [7, 8] } }

[[line_items.creatives]]
id = "a30"
format = "audio"
media_url = "https://cdn.example/a30.mp3"
duration_s = 30
mime = "audio/mpeg"
companion = { image_url = "https://cdn.example/a.png", w = 640, h = 640 }
"#;

const GOOD_JSON: &str = r#"{
  "campaigns": [{ "id": "c1", "name": "Winter" }],
  "line_items": [{
    "id": "li-1", "campaign": "c1",
    "advertiser": { "name": "Brand", "domain": "brand.example" },
    "categories": ["IAB22"],
    "click_url": "https://brand.example/",
    "flight": { "start": "2026-11-01T00:00:00Z", "end": "2026-12-31T23:00:00+01:00" },
    "tier": "standard", "cpm": 12.5,
    "goal": { "daily": { "impressions": 1000, "spend": 15.0 } },
    "frequency_caps": [{ "max": 2, "period_s": 3600 }],
    "targeting": { "countries": ["SWE"], "device_types": ["phone"], "day_parting": { "hours": [7, 8] } },
    "creatives": [{
      "id": "a30", "format": "audio", "media_url": "https://cdn.example/a30.mp3",
      "duration_s": 30, "mime": "audio/mpeg",
      "companion": { "image_url": "https://cdn.example/a.png", "w": 640, "h": 640 }
    }]
  }]
}"#;

/// Problems as path → message, to assert on paths and spot-check messages.
fn problems(text: &str, syntax: Syntax) -> BTreeMap<String, String> {
    match Catalog::parse(text, syntax) {
        Ok(_) => panic!("expected problems"),
        Err(ps) => ps.into_iter().map(|p| (p.path, p.message)).collect(),
    }
}

#[test]
fn toml_and_json_read_the_same() {
    let toml = Catalog::parse(GOOD_TOML, Syntax::Toml).unwrap();
    let json = Catalog::parse(GOOD_JSON, Syntax::Json).unwrap();
    assert_eq!(toml.line_items(), json.line_items());
    assert_eq!(toml.campaigns(), json.campaigns());
    let li = &toml.line_items()[0];
    // A TOML date-time, unquoted, reads as its RFC 3339 text.
    assert_eq!(li.flight.start, "2026-11-01T00:00:00Z");
    assert_eq!(
        toml.terms[0].start,
        parse_rfc3339("2026-11-01T00:00:00Z").unwrap()
    );
    assert_eq!(
        toml.terms[0].end,
        parse_rfc3339("2026-12-31T22:00:00Z").unwrap()
    );
    assert_eq!(toml.terms[0].price, Micros(12_500_000));
    assert_eq!(toml.terms[0].daily.spend, Some(Micros(15_000_000)));
    assert_eq!(toml.terms[0].daily.impressions, Some(1000));
    assert!(!toml.terms[0].total.is_set());
}

#[test]
fn a_catalog_prints_back_as_it_reads() {
    let c = Catalog::parse(GOOD_TOML, Syntax::Toml).unwrap();
    let json = serde_json::to_string(&c.file).unwrap();
    let again = Catalog::parse(&json, Syntax::Json).unwrap();
    assert_eq!(again.file, c.file);
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let text = r#"
version = 2

[[campaigns]]
id = "c1"
name = "Winter"

[[campaigns]]
id = "c1"
name = ""

[[line_items]]
id = "bad-dates"
campaign = "c1"
advertiser = { name = "A", domain = "a.example" }
click_url = "https://a.example/"
creatives = [{ id = "x", format = "audio", media_url = "https://cdn.example/x.mp3", duration_s = 30, mime = "audio/mpeg" }]
flight = { start = "2026-11-31T00:00:00Z", end = "tomorrow" }
tier = "house"

[[line_items]]
id = "backwards"
campaign = "c1"
advertiser = { name = "B", domain = "https://b.example/" }
click_url = "https://b.example/"
creatives = [{ id = "x", format = "audio", media_url = "https://cdn.example/x.mp3", duration_s = 0, mime = "mpeg" }]
flight = { start = "2026-12-01T00:00:00Z", end = "2026-11-01T00:00:00Z" }
tier = "standard"
categories = ["iab1", "IAB1-2"]

[[line_items]]
id = "typos"
campaign = "c1"
advertiser = { name = "C", domain = "c.example" }
click_url = "https://c.example/"
creatives = [{ id = "x", format = "display", image_url = "https://cdn.example/x.png", w = 320, h = 50, duration_s = 5 }]
flight = { start = "2026-11-01T00:00:00Z", end = "2026-12-01T00:00:00Z" }
tier = "sponsorship"
cpm = 20.0
targeting = { contries = ["SWE"], countries = ["SE", "NOR"], languages = ["SV"], genres = [], age = { min = 40, max = 30 } }

[[line_items]]
id = "bad-dates"
campaign = "nope"
advertiser = { name = "D", domain = "d.example" }
click_url = "ftp://d.example/"
creatives = []
flight = { start = "2026-11-01T00:00:00Z", end = "2026-12-01T00:00:00Z" }
tier = "standard"
goal = { daily = {}, total = { impressions = 0 } }
frequency_caps = [{ max = 0, period_s = 3600 }, { max = 1, period_s = 0 }]

[[line_items]]
id = "bad-tier"
campaign = "c1"
advertiser = { name = "E", domain = "e.example" }
click_url = "https://e.example/"
creatives = [{ id = "x", format = "audio", media_url = "https://cdn.example/x.mp3", duration_s = 30, mime = "audio/mpeg" }]
flight = { start = "2026-11-01T00:00:00Z", end = "2026-12-01T00:00:00Z" }
tier = "premium"
"#;
    let p = problems(text, Syntax::Toml);
    let expected = [
        "version",
        "campaigns[1].id",
        "campaigns[1].name",
        "line_items[0].flight.start",
        "line_items[0].flight.end",
        "line_items[1].advertiser.domain",
        "line_items[1].categories[0]",
        "line_items[1].creatives[0].duration_s",
        "line_items[1].creatives[0].mime",
        "line_items[1].flight.end",
        "line_items[1].cpm",
        "line_items[2].creatives[0]",
        "line_items[2].targeting.contries",
        "line_items[3].id",
        "line_items[3].campaign",
        "line_items[3].click_url",
        "line_items[3].creatives",
        "line_items[3].cpm",
        "line_items[3].goal.daily",
        "line_items[3].goal.total.impressions",
        "line_items[3].frequency_caps[0].max",
        "line_items[3].frequency_caps[1].period_s",
        "line_items[4].tier",
    ];
    let paths: Vec<&str> = p.keys().map(String::as_str).collect();
    for path in expected {
        assert!(p.contains_key(path), "missing {path} in {paths:#?}");
    }
    assert_eq!(p["version"], "unknown key");
    assert_eq!(p["line_items[1].flight.end"], "must be after start");
    assert_eq!(
        p["line_items[1].cpm"],
        "is required for a standard line item"
    );
    assert!(p["line_items[0].flight.start"].contains("RFC 3339"));
    assert!(
        p["line_items[2].creatives[0]"].contains("duration_s"),
        "{p:?}"
    );
    assert!(p["line_items[4].tier"].contains("premium"));
    // A valid entry of a bad list is not reported.
    assert!(
        !p.keys()
            .any(|k| k.starts_with("line_items[2].targeting.countries[1]"))
    );
}

#[test]
fn problems_of_a_line_item_that_parses_are_all_reported() {
    // Same as above without the creative's type error, so the semantic checks run.
    let text = GOOD_TOML.replace(
        r#"targeting = { countries = ["SWE"], device_types = ["phone"], day_parting = { hours = [7, 8] } }"#,
        r#"targeting = { contries = ["SWE"], countries = ["SE", "NOR"], languages = ["SV"], genres = [], age = { min = 40, max = 30 }, day_parting = { hours = [24] } }"#,
    );
    let p = problems(&text, Syntax::Toml);
    let paths: Vec<&str> = p.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        [
            "line_items[0].targeting.age",
            "line_items[0].targeting.contries",
            "line_items[0].targeting.countries[0]",
            "line_items[0].targeting.day_parting.hours",
            "line_items[0].targeting.genres",
            "line_items[0].targeting.languages[0]",
        ]
    );
}

#[test]
fn json_problems_have_paths_too() {
    let text = GOOD_JSON
        .replace("\"2026-11-01T00:00:00Z\"", "\"2026-11-01\"")
        .replace("\"cpm\": 12.5", "\"cpm\": 12.5, \"priority\": 1")
        .replace(
            "\"w\": 640, \"h\": 640",
            "\"w\": 640, \"h\": 0, \"alt\": \"x\"",
        );
    let p = problems(&text, Syntax::Json);
    let paths: Vec<&str> = p.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        [
            "line_items[0].creatives[0].companion",
            "line_items[0].creatives[0].companion.alt",
            "line_items[0].flight.start",
            "line_items[0].priority",
        ]
    );
}

#[test]
fn syntax_errors_name_the_line() {
    let p = Catalog::parse("[[line_items]]\nid = \n", Syntax::Toml).unwrap_err();
    assert_eq!(p[0].path, "line 2", "{p:?}");
    let p = Catalog::parse("{\n\"line_items\": [,]}", Syntax::Json).unwrap_err();
    assert_eq!(p[0].path, "line 2", "{p:?}");
    let p = Catalog::parse("[1, 2]", Syntax::Json).unwrap_err();
    assert_eq!(p[0].path, "(top level)");
    let p = Catalog::parse("line_items = 3", Syntax::Toml).unwrap_err();
    assert_eq!(p[0].path, "line_items");
}

#[test]
fn house_needs_no_price_but_others_do() {
    let mut house = item("house");
    house.tier = Tier::House;
    house.cpm = None;
    let mut sponsor = item("sponsor");
    sponsor.tier = Tier::Sponsorship;
    sponsor.cpm = None;
    let mut free = item("free");
    free.cpm = Some(0.0);
    let mut refund = item("refund");
    refund.tier = Tier::House;
    refund.cpm = Some(-1.0);
    let mut zero_house = item("zero-house");
    zero_house.tier = Tier::House;
    zero_house.cpm = Some(0.0);
    let file = CatalogFile {
        campaigns: vec![Campaign {
            id: "camp".into(),
            name: "c".into(),
        }],
        line_items: vec![house, sponsor, free, refund, zero_house],
    };
    let p = Catalog::new(file).unwrap_err();
    let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "line_items[1].cpm",
            "line_items[2].cpm",
            "line_items[3].cpm"
        ]
    );
}

#[test]
fn the_file_extension_picks_the_syntax() {
    let p = Catalog::load_file(std::path::Path::new("catalog.yaml")).unwrap_err();
    assert!(p[0].message.contains(".json or .toml"));
    let p = Catalog::load_file(std::path::Path::new("/nonexistent/catalog.toml")).unwrap_err();
    assert_eq!(p[0].path, "/nonexistent/catalog.toml");
}

#[test]
fn the_demo_catalog_loads_and_names_only_demo_placements() {
    let c = Catalog::load_file(&project_file("fixtures/catalog/demo.toml"))
        .unwrap_or_else(|p| panic!("{p:#?}"));
    let demo = ["music-break", "podcast-preroll", "player-banner"];
    assert_eq!(c.unknown_placements(|p| demo.contains(&p)), vec![]);
    let unknown = c.unknown_placements(|p| p == "music-break");
    assert!(!unknown.is_empty());
    assert!(c.line_items().iter().any(|li| li.tier == Tier::Sponsorship));
    assert!(c.line_items().iter().any(|li| li.tier == Tier::House));
}
