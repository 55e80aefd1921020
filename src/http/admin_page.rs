//! `GET /admin`: the page an on-call engineer opens first. One table row per partner with
//! the last minute's figures, coloured where something needs a look. Self-contained (inline
//! CSS, no scripts, no external assets: it must work when everything else is on fire) and it
//! reloads itself every `REFRESH_S` seconds.

use super::status::{PartnerView, StatusView};
use crate::eventlog::kafka::Health;
use std::fmt::Write;

const REFRESH_S: u32 = 5;

/// Above these the cell is marked (`warn` class): a glance should find the bad partner.
const BAD_TIMEOUT_RATE: f64 = 0.05;
const BAD_ERROR_RATE: f64 = 0.01;

pub fn render(v: &StatusView) -> String {
    let mut html = String::with_capacity(4096 + 1024 * v.partners.len());
    let _ = write!(
        html,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{REFRESH_S}">
<title>bidgate status</title>
<style>
body{{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}}
table{{border-collapse:collapse}}th,td{{padding:.3em .7em;border-bottom:1px solid #ddd;text-align:right}}
th{{background:#f4f4f4}}td.id,th.id,td.ep{{text-align:left}}td.ep{{color:#666;font-size:12px}}
.warn{{background:#fde2e1;font-weight:600}}.ok{{color:#17663a}}.open{{color:#b00020;font-weight:700}}
.half_open{{color:#a15c00;font-weight:700}}small{{color:#666}}
</style></head><body>
<h1>bidgate</h1>
<p>{state} · store: {store} · in flight: {in_flight} of {max} · {n} partners · last minute, refreshes every {REFRESH_S} s · <a href="/admin/status">JSON</a></p>
<table>
<tr><th class="id">partner</th><th>circuit</th><th>req/s</th><th>bid rate</th><th>win rate</th><th>timeouts</th><th>late</th><th>errors</th><th>p50 ms</th><th>p99 ms</th><th>QPS headroom</th><th>skipped</th><th>timeout ms</th></tr>
"#,
        state = if v.draining {
            "<b class=\"open\">draining</b>"
        } else {
            "<span class=\"ok\">serving</span>"
        },
        store = match v.store.state {
            "degraded" => "<b class=\"open\">redis degraded (local fallbacks)</b>",
            "up" => "<span class=\"ok\">redis</span>",
            _ => "memory",
        },
        in_flight = v.in_flight,
        max = v.max_in_flight,
        n = v.partners.len(),
    );
    for p in &v.partners {
        row(&mut html, p);
    }
    html.push_str("</table>\n");
    if let Some(s) = &v.event_stream {
        stream(&mut html, s);
    }
    model_table(&mut html, v);
    html.push_str("<p><small>Rates are fractions of requests sent in the window; win rate is of bids received. Latency is the upper edge of its bucket; Prometheus (<code>/metrics</code>) has the exact histograms.</small></p>\n</body></html>\n");
    html
}

/// The Kafka event stream: marked when it is down, spilling, or has lost records.
fn stream(html: &mut String, s: &crate::eventlog::kafka::StreamStatus) {
    let health = match s.health {
        Health::Up => "<span class=\"ok\">up</span>",
        Health::Starting => "starting",
        Health::Down => "<b class=\"open\">down: spilling</b>",
    };
    let mark = |bad: bool| if bad { " class=\"warn\"" } else { "" };
    let _ = writeln!(
        html,
        r#"<p id="event-stream">event stream (Kafka {brokers}): {health} · queue {depth} · produced {produced} · spilled {spilled} · replayed {replayed} · <span{fm}>failures {failures}</span> · <span{sm}>spill {spill} bytes</span> · <span{lm}>lost {lost}</span>{error}</p>"#,
        brokers = escape(&s.brokers.join(",")),
        depth = s.queue_depth,
        produced = s.produced,
        spilled = s.spilled,
        replayed = s.replayed,
        failures = s.failures,
        fm = mark(s.health == Health::Down),
        spill = s.spill_bytes,
        sm = mark(s.spill_bytes > 0),
        lost = s.lost,
        lm = mark(s.lost > 0),
        error = s
            .last_error
            .as_deref()
            .filter(|_| s.health == Health::Down)
            .map(|e| format!(" · <small>{}</small>", escape(e)))
            .unwrap_or_default(),
    );
}

fn row(html: &mut String, p: &PartnerView) {
    let s = &p.last_minute;
    let id = escape(&p.id);
    let _ = writeln!(
        html,
        r#"<tr id="partner-{id}" data-partner="{id}"><td class="id"><b>{id}</b><br><span class="ep">{ep}</span></td><td class="{state}">{state}</td><td>{rps:.1}</td><td>{bid}</td><td>{win}</td>{timeout}{late}{error}<td>{p50}</td><td>{p99}</td><td>{qps}</td><td>{skipped}</td><td>{tmo}</td></tr>"#,
        ep = escape(&p.endpoint),
        state = p.circuit.state,
        rps = s.requests_per_s,
        bid = percent(s.bid_rate),
        win = percent(s.win_rate),
        timeout = rate_cell(s.timeout_rate, BAD_TIMEOUT_RATE),
        late = rate_cell(s.late_rate, BAD_TIMEOUT_RATE),
        error = rate_cell(s.error_rate, BAD_ERROR_RATE),
        p50 = opt(s.latency_p50_ms),
        p99 = opt(s.latency_p99_ms),
        qps = p.qps.as_ref().map_or("no cap".to_string(), |q| format!(
            "{} of {}",
            q.headroom, q.limit
        )),
        skipped = s.skipped_throttled + s.skipped_circuit_open,
        tmo = p.timeout_ms,
    );
}

/// The yield model per partner (what adaptive deadlines read) and shadow partners' results.
fn model_table(html: &mut String, v: &StatusView) {
    html.push_str("<h2>Yield model</h2>\n<table>\n<tr><th class=\"id\">partner</th><th>mode</th><th>traffic</th><th>samples</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>on time</th><th>beats others</th><th>value / answer</th><th>shadow: would win</th><th>shadow: revenue Δ</th></tr>\n");
    for p in &v.partners {
        let m = &p.model;
        let ms = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.0}"));
        let (won, delta) = p.shadow.as_ref().map_or(("–".into(), "–".into()), |s| {
            (
                s.would_have_won.to_string(),
                format!("{:.4}", s.revenue_delta),
            )
        });
        let _ = writeln!(
            html,
            r#"<tr id="model-{id}"><td class="id"><b>{id}</b></td><td>{mode}</td><td>{share}</td><td>{n}</td><td>{p50}</td><td>{p90}</td><td>{p99}</td><td>{on_time}</td><td>{beats}</td><td>{value:.4}</td><td>{won}</td><td>{delta}</td></tr>"#,
            id = escape(&p.id),
            mode = p.mode,
            share = percent(Some(p.traffic_share)),
            n = m.samples,
            p50 = ms(m.latency_p50_ms),
            p90 = ms(m.latency_p90_ms),
            p99 = ms(m.latency_p99_ms),
            on_time = percent(m.on_time_rate),
            beats = percent(m.win_share),
            value = m.value_per_answer,
        );
    }
    html.push_str("</table>\n");
}

fn rate_cell(rate: Option<f64>, bad_above: f64) -> String {
    let class = if rate.is_some_and(|r| r > bad_above) {
        " class=\"warn\""
    } else {
        ""
    };
    format!("<td{class}>{}</td>", percent(rate))
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or("–".into(), |r| format!("{:.1}%", r * 100.0))
}

fn opt(v: Option<u32>) -> String {
    v.map_or("–".into(), |v| v.to_string())
}

/// Partner ids and endpoints come from config, but a page must never trust its data.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::PartnerStats;
    use tokio::time::Instant;

    #[test]
    fn one_row_per_partner_escaped_and_marked_when_bad() {
        let stats = PartnerStats::new(Instant::now());
        let mut summary = stats.summary(Instant::now());
        summary.timeout_rate = Some(0.2);
        let partner = |id: &str| PartnerView {
            id: id.into(),
            endpoint: "http://127.0.0.1:1/bid?a=1&b=2".into(),
            timeout_ms: 120,
            circuit: super::super::status::CircuitView {
                state: "closed",
                consecutive_failures: Some(0),
                reopens_in_ms: None,
                probe_successes: None,
            },
            qps: None,
            last_minute: summary.clone(),
            mode: "shadow",
            traffic_share: 0.05,
            model: crate::yield_model::PartnerModel::new(id).view(),
            shadow: Some(crate::yield_model::PartnerModel::new(id).shadow.view()),
        };
        let html = render(&StatusView {
            in_flight: 3,
            max_in_flight: 1024,
            draining: false,
            store: crate::store::Shared::memory().view(),
            partners: vec![partner("dsp-a"), partner("<script>")],
            event_stream: None,
        });
        assert!(html.contains(r#"<tr id="partner-dsp-a""#));
        assert!(html.contains(r#"<tr id="partner-&lt;script&gt;""#));
        assert!(!html.contains("<script>"));
        assert!(html.contains("a=1&amp;b=2"));
        assert!(html.contains(r#"<td class="warn">20.0%</td>"#));
        assert!(html.contains(r#"<meta http-equiv="refresh""#));
        assert!(html.contains(
            r#"<tr id="model-dsp-a"><td class="id"><b>dsp-a</b></td><td>shadow</td><td>5.0%</td>"#
        ));
        assert!(!html.contains("http-equiv=\"refresh\" content=\"0"));
        assert!(
            !html.contains("src=") && !html.contains("<link"),
            "no external assets"
        );
    }
}
