//! TCF decoding: an encoder for chosen contents, published strings, and hostile input.

use super::bits::writer::BitWriter;
use super::tcf::{Tcf, TcfError};
use proptest::prelude::*;

/// A vendor section to encode.
pub enum Vendors {
    /// MaxVendorId and the consented ids, as a bitfield.
    Bits(u16, Vec<u16>),
    /// MaxVendorId and the ranges, range-encoded (a one-id range as a single entry).
    Ranges(u16, Vec<(u16, u16)>),
}

/// A publisher restriction: purpose, restriction type, vendor ranges.
pub type Restriction = (u8, u8, Vec<(u16, u16)>);

/// What the test encoder writes; everything else gets plausible fixed values.
pub struct Spec {
    pub version: u8,
    pub purposes_consent: Vec<u8>,
    pub purposes_li: Vec<u8>,
    /// Special features opted in to (1 is precise geolocation).
    pub special_features: Vec<u8>,
    pub consents: Vendors,
    pub li: Vendors,
    pub restrictions: Vec<Restriction>,
}

impl Spec {
    /// Consent for the vendors and purposes given, no legitimate interest, no restrictions.
    pub fn consent(vendors: &[u16], purposes: &[u8]) -> Spec {
        let max = vendors.iter().copied().max().unwrap_or(0);
        Spec {
            version: 2,
            purposes_consent: purposes.to_vec(),
            purposes_li: vec![],
            special_features: vec![],
            consents: Vendors::Bits(max, vendors.to_vec()),
            li: Vendors::Bits(0, vec![]),
            restrictions: vec![],
        }
    }

    pub fn encode(&self) -> String {
        let mut w = BitWriter::default();
        self.header(&mut w);
        vendors(&mut w, &self.consents);
        vendors(&mut w, &self.li);
        w.int(12, self.restrictions.len() as u64);
        for (purpose, kind, ranges) in &self.restrictions {
            w.int(6, (*purpose).into()).int(2, (*kind).into());
            range_list(&mut w, ranges);
        }
        w.finish()
    }

    /// Everything before the vendor consent section (213 bits).
    fn header(&self, w: &mut BitWriter) {
        w.int(6, self.version.into());
        w.int(36, 16_000_000_000).int(36, 16_000_000_000); // Created, LastUpdated (ds)
        w.int(12, 300).int(12, 7).int(6, 1); // CmpId, CmpVersion, ConsentScreen
        w.int(6, 4).int(6, 13); // ConsentLanguage "EN"
        w.int(12, 150).int(6, 4); // VendorListVersion, TcfPolicyVersion
        w.bit(false).bit(false); // IsServiceSpecific, UseNonStandardTexts
        let features = self.special_features.iter();
        w.int(
            12,
            features.fold(0, |acc, f| acc | 1 << (12 - u64::from(*f))),
        );
        w.int(24, purpose_bits(&self.purposes_consent));
        w.int(24, purpose_bits(&self.purposes_li));
        w.bit(false).int(6, 3).int(6, 4); // PurposeOneTreatment, PublisherCC "DE"
        assert_eq!(w.len(), 213);
    }
}

fn purpose_bits(purposes: &[u8]) -> u64 {
    purposes
        .iter()
        .fold(0, |acc, p| acc | 1 << (24 - u64::from(*p)))
}

fn vendors(w: &mut BitWriter, v: &Vendors) {
    match v {
        Vendors::Bits(max, ids) => {
            w.int(16, (*max).into()).bit(false);
            for id in 1..=*max {
                w.bit(ids.contains(&id));
            }
        }
        Vendors::Ranges(max, ranges) => {
            w.int(16, (*max).into()).bit(true);
            range_list(w, ranges);
        }
    }
}

fn range_list(w: &mut BitWriter, ranges: &[(u16, u16)]) {
    w.int(12, ranges.len() as u64);
    for &(a, b) in ranges {
        w.bit(a != b).int(16, a.into());
        if a != b {
            w.int(16, b.into());
        }
    }
}

