//! The decision: which line items may fill one slot now, best first.
//!
//! Matching scales by not looking at most line items. Entries are sorted once, best first
//! (tier, then price high to low, then id), so an entry's position is its rank. Buckets
//! hold positions by placement (or "any placement") × format × country (or "any country");
//! a request reads at most four of them — its placement or any, its country or any — and
//! merges them by position. The walk sees candidates in final order, so it stops as soon as
//! it has `max`; everything else about a line item (targeting, flight, creatives, goals,
//! caps, pacing) is checked only on the entries it walks, cheapest checks first.

use super::catalog::{Campaign, Creative, LineItem, Tier};
use super::load::Catalog;
use super::pacing::serve_probability;
use super::store::{Delivered, LeaseTerms, Store};
use super::targeting::Compiled;
use super::time::unix_day;
use super::validate::Terms;
use super::{Candidate, Request};
use crate::config::AdFormat;
use crate::money::Micros;
use std::collections::HashMap;

/// A catalog ready for decisions. Immutable: a new catalog makes a new `Index` (delivery
/// state lives in the `Store`, keyed by line item id, so it carries over).
pub struct Index {
    /// Best first; positions are what buckets hold.
    entries: Vec<Entry>,
    by_id: HashMap<String, u32>,
    placements: HashMap<String, Formats>,
    any_placement: Formats,
    campaigns: Vec<Campaign>,
}

struct Entry {
    item: LineItem,
    terms: Terms,
    targeting: Compiled,
    /// Lowercase advertiser domain: one ad per domain per decision.
    domain: String,
    /// Distinct cap periods, for counting impressions.
    cap_periods: Vec<u64>,
}

/// Buckets per format (audio, display, video).
#[derive(Default)]
struct Formats([Countries; 3]);

#[derive(Default)]
struct Countries {
    by_country: HashMap<[u8; 3], Vec<u32>>,
    any: Vec<u32>,
}

fn format_slot(f: AdFormat) -> usize {
    match f {
        AdFormat::Audio => 0,
        AdFormat::Display => 1,
        AdFormat::Video => 2,
    }
}

/// `SWE` → its bytes; anything but three ASCII letters is no country.
fn country_key(s: &str) -> Option<[u8; 3]> {
    let b: [u8; 3] = s.as_bytes().try_into().ok()?;
    b.iter()
        .all(u8::is_ascii_alphabetic)
        .then(|| b.map(|c| c.to_ascii_uppercase()))
}

fn push(list: &mut Vec<u32>, pos: u32) {
    // A line item listing a country or placement twice lands in the bucket once.
    if list.last() != Some(&pos) {
        list.push(pos);
    }
}

impl Index {
    pub fn build(catalog: Catalog) -> Index {
        let Catalog { file, terms } = catalog;
        let mut entries: Vec<Entry> = file
            .line_items
            .into_iter()
            .zip(terms)
            .map(|(item, terms)| {
                let mut cap_periods: Vec<u64> =
                    item.frequency_caps.iter().map(|c| c.period_s).collect();
                cap_periods.sort_unstable();
                cap_periods.dedup();
                Entry {
                    targeting: Compiled::new(&item.targeting),
                    domain: item.advertiser.domain.to_ascii_lowercase(),
                    cap_periods,
                    terms,
                    item,
                }
            })
            .collect();
        entries.sort_by(|a, b| {
            (a.item.tier, b.terms.price, &a.item.id).cmp(&(b.item.tier, a.terms.price, &b.item.id))
        });
        let mut index = Index {
            by_id: HashMap::with_capacity(entries.len()),
            placements: HashMap::new(),
            any_placement: Formats::default(),
            campaigns: file.campaigns,
            entries: Vec::new(),
        };
        for (pos, e) in entries.iter().enumerate() {
            let pos = pos as u32;
            index.by_id.insert(e.item.id.clone(), pos);
            let mut slots = [false; 3];
            for c in &e.item.creatives {
                slots[format_slot(c.format())] = true;
            }
            let placements: Vec<Option<&String>> = match &e.item.targeting.placements {
                Some(ids) => ids.iter().map(Some).collect(),
                None => vec![None],
            };
            for placement in placements {
                let formats = match placement {
                    Some(id) => index.placements.entry(id.clone()).or_default(),
                    None => &mut index.any_placement,
                };
                for slot in (0..3).filter(|&s| slots[s]) {
                    let buckets = &mut formats.0[slot];
                    match &e.item.targeting.countries {
                        None => push(&mut buckets.any, pos),
                        Some(codes) => {
                            for key in codes.iter().filter_map(|c| country_key(c)) {
                                push(buckets.by_country.entry(key).or_default(), pos);
                            }
                        }
                    }
                }
            }
        }
        index.entries = entries;
        index
    }

