//! GPP decoding: an encoder for chosen contents, published strings, and hostile input.

use super::bits::Bits;
use super::bits::writer::BitWriter;
use super::gpp::{Gpp, GppError, decode};
use proptest::prelude::*;

/// A GPP header listing `ids` (ascending), consecutive runs range-encoded.
pub fn header(ids: &[u16]) -> String {
    let mut runs: Vec<(u16, u16)> = vec![];
    for &id in ids {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == id => *end = id,
            _ => runs.push((id, id)),
        }
    }
    let mut w = BitWriter::default();
    w.int(6, 3).int(6, 1).int(12, runs.len() as u64);
    let mut last = 0;
    for (start, end) in runs {
        w.bit(start != end).fibonacci(u64::from(start - last));
        if start != end {
            w.fibonacci(u64::from(end - start));
        }
        last = end;
    }
    w.finish()
}

/// A US section: Version(6), then 2-bit fields (the rest of the section zero).
pub fn section(version: u8, fields: &[u64]) -> String {
    let mut w = BitWriter::default();
    w.int(6, version.into());
    for f in fields {
        w.int(2, *f);
    }
    w.int(36, 0);
    w.finish()
}

/// US National v1 with all notices given and the opt-outs (sale, sharing, targeted) given.
pub fn usnat(sale: u64, sharing: u64, targeted: u64) -> String {
    section(1, &[1, 1, 1, 1, 1, 1, sale, sharing, targeted])
}

/// The GPP string of a single US National section.
pub fn usnat_gpp(sale: u64, sharing: u64, targeted: u64) -> String {
    format!("{}~{}", header(&[7]), usnat(sale, sharing, targeted))
}

fn ok(ids: &[u16], opted_out: &[u16]) -> Gpp {
    Gpp {
        ids: ids.to_vec(),
        opted_out: opted_out.to_vec(),
        tcf_eu: None,
        error: None,
    }
}

/// Strings from the iabgpp.com encoder, as published in the test fixtures of
/// github.com/LiveRamp/iabconsent (none of them opts out).
#[test]
fn published_strings() {
    assert_eq!(decode("DBABLA~BVVqAAEABCA.QA"), ok(&[7], &[]));
    assert_eq!(decode("DBACLMA~BVVqAAEABCA~BVoYYYI"), ok(&[7, 9], &[]));
    let all = "DBABrGA~BVVqAAEABCA~BVoYYZoI~BVoYYYI~BVoYYQg~BVaGGGCA~BVoYYYQg";
    assert_eq!(decode(all), ok(&[7, 8, 9, 10, 11, 12], &[]));
    // TCF EU (kept whole for the GDPR rules) and US Privacy.
    let tc = "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA";
    let eu = format!("DBACNY~{tc}~1YNN");
    let with_tc = Gpp {
        tcf_eu: Some(tc.to_owned()),
        ..ok(&[2, 6], &[])
    };
    assert_eq!(decode(&eu), with_tc);
    assert_eq!(decode("DBABzw~1YNN~BVVqAAEABCA.QA"), ok(&[6, 7], &[]));
    assert_eq!(decode("DBABTA~1YYY"), ok(&[6], &[6]));
    // Our header encoder writes the same bits (encoders differ in how many zero bits pad the
    // last character, which carry nothing).
    let same = |ours: String, theirs: &str| {
        assert_eq!(
            ours.trim_end_matches('A'),
            theirs.trim_end_matches('A'),
            "{theirs}"
        );
    };
    same(header(&[7]), "DBABLA");
    same(header(&[7, 9]), "DBACLMA");
    same(header(&[7, 8, 9, 10, 11, 12]), "DBABrGA");
    same(header(&[2, 6]), "DBACNY");
}

/// The published sections say "did not opt out" (2) for every opt-out field they have: reading
/// 2 at each offset we use checks the offsets against real strings (a wrong one reads a notice
/// or a sensitive-data field, which those fixtures set to other values).
#[test]
fn opt_out_offsets_match_published_sections() {
    let cases: [(&str, &[usize]); 6] = [
        ("BVVqAAEABCA", &[18, 20, 22]), // usnat
        ("BVoYYZoI", &[12, 14]),        // usca
        ("BVoYYYI", &[12, 14]),         // usva
        ("BVoYYQg", &[12, 14]),         // usco
        ("BVaGGGCA", &[14, 16]),        // usut
        ("BVoYYYQg", &[12, 14]),        // usct
    ];
    for (s, offsets) in cases {
        for &offset in offsets {
            let mut r = Bits::decode(s).unwrap();
            r.skip(offset).unwrap();
            assert_eq!(r.int(2), Ok(2), "{s} at {offset}");
        }
    }
    // Our section encoder agrees with the published US National section.
    let fields = [
        1, 1, 1, 1, 1, 1, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 2,
    ];
    assert!(section(1, &fields).starts_with("BVVqAAEABCA"));
}

