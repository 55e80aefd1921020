//! Pacing by simulation: days of synthetic traffic with a daily listening curve, a goal
//! well below what the traffic offers, and an auction the line item wins 80% of the time.
//! Seeded: the same run every time.

use super::*;
use std::f64::consts::TAU;

const HOUR: u64 = 3_600;

/// Requests in one minute of a UTC day: a listening curve peaking at 16:00 UTC (evening in
/// Europe), lowest at 04:00 at a quarter of the mean.
fn traffic(minute_of_day: u64, mean: f64) -> u64 {
    let h = minute_of_day as f64 / 60.0;
    (mean * (1.0 + 0.75 * ((h - 16.0) / 24.0 * TAU).cos())).round() as u64
}

/// Runs `days` of traffic from `start`; returns the impressions delivered by the end of each
/// hour, cumulative, and the requests seen.
fn simulate(ix: &Index, start: u64, days: u64, mean_per_min: f64) -> (Vec<u64>, u64) {
    let store = MemoryStore::default();
    let mut rng = fastrand::Rng::with_seed(2026);
    let (mut delivered, mut requests, mut by_hour) = (0, 0, Vec::new());
    for minute in 0..days * 1440 {
        let n = traffic(minute % 1440, mean_per_min);
        for k in 0..n {
            let now = start + minute * 60 + k * 60 / n;
            requests += 1;
            let Some(c) = ix.decide(&slot(), now, &store, &mut rng, 1).pop() else {
                continue;
            };
            if rng.f64() < 0.8 {
                ix.record_impression(&store, &c.line_item.id, None, c.price, now);
                delivered += 1;
            }
        }
        if minute % 60 == 59 {
            by_hour.push(delivered);
        }
    }
    (by_hour, requests)
}

fn paced(flight_days: u64, total: Option<u64>, daily: Option<u64>, pacing: Pacing) -> Index {
    let start = NOW - NOW % DAY;
    let mut li = item("paced");
    li.flight = Flight {
        start: "2026-11-26T00:00:00Z".into(),
        end: format!("2026-11-{:02}T00:00:00Z", 26 + flight_days),
    };
    assert_eq!(parse_rfc3339(&li.flight.start), Some(start));
    li.pacing = pacing;
    li.goal.total = total.map(|n| Goal {
        impressions: Some(n),
        spend: None,
    });
    li.goal.daily = daily.map(|n| Goal {
        impressions: Some(n),
        spend: None,
    });
    index(vec![li])
}

fn share(delivered: u64, goal: u64) -> f64 {
    delivered as f64 / goal as f64
}

#[test]
fn even_pacing_spreads_a_daily_goal_over_the_day() {
    let goal = 5_000;
    let ix = paced(3, None, Some(goal), Pacing::Even);
    let (by_hour, requests) = simulate(&ix, NOW - NOW % DAY, 1, 20.0);
    assert!(
        requests > 5 * goal,
        "the goal is well below the traffic: {requests}"
    );
    let at = |hour: usize| share(by_hour[hour - 1], goal);
    let end = at(24);
    assert!(
        (0.97..=1.0).contains(&end),
        "delivered {end:.3} of the goal"
    );
    // On the line through the day: never far ahead of it, not used up early.
    for hour in [6, 12, 18, 21, 23] {
        let line = hour as f64 / 24.0;
        assert!(
            at(hour) <= line + 0.011,
            "{hour}:00 {:.3} vs {line:.3}",
            at(hour)
        );
        assert!(
            at(hour) >= line - 0.06,
            "{hour}:00 {:.3} vs {line:.3}",
            at(hour)
        );
    }
    assert!(at(23) < 0.97, "the goal lasts into the last hour");
}

#[test]
fn even_pacing_spreads_a_total_goal_over_a_multi_day_flight() {
    let goal = 12_000;
    let ix = paced(3, Some(goal), None, Pacing::Even);
    let (by_hour, requests) = simulate(&ix, NOW - NOW % DAY, 3, 20.0);
    assert!(requests > 5 * goal);
    let at = |hour: usize| share(by_hour[hour - 1], goal);
    let end = at(72);
    assert!(
        (0.97..=1.0).contains(&end),
        "delivered {end:.3} of the goal"
    );
    for day in 1..3 {
        let line = day as f64 / 3.0;
        assert!(
            (line - 0.03..=line + 0.011).contains(&at(24 * day)),
            "day {day}"
        );
    }
    assert!(
        at(68) < 0.96,
        "not used up before the last hours: {:.3}",
        at(68)
    );
}

#[test]
fn asap_uses_the_goal_up_early() {
    let goal = 5_000;
    let ix = paced(3, None, Some(goal), Pacing::Asap);
    let (by_hour, _) = simulate(&ix, NOW - NOW % DAY, 1, 20.0);
    let done = by_hour.iter().position(|&d| d >= goal).expect("reached");
    assert!(done < 16, "asap reached the goal by {done}:59");
    assert_eq!(by_hour[23], goal);
}

#[test]
fn the_serve_probability_falls_ahead_of_the_line() {
    use super::super::pacing::{Limit, serve_probability};
    use super::super::validate::Terms;
    let terms = Terms {
        start: 0,
        end: 100 * HOUR,
        price: Micros(5_000_000),
        total: Limit {
            impressions: Some(10_000),
            spend: None,
        },
        daily: Limit::default(),
    };
    let p = |now: u64, n: u64| {
        let d = Delivered {
            impressions: n,
            spend: Micros::ZERO,
        };
        serve_probability(&terms, Pacing::Even, now, d, Delivered::default())
    };
    // Halfway: the line is at 5 000, slack is 100.
    assert_eq!(p(50 * HOUR, 4_000), 1.0);
    assert_eq!(p(50 * HOUR, 5_000), 1.0);
    assert!((p(50 * HOUR, 5_050) - 0.5).abs() < 1e-9);
    assert_eq!(p(50 * HOUR, 5_100), 0.0);
    assert_eq!(p(100 * HOUR - 1, 9_999), 1.0);
    assert_eq!(p(100 * HOUR - 1, 10_000), 0.0);
    let d = Delivered {
        impressions: 9_000,
        spend: Micros::ZERO,
    };
    assert_eq!(
        serve_probability(&terms, Pacing::Asap, HOUR, d, Delivered::default()),
        1.0
    );
}