#[test]
fn encoder_round_trip_with_bitfields_and_ranges() {
    let spec = Spec {
        li: Vendors::Ranges(900, vec![(10, 20), (800, 800)]),
        purposes_li: vec![2, 7, 24],
        ..Spec::consent(&[1, 32, 755], &[1, 3, 24])
    };
    let tcf = Tcf::decode(&spec.encode()).unwrap();
    assert_eq!((tcf.cmp_id(), tcf.vendor_list_version()), (300, 150));
    assert_eq!((tcf.policy_version(), tcf.publisher_cc()), (4, *b"DE"));
    let on = |f: &dyn Fn(u8) -> bool| (0..=25).filter(|p| f(*p)).collect::<Vec<_>>();
    assert_eq!(on(&|p| tcf.purpose_consent(p)), [1, 3, 24]);
    assert_eq!(on(&|p| tcf.purpose_li(p)), [2, 7, 24]);
    let vendors = |f: &dyn Fn(u16) -> bool| (0..=1000).filter(|v| f(*v)).collect::<Vec<_>>();
    assert_eq!(vendors(&|v| tcf.vendor_consent(v)), [1, 32, 755]);
    let mut li: Vec<u16> = (10..=20).collect();
    li.push(800);
    assert_eq!(vendors(&|v| tcf.vendor_li(v)), li);
}

#[test]
fn publisher_restrictions_on_purpose_one() {
    let spec = Spec {
        restrictions: vec![
            (1, 0, vec![(30, 40)]),
            (1, 1, vec![(52, 52)]),
            (2, 0, vec![(7, 7)]),
        ],
        ..Spec::consent(&[32, 52], &[1])
    };
    let tcf = Tcf::decode(&spec.encode()).unwrap();
    assert!(tcf.purpose_one_restricted(32)); // not allowed
    assert!(!tcf.purpose_one_restricted(52)); // "require consent": nothing changes
    assert!(!tcf.purpose_one_restricted(7)); // a restriction on purpose 2
}

#[test]
fn purpose_two_rests_on_consent_or_legitimate_interest() {
    // Vendor 10 under consent, 20 under LI, 30 under both, 40 under neither.
    let both = Spec {
        purposes_li: vec![2],
        li: Vendors::Bits(30, vec![20, 30]),
        ..Spec::consent(&[10, 30], &[1, 2])
    };
    let basis = |spec: &Spec| {
        let tcf = Tcf::decode(&spec.encode()).unwrap();
        [10, 20, 30, 40].map(|v| tcf.purpose_two_basis(v))
    };
    assert_eq!(basis(&both), [true, true, true, false]);
    // The purpose itself must be open under the same basis as the vendor.
    let no_purpose_li = Spec {
        purposes_li: vec![],
        ..both
    };
    assert_eq!(basis(&no_purpose_li), [true, false, true, false]);
    let no_purpose_consent = Spec {
        purposes_consent: vec![1],
        purposes_li: vec![2],
        ..no_purpose_li
    };
    assert_eq!(basis(&no_purpose_consent), [false, true, true, false]);
    // Publisher restrictions of purpose 2, each on all four vendors: 0 not allowed, 1 require
    // consent, 2 require legitimate interest, 3 undefined (not allowed).
    let restricted = |kind: u8| Spec {
        purposes_li: vec![2],
        li: Vendors::Bits(30, vec![20, 30]),
        restrictions: vec![(2, kind, vec![(1, 100)])],
        ..Spec::consent(&[10, 30], &[1, 2])
    };
    assert_eq!(basis(&restricted(0)), [false; 4]);
    assert_eq!(basis(&restricted(1)), [true, false, true, false]);
    assert_eq!(basis(&restricted(2)), [false, true, true, false]);
    assert_eq!(basis(&restricted(3)), [false; 4]);
    // A purpose 1 restriction leaves purpose 2 alone, and the reverse.
    let p1 = Spec {
        restrictions: vec![(1, 0, vec![(1, 100)])],
        ..Spec::consent(&[10], &[1, 2])
    };
    let tcf = Tcf::decode(&p1.encode()).unwrap();
    assert!(tcf.purpose_one_restricted(10) && tcf.purpose_two_basis(10));
}

#[test]
fn special_features() {
    let spec = Spec {
        special_features: vec![1, 12],
        ..Spec::consent(&[32], &[1])
    };
    let tcf = Tcf::decode(&spec.encode()).unwrap();
    let on: Vec<u8> = (0..=13).filter(|f| tcf.special_feature(*f)).collect();
    assert_eq!(on, [1, 12]);
    let none = Tcf::decode(&Spec::consent(&[32], &[1]).encode()).unwrap();
    assert!(!none.special_feature(1));
    // The purposes after the field are read at the right place.
    assert!(tcf.purpose_consent(1) && !tcf.purpose_consent(2) && tcf.vendor_consent(32));
}

