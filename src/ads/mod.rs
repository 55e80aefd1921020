//! The client ad API (`POST /v1/ads`): what an app sends and what it gets back.
//!
//! Apps should not have to speak OpenRTB. They describe themselves, the device, the listener
//! (with consent) and the listening context, and name the slots they want filled by
//! placement id; ops configure everything else about a placement. `to_openrtb` turns the
//! request into one OpenRTB 2.6 bid request, `respond` turns the auction's winners into
//! ads with VAST and signed tracking URLs. Published as `schemas/ads-request.schema.json`
//! and `schemas/ads-response.schema.json` (generated from these types).

mod openrtb;
pub mod respond;

pub use openrtb::{Mapped, to_openrtb};
pub use respond::{AdResponse, respond};

pub use crate::vocab::{ContentKind, DeviceType, Gender};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Slots per request: an app asks for one screen or one break at a time.
pub const MAX_SLOTS: usize = 10;

/// `POST /v1/ads`. Unknown fields are ignored, so that newer apps work with older gateways.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct AdRequest {
    /// The app's own request id, echoed back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The most the app will wait, in ms; the placements' own limits also apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmax_ms: Option<u64>,
    pub app: App,
    #[serde(default)]
    pub device: Device,
    #[serde(default)]
    pub user: User,
    #[serde(default)]
    pub context: Context,
    /// What to fill: one entry per ad slot or ad break.
    pub slots: Vec<Slot>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
pub struct App {
    /// Store id of the app, e.g. `com.example.music` or `1234567890`.
    pub bundle: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
pub struct Device {
    /// `ios`, `android`, … as the platform names itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub make: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<DeviceType>,
    /// The advertising id (IDFA/GAID). Dropped without consent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ifa: Option<String>,
    /// Limit ad tracking is on (the OS setting): treated as no consent.
    #[serde(default)]
    pub lmt: bool,
    /// The device's IP; without it, the address the request came from. Truncated without
    /// consent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ua: Option<String>,
    /// Device language, ISO 639-1 (`sv`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The listener's local time offset from UTC in minutes (`120` in Stockholm in summer),
    /// for day-parted campaigns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset_min: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
pub struct User {
    /// The app's id for the listener. Dropped without consent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Year of birth. Dropped without consent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yob: Option<u16>,
    /// Dropped without consent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<Gender>,
    #[serde(default)]
    pub consent: Consent,
}

/// Privacy signals, passed to bidders as OpenRTB 2.6 carries them (`regs`, `user.consent`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
pub struct Consent {
    /// GDPR applies to this listener.
    #[serde(default)]
    pub gdpr: bool,
    /// The IAB TCF 2 consent string from the app's CMP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcf: Option<String>,
    /// The IAB US Privacy string (`1YNN`); a `Y` third character is an opt-out of sale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub us_privacy: Option<String>,
    /// The IAB GPP string and its applicable section ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpp: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpp_sid: Vec<u32>,
    /// The listener is a child (COPPA): no personal data at all.
    #[serde(default)]
    pub coppa: bool,
}

/// What is playing: bidders price music and podcast audiences differently.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
pub struct Context {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genre: Option<String>,
    /// The playlist, album or episode title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The podcast show or artist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    /// ISO 3166-1 alpha-3 (`SWE`), as OpenRTB has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Content language, ISO 639-1 (`sv`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct Slot {
    /// Unique in the request; the answer lists slots by it.
    pub id: String,
    /// A placement id from the gateway's config.
    pub placement: String,
}

/// Parses and checks a request body; the error names the field (`slots[1].placement: …`).
pub fn parse(
    body: &[u8],
    placements: &[crate::config::PlacementConfig],
) -> Result<AdRequest, String> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    let req: AdRequest = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() || path == "." {
            format!("request body is not valid JSON for an ad request: {inner}")
        } else {
            format!("request.{path}: {inner}")
        }
    })?;
    check(&req, placements)?;
    Ok(req)
}

