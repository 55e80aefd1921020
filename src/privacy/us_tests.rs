//! The US rules (US Privacy, GPP), and hostile signal values.

use super::gpp_tests::usnat_gpp;
use super::tests::{assert_allows, assert_strips, request};
use super::*;
use serde_json::json;

#[test]
fn us_privacy_opt_out_of_sale() {
    for s in ["1YYN", "1NYY", "1-Y-", "1yyn", " 1YYN "] {
        assert_strips(
            json!({ "us_privacy": s }),
            None,
            Some(32),
            Reason::UsPrivacyOptOut,
        );
    }
    for s in [
        "1YNN", "1---", "", "junk", "2YYN", "1YY", "1YYNN", "1YXN", "YYYY",
    ] {
        assert_allows(json!({ "us_privacy": s }), None, Some(32));
    }
    assert_allows(json!({ "us_privacy": 1 }), None, Some(32));
}

#[test]
fn gpp_opt_outs() {
    let strips = |gpp: String| {
        assert_strips(
            json!({ "gpp": gpp, "gpp_sid": [7] }),
            None,
            None,
            Reason::GppOptOut,
        )
    };
    strips(usnat_gpp(1, 2, 2));
    strips(usnat_gpp(2, 1, 2));
    strips(usnat_gpp(2, 2, 1));
    assert_allows(
        json!({ "gpp": usnat_gpp(2, 2, 2), "gpp_sid": [7] }),
        None,
        None,
    );
    // The section with the opt-out counts whatever gpp_sid says.
    assert_strips(
        json!({ "gpp": usnat_gpp(1, 2, 2), "gpp_sid": [8] }),
        None,
        None,
        Reason::GppOptOut,
    );
    // US Privacy inside GPP.
    assert_strips(
        json!({ "gpp": "DBABTA~1YYN" }),
        None,
        None,
        Reason::GppOptOut,
    );
}

#[test]
fn undecodable_gpp_strips_nothing_but_is_noted() {
    for (gpp, error) in [
        ("garbage!", GppError::NotBase64),
        (
            "DBABLA",
            GppError::SectionCount {
                ids: 1,
                sections: 0,
            },
        ),
        ("DBABLA~B", GppError::Section(7)),
    ] {
        let rest = request(json!({ "gpp": gpp }), None);
        let signals = Signals::of(&rest);
        assert_eq!(signals.gpp_error(), Some(error), "{gpp}");
        assert!(signals.nothing_to_do());
        assert_allows(json!({ "gpp": gpp }), None, Some(32));
    }
}

#[test]
fn reasons_have_stable_names() {
    let names = Reason::ALL.map(Reason::as_str);
    assert_eq!(
        names,
        [
            "coppa",
            "gdpr_no_consent",
            "us_privacy_opt_out",
            "gpp_opt_out",
            "tcf_no_precise_geo",
        ]
    );
}

proptest::proptest! {
    #[test]
    fn arbitrary_signal_values_never_panic(
        coppa in proptest::arbitrary::any::<i64>(),
        consent in "\\PC{0,80}",
        usp in "\\PC{0,8}",
        gpp in "[A-Za-z0-9~._-]{0,80}",
        vendor in proptest::option::of(proptest::arbitrary::any::<u16>()),
    ) {
        let regs = json!({ "coppa": coppa % 3, "gdpr": 1, "us_privacy": usp, "gpp": gpp });
        let rest = request(regs, Some(&consent));
        let signals = Signals::of(&rest);
        let _ = (signals.decide(vendor), signals.nothing_to_do(), signals.tcf_error());
    }
}