/// Generated with the iabtcf.com encoder; the decoded values are the ones published with them
/// in the test fixtures of github.com/LiveRamp/iabconsent.
#[test]
fn published_strings() {
    // Range-encoded consents {2, 37, 61}; bitfield LI {2, 6, 8}; three publisher restrictions.
    let a = Tcf::decode("COvzTO5OvzTO5BRAAAENAPCoALIAADgAAAAAAewAwABAAlAB6ABBFADBQAQA9hAAAcAA")
        .unwrap();
    assert_eq!(
        (a.cmp_id(), a.vendor_list_version(), a.policy_version()),
        (81, 15, 2)
    );
    assert_eq!(a.publisher_cc(), *b"AA");
    assert!([1, 3, 4, 7].iter().all(|p| a.purpose_consent(*p)));
    assert!(!a.purpose_consent(2) && !a.purpose_one_treatment());
    assert!([3, 4, 5].iter().all(|p| a.purpose_li(*p)) && !a.purpose_li(1));
    let consented: Vec<u16> = (0..1000).filter(|v| a.vendor_consent(*v)).collect();
    assert_eq!(consented, [2, 37, 61]);
    let li: Vec<u16> = (0..1000).filter(|v| a.vendor_li(*v)).collect();
    assert_eq!(li, [2, 6, 8]);
    // Purpose 1 "require consent" for vendor 123 restricts nothing.
    assert!(!a.purpose_one_restricted(123));

    // Three segments (core, disclosed vendors, allowed vendors); only the core is read.
    let b = Tcf::decode(concat!(
        "COvzTO5OvzTO5B7ABCENAPCYAKdAADkAAIqIFhwBAAGAAXAFGAsMAhYAgAMAAegBYAEKAAA",
        ".IFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAACEAAAAAgAQBAAAAAAAGBAAgAAAAAAAFAAECAAAgAAQ",
        "ARAEQAAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUw.QE5QAwCvgHyATkA"
    ))
    .unwrap();
    assert_eq!((b.cmp_id(), b.publisher_cc()), (123, *b"FR"));
    assert!(b.purpose_one_treatment());
    let purposes: Vec<u8> = (0..=24).filter(|p| b.purpose_consent(*p)).collect();
    assert_eq!(purposes, [1, 3, 6, 7, 8, 10]);
    let consented: Vec<u16> = (0..1000).filter(|v| b.vendor_consent(*v)).collect();
    assert_eq!(consented, [12, 23, 163, 707]);
    let li: Vec<u16> = (0..1000).filter(|v| b.vendor_li(*v)).collect();
    assert_eq!(li, [48, 61, 88, 133]);

    // Bitfield of 720 vendors, no purpose at all.
    let c = Tcf::decode(concat!(
        "COvzTO5OvzTO5BZAFMENAPCgAAAAAAAAAAwIFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAACEAAAAAgAQ",
        "BAAAAAAAGBAAgAAAAAAAFAAECAAAgAAQARAEQAAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUwLQIoghAAQhhARggAC",
        "AIAAAAcQAAEAQAAAAgAQBAIAAEIAAAABAAgCAAAAAAAMCABAAAAAAAAKAAIEAABAAAgAiAIgAAAAASAAQABAAAA",
        "wgIAAAhMBACFuyAxmpgAA"
    ))
    .unwrap();
    assert_eq!((c.cmp_id(), c.publisher_cc()), (89, *b"GB"));
    assert!((0..=24).all(|p| !c.purpose_consent(p)));
    let consented: Vec<u16> = (0..1000).filter(|v| c.vendor_consent(*v)).collect();
    #[rustfmt::skip]
    let published = [
        2, 6, 8, 12, 18, 23, 37, 42, 47, 48, 53, 61, 65, 66, 72, 88, 98, 127, 128, 129, 133, 153,
        163, 192, 205, 215, 224, 243, 248, 281, 294, 304, 350, 351, 358, 371, 422, 424, 440, 447,
        467, 486, 498, 502, 512, 516, 553, 556, 571, 587, 612, 613, 618, 626, 648, 653, 656, 657,
        665, 676, 681, 683, 684, 686, 687, 688, 690, 691, 694, 702, 703, 707, 708, 711, 712, 714,
        716, 719, 720,
    ];
    assert_eq!(consented, published);

    // TCF 2.2 (policy version 4).
    let d = Tcf::decode("COvzTO5OvzTO5B7ABCENAPEYAIAAAIAAAIqIAAoAAoAA.QAAo.IAAo").unwrap();
    assert_eq!(d.policy_version(), 4);
    assert!(d.purpose_consent(1) && d.vendor_consent(1) && !d.vendor_consent(2));
}

