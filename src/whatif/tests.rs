//! Replay on hand-made records: deadlines, timeouts, floors, pricing, censoring, and a log
//! with garbage in it.

use super::*;
use crate::events::record::{AuctionRecord, WinRecord};
use crate::events::replay::{AnswerRecord, BidRecord, ImpRecord};

fn bid(imp: &str, id: &str, micros: i64) -> BidRecord {
    BidRecord {
        imp: imp.into(),
        bid_id: id.into(),
        price_micros: Some(micros),
        currency: "USD".into(),
        offer_micros: Some(micros),
        offer_currency: None,
        rank: 1,
        fixed: false,
        slot: 0,
        deal: None,
        deal_floor_micros: None,
        dur_s: None,
        adomain: None,
        cat: Vec::new(),
        attr: Vec::new(),
        adm: true,
        nurl: false,
        refused: None,
    }
}

fn answer(partner: &str, outcome: &str, at_ms: u64, bids: Vec<BidRecord>) -> AnswerRecord {
    AnswerRecord {
        partner: partner.into(),
        outcome: outcome.into(),
        ms: at_ms - 2,
        at_ms,
        timeout_ms: 500,
        bids,
    }
}

/// tmax 200, reserve 10, second price (+0.01), one imp with a 0.50 floor. The fan-out
/// started 2 ms after arrival; `fast` bid 1.00 at 20 ms, `slow` bid 3.00 at 150 ms.
fn two_partners() -> ReplayRecord {
    ReplayRecord {
        tmax_ms: 200,
        reserve_ms: 10,
        buffer_ms: 5,
        currency: "USD".into(),
        at: 2,
        increment_micros: 10_000,
        billable: true,
        fanout_start_ms: 2,
        fanout_end_ms: 150,
        imps: vec![ImpRecord {
            id: "1".into(),
            floor_micros: 500_000,
            pod: None,
        }],
        answers: vec![
            answer("fast", "bid", 20, vec![bid("1", "f", 1_000_000)]),
            answer("slow", "bid", 150, vec![bid("1", "s", 3_000_000)]),
        ],
        truncated: false,
    }
}

fn at_tmax(t: u64) -> Setting {
    Setting {
        tmax_ms: Some(t),
        ..Setting::default()
    }
}

#[test]
fn as_recorded_the_slow_partner_wins_at_the_runner_up_price() {
    let r = replay(&two_partners(), 153, &Setting::default());
    assert_eq!(r.wins, vec![(0, "slow".to_string(), Micros(1_010_000))]);
    assert_eq!(r.revenue, Micros(1_010_000));
    assert_eq!((r.imps, r.filled, r.cut, r.censored), (1, 1, 0, 0));
    // Fan-out close as recorded, plus the 3 ms after it.
    assert_eq!(r.latency_ms, 153);
}

#[test]
fn a_shorter_tmax_cuts_the_slow_partner_and_answers_sooner() {
    // Fan-out closes at 150 - 10 = 140 ms: the slow bid (150 ms) is cut.
    let r = replay(&two_partners(), 153, &at_tmax(150));
    assert_eq!(r.wins, vec![(0, "fast".to_string(), Micros(510_000))]);
    assert_eq!(r.cut, 1);
    assert_eq!(
        r.latency_ms, 143,
        "waits until the close, then the same 3 ms"
    );
    // An answer at exactly the close is too late, one ms earlier is in time.
    assert_eq!(replay(&two_partners(), 153, &at_tmax(160)).cut, 1);
    assert_eq!(replay(&two_partners(), 153, &at_tmax(161)).cut, 0);
}

#[test]
fn a_partner_timeout_drops_its_bids_whatever_the_tmax() {
    let s = Setting {
        timeouts: [("slow".to_string(), 100)].into(),
        ..Setting::default()
    };
    let r = replay(&two_partners(), 153, &s);
    assert_eq!(r.wins[0].1, "fast");
    // Its own timeout: waited from the send (2 ms) for 100 ms.
    assert_eq!(r.latency_ms, 102 + 3);
}

#[test]
fn a_floor_above_every_bid_fills_nothing() {
    let s = Setting {
        floor: Some(Micros(5_000_000)),
        ..Setting::default()
    };
    let r = replay(&two_partners(), 153, &s);
    assert_eq!((r.filled, r.revenue), (0, Micros::ZERO));
    // A floor between the bids raises the clearing price to it (+ increment).
    let s = Setting {
        floor: Some(Micros(2_000_000)),
        ..Setting::default()
    };
    assert_eq!(replay(&two_partners(), 153, &s).revenue, Micros(2_010_000));
}

#[test]
fn first_price_pays_the_bid() {
    let s = Setting {
        pricing: Some(Pricing::First),
        ..Setting::default()
    };
    assert_eq!(replay(&two_partners(), 153, &s).revenue, Micros(3_000_000));
}

#[test]
fn a_timed_out_partner_is_censored_when_waited_for_longer() {
    let mut r = two_partners();
    r.answers.push(answer("hang", "late", 190, Vec::new()));
    r.fanout_end_ms = 190;
    // Recorded: gave up at the close (190 ms); at the recorded tmax nothing is unknown.
    assert_eq!(replay(&r, 193, &Setting::default()).censored, 0);
    let longer = replay(&r, 193, &at_tmax(300));
    assert_eq!(longer.censored, 1);
    assert_eq!(
        longer.latency_ms,
        290 + 3,
        "assumed to be waited for to the end"
    );
    assert_eq!(replay(&r, 193, &at_tmax(100)).censored, 0);
}

