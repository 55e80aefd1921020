//! The checks of creatives and targeting, and the shapes of ids, URLs, domains and
//! categories: what `validate` applies to each line item.

use super::catalog::{Creative, Targeting};
use super::load::CatalogProblem;

/// Longest creative.
const MAX_DURATION_S: u32 = 600;

/// Checks one creative: id, URLs, media type, duration, size.
pub(super) fn creative(c: &Creative, at: &dyn Fn(&str) -> String, p: &mut Vec<CatalogProblem>) {
    let mut bad = |k: &str, msg: &str| p.push(CatalogProblem::new(at(k), msg));
    if !is_id(c.id()) {
        bad("id", ID_RULE);
    }
    let (urls, media_type): (Vec<(&str, &str)>, Option<&str>) = match c {
        Creative::Audio(a) => {
            let mut urls = vec![("media_url", a.media_url.as_str())];
            if let Some(comp) = &a.companion {
                urls.push(("companion.image_url", comp.image_url.as_str()));
                if comp.w == 0 || comp.h == 0 {
                    bad("companion", "w and h must be > 0");
                }
            }
            (urls, Some("audio/"))
        }
        Creative::Display(d) => (vec![("image_url", d.image_url.as_str())], None),
        Creative::Video(v) => (vec![("media_url", v.media_url.as_str())], Some("video/")),
    };
    let own_click = [c.click_url_override().map(|u| ("click_url", u))];
    for (k, url) in urls.into_iter().chain(own_click.into_iter().flatten()) {
        if !is_http_url(url) {
            bad(k, "must be an http(s) URL");
        }
    }
    if let (Some(prefix), Some(mime)) = (media_type, c.mime()) {
        let subtype = mime.strip_prefix(prefix).unwrap_or("");
        if subtype.is_empty() || subtype.contains(char::is_whitespace) {
            bad(
                "mime",
                &format!("must be a media type such as `{prefix}mp4`"),
            );
        }
    }
    if let Some(d) = c.duration_s()
        && !(1..=MAX_DURATION_S).contains(&d)
    {
        bad(
            "duration_s",
            &format!("must be between 1 and {MAX_DURATION_S}"),
        );
    }
    if c.size().is_some_and(|[w, h]| w == 0 || h == 0) {
        bad("w", "w and h must be > 0");
    }
}

/// Checks targeting: no empty lists, well-formed codes, sane ranges.
pub(super) fn targeting(t: &Targeting, at: &dyn Fn(&str) -> String, p: &mut Vec<CatalogProblem>) {
    let mut bad = |k: &str, msg: &str| p.push(CatalogProblem::new(at(k), msg));
    let lens = [
        ("countries", t.countries.as_ref().map(Vec::len)),
        ("os", t.os.as_ref().map(Vec::len)),
        ("device_types", t.device_types.as_ref().map(Vec::len)),
        ("genders", t.genders.as_ref().map(Vec::len)),
        ("content", t.content.as_ref().map(Vec::len)),
        ("genres", t.genres.as_ref().map(Vec::len)),
        ("placements", t.placements.as_ref().map(Vec::len)),
        ("languages", t.languages.as_ref().map(Vec::len)),
    ];
    for (key, len) in lens {
        if len == Some(0) {
            bad(
                key,
                "an empty list matches no one: leave the key out to target everyone",
            );
        }
    }
    let each = |list: &Option<Vec<String>>, key: &str, ok: &dyn Fn(&str) -> bool| {
        list.iter()
            .flatten()
            .enumerate()
            .filter(|(_, v)| !ok(v))
            .map(|(j, _)| format!("{key}[{j}]"))
            .collect::<Vec<_>>()
    };
    for k in each(&t.countries, "countries", &|c| {
        c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase())
    }) {
        bad(&k, "must be an ISO 3166-1 alpha-3 code such as `SWE`");
    }
    for k in each(&t.languages, "languages", &|l| {
        l.len() == 2 && l.bytes().all(|b| b.is_ascii_lowercase())
    }) {
        bad(&k, "must be an ISO 639-1 code such as `sv`");
    }
    for k in each(&t.placements, "placements", &is_id) {
        bad(&k, ID_RULE);
    }
    for (key, list) in [("os", &t.os), ("genres", &t.genres)] {
        for k in each(list, key, &|v| !v.trim().is_empty()) {
            bad(&k, "must not be empty");
        }
    }
    if let Some(age) = t.age {
        let (min, max) = (age.min.unwrap_or(0), age.max.unwrap_or(150));
        if min > max || max > 150 || (age.min.is_none() && age.max.is_none()) {
            bad("age", "needs min and/or max, with min <= max <= 150");
        }
    }
    if let Some(dp) = &t.day_parting {
        match &dp.hours {
            Some(h) if h.is_empty() || h.iter().any(|&h| h > 23) => {
                bad("day_parting.hours", "must list hours 0-23")
            }
            None if dp.weekdays.is_none() => bad("day_parting", "needs hours and/or weekdays"),
            _ => {}
        }
        if dp.weekdays.as_ref().is_some_and(Vec::is_empty) {
            bad("day_parting.weekdays", "must list at least one day");
        }
        if dp
            .default_utc_offset_min
            .is_some_and(|o| !(-720..=840).contains(&o))
        {
            bad(
                "day_parting.default_utc_offset_min",
                "must be between -720 and 840",
            );
        }
    }
}
pub(super) const ID_RULE: &str = "must be 1-64 characters of a-z, A-Z, 0-9, '-', '_' or '.'";

pub(super) fn bad_id(path: String) -> CatalogProblem {
    CatalogProblem::new(path, ID_RULE)
}

pub(super) fn is_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

pub(super) fn is_http_url(s: &str) -> bool {
    reqwest::Url::parse(s)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

/// `brand.example`: two or more labels of letters, digits and inner hyphens.
pub(super) fn is_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    s.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// IAB Content Taxonomy 1.0 ids, as OpenRTB's `cat` carries them: `IAB22`, `IAB8-5`.
pub(super) fn is_iab_category(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("IAB") else {
        return false;
    };
    let digits = |x: &str| (1..=3).contains(&x.len()) && x.bytes().all(|b| b.is_ascii_digit());
    match rest.split_once('-') {
        Some((top, sub)) => digits(top) && digits(sub),
        None => digits(rest),
    }
}
