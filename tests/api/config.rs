//! Integration tests of config parsing: `bidgate::config::from_toml_str(text, env)`.
//!
//! Environment overrides are always passed explicitly; the process environment is never read
//! or changed here (except `BIDGATE_BLESS`, which regenerates the committed JSON Schema).

use bidgate::config::{
    AuctionConfig, CircuitBreakerConfig, Config, HttpClientConfig, INHERITED_SECTIONS,
    PartnerConfig, Pricing, Problem, ServerConfig, from_toml_str,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn project_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    let path = project_file(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn parse(text: &str) -> Config {
    parse_with(text, &[])
}

fn parse_with(text: &str, vars: &[(&str, &str)]) -> Config {
    from_toml_str(text, env(vars)).unwrap_or_else(|problems| {
        panic!(
            "expected a valid config, got problems:\n{}",
            lines(&problems)
        )
    })
}

fn problems(text: &str, vars: &[(&str, &str)]) -> Vec<Problem> {
    match from_toml_str(text, env(vars)) {
        Ok(c) => panic!("expected problems, got a valid config: {c:?}"),
        Err(p) => p,
    }
}

fn lines(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}\n"))
        .collect::<String>()
}

fn paths(problems: &[Problem]) -> BTreeSet<&str> {
    problems.iter().map(|p| p.path.as_str()).collect()
}

/// The problem about `path`; fails the test if there is not exactly one.
fn about<'a>(problems: &'a [Problem], path: &str) -> &'a Problem {
    let found: Vec<_> = problems.iter().filter(|p| p.path == path).collect();
    assert_eq!(
        found.len(),
        1,
        "expected exactly one problem about `{path}`, got:\n{}",
        lines(problems)
    );
    found[0]
}

/// Two valid partners; the base the override tests start from.
const TWO_PARTNERS: &str = r#"
[auction]
default_tmax_ms = 300
max_tmax_ms = 1000

[[partners]]
id = "a"
endpoint = "https://a.example/bid"
timeout_ms = 150

[[partners]]
id = "b"
endpoint = "https://b.example/bid"
timeout_ms = 120
"#;

// ---------------------------------------------------------------------------------------------
// The shipped files

#[test]
fn demo_config_parses_without_problems() {
    let c = parse(&read("config/demo.toml"));
    assert_eq!(c.partners.len(), 3);
    let ids: Vec<_> = c.partners.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["dsp-a", "dsp-b", "dsp-c"]);
    assert_eq!(c.auction.pricing, Pricing::SecondPrice);
    assert_eq!(c.http_client.connect_timeout_ms, 100);
    assert!(c.partners.iter().all(|p| p.enabled && p.timeout_ms == 150));
}

#[test]
fn example_config_parses_without_problems() {
    let c = parse(&read("config/example.toml"));
    assert_eq!(c.partners.len(), 2);
    for p in &c.partners {
        assert!(
            p.endpoint.starts_with("https://"),
            "production example uses https: {}",
            p.endpoint
        );
        assert!(p.enabled);
        assert!(p.timeout_ms > 0);
    }
}

