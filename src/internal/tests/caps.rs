//! Frequency caps with explicit time: no sleeping, windows roll over by moving `now`.

use super::*;

const HOUR: u64 = 3_600;

fn capped(caps: &[(u32, u64)]) -> Index {
    let mut li = item("a");
    li.frequency_caps = caps
        .iter()
        .map(|&(max, period_s)| FrequencyCap { max, period_s })
        .collect();
    index(vec![li, item("free")])
}

fn for_user(user: &'static str) -> Request<'static> {
    Request {
        user_key: Some(user),
        ..slot()
    }
}

/// Whether `a` is offered to `user` at `now`.
fn offered(ix: &Index, store: &MemoryStore, user: &'static str, now: u64) -> bool {
    decide_ids(ix, &for_user(user), now, store, 5).contains(&"a".to_string())
}

fn play(ix: &Index, store: &MemoryStore, user: &'static str, now: u64) {
    ix.record_impression(store, "a", Some(user), Micros(5_000_000), now);
}

#[test]
fn a_cap_counts_impressions_per_listener_and_window() {
    let ix = capped(&[(2, HOUR)]);
    let store = MemoryStore::default();
    let hour = NOW - NOW % HOUR;
    assert!(offered(&ix, &store, "u1", hour));
    play(&ix, &store, "u1", hour);
    assert!(offered(&ix, &store, "u1", hour + 10));
    play(&ix, &store, "u1", hour + 10);
    assert!(!offered(&ix, &store, "u1", hour + 20));
    assert!(!offered(&ix, &store, "u1", hour + HOUR - 1));
    // Another listener has their own count; the uncapped line item still serves.
    assert!(offered(&ix, &store, "u2", hour + 20));
    assert_eq!(
        decide_ids(&ix, &for_user("u1"), hour + 20, &store, 5),
        ["free"]
    );
    // The next window starts from zero.
    assert!(offered(&ix, &store, "u1", hour + HOUR));
    assert_eq!(store.count("a", "u1", HOUR, hour + HOUR - 1), 2);
    assert_eq!(store.count("a", "u1", HOUR, hour + HOUR), 0);
}

#[test]
fn every_cap_must_have_room() {
    let ix = capped(&[(2, HOUR), (3, DAY)]);
    let store = MemoryStore::default();
    let day = NOW - NOW % DAY;
    play(&ix, &store, "u", day + 10);
    play(&ix, &store, "u", day + 20);
    assert!(!offered(&ix, &store, "u", day + 30), "hourly cap");
    assert!(offered(&ix, &store, "u", day + HOUR), "a new hour");
    play(&ix, &store, "u", day + HOUR);
    assert!(
        !offered(&ix, &store, "u", day + 2 * HOUR),
        "daily cap, hourly has room"
    );
    assert_eq!(store.count("a", "u", HOUR, day + 2 * HOUR), 0);
    assert_eq!(store.count("a", "u", DAY, day + 2 * HOUR), 3);
    assert!(offered(&ix, &store, "u", day + DAY), "a new day");
}

#[test]
fn caps_count_impressions_not_decisions() {
    let ix = capped(&[(1, DAY)]);
    let store = MemoryStore::default();
    for n in 0..10 {
        assert!(offered(&ix, &store, "u", NOW + n));
    }
    play(&ix, &store, "u", NOW + 10);
    assert!(!offered(&ix, &store, "u", NOW + 11));
}

#[test]
fn without_a_user_key_capped_line_items_do_not_serve() {
    let ix = capped(&[(5, DAY)]);
    let store = MemoryStore::default();
    assert_eq!(decide_ids(&ix, &slot(), NOW, &store, 5), ["free"]);
    // An impression without a user key still counts towards delivery.
    ix.record_impression(&store, "a", None, Micros(5_000_000), NOW);
    assert_eq!(store.delivered("a", None).impressions, 1);
}

#[test]
fn two_caps_of_one_period_share_a_counter() {
    let ix = capped(&[(3, HOUR), (1, HOUR)]);
    let store = MemoryStore::default();
    play(&ix, &store, "u", NOW);
    assert_eq!(store.count("a", "u", HOUR, NOW), 1);
    assert!(!offered(&ix, &store, "u", NOW + 1));
}

#[test]
fn spend_is_the_sum_of_cpm_over_a_thousand() {
    let store = MemoryStore::default();
    for _ in 0..3 {
        store.record_impression("x", None, &[], Micros(1_234_567), NOW);
    }
    let d = store.delivered("x", None);
    assert_eq!(d.impressions, 3);
    assert_eq!(d.spend, Micros(3_703)); // 3 × 1.234567 / 1000, rounded down once
    assert_eq!(store.delivered("x", Some(NOW / DAY)), d);
    assert_eq!(store.delivered("y", None), Delivered::default());
}

#[test]
fn old_days_are_forgotten_but_totals_are_not() {
    let store = MemoryStore::default();
    for d in 0..10 {
        store.record_impression("x", None, &[], Micros(1_000_000), NOW + d * DAY);
    }
    assert_eq!(store.delivered("x", None).impressions, 10);
    assert_eq!(store.delivered("x", Some(NOW / DAY + 9)).impressions, 1);
    assert_eq!(store.delivered("x", Some(NOW / DAY + 7)).impressions, 1);
    assert_eq!(store.delivered("x", Some(NOW / DAY)).impressions, 0);
}