fn check(r: &AdRequest, placements: &[crate::config::PlacementConfig]) -> Result<(), String> {
    let bad = |field: &str, why: &str| Err(format!("request.{field} {why}"));
    if r.app.bundle.trim().is_empty() {
        return bad("app.bundle", "must not be empty");
    }
    if r.slots.is_empty() {
        return bad("slots", "must list at least one slot");
    }
    if r.slots.len() > MAX_SLOTS {
        return bad("slots", &format!("may list at most {MAX_SLOTS} slots"));
    }
    for (i, slot) in r.slots.iter().enumerate() {
        if slot.id.is_empty() || slot.id.len() > crate::vocab::MAX_SLOT_ID_BYTES {
            return bad(&format!("slots[{i}].id"), "must be 1-64 characters");
        }
        if r.slots[..i].iter().any(|s| s.id == slot.id) {
            return bad(
                &format!("slots[{i}].id"),
                &format!("`{}` is used by another slot", slot.id),
            );
        }
        if !placements.iter().any(|p| p.id == slot.placement) {
            return Err(format!(
                "request.slots[{i}].placement: unknown placement `{}`",
                crate::text::clip(&slot.placement)
            ));
        }
    }
    if r.tmax_ms == Some(0) {
        return bad("tmax_ms", "must be > 0");
    }
    if let Some(c) = &r.context.country
        && !(c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
    {
        return bad(
            "context.country",
            "must be an ISO 3166-1 alpha-3 code such as `SWE`",
        );
    }
    for (field, lang) in [
        ("context.language", &r.context.language),
        ("device.language", &r.device.language),
    ] {
        if lang
            .as_ref()
            .is_some_and(|l| !(l.len() == 2 && l.bytes().all(|b| b.is_ascii_lowercase())))
        {
            return bad(field, "must be an ISO 639-1 code such as `sv`");
        }
    }
    if r.device
        .utc_offset_min
        .is_some_and(|m| !(-720..=840).contains(&m))
    {
        return bad("device.utc_offset_min", "must be between -720 and 840");
    }
    // Either may travel in a tracking token (direct demand's frequency caps): bounded.
    for (field, id) in [("user.id", &r.user.id), ("device.ifa", &r.device.ifa)] {
        if id.as_deref().is_some_and(|id| {
            id.len() > crate::vocab::MAX_USER_ID_BYTES || id.chars().any(char::is_control)
        }) {
            return bad(
                field,
                "must be at most 128 bytes, without control characters",
            );
        }
    }
    if r.user.yob.is_some_and(|y| !(1900..=2100).contains(&y)) {
        return bad("user.yob", "must be a year between 1900 and 2100");
    }
    if let Some(us) = &r.user.consent.us_privacy
        && !(us.len() == 4 && us.is_ascii())
    {
        return bad(
            "user.consent.us_privacy",
            "must be a 4-character US Privacy string such as `1YNN`",
        );
    }
    Ok(())
}

/// Whether personal data (ids, precise location, demographics) may reach bidders: not for a
/// child, not where GDPR applies without a TCF consent string, not after a US opt-out (of
/// sale in the US Privacy string, read as the fan-out reads it: either case; of sale, sharing
/// or targeted advertising in a GPP US section), not with limit-ad-tracking on. Per-vendor
/// TCF decoding is not done here: the fan-out does it per partner (`privacy::Signals`); this
/// check also guards direct demand, which the per-vendor rules do not cover.
pub fn personal_data_allowed(r: &AdRequest) -> bool {
    let c = &r.user.consent;
    let gdpr_without_consent = c.gdpr && c.tcf.as_deref().is_none_or(|s| s.trim().is_empty());
    let us_opt_out = c
        .us_privacy
        .as_deref()
        .and_then(crate::privacy::us_privacy_opt_out)
        == Some(true);
    let gpp_opt_out = c
        .gpp
        .as_deref()
        .is_some_and(|s| !crate::privacy::gpp::decode(s).opted_out.is_empty());
    !(c.coppa || gdpr_without_consent || us_opt_out || gpp_opt_out || r.device.lmt)
}