/// The values a config gets when a key is absent, as JSON (one object per section).
fn defaults_json() -> Value {
    serde_json::to_value(Config {
        server: ServerConfig::default(),
        auction: AuctionConfig::default(),
        http_client: HttpClientConfig::default(),
        circuit_breaker: CircuitBreakerConfig::default(),
        admin: Default::default(),
        client_rate_limit: Default::default(),
        clients: vec![],
        log: Default::default(),
        events: Default::default(),
        event_log: Default::default(),
        event_stream: Default::default(),
        currency: Default::default(),
        internal: Default::default(),
        supply_chain: Default::default(),
        store: Default::default(),
        placements: vec![],
        partners: vec![],
    })
    .unwrap()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

#[test]
fn example_config_lists_every_key_with_its_default_value() {
    let text = read("config/example.toml");
    // The file as written (keys present), not as deserialised (where absent keys get defaults).
    let raw: Value = serde_json::to_value(toml::from_str::<toml::Table>(&text).unwrap()).unwrap();
    let parsed = serde_json::to_value(parse(&text)).unwrap();
    let defaults = defaults_json();

    assert_eq!(keys(&raw), keys(&defaults), "top-level sections");
    for section in [
        "server",
        "auction",
        "http_client",
        "circuit_breaker",
        "client_rate_limit",
        "log",
        "events",
        "event_log",
        "currency",
        "store",
    ] {
        assert_eq!(
            keys(&raw[section]),
            keys(&defaults[section]),
            "keys of [{section}] in example.toml"
        );
        assert_eq!(
            parsed[section], defaults[section],
            "values of [{section}] in example.toml must be the defaults"
        );
    }

    let partner_keys = keys(
        &serde_json::to_value(PartnerConfig {
            id: "x".into(),
            endpoint: "https://x.example/".into(),
            timeout_ms: 1,
            enabled: true,
            qps_limit: Some(1),
            http_client: HttpClientConfig::default(),
            circuit_breaker: CircuitBreakerConfig::default(),
            bid_adjustment: 1.0,
            vendor_id: Some(1),
            notices: Default::default(),
            media_types: vec![bidgate::config::MediaType::Audio],
            headers: [(
                "X-Seat".to_string(),
                bidgate::config::HeaderSource::Literal("s".into()),
            )]
            .into(),
            gzip_requests: true,
            openrtb_version: bidgate::config::OpenRtbVersion::V2_5,
            strict_deals: true,
            mode: bidgate::config::PartnerMode::Shadow,
            traffic_share: 0.5,
            shadow_test: true,
            shadow_max_in_flight: 8,
        })
        .unwrap(),
    );
    let partners = raw["partners"].as_array().expect("[[partners]] entries");
    assert_eq!(partners.len(), 2);
    // The first partner shows the plain keys; the second also shows the optional ones
    // (its QPS cap and per-partner overrides).
    let plain: BTreeSet<String> = partner_keys
        .iter()
        .filter(|k| {
            !INHERITED_SECTIONS.contains(&k.as_str())
                && ![
                    "qps_limit",
                    "bid_adjustment",
                    "vendor_id",
                    "notices",
                    "media_types",
                    "headers",
                    "gzip_requests",
                    "openrtb_version",
                    "strict_deals",
                    "mode",
                    "traffic_share",
                    "shadow_test",
                    "shadow_max_in_flight",
                ]
                .contains(&k.as_str())
        })
        .cloned()
        .collect();
    assert_eq!(
        keys(&partners[0]),
        plain,
        "keys of partners[0] in example.toml"
    );
    assert_eq!(
        keys(&partners[1]),
        partner_keys,
        "keys of partners[1] in example.toml"
    );
    // Overrides replace single keys and inherit the rest.
    let second = &parsed["partners"][1];
    assert_eq!(second["http_client"]["connect_timeout_ms"], 50);
    assert_eq!(
        second["http_client"]["pool_max_idle_per_host"],
        defaults["http_client"]["pool_max_idle_per_host"]
    );
    assert_eq!(second["circuit_breaker"]["failure_threshold"], 5);
    assert_eq!(
        second["circuit_breaker"]["cooloff_ms"],
        defaults["circuit_breaker"]["cooloff_ms"]
    );
}

#[test]
fn example_config_comments_every_key() {
    let text = read("config/example.toml");
    let mut previous = "";
    let mut keys_seen = 0;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        let is_key = !line.is_empty() && !line.starts_with('#') && !line.starts_with('[');
        if is_key {
            keys_seen += 1;
            assert!(
                previous.starts_with('#') || line.contains(" # "),
                "config/example.toml line {}: `{line}` has no comment",
                n + 1
            );
        }
        previous = line;
    }
    // 10 server + 8 auction + 8 http_client + 7 circuit_breaker + 2 client_rate_limit
    // + 2 log + 5 events + 6 event_log + 2 currency + 11 + 4 placement + 4 + 10 partner keys
    // + prefer_deals + strict_types + admin.protect_metrics + 4 supply_chain + 3 partner
    // request keys (media_types, headers, gzip_requests) + strict_deals + no_bid_status
    // + event_log.record_bids + record_bids_sample + 11 store + 8 event_stream
    // + deadline_mode, 8 auction.adaptive and 4 partner keys (mode, traffic_share, shadow_*)
    // + openrtb_version + debug_body_limit_bytes.
    assert_eq!(keys_seen, 125, "number of key lines in config/example.toml");
}