#[test]
fn refused_bids_and_test_auctions_earn_nothing() {
    let mut r = two_partners();
    r.answers[1].bids[0].refused = Some(310);
    let out = replay(&r, 153, &Setting::default());
    assert_eq!(out.wins[0].1, "fast");
    r.billable = false;
    let out = replay(&r, 153, &Setting::default());
    assert_eq!((out.filled, out.revenue), (1, Micros::ZERO));
}

#[test]
fn partners_without_time_are_not_called() {
    // tmax 16: 16 - 2 (start) - 5 - 10 < 1 ms for anyone.
    let r = replay(&two_partners(), 153, &at_tmax(16));
    assert_eq!((r.filled, r.cut), (0, 2));
    assert_eq!(r.latency_ms, 2 + 3);
}

fn auction_record(r: ReplayRecord, wins: Vec<WinRecord>) -> AuctionRecord {
    AuctionRecord {
        ts_ms: 1,
        auction_id: "a".into(),
        endpoint: "openrtb2".into(),
        app_bundle: None,
        duration_ms: 153,
        partners: Vec::new(),
        wins,
        replay: Some(r),
    }
}

fn win(partner: &str, micros: i64) -> WinRecord {
    WinRecord {
        imp: "1".into(),
        partner: partner.into(),
        bid_id: "s".into(),
        price_micros: micros,
        currency: "USD".into(),
        adomain: None,
        dur_s: None,
    }
}

#[test]
fn actual_is_read_from_the_wins() {
    let a = auction_record(two_partners(), vec![win("slow", 1_010_000)]);
    let act = actual(&a);
    assert_eq!(
        (act.revenue, act.filled, act.latency_ms),
        (Micros(1_010_000), 1, 153)
    );
    assert_eq!(
        act,
        replay(a.replay.as_ref().unwrap(), 153, &Setting::default())
    );
}

#[test]
fn a_log_with_garbage_is_read_past_it() {
    let dir = std::env::temp_dir().join(format!("bidgate-whatif-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = serde_json::to_string(&crate::events::record::Record::Auction(auction_record(
        two_partners(),
        vec![win("slow", 1_010_000)],
    )))
    .unwrap();
    let mut text = Vec::new();
    text.extend_from_slice(good.as_bytes());
    text.extend_from_slice(b"\n{\"type\":\"auction\",\"ts_ms\":\n\xff\xfe not utf8\n\n");
    text.extend_from_slice(br#"{"type":"event","ts_ms":1,"kind":"click","result":"forged"}"#);
    text.extend_from_slice(b"\n");
    text.extend(std::iter::repeat_n(b'x', (4 << 20) + 10));
    text.extend_from_slice(b"\n[1,2]\n");
    text.extend_from_slice(good.as_bytes()); // no final newline: still a line
    std::fs::write(dir.join("events-2026-01-01T00.jsonl"), &text).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a log").unwrap();
    let mut seen = 0;
    let stats = scan(&dir, |_| seen += 1).unwrap();
    assert_eq!(seen, 2);
    assert_eq!((stats.files, stats.replayable, stats.events), (1, 2, 1));
    assert_eq!(stats.bad_lines, 4, "{:?}", stats.problems);
    assert!(stats.problems[0].contains("events-2026-01-01T00.jsonl:2"));
    assert!(stats.problems[2].contains("longer than"));
    assert!(scan(&dir.join("missing"), |_| {}).is_err());

    let o = Options {
        log: dir.clone(),
        tmax: vec![150, 200],
        timeouts: Vec::new(),
        pricing: None,
        floor: None,
        svg: Some(dir.join("plot.svg")),
    };
    let report = run(&o).unwrap();
    assert!(report.contains("4 bad line(s)"), "{report}");
    let row = |label: &str| {
        report
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} row: {report}"))
            .to_string()
    };
    assert!(row("actual").contains("2.02"), "{report}");
    assert!(row("replay as recorded").contains("+0.00%"), "{report}");
    assert!(row("tmax=150").contains("1.02"), "{report}");
    let svg = std::fs::read_to_string(dir.join("plot.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("polyline"), "{svg}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_options_are_refused_with_a_reason() {
    let o = |timeouts: &[&str], pricing: Option<&str>, floor: Option<f64>| Options {
        log: "/nonexistent".into(),
        tmax: Vec::new(),
        timeouts: timeouts.iter().map(|s| s.to_string()).collect(),
        pricing: pricing.map(String::from),
        floor,
        svg: None,
    };
    assert!(
        cli::settings(&o(&["slow"], None, None))
            .unwrap_err()
            .contains("partner=ms")
    );
    assert!(
        cli::settings(&o(&["slow=x"], None, None))
            .unwrap_err()
            .contains("not a number")
    );
    assert!(
        cli::settings(&o(&[], Some("third"), None))
            .unwrap_err()
            .contains("first or second")
    );
    assert!(
        cli::settings(&o(&[], None, Some(f64::NAN)))
            .unwrap_err()
            .contains("--floor")
    );
    assert!(
        run(&o(&[], None, None))
            .unwrap_err()
            .contains("/nonexistent")
    );
    let s = cli::settings(&o(&["slow=80"], Some("first"), Some(1.5))).unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!(s[1].label, "recorded tmax slow=80 first floor=1.500000");
}

#[test]
fn latency_quantiles_are_nearest_rank() {
    let mut s = Summary::new("x", None);
    for ms in 1..=100 {
        s.add(&Replayed {
            latency_ms: ms,
            ..Replayed::default()
        });
    }
    assert_eq!(
        (s.latency(0.5), s.latency(0.99), s.latency(1.0)),
        (50, 99, 100)
    );
    assert_eq!(Summary::new("empty", None).latency(0.5), 0);
}
