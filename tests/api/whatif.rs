//! What-if replay over a real gateway's log: partners at different delays, `record_bids` on,
//! then `bidgate whatif` (the library, and once the binary) over what was recorded.

use crate::helpers::*;
use bidgate::money::Micros;
use bidgate::whatif::{Setting, Summary, actual, replay, scan};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const AUCTIONS: usize = 12;

/// Sums `actual` and the replay under `setting` over every auction in `dir`.
fn sums(dir: &Path, setting: &Setting) -> (Summary, Summary, Vec<String>) {
    let mut act = Summary::new("actual", None);
    let mut sim = Summary::new("replay", setting.tmax_ms);
    let mut winners = Vec::new();
    scan(dir, |a| {
        let r = a.replay.as_ref().expect("replayable");
        act.add(&actual(a));
        let out = replay(r, a.duration_ms, setting);
        winners.extend(out.wins.iter().map(|w| w.1.clone()));
        sim.add(&out);
    })
    .expect("log reads");
    (act, sim, winners)
}

#[tokio::test]
async fn whatif_replays_the_recorded_auctions_exactly_and_answers_what_if() {
    // `fast` answers at once with 1.00, `slow` after 80 ms with 3.00, `none` never bids.
    let fast = mock_partner(Reply::Bids(vec![("1", 1.0)]));
    let slow = mock_partner(Reply::Delayed(
        Duration::from_millis(80),
        Box::new(Reply::Bids(vec![("1", 3.0)])),
    ));
    let none = mock_partner(Reply::NoBid);
    let file = ConfigFile::new("whatif", "");
    let dir = file.0.parent().unwrap().join("events");
    let cfg = config(
        "pricing = \"second_price\"",
        &[
            ("fast", fast.endpoint(), 350),
            ("slow", slow.endpoint(), 350),
            ("none", none.endpoint(), 350),
        ],
    ) + &format!(
        "\n[event_log]\ndir = \"{}\"\nsample_auctions = 0.0\nrecord_bids = true\nrecord_bids_sample = 1.0\n",
        dir.display()
    );
    let app = spawn_app(&cfg).await;
    for n in 0..AUCTIONS {
        let mut req = request(400, &[("1", 0.5)]);
        req["id"] = format!("whatif-{n}").into();
        let status = app.auction(&req).await.status();
        assert_eq!(status, 200, "auction {n}");
    }
    // The writer thread writes on its own time: wait for every record.
    let log_dir = &dir;
    eventually("every auction recorded with its bids", || async move {
        let got = scan(log_dir, |_| {}).map_or(0, |s| s.replayable);
        (got == AUCTIONS).then_some(())
    })
    .await;

    // What a record holds: every answer with its time, every bid as ranked, no markup.
    let text: String = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(!text.contains("VAST"), "markup is never recorded");
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let answers = first["replay"]["answers"].as_array().unwrap();
    let of = |id: &str| answers.iter().find(|a| a["partner"] == id).unwrap().clone();
    assert_eq!(of("none")["outcome"], "nobid");
    let slow_answer = of("slow");
    assert!(
        slow_answer["at_ms"].as_u64().unwrap() >= 80,
        "{slow_answer}"
    );
    assert_eq!(slow_answer["bids"][0]["offer_micros"], 3_000_000);
    assert_eq!(slow_answer["bids"][0]["adm"], true);
    assert_eq!(first["replay"]["imps"][0]["floor_micros"], 500_000);

    // As recorded: the prediction is what happened, to the micro.
    let (act, sim, winners) = sums(&dir, &Setting::default());
    assert_eq!(act.auctions, AUCTIONS);
    assert!(act.revenue > Micros::ZERO);
    assert_eq!(sim.revenue, act.revenue, "replay as recorded");
    assert_eq!(sim.filled, act.filled);
    // Latency is modelled from the answer times: as recorded, it is what the client saw
    // (within a timer's lateness, were a partner cut off).
    assert!(sim.latency(0.5).abs_diff(act.latency(0.5)) <= 5);
    assert!(
        winners.iter().any(|w| w == "slow"),
        "the slow partner's 3.00 wins when waited for: {winners:?}"
    );

    // tmax 60: the fan-out closes at 55 ms, before `slow` (80 ms+) ever answers.
    let short = Setting {
        tmax_ms: Some(60),
        ..Setting::default()
    };
    let (_, sim, winners) = sums(&dir, &short);
    assert!(winners.iter().all(|w| w == "fast"), "{winners:?}");
    // (Not every auction: on a loaded machine even `fast` may answer after 55 ms.)
    assert!(sim.filled > 0, "fast still fills");
    assert!(sim.revenue < act.revenue);
    assert!(sim.latency(0.5) < act.latency(0.5));

    // A floor above every bid fills nothing.
    let floor = Setting {
        floor: Some(Micros(10_000_000)),
        ..Setting::default()
    };
    let (_, sim, _) = sums(&dir, &floor);
    assert_eq!((sim.filled, sim.revenue), (0, Micros::ZERO));

    // The binary, with a garbled line appended to the log: reported, skipped, same numbers.
    let log = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .expect("a log file");
    let mut text = std::fs::read(&log).unwrap();
    text.extend_from_slice(b"{\"type\": \"auction\", garbled\n");
    std::fs::write(&log, text).unwrap();
    let svg = dir.join("plot.svg");
    let out = Command::new(env!("CARGO_BIN_EXE_bidgate"))
        .args(["whatif", "--log"])
        .arg(&dir)
        .args(["--tmax", "60,400", "--svg"])
        .arg(&svg)
        .output()
        .expect("run bidgate whatif");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}"); // the report, for `--no-capture`
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("{AUCTIONS} auction(s) with bids")),
        "{stdout}"
    );
    assert!(stdout.contains("1 bad line(s)"), "{stdout}");
    let row = |label: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no `{label}` row in:\n{stdout}"))
            .to_string()
    };
    assert!(row("actual").contains(&act.revenue.to_string()), "{stdout}");
    assert!(row("replay as recorded").contains("+0.00%"), "{stdout}");
    assert!(row("tmax=400").contains("+0.00%"), "{stdout}");
    let lower = |w: &str| w.starts_with('-') && w.ends_with('%');
    assert!(row("tmax=60").split_whitespace().any(lower), "{stdout}");
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(
        plot.starts_with("<svg") && plot.contains("<polyline"),
        "{plot}"
    );
}