// ---------------------------------------------------------------------------------------------
// Unknown keys and wrong types

#[test]
fn unknown_keys_at_every_depth_are_reported_together() {
    let text = r#"
typo = 1

[server]
listen = "127.0.0.1:8080"
lissen = "127.0.0.1:9090"

[auction]
typo = true

[[partners]]
id = "a"
endpoint = "https://a.example/bid"
timeout_ms = 150

[[partners]]
id = "b"
endpoint = "https://b.example/bid"
timeout_ms = 150
timout_ms = 100
"#;
    let p = problems(text, &[]);
    assert_eq!(
        paths(&p),
        BTreeSet::from([
            "typo",
            "server.lissen",
            "auction.typo",
            "partners[1].timout_ms"
        ]),
        "got:\n{}",
        lines(&p)
    );
    assert_eq!(p.len(), 4, "one problem per unknown key:\n{}", lines(&p));
    for problem in &p {
        assert!(
            problem.message.contains("unknown key"),
            "message of {problem}"
        );
    }
}

#[test]
fn unknown_keys_are_reported_alongside_semantic_problems() {
    let text = r#"
[auction]
typo = 1
currency = "usd"
"#;
    let p = problems(text, &[]);
    assert_eq!(
        paths(&p),
        BTreeSet::from(["auction.typo", "auction.currency"]),
        "got:\n{}",
        lines(&p)
    );
}

#[test]
fn a_wrong_type_is_reported_with_its_path() {
    let text = r#"
[[partners]]
id = "a"
endpoint = "https://a.example/bid"
timeout_ms = "fast"
"#;
    let p = problems(text, &[]);
    assert_eq!(p.len(), 1, "got:\n{}", lines(&p));
    let problem = about(&p, "partners[0].timeout_ms");
    assert!(
        problem.message.contains("invalid type") && problem.message.contains("fast"),
        "message names the type error: {problem}"
    );
}

#[test]
fn a_wrong_type_in_a_section_is_reported_with_its_path() {
    let p = problems("[server]\nlisten = \"not an address\"\n", &[]);
    about(&p, "server.listen");
    let p = problems("[auction]\npricing = \"third_price\"\n", &[]);
    let problem = about(&p, "auction.pricing");
    assert!(problem.message.contains("third_price"), "{problem}");
}

#[test]

fn a_misspelt_required_key_does_not_hide_other_unknown_keys() {
    // The typical typo: `timout_ms` for `timeout_ms` makes `timeout_ms` missing, a hard error.
    // The unknown keys elsewhere in the file must still all be reported with it.
    let text = r#"
typo = 1

[server]
workers = 1
zzz = 2

[[partners]]
id = "a"
endpoint = "https://a.example/bid"
timout_ms = 150
"#;
    let p = problems(text, &[]);
    assert_eq!(
        paths(&p),
        BTreeSet::from(["typo", "server.zzz", "partners[0].timout_ms", "partners[0]"]),
        "got:\n{}",
        lines(&p)
    );
}

#[test]
fn a_missing_required_partner_key_is_reported() {
    let p = problems(
        "[[partners]]\nid = \"a\"\nendpoint = \"https://a.example/\"\n",
        &[],
    );
    assert_eq!(p.len(), 1, "got:\n{}", lines(&p));
    assert!(
        p[0].path.starts_with("partners[0]") && p[0].message.contains("timeout_ms"),
        "names the partner and the missing key: {}",
        p[0]
    );
}

// ---------------------------------------------------------------------------------------------
// Semantic checks

#[test]
fn semantic_problems_are_all_reported_at_once() {
    let text = r#"
[auction]
default_tmax_ms = 2000
max_tmax_ms = 1000
currency = "usd"

[[partners]]
id = "a"
endpoint = "https://a.example/bid"
timeout_ms = 150

[[partners]]
id = "a"
endpoint = "not a url"
timeout_ms = 150

[[partners]]
id = "c"
endpoint = "https://c.example/bid"
timeout_ms = 0
"#;
    let p = problems(text, &[]);
    assert_eq!(
        paths(&p),
        BTreeSet::from([
            "auction.default_tmax_ms",
            "auction.currency",
            "partners[1].id",
            "partners[1].endpoint",
            "partners[2].timeout_ms",
        ]),
        "got:\n{}",
        lines(&p)
    );
    assert_eq!(p.len(), 5, "got:\n{}", lines(&p));
    assert!(about(&p, "partners[1].id").message.contains("`a`"));
    assert!(about(&p, "auction.currency").message.contains("usd"));
    assert!(
        about(&p, "auction.default_tmax_ms")
            .message
            .contains("max_tmax_ms")
    );
}

