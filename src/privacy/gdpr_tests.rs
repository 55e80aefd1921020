//! The GDPR rules: per-vendor consent, purpose 2, special feature 1, where the TC string is
//! read from (exact expected requests from `tests`).

use super::gpp_tests::header;
use super::tcf_tests::Spec;
use super::tests::*;
use super::*;
use serde_json::{Map, Value, json};

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
