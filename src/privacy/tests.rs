//! The rules: which signals apply, for whom, and what each leaves (exact expected requests,
//! written out by hand; `table_tests` walks the table field by field).

use super::gpp_tests::{header, usnat_gpp};
use super::tcf_tests::{Spec, Vendors};
use super::*;
use serde_json::{Value, json};

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

fn assert_skips(regs: Value, consent: Option<&str>, vendor: Option<u16>) {
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

const GDPR_NO_CONSENT: Reasons = Reasons::NONE
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

#[test]
fn gdpr_consent_is_per_vendor() {
    let consent = tcf(&[32], &[1, 2, 3, 4]);
    let regs = json!({ "gdpr": 1 });
    assert_allows(regs.clone(), Some(&consent), Some(32));
    // Vendor 52: no purpose 2 basis at all, so not called; no vendor id: purpose 2 is open to
    // some, so called, without personal data.
    assert_skips(regs.clone(), Some(&consent), Some(52));
    assert_strips(regs.clone(), Some(&consent), None, Reason::GdprNoConsent);
    // Purpose 2 under legitimate interest, but no consent: called, without personal data.
    let li = tcf_li_only(52, &[1]);
    assert_strips(regs.clone(), Some(&li), Some(52), Reason::GdprNoConsent);
    let signals = Signals::of(&request(regs, Some(&consent)));
    assert!(!signals.nothing_to_do());
    assert_eq!(signals.tcf_error(), None);
}

/// Issue 15: a vendor without a purpose 2 legal basis was still called.
#[test]
fn gdpr_without_a_purpose_two_basis_the_partner_is_not_called() {
    let regs = json!({ "gdpr": 1 });
    // Vendor and purpose 1 consent, but purpose 2 neither consented nor under LI.
    let no_p2 = tcf(&[32], &[1, 3, 4]);
    assert_skips(regs.clone(), Some(&no_p2), Some(32));
    // Nobody can have purpose 2: a partner without a vendor id neither.
    assert_skips(regs.clone(), Some(&no_p2), None);
    // A publisher restriction closing purpose 2 to vendor 32.
    let closed = Spec {
        special_features: vec![1],
        restrictions: vec![(2, 0, vec![(30, 40)])],
        ..Spec::consent(&[32, 52], &[1, 2])
    }
    .encode();
    assert_skips(regs.clone(), Some(&closed), Some(32));
    assert_allows(regs.clone(), Some(&closed), Some(52));
    // No usable string proves nothing: everyone called, stripped.
    for consent in [None, Some("%%%")] {
        assert_strips(regs.clone(), consent, Some(32), GDPR_NO_CONSENT);
    }
    // GDPR not applying: purpose 2 is not asked.
    assert_allows(json!({ "gdpr": 0 }), Some(&no_p2), Some(32));
}

/// Issue 15: without the precise-geolocation opt-in, coordinates and full addresses left.
#[test]
fn gdpr_without_special_feature_one_coarsens_location_and_addresses() {
    let regs = json!({ "gdpr": 1 });
    let consent = tcf_no_geo(&[32], &[1, 2, 3, 4]);
    assert_strips(regs.clone(), Some(&consent), Some(32), Reason::NoPreciseGeo);
    let (_, sent) = send(&request(regs.clone(), Some(&consent)), Some(32));
    let sent = sent.unwrap();
    assert_eq!(
        (&sent["device"]["ip"], &sent["device"]["geo"]["lat"]),
        (&json!("203.0.113.0"), &json!(-33.87))
    );
    assert_eq!(sent["user"]["geo"]["lon"], 13.4);
    assert_eq!(sent["user"]["id"], "u-1", "identifiers are consented to");
    // With the opt-in, as sent.
    assert_allows(regs, Some(&tcf(&[32], &[1, 2, 3, 4])), Some(32));
}

#[test]
fn gdpr_requires_purpose_one() {
    let regs = json!({ "gdpr": 1 });
    let consent = tcf(&[32], &[2, 3, 4]);
    assert_strips(
        regs.clone(),
        Some(&consent),
        Some(32),
        Reason::GdprNoConsent,
    );
    // Purposes 1 and 2 are enough under our rule.
    assert_allows(regs.clone(), Some(&tcf(&[32], &[1, 2])), Some(32));
    // A publisher restriction forbidding vendor 32 purpose 1.
    let restricted = Spec {
        special_features: vec![1],
        restrictions: vec![(1, 0, vec![(30, 40)])],
        ..Spec::consent(&[32, 52], &[1, 2])
    };
    let consent = restricted.encode();
    assert_strips(
        regs.clone(),
        Some(&consent),
        Some(32),
        Reason::GdprNoConsent,
    );
    assert_allows(regs, Some(&consent), Some(52));
}

/// Issue 15: a TCF EU section in GPP is GDPR applying, with its TC string.
#[test]
fn a_gpp_tcf_eu_section_applies_gdpr() {
    let gpp = |tc: &str| json!({ "gpp": format!("{}~{tc}", header(&[2])), "gpp_sid": [2] });
    let consent = tcf(&[32], &[1, 2]);
    assert_allows(gpp(&consent), None, Some(32));
    assert_skips(gpp(&consent), None, Some(52));
    assert_strips(gpp(&consent), None, None, Reason::GdprNoConsent);
    let li = tcf_li_only(52, &[]);
    assert_strips(gpp(&li), None, Some(52), GDPR_NO_CONSENT);
    // A section that does not decode: GDPR applies, nobody consented.
    assert_strips(gpp("%%%"), None, Some(32), GDPR_NO_CONSENT);
    let rest = request(gpp("%%%"), None);
    assert_eq!(Signals::of(&rest).tcf_error(), Some(TcfError::NotBase64));
    // `user.consent` is read first, as the module doc says.
    assert_skips(gpp(&consent), Some(&tcf(&[52], &[1, 2])), Some(32));
}

#[test]
fn gdpr_without_a_usable_string_strips() {
    let good = tcf(&[32], &[1]);
    let v1 = "BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA";
    let cases = [
        (None, None),
        (Some("  "), None),
        (Some("%%%"), Some(TcfError::NotBase64)),
        (Some(&good[..good.len() - 3]), Some(TcfError::Truncated)),
        (Some(v1), Some(TcfError::Version(1))),
    ];
    for (consent, error) in cases {
        let rest = request(json!({ "gdpr": 1 }), consent);
        assert_eq!(Signals::of(&rest).tcf_error(), error, "{consent:?}");
        assert_strips(json!({ "gdpr": 1 }), consent, Some(32), GDPR_NO_CONSENT);
        // GDPR not applying: the same strings strip nothing (and are not decoded).
        assert_allows(json!({ "gdpr": 0 }), consent, Some(32));
        assert_eq!(Signals::of(&request(json!({}), consent)).tcf_error(), None);
    }
}

#[test]
fn gdpr_flag_spellings() {
    let consent = tcf_li_only(32, &[1]);
    for gdpr in [json!(1), json!(1.0), json!(true), json!("1")] {
        assert_strips(
            json!({ "gdpr": gdpr }),
            Some(&consent),
            Some(32),
            Reason::GdprNoConsent,
        );
    }
    for gdpr in [
        json!(0),
        json!(2),
        json!(false),
        json!("yes"),
        json!(null),
        json!([1]),
    ] {
        assert_allows(json!({ "gdpr": gdpr }), Some(&consent), Some(32));
    }
}

#[test]
fn openrtb_2_5_ext_locations() {
    let consent = tcf(&[32], &[1, 2]);
    let ext_consent = |rest: &mut Map<String, Value>| {
        let user = rest["user"].as_object_mut().unwrap();
        user["ext"]["consent"] = json!(consent);
    };
    // regs.ext.gdpr and user.ext.consent.
    let regs = json!({ "ext": { "gdpr": 1 } });
    let mut rest = request(regs.clone(), None);
    ext_consent(&mut rest);
    assert_eq!(send(&rest, Some(32)).0, Decision::Allow);
    assert_eq!(send(&rest, Some(52)).0, Decision::Skip);
    assert_eq!(
        send(&request(regs, None), Some(32)).0,
        Decision::Strip(GDPR_NO_CONSENT)
    );
    // The 2.6 `user.consent` wins when both are there.
    let mut rest = request(json!({ "gdpr": 1 }), Some(&tcf_li_only(32, &[1])));
    ext_consent(&mut rest);
    assert_eq!(
        send(&rest, Some(32)).0,
        Decision::Strip(Reason::GdprNoConsent.into())
    );
    // A flag set in either place applies.
    let regs = json!({ "gdpr": 0, "ext": { "gdpr": 1 } });
    assert_strips(regs, None, Some(32), GDPR_NO_CONSENT);
    // regs.ext.us_privacy.
    let regs = json!({ "ext": { "us_privacy": "1YYN" } });
    assert_strips(regs, None, Some(32), Reason::UsPrivacyOptOut);
    let regs = json!({ "us_privacy": "1YNN", "ext": { "us_privacy": "1YYN" } });
    assert_strips(regs, None, Some(32), Reason::UsPrivacyOptOut);
}