#[test]
fn an_endpoint_must_be_http_or_https() {
    let text = r#"
[[partners]]
id = "a"
endpoint = "ftp://a.example/bid"
timeout_ms = 150
"#;
    let p = problems(text, &[]);
    about(&p, "partners[0].endpoint");
}

#[test]
fn an_empty_config_is_all_defaults() {
    let c = parse("");
    assert_eq!(serde_json::to_value(&c).unwrap(), defaults_json());
}

// ---------------------------------------------------------------------------------------------
// Environment overrides

#[test]
fn env_overrides_a_section_key() {
    let base = parse(TWO_PARTNERS);
    assert_eq!(base.auction.default_tmax_ms, 300);
    let c = parse_with(TWO_PARTNERS, &[("BIDGATE_AUCTION__DEFAULT_TMAX_MS", "250")]);
    assert_eq!(c.auction.default_tmax_ms, 250);
    assert_eq!(c.auction.max_tmax_ms, 1000, "other keys untouched");
}

#[test]
fn env_overrides_a_key_absent_from_the_file() {
    let c = parse_with("", &[("BIDGATE_HTTP_CLIENT__CONNECT_TIMEOUT_MS", "75")]);
    assert_eq!(c.http_client.connect_timeout_ms, 75);
}

#[test]
fn env_overrides_an_array_element() {
    let c = parse_with(TWO_PARTNERS, &[("BIDGATE_PARTNERS__0__TIMEOUT_MS", "90")]);
    assert_eq!(c.partners[0].timeout_ms, 90);
    assert_eq!(c.partners[1].timeout_ms, 120, "other partner untouched");
    let c = parse_with(TWO_PARTNERS, &[("BIDGATE_PARTNERS__1__ENABLED", "false")]);
    assert!(c.partners[0].enabled);
    assert!(!c.partners[1].enabled);
}

#[test]
fn env_values_that_are_not_toml_literals_are_strings() {
    let c = parse_with(
        TWO_PARTNERS,
        &[("BIDGATE_AUCTION__PRICING", "second_price")],
    );
    assert_eq!(c.auction.pricing, Pricing::SecondPrice);
    let c = parse_with(TWO_PARTNERS, &[("BIDGATE_SERVER__LISTEN", "0.0.0.0:9000")]);
    assert_eq!(c.server.listen.to_string(), "0.0.0.0:9000");
    let c = parse_with(
        TWO_PARTNERS,
        &[("BIDGATE_PARTNERS__1__ENDPOINT", "https://b2.example/x")],
    );
    assert_eq!(c.partners[1].endpoint, "https://b2.example/x");
}

#[test]
fn env_without_a_double_underscore_or_prefix_is_ignored() {
    let c = parse_with(
        TWO_PARTNERS,
        &[
            ("BIDGATE_LOG", "debug"),
            ("BIDGATE_BLESS", "1"),
            ("RUST_LOG", "trace"),
            ("AUCTION__DEFAULT_TMAX_MS", "1"),
            ("PATH", "/usr/bin"),
        ],
    );
    assert_eq!(c.auction.default_tmax_ms, 300);
}

#[test]
fn env_override_of_an_unknown_key_is_an_unknown_key() {
    let p = problems(TWO_PARTNERS, &[("BIDGATE_AUCTION__TYPO", "1")]);
    assert_eq!(p.len(), 1, "got:\n{}", lines(&p));
    let problem = about(&p, "auction.typo");
    assert!(problem.message.contains("unknown key"), "{problem}");
}

