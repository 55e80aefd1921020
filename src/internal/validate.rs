//! Semantic checks of a catalog that its types cannot express, and the parsed terms (unix
//! seconds, `Micros`) they leave behind so that decisions never parse text.

use super::catalog::{Campaign, Goal, LineItem, Tier};
use super::load::CatalogProblem;
use super::pacing::Limit;
use super::rules::{bad_id, creative, is_domain, is_http_url, is_iab_category, is_id, targeting};
use super::time::parse_rfc3339;
use crate::money::Micros;
use std::collections::HashSet;

/// A line item's checked terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Terms {
    /// Flight, unix seconds: `start <= now < end`.
    pub start: u64,
    pub end: u64,
    /// The CPM; zero for a house line item without one.
    pub price: Micros,
    pub total: Limit,
    pub daily: Limit,
}

/// Longest frequency cap window (90 days: counters are kept in memory).
const MAX_CAP_PERIOD_S: u64 = 90 * 86_400;
const MAX_CPM: f64 = 1_000.0;

/// Checks the parsed entries (`None`: did not parse, already reported) and returns the terms
/// of every line item, `None` where they could not be made.
pub(super) fn catalog(
    campaigns: &[Option<Campaign>],
    items: &[Option<LineItem>],
    p: &mut Vec<CatalogProblem>,
) -> Vec<Option<Terms>> {
    let mut campaign_ids = HashSet::new();
    for (i, c) in campaigns.iter().enumerate() {
        let Some(c) = c else { continue };
        if !is_id(&c.id) {
            p.push(bad_id(format!("campaigns[{i}].id")));
        } else if !campaign_ids.insert(c.id.as_str()) {
            p.push(CatalogProblem::new(
                format!("campaigns[{i}].id"),
                format!("`{}` is used by another campaign", c.id),
            ));
        }
        if c.name.trim().is_empty() {
            p.push(CatalogProblem::new(
                format!("campaigns[{i}].name"),
                "must not be empty",
            ));
        }
    }
    // A campaign that did not parse may be the one a line item names: say nothing then.
    let campaigns_complete = campaigns.iter().all(Option::is_some);
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, li) in items.iter().enumerate() {
        let Some(li) = li else {
            out.push(None);
            continue;
        };
        let at = |k: &str| format!("line_items[{i}].{k}");
        if !is_id(&li.id) {
            p.push(bad_id(at("id")));
        } else if !seen.insert(li.id.as_str()) {
            let msg = format!("`{}` is used by another line item", li.id);
            p.push(CatalogProblem::new(at("id"), msg));
        }
        if campaigns_complete && !campaign_ids.contains(li.campaign.as_str()) {
            let msg = format!("`{}` is not a campaign in this catalog", li.campaign);
            p.push(CatalogProblem::new(at("campaign"), msg));
        }
        out.push(line_item(li, &at, p));
    }
    out
}

fn line_item(
    li: &LineItem,
    at: &dyn Fn(&str) -> String,
    p: &mut Vec<CatalogProblem>,
) -> Option<Terms> {
    let mut bad = |k: &str, msg: &str| p.push(CatalogProblem::new(at(k), msg));
    if li.advertiser.name.trim().is_empty() {
        bad("advertiser.name", "must not be empty");
    }
    if !is_domain(&li.advertiser.domain) {
        bad(
            "advertiser.domain",
            "must be a domain name such as `brand.example` (no scheme, no path)",
        );
    }
    for (key, list) in [
        ("categories", &li.categories),
        ("exclusions", &li.exclusions),
    ] {
        for (j, c) in list.iter().enumerate() {
            if !is_iab_category(c) {
                bad(
                    &format!("{key}[{j}]"),
                    "must be an IAB content category such as `IAB22` or `IAB8-5`",
                );
            }
        }
    }
    if !is_http_url(&li.click_url) {
        bad("click_url", "must be an http(s) URL");
    }
    if li.creatives.is_empty() {
        bad("creatives", "must list at least one creative");
    }
    let mut creative_ids = HashSet::new();
    for (j, c) in li.creatives.iter().enumerate() {
        if !creative_ids.insert(c.id()) {
            let msg = "is used by another creative of this line item";
            p.push(CatalogProblem::new(at(&format!("creatives[{j}].id")), msg));
        }
        creative(c, &|k| at(&format!("creatives[{j}].{k}")), p);
    }
    let start = parse_time(li.flight.start.as_str(), &at("flight.start"), p);
    let end = parse_time(li.flight.end.as_str(), &at("flight.end"), p);
    if let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        p.push(CatalogProblem::new(at("flight.end"), "must be after start"));
    }
    targeting(&li.targeting, &|k| at(&format!("targeting.{k}")), p);
    let price = match (li.tier, li.cpm) {
        (Tier::House, None) => Some(Micros::ZERO),
        (_, None) => {
            let msg = format!("is required for a {:?} line item", li.tier).to_lowercase();
            p.push(CatalogProblem::new(at("cpm"), msg));
            None
        }
        (tier, Some(cpm)) => {
            let ok = (0.0..=MAX_CPM).contains(&cpm) && (cpm > 0.0 || tier == Tier::House);
            let micros = Micros::from_f64(cpm).filter(|_| ok);
            if micros.is_none() {
                let msg = format!("must be a CPM between 0 and {MAX_CPM} (> 0 unless house)");
                p.push(CatalogProblem::new(at("cpm"), msg));
            }
            micros
        }
    };
    let total = limit(li.goal.total.as_ref(), &at("goal.total"), p);
    let daily = limit(li.goal.daily.as_ref(), &at("goal.daily"), p);
    for (j, cap) in li.frequency_caps.iter().enumerate() {
        if cap.max == 0 {
            p.push(CatalogProblem::new(
                at(&format!("frequency_caps[{j}].max")),
                "must be >= 1",
            ));
        }
        if !(1..=MAX_CAP_PERIOD_S).contains(&cap.period_s) {
            p.push(CatalogProblem::new(
                at(&format!("frequency_caps[{j}].period_s")),
                format!("must be between 1 and {MAX_CAP_PERIOD_S} (90 days)"),
            ));
        }
    }
    Some(Terms {
        start: start?,
        end: end?,
        price: price?,
        total: total?,
        daily: daily?,
    })
}
fn limit(g: Option<&Goal>, at: &str, p: &mut Vec<CatalogProblem>) -> Option<Limit> {
    let Some(g) = g else {
        return Some(Limit::default());
    };
    let mut ok = true;
    if g.impressions.is_none() && g.spend.is_none() {
        p.push(CatalogProblem::new(at, "needs impressions and/or spend"));
        ok = false;
    }
    if g.impressions == Some(0) {
        p.push(CatalogProblem::new(
            format!("{at}.impressions"),
            "must be > 0",
        ));
        ok = false;
    }
    let spend = match g.spend {
        None => None,
        Some(s) => match Micros::from_f64(s).filter(|m| *m > Micros::ZERO) {
            Some(m) => Some(m),
            None => {
                let msg = "must be an amount > 0 in the auction currency";
                p.push(CatalogProblem::new(format!("{at}.spend"), msg));
                ok = false;
                None
            }
        },
    };
    ok.then_some(Limit {
        impressions: g.impressions,
        spend,
    })
}

fn parse_time(s: &str, at: &str, p: &mut Vec<CatalogProblem>) -> Option<u64> {
    let t = parse_rfc3339(s);
    if t.is_none() {
        let msg = format!("`{s}` is not an RFC 3339 time such as `2026-12-01T00:00:00Z`");
        p.push(CatalogProblem::new(at, msg));
    }
    t
}
