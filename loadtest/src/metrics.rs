//! bidgate's own counters, read from its Prometheus `/metrics` text: partner outcomes,
//! circuit transitions, late answers, rejected bids. The baseline has no `/metrics`.

use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// The counters this harness reads, from one scrape.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Counters {
    /// `bidgate_partner_requests_total`, summed over partners, by outcome (bid, nobid,
    /// timeout, late, error, throttled, circuit_open).
    pub partner_outcomes: BTreeMap<String, f64>,
    /// `bidgate_circuit_transitions_total{to="open"}` by partner.
    pub circuits_opened: BTreeMap<String, f64>,
    /// `bidgate_auctions_late_total{endpoint="openrtb2"}`.
    pub late: f64,
    /// `bidgate_bids_rejected_total`, summed over partners, by rejection code.
    pub bids_rejected: BTreeMap<String, f64>,
    /// `bidgate_wins_total`, summed over partners.
    pub wins: f64,
    /// `bidgate_rate_limited_total` by scope: why requests were refused (adaptive,
    /// worker_lag, in_flight, client).
    pub shed: BTreeMap<String, f64>,
    /// `bidgate_shed_duration_seconds` (`/openrtb2/auction`): refusals by bidgate's clock,
    /// cumulative per bucket bound (`le`, as written), and their count.
    pub shed_buckets: BTreeMap<String, f64>,
    pub shed_count: f64,
}

impl Counters {
    pub fn parse(text: &str) -> Self {
        let mut c = Self::default();
        for line in text.lines().filter(|l| l.starts_with("bidgate_")) {
            let Some((name, labels, value)) = sample(line) else {
                continue;
            };
            let label = |k: &str| {
                labels
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            };
            match name {
                "bidgate_partner_requests_total" => {
                    if let Some(o) = label("outcome") {
                        *c.partner_outcomes.entry(o).or_default() += value;
                    }
                }
                "bidgate_circuit_transitions_total" if label("to").as_deref() == Some("open") => {
                    let p = label("partner").unwrap_or_default();
                    *c.circuits_opened.entry(p).or_default() += value;
                }
                "bidgate_auctions_late_total"
                    if label("endpoint").as_deref() == Some("openrtb2") =>
                {
                    c.late += value;
                }
                "bidgate_bids_rejected_total" => {
                    let code = label("code").unwrap_or_default();
                    *c.bids_rejected.entry(code).or_default() += value;
                }
                "bidgate_wins_total" => c.wins += value,
                "bidgate_rate_limited_total" => {
                    let scope = label("scope").unwrap_or_default();
                    *c.shed.entry(scope).or_default() += value;
                }
                "bidgate_shed_duration_seconds_bucket"
                    if label("endpoint").as_deref() == Some("openrtb2") =>
                {
                    let le = label("le").unwrap_or_default();
                    *c.shed_buckets.entry(le).or_default() += value;
                }
                "bidgate_shed_duration_seconds_count"
                    if label("endpoint").as_deref() == Some("openrtb2") =>
                {
                    c.shed_count += value;
                }
                _ => {}
            }
        }
        c
    }

    /// What happened between `earlier` and `self` (counters only grow; a key missing from
    /// `earlier` counts from zero).
    pub fn since(&self, earlier: &Counters) -> Counters {
        let diff = |now: &BTreeMap<String, f64>, then: &BTreeMap<String, f64>| {
            now.iter()
                .map(|(k, v)| (k.clone(), v - then.get(k).copied().unwrap_or(0.0)))
                .filter(|(_, v)| *v != 0.0)
                .collect()
        };
        Counters {
            partner_outcomes: diff(&self.partner_outcomes, &earlier.partner_outcomes),
            circuits_opened: diff(&self.circuits_opened, &earlier.circuits_opened),
            late: self.late - earlier.late,
            bids_rejected: diff(&self.bids_rejected, &earlier.bids_rejected),
            wins: self.wins - earlier.wins,
            shed: diff(&self.shed, &earlier.shed),
            shed_buckets: diff(&self.shed_buckets, &earlier.shed_buckets),
            shed_count: self.shed_count - earlier.shed_count,
        }
    }

    /// The share of refusals bidgate had ready within `le` seconds (a bucket bound as
    /// written, e.g. "0.01"), by its own clock; `None` without refusals.
    pub fn shed_within(&self, le: &str) -> Option<f64> {
        (self.shed_count > 0.0)
            .then(|| self.shed_buckets.get(le).copied().unwrap_or(0.0) / self.shed_count)
    }

    /// Partner calls that ended in an answer (bid or no-bid), of all partner calls.
    pub fn coverage(&self) -> Option<f64> {
        let all = sum(self.partner_outcomes.values());
        let answered = self.outcome("bid") + self.outcome("nobid");
        (all > 0.0).then(|| answered / all)
    }

    pub fn outcome(&self, o: &str) -> f64 {
        self.partner_outcomes.get(o).copied().unwrap_or(0.0)
    }

    pub fn opened(&self) -> f64 {
        sum(self.circuits_opened.values())
    }

    pub fn rejected(&self) -> f64 {
        sum(self.bids_rejected.values())
    }
}

/// A sum that is 0, not -0, when empty (as `Iterator::sum` of floats gives).
pub fn sum<'a>(values: impl Iterator<Item = &'a f64>) -> f64 {
    values.fold(0.0, |a, b| a + b)
}

/// A sample's labels: (name, value) pairs.
type Labels<'a> = Vec<(&'a str, &'a str)>;