#[test]
fn env_override_past_the_end_of_an_array_is_reported() {
    let p = problems(TWO_PARTNERS, &[("BIDGATE_PARTNERS__5__TIMEOUT_MS", "90")]);
    assert_eq!(p.len(), 1, "got:\n{}", lines(&p));
    assert!(
        p[0].path.contains("BIDGATE_PARTNERS__5__TIMEOUT_MS"),
        "names the variable: {}",
        p[0]
    );
    assert!(p[0].message.contains('5'), "names the index: {}", p[0]);
    // Index 2 is the first one past the end of two partners.
    let p = problems(TWO_PARTNERS, &[("BIDGATE_PARTNERS__2__TIMEOUT_MS", "90")]);
    assert_eq!(p.len(), 1, "got:\n{}", lines(&p));
}

#[test]
fn env_override_with_a_wrong_type_is_reported_with_its_key_path() {
    let p = problems(TWO_PARTNERS, &[("BIDGATE_PARTNERS__0__TIMEOUT_MS", "fast")]);
    about(&p, "partners[0].timeout_ms");
}

#[test]
fn env_overrides_are_checked_like_the_file() {
    let p = problems(
        TWO_PARTNERS,
        &[("BIDGATE_AUCTION__DEFAULT_TMAX_MS", "5000")],
    );
    about(&p, "auction.default_tmax_ms");
}

#[test]
fn every_bad_env_override_is_reported() {
    let p = problems(
        TWO_PARTNERS,
        &[
            ("BIDGATE_PARTNERS__9__TIMEOUT_MS", "90"),
            ("BIDGATE_AUCTION__TYPO", "1"),
            ("BIDGATE_AUCTION__CURRENCY", "usd"),
        ],
    );
    assert_eq!(p.len(), 3, "got:\n{}", lines(&p));
    about(&p, "auction.typo");
    about(&p, "auction.currency");
}

// ---------------------------------------------------------------------------------------------
// TOML syntax

#[test]
fn a_syntax_error_is_one_problem_naming_its_line() {
    let text = "[server]\nlisten = \"127.0.0.1:8080\"\nworkers = = 4\n";
    let p = problems(text, &[]);
    assert_eq!(p.len(), 1, "got:\n{}", lines(&p));
    assert_eq!(p[0].path, "line 3", "got: {}", p[0]);
    assert!(!p[0].message.is_empty());
}

#[test]

fn a_syntax_error_at_the_start_of_a_line_names_that_line() {
    // A duplicate key: the error span starts at column 1 of line 3.
    let text = "[server]\nworkers = 1\nworkers = 2\n";
    let p = problems(text, &[]);
    assert_eq!(p.len(), 1, "got:\n{}", lines(&p));
    assert_eq!(p[0].path, "line 3", "got: {}", p[0]);
}

// ---------------------------------------------------------------------------------------------
// JSON Schema

#[test]
fn json_schema_is_up_to_date() {
    let path = project_file("schemas/config.schema.json");
    let schema = Config::json_schema();
    if std::env::var("BIDGATE_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run `BIDGATE_BLESS=1 cargo test --test api schema_is_up_to_date` to create it)",
            path.display()
        )
    });
    let committed: Value = serde_json::from_str(&committed).expect("committed schema is JSON");
    assert!(
        committed == schema,
        "{} is out of date with the Config struct; run `BIDGATE_BLESS=1 cargo test --test api schema_is_up_to_date` and commit the result",
        path.display()
    );
}

#[test]
fn json_schema_forbids_unknown_keys_everywhere() {
    let schema = Config::json_schema();
    assert_eq!(
        schema["additionalProperties"],
        Value::Bool(false),
        "top level"
    );
    let top: BTreeSet<String> = keys(&schema["properties"]);
    assert_eq!(
        top,
        BTreeSet::from(
            [
                "server",
                "auction",
                "http_client",
                "circuit_breaker",
                "admin",
                "client_rate_limit",
                "clients",
                "log",
                "events",
                "event_log",
                "event_stream",
                "currency",
                "internal",
                "store",
                "supply_chain",
                "placements",
                "partners"
            ]
            .map(String::from)
        )
    );
    let defs = schema["$defs"].as_object().expect("$defs");
    for name in [
        "ServerConfig",
        "AuctionConfig",
        "HttpClientConfig",
        "CircuitBreakerConfig",
        "AdminConfig",
        "LogConfig",
        "EventsConfig",
        "EventLogConfig",
        "EventStreamConfig",
        "PlacementConfig",
        "PodConfig",
        "PartnerConfig",
    ] {
        let def = defs
            .get(name)
            .unwrap_or_else(|| panic!("$defs.{name} missing"));
        assert_eq!(
            def["additionalProperties"],
            Value::Bool(false),
            "$defs.{name}"
        );
    }
    let required: BTreeSet<&str> = defs["PartnerConfig"]["required"]
        .as_array()
        .expect("PartnerConfig.required")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, BTreeSet::from(["id", "endpoint", "timeout_ms"]));
}

