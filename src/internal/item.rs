//! What the integrator asks of a line item or creative once chosen: ids, formats, click
//! targets, and whether two ads may share a break.

use super::catalog::{Creative, LineItem};
use crate::config::AdFormat;

impl Creative {
    pub fn id(&self) -> &str {
        match self {
            Creative::Audio(c) => &c.id,
            Creative::Display(c) => &c.id,
            Creative::Video(c) => &c.id,
        }
    }

    pub fn format(&self) -> AdFormat {
        match self {
            Creative::Audio(_) => AdFormat::Audio,
            Creative::Display(_) => AdFormat::Display,
            Creative::Video(_) => AdFormat::Video,
        }
    }

    /// Audio and video: the ad's length.
    pub fn duration_s(&self) -> Option<u32> {
        match self {
            Creative::Audio(c) => Some(c.duration_s),
            Creative::Video(c) => Some(c.duration_s),
            Creative::Display(_) => None,
        }
    }

    /// Display and video: `[w, h]`.
    pub fn size(&self) -> Option<[u32; 2]> {
        match self {
            Creative::Audio(_) => None,
            Creative::Display(c) => Some([c.w, c.h]),
            Creative::Video(c) => Some([c.w, c.h]),
        }
    }

    /// Audio and video: the media type.
    pub fn mime(&self) -> Option<&str> {
        match self {
            Creative::Audio(c) => Some(&c.mime),
            Creative::Video(c) => Some(&c.mime),
            Creative::Display(_) => None,
        }
    }

    /// Where a tap on this creative goes: its own click URL, else the line item's.
    pub fn click_url<'a>(&'a self, line_item: &'a LineItem) -> &'a str {
        self.click_url_override().unwrap_or(&line_item.click_url)
    }

    pub(super) fn click_url_override(&self) -> Option<&str> {
        match self {
            Creative::Audio(c) => c.click_url.as_deref(),
            Creative::Display(c) => c.click_url.as_deref(),
            Creative::Video(c) => c.click_url.as_deref(),
        }
    }

    /// Whether this creative can fill a slot: same format; audio and video within the
    /// durations and one of the media types (empty = any); display in one of the sizes.
    pub(super) fn fits(
        &self,
        format: AdFormat,
        (min_s, max_s): (u32, u32),
        mimes: &[String],
        sizes: &[[u32; 2]],
    ) -> bool {
        if self.format() != format {
            return false;
        }
        match self {
            Creative::Display(c) => sizes.contains(&[c.w, c.h]),
            Creative::Audio(_) | Creative::Video(_) => {
                let d = self.duration_s().unwrap_or(0);
                let mime = self.mime().unwrap_or("");
                (min_s..=max_s).contains(&d)
                    && (mimes.is_empty() || mimes.iter().any(|m| m.eq_ignore_ascii_case(mime)))
            }
        }
    }
}

impl LineItem {
    /// Whether this line item refuses to run next to an ad of `category`. An exclusion of a
    /// top-level category (`IAB8`) covers its subcategories (`IAB8-5`).
    pub fn excludes(&self, category: &str) -> bool {
        self.exclusions.iter().any(|x| category_covers(x, category))
    }

    /// Whether the two may not share a break: either one excludes a category of the other.
    /// (Same advertiser domain is a separate rule, applied by `Index::decide`.)
    pub fn conflicts_with(&self, other: &LineItem) -> bool {
        other.categories.iter().any(|c| self.excludes(c))
            || self.categories.iter().any(|c| other.excludes(c))
    }
}

/// `IAB8` covers `IAB8` and `IAB8-5`, not `IAB80`; `IAB8-5` covers only itself.
fn category_covers(exclusion: &str, category: &str) -> bool {
    match category.strip_prefix(exclusion) {
        Some("") => true,
        Some(rest) => !exclusion.contains('-') && rest.starts_with('-'),
        None => false,
    }
}
