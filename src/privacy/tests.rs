//! The rules: which signals apply, for whom, and what each leaves (exact expected requests,
//! written out by hand; `table_tests` walks the table field by field).

use super::gpp_tests::usnat_gpp;
use super::tcf_tests::{Spec, Vendors};
use super::*;
use serde_json::{Map, Value, json};

/// A request carrying every field the rules touch, and some they must not.
pub fn request(regs: Value, user_consent: Option<&str>) -> Map<String, Value> {
    let mut user = json!({
        "id": "u-1", "buyeruid": "b-1", "yob": 1984, "gender": "F",
        "keywords": "jazz", "kwarray": ["jazz", "vinyl"], "customdata": "c-1",
        "consent": user_consent,
        "eids": [{ "source": "id5-sync.com", "uids": [{ "id": "ID5*x" }] }],
        "data": [{ "id": "dmp", "segment": [{ "id": "s1" }] }],
        "geo": {
            "lat": 52.520008, "lon": 13.404954, "country": "DEU", "accuracy": 5,
            "city": "Berlin", "zip": "10117",
        },
        "ext": { "eids": [{ "source": "x" }], "data": { "tier": "gold" }, "other": 1 },
    });
    if user_consent.is_none() {
        user.as_object_mut().unwrap().remove("consent");
    }
    json!({
        "site": { "page": "https://news.example/a" },
        "source": { "tid": "t-1" },
        "regs": regs,
        "user": user,
        "device": {
            "ua": "Mozilla/5.0", "lmt": 0, "devicetype": 2, "language": "de",
            "ip": "203.0.113.197", "ipv6": "2001:db8:85a3:8d3:1319:8a2e:370:7348",
            "ifa": "6D92078A-8246-4BA4-AE5B-76104861E7DC",
            "didsha1": "a", "didmd5": "b", "dpidsha1": "c", "dpidmd5": "d",
            "macsha1": "e", "macmd5": "f",
            "geo": {
                "lat": -33.868820, "lon": 151.209296, "type": 1, "zip": "2000",
                "metro": "x", "country": "AUS",
            },
            "ext": { "ifv": "F0E1D2C3-0000-4000-8000-000000000001", "atts": 3 },
        },
    })
    .as_object()
    .unwrap()
    .clone()
}

/// `request(regs, consent)` as a partner without consent, or after an opt-out, receives it:
/// identifiers gone, location about 1 km, addresses cut to the network.
pub fn stripped(regs: Value, user_consent: Option<&str>) -> Map<String, Value> {
    let mut rest = request(regs, user_consent);
    let user = rest["user"].as_object_mut().unwrap();
    for key in [
        "id",
        "buyeruid",
        "yob",
        "gender",
        "customdata",
        "eids",
        "data",
    ] {
        user.remove(key);
    }
    user["ext"] = json!({ "data": { "tier": "gold" }, "other": 1 });
    user["geo"]["lat"] = json!(52.52);
    user["geo"]["lon"] = json!(13.4);
    let device = rest["device"].as_object_mut().unwrap();
    for key in [
        "ifa", "didsha1", "didmd5", "dpidsha1", "dpidmd5", "macsha1", "macmd5",
    ] {
        device.remove(key);
    }
    device["ext"] = json!({ "atts": 3 });
    device["geo"]["lat"] = json!(-33.87);
    device["geo"]["lon"] = json!(151.21);
    coarse_addresses(&mut rest);
    rest
}

/// `request(regs, consent)` as every partner receives it under COPPA: nothing that
/// identifies or profiles the child, no location finer than the region.
pub fn stripped_child(regs: Value, user_consent: Option<&str>) -> Map<String, Value> {
    let mut rest = stripped(regs, user_consent);
    let user = rest["user"].as_object_mut().unwrap();
    for key in ["keywords", "kwarray"] {
        user.remove(key);
    }
    user["ext"] = json!({ "other": 1 });
    user["geo"] = json!({ "country": "DEU", "accuracy": 5 });
    rest["device"]["geo"] = json!({ "type": 1, "country": "AUS" });
    rest
}

/// `request(regs, consent)` without the precise-geolocation opt-in: every identifier stays,
/// only location and addresses are coarse.
pub fn coarse_only(regs: Value, user_consent: Option<&str>) -> Map<String, Value> {
    let mut rest = request(regs, user_consent);
    rest["user"]["geo"]["lat"] = json!(52.52);
    rest["user"]["geo"]["lon"] = json!(13.4);
    rest["device"]["geo"]["lat"] = json!(-33.87);
    rest["device"]["geo"]["lon"] = json!(151.21);
    coarse_addresses(&mut rest);
    rest
}

fn coarse_addresses(rest: &mut Map<String, Value>) {
    rest["device"]["ip"] = json!("203.0.113.0");
    rest["device"]["ipv6"] = json!("2001:db8:85a3::");
}

/// What partner `vendor` receives: its decision and its copy (`None`: not called).
pub fn send(rest: &Map<String, Value>, vendor: Option<u16>) -> (Decision, Option<Value>) {
    let decision = Signals::of(rest).decide(vendor);
    let mut copy = rest.clone();
    match decision {
        Decision::Skip => return (decision, None),
        Decision::Strip(reasons) => strip(&mut copy, reasons),
        Decision::Allow => {}
    }
    (decision, Some(Value::Object(copy)))
}

