//! OpenRTB 2.6 types, as far as the gateway needs to read or change them.
//!
//! Only the fields bidgate acts on are typed; every other field, `ext` included, is kept in
//! `rest` and written back unchanged, so partners receive exactly what the publisher sent
//! (bidder-specific `imp.ext` included). Optional fields stay `Option` so that a parse →
//! serialise round trip neither invents nor drops keys.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub type Rest = Map<String, Value>;

/// The OpenRTB version header sent with every bid request.
pub const VERSION_HEADER: (&str, &str) = ("x-openrtb-version", "2.6");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BidRequest {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub imp: Vec<Imp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmax: Option<i64>,
    /// Auction type: 1 first price, 2 second price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cur: Option<Vec<String>>,
    #[serde(flatten)]
    pub rest: Rest,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Imp {
    #[serde(default)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bidfloor: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bidfloorcur: Option<String>,
    #[serde(flatten)]
    pub rest: Rest,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BidResponse {
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seatbid: Vec<SeatBid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bidid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cur: Option<String>,
    /// No-bid reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbr: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext: Option<Value>,
    #[serde(flatten)]
    pub rest: Rest,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeatBid {
    #[serde(default)]
    pub bid: Vec<Bid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat: Option<String>,
    #[serde(flatten)]
    pub rest: Rest,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Bid {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub impid: String,
    /// A JSON number is required; its sanity (finite, > 0) is judged by the auction.
    pub price: f64,
    #[serde(flatten)]
    pub rest: Rest,
}

impl Bid {
    /// `dur`: the ad's duration in seconds (video/audio), when given as a sane integer.
    pub fn dur(&self) -> Option<u32> {
        self.rest
            .get("dur")?
            .as_u64()
            .and_then(|d| u32::try_from(d).ok())
    }

    /// The first of `adomain`, the advertiser's domain.
    pub fn first_adomain(&self) -> Option<&str> {
        self.rest.get("adomain")?.as_array()?.first()?.as_str()
    }

    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.rest.get(key)?.as_str()
    }
}

/// Compares two JSON documents as OpenRTB readers do: numbers by value (`1` equals `1.0`).
pub fn semantically_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| semantically_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| semantically_equal(v, w)))
        }
        _ => a == b,
    }
}