#[test]
fn timing_values_that_would_silently_break_auctions_are_refused() {
    let text = "[auction]\ndefault_tmax_ms = 12\nnetwork_buffer_ms = 10\nprocessing_reserve_ms = 5\n\n\
                [http_client]\npool_idle_timeout_ms = 0\n";
    let p = problems(text, &[]);
    let found = paths(&p);
    for want in [
        "auction.default_tmax_ms",
        "http_client.pool_idle_timeout_ms",
    ] {
        assert!(found.contains(want), "{want} missing from:\n{}", lines(&p));
    }
    let p = problems(
        "[auction]\nprocessing_reserve_ms = 0\nmax_tmax_ms = 90000\n",
        &[],
    );
    let found = paths(&p);
    for want in ["auction.processing_reserve_ms", "auction.max_tmax_ms"] {
        assert!(found.contains(want), "{want} missing from:\n{}", lines(&p));
    }
}

#[test]
fn env_text_for_a_string_key_is_taken_verbatim() {
    let text =
        "[[partners]]\nid = \"a\"\nendpoint = \"http://127.0.0.1:9/bid\"\ntimeout_ms = 100\n";
    let c = parse_with(
        text,
        &[
            ("BIDGATE_PARTNERS__0__ID", "1234"),
            ("BIDGATE_AUCTION__CURRENCY", "EUR"),
        ],
    );
    assert_eq!(c.partners[0].id, "1234", "a numeric-looking id stays text");
    assert_eq!(c.auction.currency, "EUR");
    // Number keys still read numbers.
    let c = parse_with(text, &[("BIDGATE_PARTNERS__0__TIMEOUT_MS", "90")]);
    assert_eq!(c.partners[0].timeout_ms, 90);
}

#[test]
fn partners_inherit_and_override_sections_key_by_key() {
    let text = "[http_client]\nconnect_timeout_ms = 70\nmax_response_bytes = 5000\n\n\
                [circuit_breaker]\nfailure_threshold = 4\n\n\
                [[partners]]\nid = \"a\"\nendpoint = \"http://127.0.0.1:9/bid\"\ntimeout_ms = 100\n\
                http_client = { max_response_bytes = 100 }\n\n\
                [[partners]]\nid = \"b\"\nendpoint = \"http://127.0.0.1:9/bid\"\ntimeout_ms = 100\n";
    let c = parse(text);
    let (a, b) = (&c.partners[0], &c.partners[1]);
    assert_eq!(
        (
            a.http_client.connect_timeout_ms,
            a.http_client.max_response_bytes
        ),
        (70, 100)
    );
    assert_eq!(
        (
            b.http_client.connect_timeout_ms,
            b.http_client.max_response_bytes
        ),
        (70, 5000)
    );
    assert_eq!(
        (
            a.circuit_breaker.failure_threshold,
            b.circuit_breaker.failure_threshold
        ),
        (4, 4)
    );
    // A typo inside a partner's own section is reported there, once.
    let bad = text.replace("max_response_bytes = 100", "max_respons_bytes = 100");
    let p = problems(&bad, &[]);
    assert_eq!(
        p.iter()
            .filter(|p| p.message == "unknown key")
            .map(|p| p.path.as_str())
            .collect::<Vec<_>>(),
        ["partners[0].http_client.max_respons_bytes"]
    );
}

#[test]
fn a_zero_qps_limit_is_refused() {
    let text = "[[partners]]\nid = \"a\"\nendpoint = \"http://127.0.0.1:9/bid\"\ntimeout_ms = 100\nqps_limit = 0\n";
    assert!(paths(&problems(text, &[])).contains("partners[0].qps_limit"));
    let ok = text.replace("qps_limit = 0", "qps_limit = 500");
    assert_eq!(parse(&ok).partners[0].qps_limit, Some(500));
}

