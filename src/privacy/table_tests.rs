//! The table walked field by field, through the whole privacy step (signals read from the
//! request, the per-partner decision, stripping): for every set of signals and every field,
//! a request carrying the field and the signals, and the field as the table says it leaves.

use super::gpp_tests::usnat_gpp;
use super::table::{Action, Coarse, FIELDS, Field, markdown};
use super::tests::{tcf_li_only, tcf_no_geo};
use super::*;
use serde_json::{Map, Value, json};

/// The partner's vendor id in these requests.
const VENDOR: u16 = 32;

/// A request carrying exactly `reasons` for [`VENDOR`] (and nothing of the table).
fn carrying(reasons: Reasons) -> Map<String, Value> {
    let mut regs = json!({});
    if reasons.contains(Reason::Coppa) {
        regs["coppa"] = json!(1);
    }
    if reasons.contains(Reason::UsPrivacyOptOut) {
        regs["us_privacy"] = json!("1YYN");
    }
    if reasons.contains(Reason::GppOptOut) {
        regs["gpp"] = json!(usnat_gpp(1, 2, 2));
    }
    let geo: &[u8] = match reasons.contains(Reason::NoPreciseGeo) {
        true => &[],
        false => &[1],
    };
    let consent = match (reasons.contains(Reason::GdprNoConsent), geo.is_empty()) {
        (false, false) => None,
        (true, _) => Some(tcf_li_only(VENDOR, geo)),
        (false, true) => Some(tcf_no_geo(&[VENDOR], &[1, 2])),
    };
    let mut rest = Map::new();
    if let Some(consent) = consent {
        regs["gdpr"] = json!(1);
        rest.insert("user".into(), json!({ "consent": consent }));
    }
    rest.insert("regs".into(), regs);
    rest
}

/// What a partner is sent for `field`, and what it becomes coarsened (by hand, not by the
/// code under test).
fn sample(field: &Field) -> (Value, Value) {
    match (field.coarse, *field.path.last().unwrap()) {
        (Some(Coarse::Coordinate), _) => (json!(52.520008), json!(52.52)),
        (Some(Coarse::Address), "ipv6") => (
            json!("2001:db8:85a3:8d3:1319:8a2e:370:7348"),
            json!("2001:db8:85a3::"),
        ),
        (Some(Coarse::Address), _) => (json!("203.0.113.197"), json!("203.0.113.0")),
        (None, _) => (json!(format!("{}-value", field.name())), Value::Null),
    }
}

fn pointer(field: &Field) -> String {
    field.path.iter().map(|k| format!("/{k}")).collect()
}

/// `rest` with `value` at the field's path, parents created as needed.
fn put(rest: &mut Map<String, Value>, field: &Field, value: Value) {
    let (last, parents) = field.path.split_last().unwrap();
    let mut map = rest;
    for key in parents {
        map = map
            .entry(*key)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .unwrap();
    }
    map.insert((*last).into(), value);
}

/// The privacy step as the fan-out runs it, for [`VENDOR`].
fn privacy_step(rest: &Map<String, Value>, reasons: Reasons) -> Value {
    let decision = Signals::of(rest).decide(Some(VENDOR));
    let expected = match reasons.is_empty() {
        true => Decision::Allow,
        false => Decision::Strip(reasons),
    };
    assert_eq!(decision, expected, "{rest:?}");
    let mut copy = rest.clone();
    if let Decision::Strip(r) = decision {
        strip(&mut copy, r);
    }
    Value::Object(copy)
}

/// Every set of signals, the empty one included.
fn every_set() -> impl Iterator<Item = Reasons> {
    (0..1u32 << Reason::ALL.len()).map(|bits| {
        Reason::ALL
            .into_iter()
            .enumerate()
            .filter(|(i, _)| bits >> i & 1 == 1)
            .fold(Reasons::NONE, |set, (_, r)| set.with(r))
    })
}

fn expected_after(field: &Field, reasons: Reasons) -> Option<Value> {
    let (sent, coarse) = sample(field);
    match field.action(reasons.iter()) {
        Action::Keep => Some(sent),
        Action::Coarsen => Some(coarse),
        Action::Remove => None,
    }
}

#[test]
fn each_field_alone_leaves_as_the_table_says() {
    for reasons in every_set() {
        for field in FIELDS {
            let mut rest = carrying(reasons);
            put(&mut rest, field, sample(field).0);
            let mut sent = privacy_step(&rest, reasons);
            let at = pointer(field);
            let name = field.name();
            assert_eq!(
                sent.pointer(&at).cloned(),
                expected_after(field, reasons),
                "{name} under {reasons:?}"
            );
            // Nothing else was touched: with the field taken out of both, they are equal.
            let mut before = Value::Object(rest);
            for v in [&mut before, &mut sent] {
                let (last, parents) = field.path.split_last().unwrap();
                let parent: String = parents.iter().map(|k| format!("/{k}")).collect();
                if let Some(Value::Object(p)) = v.pointer_mut(&parent) {
                    p.remove(*last);
                }
            }
            assert_eq!(sent, before, "{name} under {reasons:?}");
        }
    }
}

#[test]
fn all_fields_together_leave_as_the_table_says() {
    for reasons in every_set() {
        let mut rest = carrying(reasons);
        for field in FIELDS {
            put(&mut rest, field, sample(field).0);
        }
        rest.insert("site".into(), json!({ "page": "https://a.example/" }));
        let sent = privacy_step(&rest, reasons);
        for field in FIELDS {
            let got = sent.pointer(&pointer(field)).cloned();
            let name = field.name();
            assert_eq!(got, expected_after(field, reasons), "{name} {reasons:?}");
        }
        assert_eq!(sent["site"], rest["site"]);
        assert_eq!(sent["regs"], rest["regs"], "the signals reach the partner");
    }
}

#[test]
fn the_table_is_well_formed() {
    for (i, r) in Reason::ALL.into_iter().enumerate() {
        assert_eq!(r as usize, i, "{r:?}");
    }
    for (i, f) in FIELDS.iter().enumerate() {
        let coarsened = f.actions.contains(&Action::Coarsen);
        assert_eq!(f.coarse.is_some(), coarsened, "{}", f.name());
        assert!(
            FIELDS[..i].iter().all(|g| g.path != f.path),
            "{} twice",
            f.name()
        );
    }
    let table = markdown();
    assert_eq!(table.lines().count(), FIELDS.len() + 2);
    assert!(
        table.contains("| `device.ext.ifv` | **removed** |"),
        "{table}"
    );
}

#[test]
fn reasons_are_a_set() {
    let set = Reasons::from(Reason::NoPreciseGeo).with(Reason::Coppa);
    assert!(set.contains(Reason::Coppa) && !set.contains(Reason::GppOptOut));
    assert_eq!(
        set.iter().collect::<Vec<_>>(),
        [Reason::Coppa, Reason::NoPreciseGeo]
    );
    assert_eq!(set.first(), Some(Reason::Coppa));
    assert_eq!(Reasons::NONE.first(), None);
    assert_eq!(every_set().count(), 32);
    // The strongest action wins where signals meet.
    let lat = FIELDS.iter().find(|f| f.name() == "user.geo.lat").unwrap();
    assert_eq!(lat.action(set.iter()), Action::Remove);
    assert_eq!(lat.action([Reason::NoPreciseGeo]), Action::Coarsen);
    assert_eq!(lat.action([]), Action::Keep);
}
