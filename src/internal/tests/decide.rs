//! Flight, goals, priority, advertisers, creatives, floors and the index itself.

use super::*;

#[test]
fn serves_only_within_its_flight() {
    let ix = index(vec![item("a")]);
    let store = MemoryStore::default();
    let start = parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
    let end = parse_rfc3339("2027-01-01T00:00:00Z").unwrap();
    for (now, serves) in [
        (start - 1, false),
        (start, true),
        (end - 1, true),
        (end, false),
    ] {
        assert_eq!(
            decide_ids(&ix, &slot(), now, &store, 1).len(),
            usize::from(serves),
            "{now}"
        );
    }
}

#[test]
fn a_reached_total_goal_stops_for_good() {
    for goal in [
        Goal {
            impressions: Some(3),
            spend: None,
        },
        // 3 impressions at CPM 5 spend 0.015.
        Goal {
            impressions: None,
            spend: Some(0.015),
        },
    ] {
        let mut li = item("a");
        li.goal.total = Some(goal);
        let ix = index(vec![li]);
        let store = MemoryStore::default();
        for n in 0..3 {
            assert_eq!(decide_ids(&ix, &slot(), NOW, &store, 1), ["a"], "{n}");
            ix.record_impression(&store, "a", None, Micros(5_000_000), NOW);
        }
        assert!(decide_ids(&ix, &slot(), NOW, &store, 1).is_empty());
        assert!(decide_ids(&ix, &slot(), NOW + 5 * DAY, &store, 1).is_empty());
    }
}

#[test]
fn a_reached_daily_goal_stops_until_the_next_utc_day() {
    let mut li = item("a");
    li.goal.daily = Some(Goal {
        impressions: Some(2),
        spend: None,
    });
    let ix = index(vec![li]);
    let store = MemoryStore::default();
    for _ in 0..2 {
        ix.record_impression(&store, "a", None, Micros(5_000_000), NOW);
    }
    assert!(decide_ids(&ix, &slot(), NOW, &store, 1).is_empty());
    let midnight = NOW - NOW % DAY + DAY;
    assert!(decide_ids(&ix, &slot(), midnight - 1, &store, 1).is_empty());
    assert_eq!(decide_ids(&ix, &slot(), midnight, &store, 1), ["a"]);
    assert_eq!(store.delivered("a", None).impressions, 2);
    assert_eq!(store.delivered("a", Some(NOW / DAY)).impressions, 2);
    assert_eq!(store.delivered("a", Some(NOW / DAY + 1)).impressions, 0);
}

#[test]
fn sponsorships_first_then_price_then_id_then_house() {
    let mut items = Vec::new();
    for (id, tier, cpm) in [
        ("house", Tier::House, None),
        ("std-5-b", Tier::Standard, Some(5.0)),
        ("std-8", Tier::Standard, Some(8.0)),
        ("sponsor-cheap", Tier::Sponsorship, Some(1.0)),
        ("std-5-a", Tier::Standard, Some(5.0)),
        ("sponsor-dear", Tier::Sponsorship, Some(30.0)),
        ("house-paid", Tier::House, Some(0.5)),
    ] {
        let mut li = item(id);
        li.tier = tier;
        li.cpm = cpm;
        items.push(li);
    }
    let ix = index(items);
    let store = MemoryStore::default();
    let all = ix.decide(&slot(), NOW, &store, &mut rng(), 10);
    let got: Vec<(&str, Tier, i64)> = all
        .iter()
        .map(|c| (c.line_item.id.as_str(), c.tier, c.price.0))
        .collect();
    assert_eq!(
        got,
        [
            ("sponsor-dear", Tier::Sponsorship, 30_000_000),
            ("sponsor-cheap", Tier::Sponsorship, 1_000_000),
            ("std-8", Tier::Standard, 8_000_000),
            ("std-5-a", Tier::Standard, 5_000_000),
            ("std-5-b", Tier::Standard, 5_000_000),
            ("house-paid", Tier::House, 500_000),
            ("house", Tier::House, 0),
        ]
    );
    assert_eq!(
        decide_ids(&ix, &slot(), NOW, &store, 3),
        ["sponsor-dear", "sponsor-cheap", "std-8"]
    );
    assert!(ix.decide(&slot(), NOW, &store, &mut rng(), 0).is_empty());
}

#[test]
fn one_ad_per_advertiser_domain() {
    let mut a = item("a");
    a.cpm = Some(9.0);
    let mut b = item("b");
    b.advertiser.domain = "A.example".into();
    let c = item("c");
    let ix = index(vec![a, b, c]);
    let store = MemoryStore::default();
    assert_eq!(decide_ids(&ix, &slot(), NOW, &store, 5), ["a", "c"]);
}

