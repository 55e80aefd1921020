//! `Index::decide` against a synthetic catalog of 10 000 live line items.
//!
//! `cargo bench --bench internal_decide` (add `-- --quick` for a short run). Three requests:
//! a typical one (a popular placement in a big country, listener data known), one that
//! matches almost nothing (the walk visits every bucket entry), and one without a user key
//! (capped line items drop out).

use bidgate::ads::{ContentKind, DeviceType, Gender};
use bidgate::config::AdFormat;
use bidgate::internal::*;
use bidgate::money::Micros;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

const LINE_ITEMS: usize = 10_000;
/// 2026-11-26T12:00:00Z.
const NOW: u64 = 1_795_694_400;

const COUNTRIES: [&str; 12] = [
    "SWE", "NOR", "DNK", "FIN", "DEU", "FRA", "GBR", "USA", "ESP", "ITA", "NLD", "POL",
];
const GENRES: [&str; 6] = ["pop", "hip-hop", "rock", "jazz", "news", "comedy"];

fn catalog() -> Catalog {
    let mut r = fastrand::Rng::with_seed(1);
    let line_items = (0..LINE_ITEMS)
        .map(|n| {
            let id = format!("li-{n:05}");
            let mut creatives = vec![Creative::Audio(AudioCreative {
                id: "a30".into(),
                media_url: format!("https://cdn.example/{id}/a30.mp3"),
                duration_s: [15, 20, 30][r.usize(..3)],
                mime: "audio/mpeg".into(),
                companion: None,
                click_url: None,
            })];
            if r.u8(..10) < 3 {
                creatives.push(Creative::Display(DisplayCreative {
                    id: "banner".into(),
                    image_url: format!("https://cdn.example/{id}/b.png"),
                    w: 320,
                    h: 50,
                    click_url: None,
                }));
            }
            let pick = |r: &mut fastrand::Rng, list: &[&str], most: usize| {
                let k = r.usize(1..=most);
                (0..k)
                    .map(|_| list[r.usize(..list.len())].to_string())
                    .collect::<Vec<_>>()
            };
            let targeting = Targeting {
                placements: (r.u8(..10) < 7).then(|| {
                    let ids: Vec<String> = (0..12).map(|p| format!("placement-{p}")).collect();
                    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                    pick(&mut r, &ids, 2)
                }),
                countries: r.bool().then(|| pick(&mut r, &COUNTRIES, 4)),
                genres: (r.u8(..10) < 3).then(|| pick(&mut r, &GENRES, 2)),
                content: (r.u8(..10) < 4).then(|| vec![ContentKind::Music]),
                device_types: (r.u8(..10) < 2).then(|| vec![DeviceType::Phone]),
                genders: (r.u8(..20) == 0).then(|| vec![Gender::Female]),
                age: (r.u8(..10) < 2).then_some(AgeRange {
                    min: Some(18),
                    max: Some(44),
                }),
                ..Targeting::default()
            };
            let tier = match r.u8(..100) {
                0..2 => Tier::Sponsorship,
                2..90 => Tier::Standard,
                _ => Tier::House,
            };
            LineItem {
                campaign: "bench".into(),
                advertiser: Advertiser {
                    name: format!("Advertiser {}", n % 2_000),
                    domain: format!("adv{}.example", n % 2_000),
                },
                categories: vec![],
                exclusions: vec![],
                click_url: format!("https://adv{}.example/", n % 2_000),
                creatives,
                flight: Flight {
                    start: "2026-11-01T00:00:00Z".into(),
                    end: "2027-01-01T00:00:00Z".into(),
                },
                targeting,
                tier,
                cpm: Some(f64::from(r.u32(50..3_000)) / 100.0),
                goal: Goals {
                    total: None,
                    daily: r.bool().then_some(Goal {
                        impressions: Some(50_000),
                        spend: None,
                    }),
                },
                pacing: Pacing::Even,
                frequency_caps: if r.bool() {
                    vec![FrequencyCap {
                        max: 3,
                        period_s: 3_600,
                    }]
                } else {
                    vec![]
                },
                id,
            }
        })
        .collect();
    let file = CatalogFile {
        campaigns: vec![Campaign {
            id: "bench".into(),
            name: "Bench".into(),
        }],
        line_items,
    };
    Catalog::new(file).unwrap_or_else(|p| panic!("{:?}", &p[..p.len().min(3)]))
}

fn bench(c: &mut Criterion) {
    let ix = Index::build(catalog());
    let store = MemoryStore::default();
    // Some delivery history, so goals and pacing read real counters.
    for n in (0..LINE_ITEMS).step_by(3) {
        let id = format!("li-{n:05}");
        for _ in 0..5 {
            ix.record_impression(&store, &id, Some("listener-1"), Micros(5_000_000), NOW);
        }
    }
    let typical = Request {
        country: Some("SWE"),
        os: Some("ios"),
        device_type: Some(DeviceType::Phone),
        yob: Some(1994),
        gender: Some(Gender::Male),
        content: Some(ContentKind::Music),
        genre: Some("hip-hop"),
        language: Some("sv"),
        utc_offset_min: Some(60),
        user_key: Some("listener-1"),
        min_duration_s: 15,
        max_duration_s: 30,
        floor: Micros(1_000_000),
        ..Request::new("placement-0", AdFormat::Audio)
    };
    // Asks for a 5-second ad that no line item has: every entry of its buckets is visited.
    let nothing_fits = Request {
        min_duration_s: 5,
        max_duration_s: 5,
        ..typical
    };
    let anonymous = Request {
        user_key: None,
        yob: None,
        gender: None,
        ..typical
    };
    let mut rng = fastrand::Rng::with_seed(3);
    let mut group = c.benchmark_group("internal_decide_10k");
    for (name, req) in [
        ("typical", typical),
        ("nothing_fits", nothing_fits),
        ("anonymous", anonymous),
    ] {
        let found = ix.decide(&req, NOW, &store, &mut rng, 5).len();
        eprintln!("{name}: {found} of at most 5 candidates");
        group.bench_function(name, |b| {
            b.iter(|| black_box(ix.decide(black_box(&req), NOW, &store, &mut rng, 5)).len())
        });
    }
    group.finish();
    c.bench_function("internal_index_build_10k", |b| {
        b.iter_batched(catalog, Index::build, criterion::BatchSize::LargeInput)
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