/// Asserts that `regs` (and `consent`) strip for `vendor` with exactly `reasons`, and that
/// the partner receives the matching expected request.
pub fn assert_strips(
    regs: Value,
    consent: Option<&str>,
    vendor: Option<u16>,
    reasons: impl Into<Reasons>,
) {
    let reasons = reasons.into();
    let (decision, sent) = send(&request(regs.clone(), consent), vendor);
    assert_eq!(decision, Decision::Strip(reasons), "{regs} {consent:?}");
    let expected = if reasons.contains(Reason::Coppa) {
        stripped_child(regs, consent)
    } else if reasons == Reason::NoPreciseGeo.into() {
        coarse_only(regs, consent)
    } else {
        stripped(regs, consent)
    };
    assert_eq!(sent, Some(Value::Object(expected)));
}

pub fn assert_allows(regs: Value, consent: Option<&str>, vendor: Option<u16>) {
    let rest = request(regs.clone(), consent);
    let (decision, sent) = send(&rest, vendor);
    assert_eq!(decision, Decision::Allow, "{regs} {consent:?} {vendor:?}");
    assert_eq!(sent, Some(Value::Object(rest)));
}

pub fn assert_skips(regs: Value, consent: Option<&str>, vendor: Option<u16>) {
    let (decision, _) = send(&request(regs.clone(), consent), vendor);
    assert_eq!(decision, Decision::Skip, "{regs} {consent:?} {vendor:?}");
}

/// Consent for `vendors` and `purposes`, and the precise-geolocation opt-in.
pub fn tcf(vendors: &[u16], purposes: &[u8]) -> String {
    Spec {
        special_features: vec![1],
        ..Spec::consent(vendors, purposes)
    }
    .encode()
}

/// The same without the precise-geolocation opt-in.
pub fn tcf_no_geo(vendors: &[u16], purposes: &[u8]) -> String {
    Spec::consent(vendors, purposes).encode()
}

/// Purpose 2 for `vendor` under legitimate interest only (no consent to any vendor), purpose
/// 1 consent, and the precise-geolocation opt-in.
pub fn tcf_li_only(vendor: u16, special_features: &[u8]) -> String {
    Spec {
        purposes_li: vec![2],
        li: Vendors::Bits(vendor, vec![vendor]),
        special_features: special_features.to_vec(),
        ..Spec::consent(&[], &[1])
    }
    .encode()
}

/// What GDPR without a usable consent does: no consent, and no precise-geolocation opt-in.
pub const GDPR_NO_CONSENT: Reasons = Reasons::NONE
    .with(Reason::GdprNoConsent)
    .with(Reason::NoPreciseGeo);

#[test]
fn no_signal_is_nothing_to_do() {
    for regs in [
        json!({}),
        json!({ "coppa": 0, "gdpr": 0, "us_privacy": "1YNN" }),
        json!({ "gpp": usnat_gpp(2, 2, 2), "gpp_sid": [7] }),
        json!({ "us_privacy": "junk", "gpp": "junk" }),
    ] {
        let rest = request(regs.clone(), Some("consent for nobody"));
        assert!(Signals::of(&rest).nothing_to_do(), "{regs}");
        assert_allows(regs, None, None);
    }
    let mut bare = request(json!({}), None);
    bare.remove("regs");
    bare.remove("user");
    assert!(Signals::of(&bare).nothing_to_do());
}

#[test]
fn coppa_strips_for_everyone() {
    let consent = tcf(&[32], &[1, 2, 3, 4]);
    for vendor in [None, Some(32)] {
        assert_strips(json!({ "coppa": 1 }), None, vendor, Reason::Coppa);
    }
    // Even with GDPR consent: signals add up.
    let regs = json!({ "coppa": 1, "gdpr": 1 });
    assert_strips(regs.clone(), Some(&consent), Some(32), Reason::Coppa);
    let both = Reasons::from(Reason::Coppa).with(Reason::GdprNoConsent);
    assert_strips(regs, Some(&consent), None, both);
    assert!(!Signals::of(&request(json!({ "coppa": 1 }), None)).nothing_to_do());
}

/// Issue 15: these left bidgate under COPPA.
#[test]
fn coppa_removes_device_and_user_identifiers_and_fine_location() {
    let rest = request(json!({ "coppa": 1 }), None);
    let (_, sent) = send(&rest, Some(32));
    let sent = sent.unwrap();
    for path in [
        "/device/ext/ifv",
        "/user/keywords",
        "/user/kwarray",
        "/user/customdata",
        "/user/ext/data",
        "/user/geo/zip",
        "/user/geo/city",
        "/user/geo/lat",
        "/device/geo/zip",
        "/device/geo/metro",
        "/device/geo/lon",
    ] {
        assert!(rest["user"].is_object() && Value::Object(rest.clone()).pointer(path).is_some());
        assert_eq!(sent.pointer(path), None, "{path} left under COPPA");
    }
    assert_eq!(sent["device"]["geo"]["country"], "AUS");
}
