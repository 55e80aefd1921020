//! Every targeting dimension: a matching value serves, another does not, and an unknown
//! one matches only line items that do not target the dimension.

use super::*;
use crate::vocab::{ContentKind, DeviceType, Gender};

type Edit = fn(&mut Request<'static>);

/// `t` targets the dimension, `open` does not; both otherwise equal (`open` sorts first).
fn check(target: fn(&mut Targeting), yes: &[Edit], no: &[Edit], absent: Edit) {
    let mut li = item("t");
    target(&mut li.targeting);
    let ix = index(vec![li, item("open")]);
    let store = MemoryStore::default();
    let run = |edit: &Edit| {
        let mut r = slot();
        edit(&mut r);
        decide_ids(&ix, &r, NOW, &store, 5)
    };
    for (n, e) in yes.iter().enumerate() {
        assert_eq!(run(e), ["open", "t"], "matching value #{n}");
    }
    for (n, e) in no.iter().enumerate() {
        assert_eq!(run(e), ["open"], "other value #{n}");
    }
    assert_eq!(run(&absent), ["open"], "unknown value");
}

#[test]
fn countries() {
    check(
        |t| t.countries = Some(vec!["SWE".into(), "NOR".into()]),
        &[|r| r.country = Some("SWE"), |r| r.country = Some("nor")],
        &[|r| r.country = Some("DNK"), |r| r.country = Some("SE")],
        |r| r.country = None,
    );
}

#[test]
fn os() {
    check(
        |t| t.os = Some(vec!["iOS".into()]),
        &[|r| r.os = Some("ios"), |r| r.os = Some("IOS")],
        &[|r| r.os = Some("android")],
        |r| r.os = None,
    );
}

#[test]
fn device_types() {
    check(
        |t| t.device_types = Some(vec![DeviceType::Phone, DeviceType::Tablet]),
        &[|r| r.device_type = Some(DeviceType::Tablet)],
        &[|r| r.device_type = Some(DeviceType::Tv)],
        |r| r.device_type = None,
    );
}

#[test]
fn age_from_year_of_birth() {
    // NOW is in 2026: 18-34 is born 1992-2008.
    check(
        |t| {
            t.age = Some(AgeRange {
                min: Some(18),
                max: Some(34),
            })
        },
        &[
            |r| r.yob = Some(2000),
            |r| r.yob = Some(1992),
            |r| r.yob = Some(2008),
        ],
        &[
            |r| r.yob = Some(1991),
            |r| r.yob = Some(2009),
            |r| r.yob = Some(2030),
        ],
        |r| r.yob = None,
    );
    check(
        |t| {
            t.age = Some(AgeRange {
                min: Some(50),
                max: None,
            })
        },
        &[|r| r.yob = Some(1930)],
        &[|r| r.yob = Some(1990)],
        |r| r.yob = None,
    );
}

#[test]
fn genders() {
    check(
        |t| t.genders = Some(vec![Gender::Female, Gender::Other]),
        &[|r| r.gender = Some(Gender::Female)],
        &[|r| r.gender = Some(Gender::Male)],
        |r| r.gender = None,
    );
}

#[test]
fn content_kinds() {
    check(
        |t| t.content = Some(vec![ContentKind::Podcast]),
        &[|r| r.content = Some(ContentKind::Podcast)],
        &[|r| r.content = Some(ContentKind::Music)],
        |r| r.content = None,
    );
}

#[test]
fn genres() {
    check(
        |t| t.genres = Some(vec!["Hip-Hop".into(), "rnb".into()]),
        &[|r| r.genre = Some("hip-hop"), |r| r.genre = Some("RnB")],
        &[|r| r.genre = Some("jazz")],
        |r| r.genre = None,
    );
}

#[test]
fn languages() {
    check(
        |t| t.languages = Some(vec!["sv".into()]),
        &[|r| r.language = Some("sv")],
        &[|r| r.language = Some("en")],
        |r| r.language = None,
    );
}

#[test]
fn placements() {
    // A request always names its placement: there is no unknown value.
    check(
        |t| t.placements = Some(vec!["music-break".into(), "podcast-preroll".into()]),
        &[
            |r| r.placement = "music-break",
            |r| r.placement = "podcast-preroll",
        ],
        &[
            |r| r.placement = "player-banner",
            |r| r.placement = "elsewhere",
        ],
        |r| r.placement = "other",
    );
}

#[test]
fn day_parting_in_local_hours() {
    // NOW is Thursday 12:00 UTC.
    let hours = |t: &mut Targeting| {
        t.day_parting = Some(DayParting {
            hours: Some(vec![12, 13]),
            weekdays: None,
            default_utc_offset_min: None,
        })
    };
    check(
        hours,
        &[
            |r| r.utc_offset_min = Some(0),
            |r| r.utc_offset_min = Some(60),
        ],
        &[
            |r| r.utc_offset_min = Some(120),
            |r| r.utc_offset_min = Some(-60),
        ],
        |r| r.utc_offset_min = None,
    );
}

#[test]
fn day_parting_by_weekday() {
    check(
        |t| {
            t.day_parting = Some(DayParting {
                hours: None,
                weekdays: Some(vec![Weekday::Fri, Weekday::Sat]),
                default_utc_offset_min: None,
            })
        },
        // In UTC+13 it is already Friday 01:00.
        &[|r| r.utc_offset_min = Some(13 * 60)],
        &[|r| r.utc_offset_min = Some(0)],
        |r| r.utc_offset_min = None,
    );
}

#[test]
fn day_parting_default_offset_stands_in_for_a_missing_one() {
    let mut li = item("t");
    li.targeting.day_parting = Some(DayParting {
        hours: Some(vec![13]),
        weekdays: Some(vec![Weekday::Thu]),
        default_utc_offset_min: Some(60),
    });
    let ix = index(vec![li]);
    let store = MemoryStore::default();
    assert_eq!(decide_ids(&ix, &slot(), NOW, &store, 5), ["t"]);
    let elsewhere = Request {
        utc_offset_min: Some(0),
        ..slot()
    };
    assert!(decide_ids(&ix, &elsewhere, NOW, &store, 5).is_empty());
}

#[test]
fn all_dimensions_together() {
    let mut li = item("t");
    li.targeting = Targeting {
        countries: Some(vec!["SWE".into()]),
        os: Some(vec!["android".into()]),
        device_types: Some(vec![DeviceType::Phone]),
        age: Some(AgeRange {
            min: Some(18),
            max: None,
        }),
        genders: Some(vec![Gender::Male]),
        content: Some(vec![ContentKind::Music]),
        genres: Some(vec!["pop".into()]),
        placements: Some(vec!["music-break".into()]),
        languages: Some(vec!["sv".into()]),
        day_parting: Some(DayParting {
            hours: Some(vec![13]),
            weekdays: Some(vec![Weekday::Thu]),
            default_utc_offset_min: None,
        }),
    };
    let ix = index(vec![li]);
    let store = MemoryStore::default();
    let full = Request {
        country: Some("SWE"),
        os: Some("android"),
        device_type: Some(DeviceType::Phone),
        yob: Some(1990),
        gender: Some(Gender::Male),
        content: Some(ContentKind::Music),
        genre: Some("pop"),
        language: Some("sv"),
        utc_offset_min: Some(60),
        ..slot()
    };
    assert_eq!(decide_ids(&ix, &full, NOW, &store, 1), ["t"]);
    let missing_one: [Edit; 9] = [
        |r| r.country = None,
        |r| r.os = None,
        |r| r.device_type = None,
        |r| r.yob = None,
        |r| r.gender = None,
        |r| r.content = None,
        |r| r.genre = None,
        |r| r.language = None,
        |r| r.utc_offset_min = None,
    ];
    for (n, edit) in missing_one.iter().enumerate() {
        let mut r = full;
        edit(&mut r);
        assert!(decide_ids(&ix, &r, NOW, &store, 1).is_empty(), "#{n}");
    }
}
