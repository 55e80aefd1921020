//! Two small hand-written SVG plots (no plotting dependency for two charts).

use crate::report::Run;
use std::fmt::Write;

const W: f64 = 640.0;
const H: f64 = 360.0;
const PAD: f64 = 50.0;

/// p50, p99 and p99.9 latency against offered rate, bidgate and baseline, log-scaled ms.
pub fn latency_vs_rate(bidgate: &[Run], baseline: &[Run], tmax_ms: u64) -> String {
    let all: Vec<&Run> = bidgate.iter().chain(baseline).collect();
    let max_rate = all.iter().map(|r| r.rate).fold(1.0, f64::max);
    let max_ms = all
        .iter()
        .map(|r| r.stats.p999_ms)
        .fold(tmax_ms as f64 * 2.0, f64::max);
    let x = |rate: f64| PAD + (W - 2.0 * PAD) * rate / max_rate;
    let y = |ms: f64| H - PAD - (H - 2.0 * PAD) * (ms.max(1.0).ln() / max_ms.ln());
    let mut s = frame("latency vs offered rate (log ms)", "offered rps", max_rate);
    let _ = write!(
        s,
        "<line x1=\"{PAD}\" x2=\"{}\" y1=\"{y0}\" y2=\"{y0}\" stroke=\"red\" stroke-dasharray=\"4\"/>\
<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"red\">tmax {tmax_ms} ms</text>",
        W - PAD,
        W - PAD - 70.0,
        y(tmax_ms as f64) - 4.0,
        y0 = y(tmax_ms as f64)
    );
    for ms in [1.0, 10.0, 100.0, 1000.0] {
        if ms <= max_ms {
            let _ = write!(
                s,
                "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{ms}</text>",
                PAD - 4.0,
                y(ms) + 3.0
            );
        }
    }
    let series = [
        ("bidgate p50", bidgate, "#1f77b4", "", 0),
        ("bidgate p99", bidgate, "#1f77b4", "6 3", 1),
        ("bidgate p99.9", bidgate, "#1f77b4", "2 2", 2),
        ("baseline p50", baseline, "#ff7f0e", "", 0),
        ("baseline p99", baseline, "#ff7f0e", "6 3", 1),
        ("baseline p99.9", baseline, "#ff7f0e", "2 2", 2),
    ];
    for (i, (name, runs, color, dash, q)) in series.iter().enumerate() {
        let mut pts: Vec<(f64, f64)> = runs
            .iter()
            .map(|r| {
                (
                    r.rate,
                    [r.stats.p50_ms, r.stats.p99_ms, r.stats.p999_ms][*q],
                )
            })
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let path: Vec<String> = pts
            .iter()
            .map(|(r, ms)| format!("{:.1},{:.1}", x(*r), y(*ms)))
            .collect();
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-dasharray=\"{dash}\" stroke-width=\"2\" points=\"{}\"/>",
            path.join(" ")
        );
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"{color}\">{name}</text>",
            PAD + 10.0,
            PAD + 14.0 * i as f64
        );
    }
    s + "</svg>\n"
}

/// Achieved against offered rate for bidgate and the baseline (the saturation probes).
pub fn throughput(bidgate: &[Run], baseline: &[Run]) -> String {
    let all: Vec<&Run> = bidgate.iter().chain(baseline).collect();
    let max_rate = all.iter().map(|r| r.rate).fold(1.0, f64::max);
    let x = |rate: f64| PAD + (W - 2.0 * PAD) * rate / max_rate;
    let y = |rps: f64| H - PAD - (H - 2.0 * PAD) * rps / max_rate;
    let mut s = frame(
        "good answers per second vs offered rate",
        "offered rps",
        max_rate,
    );
    let _ = write!(
        s,
        "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\" stroke-dasharray=\"3\"/>",
        x(0.0),
        y(0.0),
        x(max_rate),
        y(max_rate)
    );
    for (i, (name, runs, color)) in [
        ("bidgate", bidgate, "#1f77b4"),
        ("baseline", baseline, "#ff7f0e"),
    ]
    .iter()
    .enumerate()
    {
        let mut pts: Vec<(f64, f64)> = runs
            .iter()
            .map(|r| (r.rate, r.stats.achieved_rps))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (r, a) in &pts {
            let _ = write!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"/>",
                x(*r),
                y(*a)
            );
        }
        let path: Vec<String> = pts
            .iter()
            .map(|(r, a)| format!("{:.1},{:.1}", x(*r), y(*a)))
            .collect();
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
            path.join(" ")
        );
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"{color}\">{name}</text>",
            PAD + 10.0,
            PAD + 14.0 * i as f64
        );
    }
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{max_rate:.0}</text>",
        PAD - 4.0,
        y(max_rate) + 3.0
    );
    s + "</svg>\n"
}

fn frame(title: &str, xlabel: &str, max_x: f64) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" font-family=\"sans-serif\">\
<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
<text x=\"{}\" y=\"20\" font-size=\"14\" text-anchor=\"middle\">{title}</text>\
<line x1=\"{PAD}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"black\"/>\
<line x1=\"{PAD}\" y1=\"{PAD}\" x2=\"{PAD}\" y2=\"{b}\" stroke=\"black\"/>\
<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{xlabel}</text>\
<text x=\"{PAD}\" y=\"{}\" font-size=\"10\">0</text><text x=\"{r}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{max_x:.0}</text>",
        W / 2.0,
        W / 2.0,
        H - 12.0,
        H - PAD + 14.0,
        H - PAD + 14.0,
        b = H - PAD,
        r = W - PAD,
    )
}