/// `name{k="v",…} value` → (name, labels, value). Label values here hold no `"` or `,`.
fn sample(line: &str) -> Option<(&str, Labels<'_>, f64)> {
    let (series, value) = line.rsplit_once(' ')?;
    let value = value.parse().ok()?;
    let Some((name, labels)) = series.split_once('{') else {
        return Some((series, Vec::new(), value));
    };
    let labels = labels
        .trim_end_matches('}')
        .split("\",")
        .filter_map(|kv| {
            let (k, v) = kv.split_once("=\"")?;
            Some((k.trim(), v.trim_end_matches('"')))
        })
        .collect();
    Some((name, labels, value))
}

/// One scrape of bidgate's `http://addr/metrics`; `None` when it does not answer 200 within
/// 2 s, twice. A fresh bidgate has no counters yet: all zero.
pub async fn scrape(addr: SocketAddr) -> Option<Counters> {
    scrape_text(addr).await.map(|t| Counters::parse(&t))
}

/// The sum of every sample of `name` whose labels include all of `with`.
pub fn total(text: &str, name: &str, with: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(sample)
        .filter(|(n, labels, _)| *n == name && with.iter().all(|w| labels.iter().any(|l| l == w)))
        .fold(0.0, |a, (_, _, v)| a + v)
}

/// `/metrics` as text (see [`scrape`]). Each scrape opens a connection of its own: a pooled
/// one may be one the server is closing (after shedding, say).
pub async fn scrape_text(addr: SocketAddr) -> Option<String> {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .no_gzip()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(2))
            .build()
            .expect("a client")
    });
    let mut last_error = String::new();
    for _attempt in 0..2 {
        let text = match client.get(format!("http://{addr}/metrics")).send().await {
            Ok(r) if r.status().is_success() => r.text().await,
            Ok(r) => {
                last_error = format!("status {}", r.status());
                continue;
            }
            Err(e) => Err(e),
        };
        match text {
            Ok(t) => return Some(t),
            Err(e) => last_error = e.to_string(),
        }
    }
    eprintln!("  (scrape of http://{addr}/metrics failed: {last_error})");
    None
}

/// A scrape and when it was taken, in seconds since the start of the load.
#[derive(Debug, Clone, Serialize)]
pub struct Timed {
    pub t_s: f64,
    pub counters: Counters,
}

/// Scrapes at `start`, `start` + 1 s, … up to `start` + `secs` s, until `stop` is set; then
/// once more. Missing scrapes (a slow answer) are left out.
pub async fn scrape_every_second(
    addr: SocketAddr,
    start: tokio::time::Instant,
    secs: u64,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> Vec<Timed> {
    let mut out = Vec::new();
    let t_s = || {
        tokio::time::Instant::now()
            .saturating_duration_since(start)
            .as_secs_f64()
    };
    for k in 0..=secs {
        tokio::time::sleep_until(start + Duration::from_secs(k)).await;
        if let Some(c) = scrape(addr).await {
            out.push(Timed {
                t_s: t_s(),
                counters: c,
            });
        }
    }
    let _ = stop.await;
    if let Some(c) = scrape(addr).await {
        out.push(Timed {
            t_s: t_s(),
            counters: c,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_counters_and_takes_differences() {
        let text = "# TYPE bidgate_partner_requests_total counter\n\
bidgate_partner_requests_total{partner=\"p0\",outcome=\"bid\"} 10\n\
bidgate_partner_requests_total{partner=\"p1\",outcome=\"bid\"} 5\n\
bidgate_partner_requests_total{partner=\"p1\",outcome=\"timeout\"} 5\n\
bidgate_circuit_transitions_total{partner=\"p1\",to=\"open\"} 1\n\
bidgate_circuit_transitions_total{partner=\"p1\",to=\"half_open\"} 1\n\
bidgate_auctions_late_total{endpoint=\"openrtb2\"} 3\n\
bidgate_auctions_late_total{endpoint=\"ads\"} 7\n\
bidgate_bids_rejected_total{partner=\"p0\",code=\"312\"} 2\n\
bidgate_shed_duration_seconds_bucket{endpoint=\"openrtb2\",le=\"0.01\"} 9\n\
bidgate_shed_duration_seconds_bucket{endpoint=\"ads\",le=\"0.01\"} 1\n\
bidgate_shed_duration_seconds_count{endpoint=\"openrtb2\"} 12\n";
        let c = Counters::parse(text);
        assert_eq!(c.shed_within("0.01"), Some(0.75));
        assert_eq!(Counters::default().shed_within("0.01"), None);
        assert_eq!(c.outcome("bid"), 15.0);
        assert_eq!(c.coverage(), Some(0.75));
        assert_eq!(c.opened(), 1.0);
        assert_eq!(c.late, 3.0);
        assert_eq!(c.rejected(), 2.0);
        let d = c.since(&Counters::parse(
            "bidgate_partner_requests_total{partner=\"p0\",outcome=\"bid\"} 4\n",
        ));
        assert_eq!(d.outcome("bid"), 11.0);
        assert_eq!(d.outcome("timeout"), 5.0);
        assert_eq!(Counters::default().coverage(), None);
        assert_eq!(total(text, "bidgate_partner_requests_total", &[]), 20.0);
        assert_eq!(
            total(text, "bidgate_partner_requests_total", &[("partner", "p1")]),
            10.0
        );
        assert_eq!(
            total(text, "bidgate_auctions_late_total", &[("endpoint", "ads")]),
            7.0
        );
    }
}
