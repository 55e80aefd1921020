//! What `bidgate whatif` prints: per setting the auctions, revenue, fill rate and latency,
//! next to what actually happened, as a table and as an SVG plot against tmax.

use super::Replayed;
use crate::money::Micros;
use std::fmt::Write;

/// The replayed auctions of one setting, summed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub label: String,
    /// The setting's tmax, when it sets one (the plot's x axis).
    pub tmax_ms: Option<u64>,
    pub auctions: usize,
    pub revenue: Micros,
    pub imps: usize,
    pub filled: usize,
    pub censored: usize,
    pub cut: usize,
    latencies: Vec<u64>,
}

impl Summary {
    pub fn new(label: impl Into<String>, tmax_ms: Option<u64>) -> Self {
        Self {
            label: label.into(),
            tmax_ms,
            ..Self::default()
        }
    }

    pub fn add(&mut self, r: &Replayed) {
        self.auctions += 1;
        self.revenue = self.revenue.saturating_add(r.revenue);
        self.imps += r.imps;
        self.filled += r.filled;
        self.censored += r.censored;
        self.cut += r.cut;
        self.latencies.push(r.latency_ms);
    }

    /// Share of imps filled, 0.0..=1.0.
    pub fn fill(&self) -> f64 {
        if self.imps == 0 {
            return 0.0;
        }
        self.filled as f64 / self.imps as f64
    }

    /// The latency quantile `q` (nearest rank), in ms; 0 without auctions.
    pub fn latency(&self, q: f64) -> u64 {
        let mut l = self.latencies.clone();
        l.sort_unstable();
        match l.len() {
            0 => 0,
            n => l[((q * n as f64).ceil() as usize).clamp(1, n) - 1],
        }
    }
}

/// The table: `actual` first, every other row with its revenue against it.
pub fn table(actual: &Summary, rows: &[Summary], currency: &str) -> String {
    let width = rows
        .iter()
        .chain([actual])
        .map(|r| r.label.len())
        .max()
        .unwrap_or(0)
        .max(7);
    let mut s = format!(
        "{:<width$}  {:>8}  {:>16}  {:>8}  {:>6}  {:>7}  {:>7}  {:>6}  {:>8}\n",
        "setting",
        "auctions",
        format!("revenue {currency}"),
        "vs act.",
        "fill",
        "p50 ms",
        "p99 ms",
        "cut",
        "censored"
    );
    for (n, r) in [actual].into_iter().chain(rows).enumerate() {
        let delta = if n == 0 || actual.revenue.0 == 0 {
            "-".to_string()
        } else {
            let pct = (r.revenue.0 - actual.revenue.0) as f64 * 100.0 / actual.revenue.0 as f64;
            format!("{pct:+.2}%")
        };
        let _ = writeln!(
            s,
            "{:<width$}  {:>8}  {:>16}  {:>8}  {:>5.1}%  {:>7}  {:>7}  {:>6}  {:>8}",
            r.label,
            r.auctions,
            r.revenue.to_string(),
            delta,
            r.fill() * 100.0,
            r.latency(0.5),
            r.latency(0.99),
            r.cut,
            r.censored
        );
    }
    s
}

const W: f64 = 640.0;
const H: f64 = 360.0;
const PAD: f64 = 60.0;

/// Revenue (left axis, solid) and fill rate (right axis, dashed) against tmax for the rows
/// that set one, with the actual revenue as a red line; `None` when fewer than one such row.
pub fn svg(actual: &Summary, rows: &[Summary], currency: &str) -> Option<String> {
    // The currency comes from the log: whatever it says is text, never markup.
    let currency: String = currency
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    let mut pts: Vec<(u64, &Summary)> = rows
        .iter()
        .filter_map(|r| r.tmax_ms.map(|t| (t, r)))
        .collect();
    if pts.is_empty() {
        return None;
    }
    pts.sort_by_key(|(t, _)| *t);
    let max_t = pts.iter().map(|(t, _)| *t).max().unwrap_or(1).max(1) as f64;
    let max_rev = pts
        .iter()
        .map(|(_, r)| r.revenue.0)
        .chain([actual.revenue.0, 1])
        .max()
        .unwrap_or(1) as f64;
    let x = |t: u64| PAD + (W - 2.0 * PAD) * t as f64 / max_t;
    let y = |share: f64| H - PAD - (H - 2.0 * PAD) * share;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" font-family=\"sans-serif\">\
<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
<text x=\"{}\" y=\"20\" font-size=\"14\" text-anchor=\"middle\">what-if: revenue and fill vs tmax</text>\
<line x1=\"{PAD}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"black\"/>\
<line x1=\"{PAD}\" y1=\"{PAD}\" x2=\"{PAD}\" y2=\"{b}\" stroke=\"black\"/>\
<line x1=\"{r}\" y1=\"{PAD}\" x2=\"{r}\" y2=\"{b}\" stroke=\"black\"/>\
<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">tmax (ms)</text>\
<text x=\"{PAD}\" y=\"{}\" font-size=\"11\" fill=\"#1f77b4\">revenue {currency} (max {})</text>\
<text x=\"{r}\" y=\"{}\" font-size=\"11\" fill=\"#2ca02c\" text-anchor=\"end\">fill % (0–100)</text>",
        W / 2.0,
        W / 2.0,
        H - 15.0,
        PAD - 10.0,
        Micros(max_rev as i64),
        PAD - 10.0,
        b = H - PAD,
        r = W - PAD,
    );
    for (t, _) in &pts {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{t}</text>",
            x(*t),
            H - PAD + 14.0
        );
    }
    let ya = y(actual.revenue.0 as f64 / max_rev);
    let _ = write!(
        s,
        "<line x1=\"{PAD}\" x2=\"{}\" y1=\"{ya}\" y2=\"{ya}\" stroke=\"red\" stroke-dasharray=\"4\"/>\
<text x=\"{}\" y=\"{}\" font-size=\"10\" fill=\"red\">actual revenue</text>",
        W - PAD,
        PAD + 4.0,
        ya - 4.0
    );
    let line = |values: Vec<(u64, f64)>, color: &str, dash: &str| {
        let points: Vec<String> = values
            .iter()
            .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
            .collect();
        let dots: String = values
            .iter()
            .map(|(t, v)| {
                format!(
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"/>",
                    x(*t),
                    y(*v)
                )
            })
            .collect();
        format!(
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" stroke-dasharray=\"{dash}\" points=\"{}\"/>{dots}",
            points.join(" ")
        )
    };
    s.push_str(&line(
        pts.iter()
            .map(|(t, r)| (*t, r.revenue.0 as f64 / max_rev))
            .collect(),
        "#1f77b4",
        "",
    ));
    s.push_str(&line(
        pts.iter().map(|(t, r)| (*t, r.fill())).collect(),
        "#2ca02c",
        "6 3",
    ));
    s.push_str("</svg>\n");
    Some(s)
}
