//! The catalog file: campaigns and line items of direct-sold demand, as ops write them.
//!
//! These types are the file format (published as `schemas/catalog.schema.json`, generated
//! from them). They keep what ops wrote — dates as RFC 3339 text, prices as decimals — so a
//! catalog can be printed back as it was; `load` checks every value and keeps the parsed
//! forms (unix seconds, `Micros`) beside them. Unknown keys are errors: a misspelt
//! targeting key must not silently widen a campaign to everyone.

use crate::vocab::{ContentKind, DeviceType, Gender};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A whole catalog file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    #[serde(default)]
    pub campaigns: Vec<Campaign>,
    #[serde(default)]
    pub line_items: Vec<LineItem>,
}

/// A deal with an advertiser; line items say what runs where for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    /// Unique; 1–64 characters of a-z, A-Z, 0-9, `-`, `_`, `.`.
    pub id: String,
    pub name: String,
}

/// One booking: creatives, when and to whom they run, at what priority and price, how much.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LineItem {
    /// Unique in the catalog; 1–64 characters of a-z, A-Z, 0-9, `-`, `_`, `.`. It keys the
    /// delivery counters, so keep it when editing a line item.
    pub id: String,
    /// The id of a campaign in this catalog.
    pub campaign: String,
    pub advertiser: Advertiser,
    /// IAB content categories of the ads (`IAB22`, `IAB8-5`), for competitive exclusions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Categories this line item refuses to run next to in one break. `IAB8` covers all of
    /// `IAB8-…`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusions: Vec<String>,
    /// Where a tap goes (a creative may name its own).
    pub click_url: String,
    /// At least one; a slot gets one that fits it, chosen at random among those that do.
    pub creatives: Vec<Creative>,
    pub flight: Flight,
    /// Absent dimensions match everyone.
    #[serde(default)]
    pub targeting: Targeting,
    pub tier: Tier,
    /// CPM in the auction currency: required for `sponsorship` and `standard`, optional for
    /// `house` (0 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpm: Option<f64>,
    /// Delivery goals; none = unlimited.
    #[serde(default)]
    pub goal: Goals,
    #[serde(default)]
    pub pacing: Pacing,
    /// Per listener (user or device key): every cap must have room for the ad to serve.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frequency_caps: Vec<FrequencyCap>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Advertiser {
    pub name: String,
    /// The advertiser's domain (`brand.example`): the `adomain` of its ads; a slot or break
    /// never gets two ads of one domain.
    pub domain: String,
}

/// One ad. `format` says which fields it has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum Creative {
    Audio(AudioCreative),
    Display(DisplayCreative),
    Video(VideoCreative),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AudioCreative {
    /// Unique within the line item.
    pub id: String,
    pub media_url: String,
    pub duration_s: u32,
    /// `audio/mpeg`, `audio/mp4`, `audio/aac`, …
    pub mime: String,
    /// An image shown while the ad plays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub companion: Option<Companion>,
    /// Overrides the line item's `click_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub click_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Companion {
    pub image_url: String,
    pub w: u32,
    pub h: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisplayCreative {
    /// Unique within the line item.
    pub id: String,
    pub image_url: String,
    pub w: u32,
    pub h: u32,
    /// Overrides the line item's `click_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub click_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VideoCreative {
    /// Unique within the line item.
    pub id: String,
    pub media_url: String,
    pub duration_s: u32,
    /// `video/mp4`, …
    pub mime: String,
    pub w: u32,
    pub h: u32,
    /// Overrides the line item's `click_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub click_url: Option<String>,
}

/// When the line item may serve: from `start` (inclusive) to `end` (exclusive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flight {
    /// RFC 3339, e.g. `2026-12-01T00:00:00Z` (an offset such as `+01:00` is converted).
    pub start: String,
    pub end: String,
}

/// Who and where. Every dimension is optional: absent = anyone. A present dimension needs
/// the request to carry that fact: a listener whose age is unknown never matches an age
/// range. An empty list is an error (it would match no one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Targeting {
    /// ISO 3166-1 alpha-3 (`SWE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub countries: Option<Vec<String>>,
    /// Operating systems as apps name them (`ios`, `android`); case-insensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_types: Option<Vec<DeviceType>>,
    /// Age in years, from the year of birth (so ±1 around birthdays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<AgeRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genders: Option<Vec<Gender>>,
    /// What is playing: `music`, `podcast`, `radio`, `video`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<ContentKind>>,
    /// Content genres (`hip-hop`); case-insensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genres: Option<Vec<String>>,
    /// Placement ids from the gateway's config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placements: Option<Vec<String>>,
    /// ISO 639-1 (`sv`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub languages: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_parting: Option<DayParting>,
}

/// Inclusive bounds; either may be left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgeRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
}

/// Hours and weekdays in the listener's local time (the request's UTC offset).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DayParting {
    /// Hours 0–23 whose start is included: `[7, 8]` is 07:00–08:59.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekdays: Option<Vec<Weekday>>,
    /// Offset assumed when the request carries none (e.g. 60 for a campaign sold for
    /// Sweden in winter). Unset: requests without an offset do not match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_utc_offset_min: Option<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

/// Priority. Ordered best first: `Sponsorship < Standard < House`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Sold as a guarantee: comes before any other ad, floors do not apply.
    Sponsorship,
    /// Competes on price with programmatic bids, at its CPM.
    Standard,
    /// Fills what nothing else fills.
    House,
}

/// Goals: reached ones stop the line item (the total for good, a daily one until the next
/// UTC day). Even pacing aims at them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Goals {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<Goal>,
    /// Per UTC day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily: Option<Goal>,
}

/// Impressions and/or spend (in the auction currency, a decimal like `cpm`); whichever is
/// reached first counts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Goal {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impressions: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spend: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Pacing {
    /// Spread delivery over the flight (and each day, for daily goals) so it ends on the
    /// goal, neither early nor short. Without goals there is nothing to pace: like `asap`.
    #[default]
    Even,
    /// Serve whenever eligible until a goal is reached.
    Asap,
}

/// At most `max` impressions per listener per `period_s` window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FrequencyCap {
    pub max: u32,
    /// Window length: 3600 = an hour, 86400 = a day. Windows are fixed (aligned to unix
    /// time), not sliding: see `store`.
    pub period_s: u64,
}
