//! The request's rules about the creative itself: blocked app bundles (`bapp`), allowed
//! categories (`acat`), allowed languages (`wlang`/`wlangb`) and, per imp media object,
//! blocked creative attributes (`battr`).
//!
//! Checked for every bid, so the common case (none of these lists in the request) costs one
//! emptiness test each, and a check allocates nothing: lists are lowercased once per auction,
//! bids' values compared case-insensitively in place.

use crate::auction::Rejection;
use crate::openrtb::Bid;
use serde_json::Value;

#[derive(Debug, Default)]
pub(super) struct CreativeRules {
    bapp: Vec<String>,
    acat: Vec<String>,
    /// `wlang` (ISO 639-1) and `wlangb` (BCP 47) together: either may say what is allowed.
    langs: Vec<String>,
}

impl CreativeRules {
    pub(super) fn of(rest: &crate::openrtb::Members) -> Self {
        let mut langs = super::strings(rest.get("wlang"));
        langs.extend(super::strings(rest.get("wlangb")));
        Self {
            bapp: super::strings(rest.get("bapp")),
            acat: super::strings(rest.get("acat")),
            langs,
        }
    }

    pub(super) fn check(&self, bid: &Bid, battr: &[u64]) -> Result<(), Rejection> {
        if !self.bapp.is_empty()
            && let Some(bundle) = bid.str_field("bundle").map(str::trim)
            && self.bapp.iter().any(|b| b.eq_ignore_ascii_case(bundle))
        {
            return Err(Rejection::BlockedApp(bundle.to_string()));
        }
        if !self.acat.is_empty() {
            // A bid that states categories needs one of them (or its tier-1 parent: `IAB2`
            // allows `IAB2-3`) allowed; one without `cat` has nothing to check.
            let cats = bid.get("cat").and_then(Value::as_array);
            if let Some(cats) = cats.filter(|c| !c.is_empty()) {
                let allowed = cats.iter().filter_map(Value::as_str).any(|c| {
                    let c = c.trim();
                    let parent = c.split_once('-').map_or(c, |(p, _)| p);
                    self.acat
                        .iter()
                        .any(|a| a.eq_ignore_ascii_case(c) || a.eq_ignore_ascii_case(parent))
                });
                if !allowed {
                    let first = cats.iter().find_map(Value::as_str).unwrap_or_default();
                    return Err(Rejection::CategoryNotAllowed(first.to_string()));
                }
            }
        }
        if !self.langs.is_empty()
            && let Some(lang) = bid
                .str_field("langb")
                .or_else(|| bid.str_field("language"))
                .map(str::trim)
                .filter(|l| !l.is_empty())
            && !self
                .langs
                .iter()
                .any(|allowed| same_language(allowed, lang))
        {
            return Err(Rejection::Language(lang.to_string()));
        }
        if !battr.is_empty()
            && let Some(attrs) = bid.get("attr").and_then(Value::as_array)
            && let Some(a) = attrs
                .iter()
                .filter_map(Value::as_u64)
                .find(|a| battr.contains(a))
        {
            return Err(Rejection::BlockedAttribute(a));
        }
        Ok(())
    }
}

/// Whether language tag `tag` is allowed by `allowed`: equal (case-insensitive), or one is
/// the other's primary language (`en` allows `en-GB`; `en-GB` allows a bid saying only `en`).
fn same_language(allowed: &str, tag: &str) -> bool {
    fn primary(t: &str) -> &str {
        t.split(['-', '_']).next().unwrap_or(t)
    }
    allowed.eq_ignore_ascii_case(tag)
        || (!allowed.contains('-') && allowed.eq_ignore_ascii_case(primary(tag)))
        || (!tag.contains(['-', '_']) && primary(allowed).eq_ignore_ascii_case(tag))
}

#[cfg(test)]
mod tests {
    use super::same_language;

    #[test]
    fn languages_match_by_tag_or_primary_subtag() {
        for (allowed, tag, ok) in [
            ("en", "en", true),
            ("en", "EN-gb", true),
            ("en-gb", "en", true),
            ("en-gb", "en-US", false),
            ("de", "en", false),
            ("pt-br", "pt-BR", true),
        ] {
            assert_eq!(same_language(allowed, tag), ok, "{allowed} / {tag}");
        }
    }
}
