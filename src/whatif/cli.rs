//! `bidgate whatif`: its arguments, the settings they make, and one pass over the log.

use super::{Pricing, Setting, Summary, actual, replay, scan};
use crate::money::Micros;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The arguments of `bidgate whatif`.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// The event log: its directory (every `*.jsonl` file) or one file.
    #[arg(long)]
    pub log: PathBuf,
    /// Replay at each of these tmax values (ms), e.g. `100,150,200,300`.
    #[arg(long, value_delimiter = ',')]
    pub tmax: Vec<u64>,
    /// Partner timeouts, e.g. `slow=80,fast=40` (others keep the recorded one).
    #[arg(long, value_delimiter = ',')]
    pub timeouts: Vec<String>,
    /// `first` or `second` (second with the recorded increment).
    #[arg(long)]
    pub pricing: Option<String>,
    /// A floor every imp gets at least, in the auction currency (e.g. `1.5`).
    #[arg(long)]
    pub floor: Option<f64>,
    /// Also write revenue and fill against tmax as an SVG plot here.
    #[arg(long)]
    pub svg: Option<PathBuf>,
}

/// The settings the options ask for: the recorded one (the model's own check), then one per
/// `--tmax`, or one with the other overrides when no tmax is given.
pub fn settings(o: &Options) -> Result<Vec<Setting>, String> {
    let mut timeouts = BTreeMap::new();
    for t in &o.timeouts {
        let (partner, ms) = t
            .split_once('=')
            .ok_or_else(|| format!("--timeouts: `{t}` is not partner=ms"))?;
        let ms: u64 = ms
            .trim()
            .parse()
            .map_err(|_| format!("--timeouts: `{ms}` in `{t}` is not a number of ms"))?;
        timeouts.insert(partner.trim().to_string(), ms);
    }
    let pricing = match o.pricing.as_deref() {
        None => None,
        Some("first") => Some(Pricing::First),
        Some("second") => Some(Pricing::Second),
        Some(other) => return Err(format!("--pricing: `{other}` is not first or second")),
    };
    let floor = match o.floor {
        None => None,
        Some(f) => Some(
            Micros::from_f64(f)
                .filter(|m| *m >= Micros::ZERO)
                .ok_or_else(|| format!("--floor: {f} is not a price"))?,
        ),
    };
    let mut suffix = String::new();
    for (p, ms) in &timeouts {
        suffix.push_str(&format!(" {p}={ms}"));
    }
    if let Some(p) = pricing {
        suffix.push_str(if p == Pricing::First {
            " first"
        } else {
            " second"
        });
    }
    if let Some(f) = floor {
        suffix.push_str(&format!(" floor={f}"));
    }
    let base = Setting {
        label: String::new(),
        tmax_ms: None,
        timeouts,
        pricing,
        floor,
    };
    let mut out = vec![Setting {
        label: "replay as recorded".into(),
        ..Setting::default()
    }];
    if o.tmax.is_empty() {
        if !suffix.is_empty() {
            out.push(Setting {
                label: format!("recorded tmax{suffix}"),
                ..base
            });
        }
    } else {
        for &t in &o.tmax {
            out.push(Setting {
                label: format!("tmax={t}{suffix}"),
                tmax_ms: Some(t),
                ..base.clone()
            });
        }
    }
    Ok(out)
}

/// Runs the command: the report's text (stats, table), or what made it impossible.
pub fn run(o: &Options) -> Result<String, String> {
    if o.svg.is_some() && o.tmax.is_empty() {
        return Err("--svg needs --tmax: the plot is against tmax".into());
    }
    let settings = settings(o)?;
    let mut actual_sum = Summary::new("actual", None);
    let mut sums: Vec<Summary> = settings
        .iter()
        .map(|s| Summary::new(s.label.clone(), s.tmax_ms))
        .collect();
    let mut currency: Option<String> = None;
    let mut other_currency = 0usize;
    let stats = scan(&o.log, |a| {
        let Some(r) = &a.replay else { return };
        if currency.get_or_insert_with(|| r.currency.clone()) != &r.currency {
            other_currency += 1;
            return;
        }
        actual_sum.add(&actual(a));
        for (s, sum) in settings.iter().zip(&mut sums) {
            sum.add(&replay(r, a.duration_ms, s));
        }
    })
    .map_err(|e| format!("{}: {e}", o.log.display()))?;
    let currency = currency.unwrap_or_default();

    let mut out = format!(
        "{}: {} file(s), {} auction(s) with bids ({} without bids, {} truncated, {} in another currency not replayed), {} event(s), {} bad line(s)\n",
        o.log.display(),
        stats.files,
        stats.replayable,
        stats.without_bids,
        stats.truncated,
        other_currency,
        stats.events,
        stats.bad_lines
    );
    for p in &stats.problems {
        out.push_str(&format!("  skipped {p}\n"));
    }
    if stats.bad_lines > stats.problems.len() {
        out.push_str(&format!(
            "  … and {} more bad line(s)\n",
            stats.bad_lines - stats.problems.len()
        ));
    }
    out.push('\n');
    out.push_str(&super::table(&actual_sum, &sums, &currency));
    if let Some(path) = &o.svg
        && let Some(svg) = super::svg(&actual_sum, &sums, &currency)
    {
        std::fs::write(path, svg).map_err(|e| format!("--svg {}: {e}", path.display()))?;
    }
    Ok(out)
}
