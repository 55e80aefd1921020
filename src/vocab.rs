//! Shared vocabulary: the enums that the client API, the config, the catalog and internal
//! demand all speak, with their OpenRTB encodings side by side (so that what is written
//! into a bid request and what is read back from one cannot drift apart). The bottom layer:
//! it imports nothing from the crate.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The partner id direct (direct-sold, in-process) demand goes by in metrics, stats, tokens
/// and `ext`: `internal`, after its config section, kept for compatibility.
pub const DIRECT_PARTNER_ID: &str = "internal";
/// The seat direct demand's bids carry in answers.
pub const DIRECT_SEAT: &str = "direct";

/// What a client told in typed values about its listener and what plays (`/v1/ads`), for
/// direct demand's targeting. OpenRTB's codes lose some of it (a car and a speaker are both
/// a connected device; radio and podcasts show only on audio imps, as `feed`), so a request
/// that has these values hands them over as they are instead of having them read back from
/// the codes; a bare OpenRTB request has only the codes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Listener {
    pub device_type: Option<DeviceType>,
    /// Only where consent allows personal data, as for `user.gender`.
    pub gender: Option<Gender>,
    pub content: Option<ContentKind>,
}

/// Largest ad pod accepted by config validation; bounds the auction's pod table
/// (ads × seconds).
pub const MAX_POD_ADS: u32 = 10;
pub const MAX_POD_DURATION_S: u32 = 600;

/// Longest `burl` and bid `id` a bid may carry, in bytes as written in JSON (escapes
/// counted, see `text::json_len`). Both travel inside the tracking token, whose length
/// `events::token` bounds: a longer one is refused at screening (code 319) rather than
/// made into a tracking URL that verification would refuse.
pub const MAX_BURL_BYTES: usize = 2048;
pub const MAX_BID_ID_BYTES: usize = 256;
/// Longest `/v1/ads` `user.id` and `device.ifa` (bytes; no control characters): internal
/// demand's frequency caps carry one of them in the token.
pub const MAX_USER_ID_BYTES: usize = 128;
/// Longest `/v1/ads` slot id (bytes): it is the imp id in the token.
pub const MAX_SLOT_ID_BYTES: usize = 64;

// The kind of device the listener uses (`/v1/ads` `device.type`, catalog targeting).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DeviceType {
    Phone,
    Tablet,
    Desktop,
    Tv,
    Speaker,
    Car,
}

impl DeviceType {
    /// AdCOM device type: 2 PC, 3 connected TV, 4 phone, 5 tablet, 6 connected device.
    /// Speakers and cars are both connected devices: OpenRTB cannot tell them apart.
    pub fn to_openrtb(self) -> i64 {
        match self {
            DeviceType::Desktop => 2,
            DeviceType::Tv => 3,
            DeviceType::Phone => 4,
            DeviceType::Tablet => 5,
            DeviceType::Speaker | DeviceType::Car => 6,
        }
    }

    /// The inverse, as far as one exists (6 reads as a speaker; 1 mobile as a phone, 7 set-top
    /// box as a TV).
    pub fn from_openrtb(code: i64) -> Option<Self> {
        Some(match code {
            2 => DeviceType::Desktop,
            3 | 7 => DeviceType::Tv,
            1 | 4 => DeviceType::Phone,
            5 => DeviceType::Tablet,
            6 => DeviceType::Speaker,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum Gender {
    #[serde(rename = "f")]
    Female,
    #[serde(rename = "m")]
    Male,
    #[serde(rename = "o")]
    Other,
}

impl Gender {
    /// OpenRTB `user.gender`.
    pub fn to_openrtb(self) -> &'static str {
        match self {
            Gender::Female => "F",
            Gender::Male => "M",
            Gender::Other => "O",
        }
    }

    pub fn from_openrtb(code: &str) -> Option<Self> {
        match code {
            "F" => Some(Gender::Female),
            "M" => Some(Gender::Male),
            "O" => Some(Gender::Other),
            _ => None,
        }
    }
}

// What is playing.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ContentKind {
    Music,
    Podcast,
    Radio,
    Video,
}

// A placement's (and an ad's) format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdFormat {
    Audio,
    Display,
    Video,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openrtb_codes_round_trip() {
        use DeviceType::*;
        for t in [Phone, Tablet, Desktop, Tv, Speaker] {
            assert_eq!(DeviceType::from_openrtb(t.to_openrtb()), Some(t), "{t:?}");
        }
        // The one loss OpenRTB forces: a car is a connected device, read back as a speaker.
        assert_eq!(DeviceType::from_openrtb(Car.to_openrtb()), Some(Speaker));
        for g in [Gender::Female, Gender::Male, Gender::Other] {
            assert_eq!(Gender::from_openrtb(g.to_openrtb()), Some(g), "{g:?}");
        }
        assert_eq!(DeviceType::from_openrtb(99), None);
        assert_eq!(Gender::from_openrtb("x"), None);
    }
}
