//! The index against a plain scan, and the demo catalog end to end.

use super::*;
use crate::vocab::ContentKind;

/// The index gives what a plain scan of every line item gives, for random catalogs.
#[test]
fn the_index_agrees_with_a_scan() {
    let mut r = fastrand::Rng::with_seed(42);
    let placements = ["music-break", "podcast-preroll", "player-banner"];
    let countries = ["SWE", "NOR", "DNK", "FIN"];
    let mut items = Vec::new();
    for n in 0..300 {
        let mut li = item(&format!("li-{n:03}"));
        li.advertiser.domain = format!("adv{}.example", r.usize(..40));
        li.tier = [Tier::Sponsorship, Tier::Standard, Tier::House][r.usize(..3)];
        li.cpm = Some(r.u32(1..20) as f64 / 2.0);
        if r.bool() {
            li.creatives = vec![display("b", 320, 50)];
        }
        if r.u8(..3) > 0 {
            let k = r.usize(1..3);
            li.targeting.placements = Some(
                (0..k)
                    .map(|_| placements[r.usize(..3)].to_string())
                    .collect(),
            );
        }
        if r.bool() {
            let k = r.usize(1..3);
            li.targeting.countries = Some(
                (0..k)
                    .map(|_| countries[r.usize(..4)].to_string())
                    .collect(),
            );
        }
        if r.u8(..4) == 0 {
            li.targeting.content = Some(vec![ContentKind::Music]);
        }
        items.push(li);
    }
    let ix = index(items.clone());
    let store = MemoryStore::default();
    let sizes = [[320, 50]];
    for placement in placements {
        for format in [AdFormat::Audio, AdFormat::Display] {
            for country in [None, Some("SWE"), Some("FIN")] {
                let req = Request {
                    country,
                    sizes: &sizes,
                    content: Some(ContentKind::Podcast),
                    ..Request::new(placement, format)
                };
                let mut scan: Vec<&LineItem> = items
                    .iter()
                    .filter(|li| {
                        let t = &li.targeting;
                        t.placements
                            .as_ref()
                            .is_none_or(|p| p.iter().any(|p| p == placement))
                            && t.countries
                                .as_ref()
                                .is_none_or(|cs| country.is_some_and(|c| cs.iter().any(|x| x == c)))
                            && t.content.is_none()
                            && li.creatives.iter().any(|c| c.format() == format)
                    })
                    .collect();
                scan.sort_by_key(|li| (li.tier, -(li.cpm.unwrap() * 2.0) as i64, li.id.clone()));
                let mut domains = Vec::new();
                scan.retain(|li| {
                    let fresh = !domains.contains(&li.advertiser.domain);
                    domains.push(li.advertiser.domain.clone());
                    fresh
                });
                let want: Vec<String> = scan.iter().take(7).map(|li| li.id.clone()).collect();
                assert_eq!(decide_ids(&ix, &req, NOW, &store, 7), want, "{req:?}");
            }
        }
    }
}

#[test]
fn the_demo_catalog_puts_the_sponsor_first_for_swedish_hip_hop() {
    let c = Catalog::load_file(&project_file("fixtures/catalog/demo.toml")).unwrap();
    let ix = Index::build(c);
    let store = MemoryStore::default();
    let req = Request {
        country: Some("SWE"),
        content: Some(ContentKind::Music),
        genre: Some("hip-hop"),
        language: Some("sv"),
        user_key: Some("listener-7f3a"),
        utc_offset_min: Some(60),
        min_duration_s: 15,
        max_duration_s: 30,
        ..slot()
    };
    let now = parse_rfc3339("2026-12-03T17:00:00Z").unwrap();
    let got = ix.decide(&req, now, &store, &mut rng(), 3);
    assert!(got.len() >= 2, "{got:?}");
    assert_eq!(got[0].tier, Tier::Sponsorship);
    assert!(got[1..].iter().all(|c| c.tier != Tier::Sponsorship));
    let sizes = [[320, 50], [300, 250]];
    let banner = Request {
        sizes: &sizes,
        ..Request::new("player-banner", AdFormat::Display)
    };
    let got = ix.decide(&banner, now, &store, &mut rng(), 3);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].line_item.id, "house-premium-upsell");
}
