use super::*;

#[test]
fn the_model_learns_latency_on_time_and_value_and_forgets_old_windows() {
    let t0 = Instant::now();
    let m = PartnerModel::new("model-test");
    let ms = Duration::from_millis;
    for i in 0..100u64 {
        let now = t0 + ms(i);
        m.call(now, 30, Some(ms(10 + i % 50)), true, true);
        m.answer(now, 30, if i % 4 == 0 { 200_000 } else { 0 }, None);
    }
    // Ten calls cut off at their whole budget: on time 100 of 110.
    for _ in 0..10 {
        m.call(t0 + ms(150), 30, None, false, true);
    }
    m.refresh();
    let s = m.snapshot();
    assert_eq!(s.samples, 110);
    assert!((s.on_time.unwrap() - 100.0 / 110.0).abs() < 1e-9);
    assert_eq!(s.win_share, Some(0.25));
    assert!((s.value_micros - 50_000.0).abs() < 1e-6);
    let p50 = s.quantile_ms(0.5);
    assert!((30.0..=40.0).contains(&p50), "{p50}");
    assert!(
        s.quantile_ms(0.95).is_infinite(),
        "the cut-off calls are the slowest"
    );
    let v = m.view();
    assert_eq!(v.latency_p99_ms, None, "beyond every wait shows as null");
    assert_eq!(v.value_per_answer, 0.05);
    // One window later the old one is still remembered; two later it is forgotten.
    m.call(t0 + Duration::from_secs(31), 30, Some(ms(5)), true, false);
    m.refresh();
    assert_eq!(m.snapshot().samples, 111);
    m.call(t0 + Duration::from_secs(61), 30, Some(ms(5)), true, false);
    m.refresh();
    let s = m.snapshot();
    assert_eq!((s.samples, s.on_time, s.win_share), (2, None, None));
}

#[test]
fn shadow_slots_are_bounded_and_given_back() {
    let r = ShadowReport::new("shadow-test");
    let a = r.slot(2).unwrap();
    let _b = r.slot(2).unwrap();
    assert!(r.slot(2).is_none());
    drop(a);
    assert!(r.slot(2).is_some());
    r.record(ShadowResult {
        bid: true,
        would_win: true,
        delta_micros: 1_500_000,
        ..ShadowResult::default()
    });
    r.record(ShadowResult::default());
    let v = r.view();
    assert_eq!((v.calls, v.would_have_won), (2, 1));
    assert_eq!((v.bid_rate, v.revenue_delta), (Some(0.5), 1.5));
}