#[test]
fn a_short_admin_token_is_refused() {
    assert!(paths(&problems("[admin]\ntoken = \"abc\"\n", &[])).contains("admin.token"));
    let c = parse_with("", &[("BIDGATE_ADMIN__TOKEN", "0123456789abcdef0123")]);
    assert_eq!(c.admin.token.as_deref(), Some("0123456789abcdef0123"));
}

#[test]
fn log_and_admin_listener_settings_are_checked() {
    let p = problems("[log]\nformat = \"xml\"\n", &[]);
    assert!(
        about(&p, "log.format").message.contains("pretty"),
        "{}",
        lines(&p)
    );
    let p = problems(
        "[log]\nlevel = \"info,bidgate=loud\"\n[server]\nlisten = \"127.0.0.1:8080\"\n[admin]\nlisten = \"127.0.0.1:8080\"\n",
        &[],
    );
    assert_eq!(
        paths(&p),
        BTreeSet::from(["log.level", "admin.listen"]),
        "{}",
        lines(&p)
    );
    let c = parse_with(
        "[log]\nlevel = \"warn,bidgate::fanout=debug\"\n",
        &[
            ("BIDGATE_LOG__FORMAT", "json"),
            ("BIDGATE_ADMIN__LISTEN", "127.0.0.1:9901"),
        ],
    );
    assert_eq!(c.log.format, bidgate::config::LogFormat::Json);
    assert_eq!(c.log.level, "warn,bidgate::fanout=debug");
    assert_eq!(c.admin.listen, Some("127.0.0.1:9901".parse().unwrap()));
}

#[test]
fn placements_and_events_are_checked() {
    let text = r#"
[events]
secrets = ["too-short"]
base_url = "ftp://x"

[[partners]]
id = "dsp-a"
endpoint = "http://127.0.0.1:1/bid"
timeout_ms = 100

[[placements]]
id = "break"
format = "audio"
min_duration_s = 30
max_duration_s = 15
partners = ["dsp-a", "nobody"]
pod = { max_ads = 11, max_duration_s = 60 }

[[placements]]
id = "break"
format = "display"
floor = -1.0
pod = { max_ads = 2, max_duration_s = 60 }

[[placements]]
id = "typo"
format = "audio"
max_duraton_s = 30
"#;
    let p = problems(text, &[]);
    assert_eq!(
        paths(&p),
        BTreeSet::from([
            "events.secrets[0]",
            "events.base_url",
            "placements[0].max_duration_s",
            "placements[0].partners[1]",
            "placements[0].pod.max_ads",
            "placements[1].id",
            "placements[1].sizes",
            "placements[1].floor",
            "placements[1].pod",
            "placements[2].max_duraton_s",
        ]),
        "{}",
        lines(&p)
    );
}

#[test]
fn store_settings_are_checked_with_their_key_paths() {
    let found = problems(
        "[store]\nbackend = \"redis\"\nurl = \"http://cache:6379\"\ntimeout_ms = 200\nreplicas = 0\n\
         lease_impressions = 0\nqps_lease_share = 1.5\nfailure_threshold = 0\nkey_prefix = \"a b\"\n",
        &[],
    );
    let want = [
        "store.url",
        "store.timeout_ms",
        "store.replicas",
        "store.lease_impressions",
        "store.qps_lease_share",
        "store.failure_threshold",
        "store.key_prefix",
    ];
    assert_eq!(
        paths(&found),
        want.into_iter().collect(),
        "{}",
        lines(&found)
    );
    assert!(about(&found, "store.timeout_ms").message.contains("tmax"));
    // The default is the memory store, and a redis URL is all a shared one needs.
    let ok = from_toml_str(
        "[store]\nbackend = \"redis\"\nurl = \"redis://10.0.0.5:6379/2\"\n",
        env(&[]),
    );
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn debug_bodies_are_bounded() {
    let p = problems("[auction]\ndebug_body_limit_bytes = 2000000\n", &[]);
    assert!(
        about(&p, "auction.debug_body_limit_bytes")
            .message
            .contains("1 MiB")
    );
    let c = parse("[auction]\ndebug_body_limit_bytes = 4096\n");
    assert_eq!(c.auction.debug_body_limit_bytes, 4096);
    assert_eq!(
        parse("").auction.debug_body_limit_bytes,
        16 * 1024,
        "16 KiB by default"
    );
}