#[test]
fn tcf_v1_is_unsupported() {
    // The example string of the IAB consent string v1.1 specification.
    let v1 = "BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA";
    assert_eq!(Tcf::decode(v1), Err(TcfError::Version(1)));
    // "C…" is version 2 ("COvFyGB…" is a v2 string with no vendor at all, not a v1 one).
    let v2 = Tcf::decode("COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAAAAAAAA").unwrap();
    assert!((0..=1000).all(|v| !v2.vendor_consent(v)));
}

#[test]
fn malformed_strings_are_errors() {
    let good = Spec::consent(&[32], &[1]).encode();
    assert_eq!(Tcf::decode(""), Err(TcfError::Truncated));
    assert_eq!(Tcf::decode("not a tcf string!"), Err(TcfError::NotBase64));
    assert_eq!(Tcf::decode(&"C".repeat(40_000)), Err(TcfError::TooLong));
    assert_eq!(Tcf::decode("Aaaa"), Err(TcfError::Version(0)));
    // Every strict prefix lacks a field the decoder needs.
    for end in 0..good.len() {
        assert_eq!(Tcf::decode(&good[..end]), Err(TcfError::Truncated), "{end}");
    }
    // MaxVendorId 65535 with a bitfield the string does not have: an error, not an allocation.
    let mut w = BitWriter::default();
    Spec::consent(&[], &[1]).header(&mut w);
    w.int(16, 65_535).bit(false).int(40, 0);
    assert_eq!(Tcf::decode(&w.finish()), Err(TcfError::Truncated));
    // 4095 range entries announced, two present.
    let mut w = BitWriter::default();
    Spec::consent(&[], &[1]).header(&mut w);
    w.int(16, 100).bit(true).int(12, 4095);
    w.bit(false).int(16, 1).bit(false).int(16, 2);
    assert_eq!(Tcf::decode(&w.finish()), Err(TcfError::Truncated));
}

#[test]
fn bad_ranges_are_errors() {
    for ranges in [vec![(0, 3)], vec![(9, 4)], vec![(5, 70)]] {
        let spec = Spec {
            consents: Vendors::Ranges(60, ranges.clone()),
            ..Spec::consent(&[], &[1])
        };
        assert_eq!(
            Tcf::decode(&spec.encode()),
            Err(TcfError::BadRange),
            "{ranges:?}"
        );
    }
    // A range 1–65535 is one entry, tested in place.
    let wide = Spec {
        consents: Vendors::Ranges(u16::MAX, vec![(1, u16::MAX)]),
        ..Spec::consent(&[], &[1])
    };
    let tcf = Tcf::decode(&wide.encode()).unwrap();
    assert!(tcf.vendor_consent(1) && tcf.vendor_consent(u16::MAX) && !tcf.vendor_consent(0));
}

proptest! {
    #[test]
    fn decoding_arbitrary_text_never_panics(s in any::<String>()) {
        let _ = Tcf::decode(&s);
    }

    #[test]
    fn decoding_arbitrary_base64_never_panics(s in "[A-Za-z0-9_-]{0,600}") {
        let _ = Tcf::decode(&s);
    }

    #[test]
    fn decoding_a_damaged_string_never_panics(
        vendors in proptest::collection::vec(1u16..2000, 0..20),
        at in any::<prop::sample::Index>(),
        c in "[A-Za-z0-9_-]",
    ) {
        let mut s = Spec::consent(&vendors, &[1, 2]).encode();
        let i = at.index(s.len());
        s.replace_range(i..=i, &c);
        let _ = Tcf::decode(&s);
    }
}
