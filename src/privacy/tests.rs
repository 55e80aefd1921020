//! The rules: which signals strip, for whom, and what stripping leaves.

use super::gpp_tests::usnat_gpp;
use super::tcf_tests::Spec;
use super::*;
use serde_json::{Value, json};

/// A request carrying every field stripping touches, and some it must not.
pub fn request(regs: Value, user_consent: Option<&str>) -> Map<String, Value> {
    let mut user = json!({
        "id": "u-1", "buyeruid": "b-1", "yob": 1984, "gender": "F",
        "keywords": "jazz", "consent": user_consent,
        "eids": [{ "source": "id5-sync.com", "uids": [{ "id": "ID5*x" }] }],
        "data": [{ "id": "dmp", "segment": [{ "id": "s1" }] }],
        "geo": { "lat": 52.520008, "lon": 13.404954, "country": "DEU", "accuracy": 5 },
        "ext": { "eids": [{ "source": "x" }], "other": 1 },
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
            "geo": { "lat": -33.868820, "lon": 151.209296, "type": 1, "zip": "2000" },
        },
    })
    .as_object()
    .unwrap()
    .clone()
}

/// `request(regs, consent)` as every stripped partner must receive it.
pub fn stripped(regs: Value, user_consent: Option<&str>) -> Map<String, Value> {
    let mut user = json!({
        "keywords": "jazz", "consent": user_consent,
        "geo": { "lat": 52.52, "lon": 13.4, "country": "DEU", "accuracy": 5 },
        "ext": { "other": 1 },
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
            "ip": "203.0.113.0", "ipv6": "2001:db8:85a3::",
            "geo": { "lat": -33.87, "lon": 151.21, "type": 1, "zip": "2000" },
        },
    })
    .as_object()
    .unwrap()
    .clone()
}

/// What partner `vendor` receives.
fn send(rest: &Map<String, Value>, vendor: Option<u16>) -> (Decision, Map<String, Value>) {
    let decision = Signals::of(rest).decide(vendor);
    let mut copy = rest.clone();
    if let Decision::Strip(_) = decision {
        strip(&mut copy);
    }
    (decision, copy)
}

/// Asserts that `regs` (and `consent`) strip for `vendor` with `reason`, removing exactly the
/// documented fields.
pub fn assert_strips(regs: Value, consent: Option<&str>, vendor: Option<u16>, reason: Reason) {
    let (decision, sent) = send(&request(regs.clone(), consent), vendor);
    assert_eq!(decision, Decision::Strip(reason), "{regs} {consent:?}");
    assert_eq!(sent, stripped(regs, consent));
}

pub fn assert_allows(regs: Value, consent: Option<&str>, vendor: Option<u16>) {
    let rest = request(regs.clone(), consent);
    let (decision, sent) = send(&rest, vendor);
    assert_eq!(decision, Decision::Allow, "{regs} {consent:?} {vendor:?}");
    assert_eq!(sent, rest);
}

fn tcf(vendors: &[u16], purposes: &[u8]) -> String {
    Spec::consent(vendors, purposes).encode()
}

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
        // First in order: even with GDPR consent.
        let regs = json!({ "coppa": 1, "gdpr": 1 });
        assert_strips(regs, Some(&consent), vendor, Reason::Coppa);
    }
    assert!(!Signals::of(&request(json!({ "coppa": 1 }), None)).nothing_to_do());
}

#[test]
fn gdpr_consent_is_per_vendor() {
    let consent = tcf(&[32], &[1, 2, 3, 4]);
    let regs = json!({ "gdpr": 1 });
    assert_allows(regs.clone(), Some(&consent), Some(32));
    assert_strips(
        regs.clone(),
        Some(&consent),
        Some(52),
        Reason::GdprNoConsent,
    );
    assert_strips(regs.clone(), Some(&consent), None, Reason::GdprNoConsent);
    let signals = Signals::of(&request(regs, Some(&consent)));
    assert!(!signals.nothing_to_do());
    assert_eq!(signals.tcf_error(), None);
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
    // Purpose 1 alone is enough under our rule.
    assert_allows(regs.clone(), Some(&tcf(&[32], &[1])), Some(32));
    // A publisher restriction forbidding vendor 32 purpose 1.
    let restricted = Spec {
        restrictions: vec![(1, 0, vec![(30, 40)])],
        ..Spec::consent(&[32, 52], &[1])
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
        assert_strips(
            json!({ "gdpr": 1 }),
            consent,
            Some(32),
            Reason::GdprNoConsent,
        );
        // GDPR not applying: the same strings strip nothing (and are not decoded).
        assert_allows(json!({ "gdpr": 0 }), consent, Some(32));
        assert_eq!(Signals::of(&request(json!({}), consent)).tcf_error(), None);
    }
}

#[test]
fn gdpr_flag_spellings() {
    let consent = tcf(&[], &[1]);
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
    let consent = tcf(&[32], &[1]);
    let ext_consent = |rest: &mut Map<String, Value>| {
        let user = rest["user"].as_object_mut().unwrap();
        user["ext"]["consent"] = json!(consent);
    };
    // regs.ext.gdpr and user.ext.consent.
    let regs = json!({ "ext": { "gdpr": 1 } });
    let mut rest = request(regs.clone(), None);
    ext_consent(&mut rest);
    assert_eq!(send(&rest, Some(32)).0, Decision::Allow);
    assert_eq!(
        send(&rest, Some(52)).0,
        Decision::Strip(Reason::GdprNoConsent)
    );
    assert_eq!(
        send(&request(regs, None), Some(32)).0,
        Decision::Strip(Reason::GdprNoConsent)
    );
    // The 2.6 `user.consent` wins when both are there.
    let mut rest = request(json!({ "gdpr": 1 }), Some(&tcf(&[52], &[1])));
    ext_consent(&mut rest);
    assert_eq!(
        send(&rest, Some(32)).0,
        Decision::Strip(Reason::GdprNoConsent)
    );
    // A flag set in either place applies.
    let regs = json!({ "gdpr": 0, "ext": { "gdpr": 1 } });
    assert_strips(regs, None, Some(32), Reason::GdprNoConsent);
    // regs.ext.us_privacy.
    let regs = json!({ "ext": { "us_privacy": "1YYN" } });
    assert_strips(regs, None, Some(32), Reason::UsPrivacyOptOut);
    let regs = json!({ "us_privacy": "1YNN", "ext": { "us_privacy": "1YYN" } });
    assert_strips(regs, None, Some(32), Reason::UsPrivacyOptOut);
}
