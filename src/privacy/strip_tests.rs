//! Stripping: exact values, and hostile shapes.

use super::strip::{round_coordinate, truncate_ip};
use super::tests::{coarse_only, request, stripped, stripped_child};
use super::*;
use serde_json::{Map, Value, json};

/// `v` stripped as for a partner without consent.
fn strip_value(v: Value) -> Value {
    let mut rest = v.as_object().unwrap().clone();
    strip(&mut rest, Reason::GdprNoConsent.into());
    Value::Object(rest)
}

/// The request of `tests::request` as a reason leaves it.
type Expected = fn(Value, Option<&str>) -> Map<String, Value>;

#[test]
fn strip_removes_exactly_the_documented_fields_and_is_idempotent() {
    let cases: [(Reason, Expected); 3] = [
        (Reason::GdprNoConsent, stripped),
        (Reason::Coppa, stripped_child),
        (Reason::NoPreciseGeo, coarse_only),
    ];
    for (reason, expected) in cases {
        let mut rest = request(json!({ "gdpr": 1 }), Some("CPX"));
        strip(&mut rest, reason.into());
        assert_eq!(
            rest,
            expected(json!({ "gdpr": 1 }), Some("CPX")),
            "{reason:?}"
        );
        let once = rest.clone();
        strip(&mut rest, reason.into());
        assert_eq!(rest, once);
    }
    // No reason: nothing touched, not even a hostile shape.
    let mut rest = request(json!({}), None);
    rest.insert("user".into(), json!("u-1"));
    let before = rest.clone();
    strip(&mut rest, Reasons::NONE);
    assert_eq!(rest, before);
}

#[test]
fn ip_truncation() {
    assert_eq!(truncate_ip("203.0.113.197").as_deref(), Some("203.0.113.0"));
    assert_eq!(truncate_ip(" 10.1.2.3 ").as_deref(), Some("10.1.2.0"));
    assert_eq!(
        truncate_ip("255.255.255.255").as_deref(),
        Some("255.255.255.0")
    );
    let v6 = truncate_ip("2001:db8:85a3:8d3:1319:8a2e:370:7348");
    assert_eq!(v6.as_deref(), Some("2001:db8:85a3::"));
    assert_eq!(truncate_ip("2001:db8::1").as_deref(), Some("2001:db8::"));
    assert_eq!(truncate_ip("::1").as_deref(), Some("::"));
    for junk in [
        "",
        "203.0.113",
        "203.0.113.197/24",
        "host.example",
        "1.2.3.4.5",
    ] {
        assert_eq!(truncate_ip(junk), None, "{junk}");
    }
    // Each field is cut by the family of the address it holds; junk is removed.
    let out = strip_value(json!({ "device": { "ip": "2001:db8:1:2::3", "ipv6": "198.51.100.7" } }));
    assert_eq!(
        out,
        json!({ "device": { "ip": "2001:db8:1::", "ipv6": "198.51.100.0" } })
    );
    let out = strip_value(json!({ "device": { "ip": 3405803969u64, "ipv6": "nope" } }));
    assert_eq!(out, json!({ "device": {} }));
}

#[test]
fn geo_rounding() {
    let r = |x: f64| round_coordinate(x).unwrap().as_f64().unwrap();
    assert_eq!(r(52.520008), 52.52);
    assert_eq!(r(13.404954), 13.4);
    assert_eq!(r(-33.868820), -33.87);
    assert_eq!(r(151.209296), 151.21);
    assert_eq!(r(0.004999), 0.0);
    assert_eq!(r(-0.005001), -0.01);
    assert_eq!(r(90.0), 90.0);
    assert_eq!(round_coordinate(f64::MAX), None);
    let out = strip_value(json!({
        "user": { "geo": { "lat": "52.5", "lon": 13, "accuracy": 20 } },
        "device": { "geo": { "lat": 1e308, "lon": -0.125, "type": 2 } },
    }));
    let expected = json!({
        "user": { "geo": { "lon": 13.0, "accuracy": 20 } },
        "device": { "geo": { "lon": -0.13, "type": 2 } },
    });
    assert!(crate::openrtb::semantically_equal(&out, &expected), "{out}");
}

#[test]
fn hostile_shapes_are_removed_whole() {
    let out = strip_value(json!({
        "user": "u-1", "device": ["ifa"], "site": { "id": "s" },
    }));
    assert_eq!(out, json!({ "site": { "id": "s" } }));
    let out = strip_value(json!({
        "user": { "geo": "52.52,13.40", "ext": "eids", "id": "x", "keywords": "k" },
        "device": { "geo": null, "ifa": null, "ext": [1] },
    }));
    assert_eq!(out, json!({ "user": { "keywords": "k" }, "device": {} }));
    // Nothing to strip: unchanged.
    let plain = json!({ "imp": [], "user": { "keywords": "k" }, "device": { "ua": "x" } });
    assert_eq!(strip_value(plain.clone()), plain);
}