    /// Eligible candidates for one slot at `now_unix`, best first (tier, then price, then
    /// id), at most `max`, no two of one advertiser domain. Pure given `store` and `rng`
    /// (`rng` draws pacing and picks among fitting creatives).
    pub fn decide<'a>(
        &'a self,
        req: &Request<'_>,
        now_unix: u64,
        store: &dyn Store,
        rng: &mut fastrand::Rng,
        max: usize,
    ) -> Vec<Candidate<'a>> {
        let mut out = Vec::new();
        if max == 0 {
            return out;
        }
        let slot = format_slot(req.format);
        let country = req.country.and_then(country_key);
        let mut lists: [&[u32]; 4] = [&[]; 4];
        let placement = self.placements.get(req.placement);
        for (n, formats) in [placement, Some(&self.any_placement)].iter().enumerate() {
            let Some(buckets) = formats.map(|f| &f.0[slot]) else {
                continue;
            };
            lists[2 * n] = &buckets.any;
            if let Some(l) = country.and_then(|c| buckets.by_country.get(&c)) {
                lists[2 * n + 1] = l;
            }
        }
        let mut heads = [0usize; 4];
        let mut domains: Vec<&str> = Vec::with_capacity(max);
        // Merge the buckets by position: the walk is in final order.
        while let Some((l, pos)) = (0..4)
            .filter_map(|l| lists[l].get(heads[l]).map(|&p| (l, p)))
            .min_by_key(|&(_, p)| p)
        {
            heads[l] += 1;
            let e = &self.entries[pos as usize];
            if domains.contains(&e.domain.as_str()) {
                continue;
            }
            if let Some(c) = self.eligible(e, req, now_unix, store, rng) {
                domains.push(&e.domain);
                out.push(c);
                if out.len() == max {
                    break;
                }
            }
        }
        out
    }

    /// Checks one entry, cheapest first: flight, targeting, price, creatives, then the
    /// store (goals, caps), then the pacing draw.
    fn eligible<'a>(
        &self,
        e: &'a Entry,
        req: &Request<'_>,
        now: u64,
        store: &dyn Store,
        rng: &mut fastrand::Rng,
    ) -> Option<Candidate<'a>> {
        let t = &e.terms;
        if now < t.start || now >= t.end || !e.targeting.matches(req, now) {
            return None;
        }
        // Sponsorships are sold as guarantees and house ads fill what is left: only
        // standard line items compete with programmatic bids, so only they meet floors.
        if e.item.tier == Tier::Standard && t.price < req.floor {
            return None;
        }
        let durations = (req.min_duration_s, req.max_duration_s);
        let fits = |c: &&Creative| c.fits(req.format, durations, req.mimes, req.sizes);
        let fitting = e.item.creatives.iter().filter(fits).count();
        if fitting == 0 {
            return None;
        }
        let id = e.item.id.as_str();
        let total = if t.total.is_set() {
            store.delivered(id, None)
        } else {
            Delivered::default()
        };
        let today = if t.daily.is_set() {
            store.delivered(id, Some(unix_day(now)))
        } else {
            Delivered::default()
        };
        let p = serve_probability(t, e.item.pacing, now, total, today);
        if p <= 0.0 {
            return None;
        }
        if !e.item.frequency_caps.is_empty() {
            // Caps cannot be checked without knowing who listens: such line items wait
            // for listeners they can count.
            let user = req.user_key?;
            for cap in &e.item.frequency_caps {
                if store.count(id, user, cap.period_s, now) >= cap.max {
                    return None;
                }
            }
        }
        if p < 1.0 && rng.f64() >= p {
            return None;
        }
        // Last, as it may ask a shared store for more budget: only for what would serve.
        if (t.total.is_set() || t.daily.is_set()) && !store.may_spend(id, &goals(t, now)) {
            return None;
        }
        let creative = e
            .item
            .creatives
            .iter()
            .filter(fits)
            .nth(rng.usize(..fitting))?;
        Some(Candidate {
            line_item: &e.item,
            creative,
            tier: e.item.tier,
            price: t.price,
        })
    }

    /// Counts an impression of `line_item` (CPM `price`) with that line item's caps. An id
    /// no longer in the catalog still counts towards its totals (it may come back on a
    /// later reload); returns whether it is in this catalog.
    pub fn record_impression(
        &self,
        store: &dyn Store,
        line_item: &str,
        user_key: Option<&str>,
        price: Micros,
        now_unix: u64,
    ) -> bool {
        let entry = self
            .by_id
            .get(line_item)
            .map(|&p| &self.entries[p as usize]);
        let periods = entry.map_or(&[][..], |e| &e.cap_periods);
        store.record_impression(line_item, user_key, periods, price, now_unix);
        entry.is_some()
    }

    /// The goals of `line_item` at `now_unix` as a shared store leases them; `None` for an
    /// id not in this catalog or without goals.
    pub fn goals(&self, line_item: &str, now_unix: u64) -> Option<LeaseTerms> {
        let e = &self.entries[*self.by_id.get(line_item)? as usize];
        (e.terms.total.is_set() || e.terms.daily.is_set()).then(|| goals(&e.terms, now_unix))
    }

    /// Whether any line item has frequency caps (else no request needs cap counters).
    pub fn has_caps(&self) -> bool {
        self.entries.iter().any(|e| !e.cap_periods.is_empty())
    }

    /// The distinct cap periods of `line_item` (empty for an id not in this catalog).
    pub fn cap_periods(&self, line_item: &str) -> &[u64] {
        self.by_id
            .get(line_item)
            .map_or(&[][..], |&p| &self.entries[p as usize].cap_periods)
    }

    pub fn line_item(&self, id: &str) -> Option<&LineItem> {
        self.by_id.get(id).map(|&p| &self.entries[p as usize].item)
    }

    pub fn campaign(&self, id: &str) -> Option<&Campaign> {
        self.campaigns.iter().find(|c| c.id == id)
    }

    /// Line items, best first.
    pub fn line_items(&self) -> impl Iterator<Item = &LineItem> {
        self.entries.iter().map(|e| &e.item)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A line item's goals in a shared store's terms (see `Goals`).
fn goals(t: &Terms, now: u64) -> LeaseTerms {
    let cpm = |m: Option<Micros>| m.map_or(0, |m| m.0.saturating_mul(1000));
    LeaseTerms {
        total_impressions: t.total.impressions.unwrap_or(0),
        total_cpm: cpm(t.total.spend),
        daily_impressions: t.daily.impressions.unwrap_or(0),
        daily_cpm: cpm(t.daily.spend),
        day: unix_day(now),
        price_cpm: t.price.0,
        now_unix: now,
        end_unix: t.end,
    }
}