#[test]
fn each_us_section_opt_out_is_read() {
    assert_eq!(decode(&usnat_gpp(1, 2, 2)), ok(&[7], &[7]));
    assert_eq!(decode(&usnat_gpp(2, 1, 2)), ok(&[7], &[7]));
    assert_eq!(decode(&usnat_gpp(2, 2, 1)), ok(&[7], &[7]));
    assert_eq!(decode(&usnat_gpp(2, 2, 2)), ok(&[7], &[]));
    assert_eq!(decode(&usnat_gpp(0, 0, 0)), ok(&[7], &[]));
    // US National v2 keeps the opt-outs where v1 has them.
    let v2 = section(2, &[1, 1, 1, 1, 1, 1, 1, 2, 2]);
    assert_eq!(decode(&format!("DBABLA~{v2}")), ok(&[7], &[7]));
    // The states: notices before the two opt-outs (3, or 4 for Utah).
    for (id, notices) in [(8, 3), (9, 3), (10, 3), (11, 4), (12, 3)] {
        for (opt_outs, out) in [([1, 2], true), ([2, 1], true), ([2, 2], false)] {
            let mut fields = vec![1; notices];
            fields.extend(opt_outs);
            let s = format!("{}~{}", header(&[id]), section(1, &fields));
            let expected = if out { vec![id] } else { vec![] };
            assert_eq!(
                decode(&s),
                ok(&[id], &expected),
                "section {id} {opt_outs:?}"
            );
        }
    }
}

#[test]
fn a_broken_section_keeps_the_others_opt_outs() {
    let s = format!("{}~{}~{}", header(&[7, 9]), usnat(1, 2, 2), "B");
    let gpp = decode(&s);
    assert_eq!(gpp.opted_out, [7]);
    assert_eq!(gpp.error, Some(GppError::Section(9)));
    // Within a section: sale opted out, then an undefined value 3.
    let s = format!(
        "{}~{}",
        header(&[7]),
        section(1, &[1, 1, 1, 1, 1, 1, 1, 3, 2])
    );
    assert_eq!(decode(&s).opted_out, [7]);
    assert_eq!(decode(&s).error, Some(GppError::Section(7)));
}

#[test]
fn malformed_strings_are_reported() {
    let err = |s: &str| decode(s).error;
    assert_eq!(err(""), Some(GppError::Truncated));
    assert_eq!(
        err("DBABLA"),
        Some(GppError::SectionCount {
            ids: 1,
            sections: 0
        })
    );
    assert_eq!(
        err("DBABLA~a~b"),
        Some(GppError::SectionCount {
            ids: 1,
            sections: 2
        })
    );
    assert_eq!(err("D!ABLA~x"), Some(GppError::NotBase64));
    assert_eq!(err("CBABLA~x"), Some(GppError::Type(2)));
    assert_eq!(err("DCABLA~x"), Some(GppError::Version(2)));
    assert_eq!(err(&"D".repeat(20_000)), Some(GppError::TooLong));
    let v3 = format!("DBABLA~{}", section(3, &[1; 9]));
    assert_eq!(err(&v3), Some(GppError::SectionVersion(7, 3)));
    assert_eq!(err("DBABTA~1YXN"), Some(GppError::Section(6)));
    assert_eq!(err("DBABLA~B"), Some(GppError::Section(7)));
    // Sections we do not read are skipped, whatever they hold (TCF Canada here).
    let canada = format!("{}~not even base64!", header(&[5]));
    assert_eq!(decode(&canada), ok(&[5], &[]));
    // TCF EU is passed on as sent: the TCF decoder judges it.
    let junk = Gpp {
        tcf_eu: Some("not even base64!".into()),
        ..ok(&[2], &[])
    };
    assert_eq!(decode("DBABM~not even base64!"), junk);
}

#[test]
fn hostile_headers_are_bounded() {
    // One range 1..=1000 and a single section: refused before expanding.
    let mut w = BitWriter::default();
    w.int(6, 3)
        .int(6, 1)
        .int(12, 1)
        .bit(true)
        .fibonacci(1)
        .fibonacci(999);
    let s = format!("{}~x", w.finish());
    assert_eq!(
        decode(&s).error,
        Some(GppError::SectionCount {
            ids: 1000,
            sections: 1
        })
    );
    // An id past any assigned one.
    let mut w = BitWriter::default();
    w.int(6, 3).int(6, 1).int(12, 1).bit(false).fibonacci(1001);
    assert_eq!(
        decode(&format!("{}~x", w.finish())).error,
        Some(GppError::BadIds)
    );
    // 4095 entries announced, none there.
    let mut w = BitWriter::default();
    w.int(6, 3).int(6, 1).int(12, 4095);
    assert_eq!(
        decode(&format!("{}~x", w.finish())).error,
        Some(GppError::Truncated)
    );
    // A Fibonacci integer that never ends.
    assert_eq!(decode("DBABqqqqqqqq~x").error, Some(GppError::BadIds));
}

proptest! {
    #[test]
    fn decoding_arbitrary_text_never_panics(s in any::<String>()) {
        let _ = decode(&s);
    }

    #[test]
    fn decoding_arbitrary_base64_never_panics(s in "[A-Za-z0-9_~.-]{0,300}") {
        let _ = decode(&s);
    }

    #[test]
    fn decoding_arbitrary_sections_never_panics(
        ids in proptest::collection::btree_set(1u16..20, 1..6),
        sections in proptest::collection::vec("[A-Za-z0-9_.-]{0,20}", 6),
    ) {
        let ids: Vec<u16> = ids.into_iter().collect();
        let s = format!("{}~{}", header(&ids), sections[..ids.len()].join("~"));
        let gpp = decode(&s);
        prop_assert_eq!(gpp.ids, ids);
    }
}