#[test]
fn floors_apply_to_standard_only() {
    let mut sponsor = item("sponsor");
    sponsor.tier = Tier::Sponsorship;
    sponsor.cpm = Some(1.0);
    let mut house = item("house");
    house.tier = Tier::House;
    house.cpm = None;
    let (cheap, dear) = (item("cheap"), {
        let mut li = item("dear");
        li.cpm = Some(6.0);
        li
    });
    let ix = index(vec![sponsor, house, cheap, dear]);
    let store = MemoryStore::default();
    let req = Request {
        floor: Micros(5_500_000),
        ..slot()
    };
    assert_eq!(
        decide_ids(&ix, &req, NOW, &store, 5),
        ["sponsor", "dear", "house"]
    );
}

#[test]
fn the_creative_fits_the_slot() {
    let mut li = item("a");
    li.creatives = vec![
        audio("a15", 15),
        audio("a30", 30),
        display("banner", 320, 50),
        Creative::Audio(AudioCreative {
            mime: "audio/aac".into(),
            ..match audio("aac20", 20) {
                Creative::Audio(a) => a,
                _ => unreachable!(),
            }
        }),
    ];
    let ix = index(vec![li]);
    let store = MemoryStore::default();
    let pick = |req: &Request, seed: u64| {
        let mut rng = fastrand::Rng::with_seed(seed);
        ix.decide(req, NOW, &store, &mut rng, 1)
            .first()
            .map(|c| c.creative.id().to_string())
    };
    let short = Request {
        min_duration_s: 10,
        max_duration_s: 15,
        ..slot()
    };
    assert_eq!(pick(&short, 1).as_deref(), Some("a15"));
    let mp3_only = ["audio/MPEG".to_string()];
    let long = Request {
        min_duration_s: 16,
        max_duration_s: 30,
        mimes: &mp3_only,
        ..slot()
    };
    assert_eq!(pick(&long, 1).as_deref(), Some("a30"));
    let none = Request {
        min_duration_s: 31,
        max_duration_s: 60,
        ..slot()
    };
    assert_eq!(pick(&none, 1), None);
    let sizes = [[300, 250], [320, 50]];
    let banner = Request {
        sizes: &sizes,
        ..Request::new("player-banner", AdFormat::Display)
    };
    assert_eq!(pick(&banner, 1).as_deref(), Some("banner"));
    let other_size = Request {
        sizes: &sizes[..1],
        ..banner
    };
    assert_eq!(pick(&other_size, 1), None);
    let video = Request::new("music-break", AdFormat::Video);
    assert_eq!(pick(&video, 1), None);
    // Several fit: each gets its turn.
    let seen: std::collections::BTreeSet<String> =
        (0..40).filter_map(|s| pick(&slot(), s)).collect();
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["a15", "a30", "aac20"]
    );
}

#[test]
fn even_pacing_without_goals_serves_every_time() {
    let mut li = item("a");
    li.pacing = Pacing::Even;
    let ix = index(vec![li]);
    let store = MemoryStore::default();
    for n in 0..50 {
        assert_eq!(decide_ids(&ix, &slot(), NOW + n, &store, 1), ["a"]);
        ix.record_impression(&store, "a", None, Micros(5_000_000), NOW + n);
    }
}

#[test]
fn record_impression_knows_its_line_items() {
    let ix = index(vec![item("a")]);
    let store = MemoryStore::default();
    assert!(ix.record_impression(&store, "a", Some("u"), Micros(5_000_000), NOW));
    assert!(!ix.record_impression(&store, "gone", Some("u"), Micros(7_000_000), NOW));
    let spent = store.delivered("gone", None);
    assert_eq!((spent.impressions, spent.spend), (1, Micros(7_000)));
    assert_eq!(ix.line_item("a").map(|l| l.id.as_str()), Some("a"));
    assert_eq!(
        ix.campaign("camp").map(|c| c.name.as_str()),
        Some("A campaign")
    );
    assert_eq!(ix.len(), 1);
}

#[test]
fn competitive_exclusions() {
    let mut car = item("car");
    car.categories = vec!["IAB2-3".into()];
    let mut rival = item("rival");
    rival.categories = vec!["IAB2".into()];
    rival.exclusions = vec!["IAB2".into()];
    let mut food = item("food");
    food.categories = vec!["IAB8-5".into()];
    food.exclusions = vec!["IAB2-1".into(), "IAB20".into()];
    assert!(rival.excludes("IAB2-3") && rival.excludes("IAB2") && !rival.excludes("IAB22"));
    assert!(car.conflicts_with(&rival) && rival.conflicts_with(&car));
    assert!(!car.conflicts_with(&food) && !food.conflicts_with(&rival));
    assert!(food.excludes("IAB2-1") && !food.excludes("IAB2") && !food.excludes("IAB2-10"));
}
