//! OpenRTB 2.6 types, as far as the gateway needs to read or change them.
//!
//! Only the fields bidgate acts on are typed; every other field, `ext` included, is kept in
//! `rest` and written back unchanged, so partners receive exactly what the publisher sent
//! (bidder-specific `imp.ext` included). Optional fields stay `Option` so that a parse →
//! serialise round trip neither invents nor drops keys.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

mod markup;
pub use markup::Markup;

pub type Rest = Map<String, Value>;

/// The OpenRTB version header sent with every bid request: this name, and the version the
/// partner speaks (its `openrtb_version`; 2.6 unless it says 2.5).
pub const VERSION_HEADER: (&str, &str) = ("x-openrtb-version", "2.6");

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BidRequest {
    pub id: String,
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Imp {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bidfloor: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bidfloorcur: Option<String>,
    #[serde(flatten)]
    pub rest: Rest,
}

// These types are read with hand-written visitors (`known_and_rest!`) instead of
// `#[serde(flatten)]`: flatten buffers the whole document into serde's `Content` tree and
// then walks it again, which made partner answers (8 per auction, mostly markup) the largest
// CPU cost of an auction, and the client's request the next. The visitors read each member
// once, straight from the parser, and let `Bid` keep its markup raw (`Bid::adm`).

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BidResponse {
    pub id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub seatbid: Vec<SeatBid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bidid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cur: Option<String>,
    /// No-bid reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbr: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ext: Option<Value>,
    #[serde(flatten)]
    pub rest: Rest,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeatBid {
    pub bid: Vec<Bid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seat: Option<String>,
    #[serde(flatten)]
    pub rest: Rest,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Bid {
    pub id: String,
    pub impid: String,
    /// A JSON number is required; its sanity (finite, > 0) is judged by the auction.
    pub price: f64,
    /// The markup, kept as the partner sent it (a JSON string, escapes and all): most bids
    /// lose, and a loser's markup is never read, so it is neither unescaped on the way in
    /// nor escaped again on the way out. Read it with [`Bid::adm`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adm: Option<Markup>,
    #[serde(flatten)]
    pub rest: Rest,
}

impl PartialEq for Bid {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.impid == other.impid
            && self.price == other.price
            && self.adm.as_ref().map(|a| a.get()) == other.adm.as_ref().map(|a| a.get())
            && self.rest == other.rest
    }
}

impl Bid {
    /// `adm` as text: `None` when absent or not a JSON string. Borrowed unless it has escapes.
    pub fn adm(&self) -> Option<Cow<'_, str>> {
        let raw = self.adm.as_ref()?.get();
        let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
        // A raw JSON string without a backslash is its own text: borrow it. (Not by trying
        // `from_str::<&str>` first: its failure on escaped markup formats the whole markup
        // into an error message, which cost a fifth of an auction's instructions.)
        if !inner.contains('\\') {
            return Some(Cow::Borrowed(inner));
        }
        serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
    }

    /// Whether `adm` is a non-empty JSON string (without unescaping it).
    pub fn has_markup(&self) -> bool {
        self.adm
            .as_ref()
            .is_some_and(|a| a.get().len() > 2 && a.get().starts_with('"'))
    }

    /// `adm` with its macros replaced (a winner's markup); `None` when nothing changed.
    /// Done on the raw JSON text, values JSON-escaped: the markup is not unescaped and
    /// escaped again. Markup with `\u` escapes (which could spell a macro in disguise)
    /// takes the long way.
    pub fn adm_substituted(&self, values: &crate::macros::Values<'_>) -> Option<Markup> {
        let raw = self.adm.as_ref()?.get();
        let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
        if !inner.contains("${") {
            return None;
        }
        if inner.contains("\\u") {
            return match crate::macros::substitute(&self.adm()?, values) {
                Cow::Owned(r) => Some(Markup::from_text(&r)),
                Cow::Borrowed(_) => None,
            };
        }
        // Valid as it stands: the macros' values were written JSON-escaped.
        crate::macros::substitute_json_literal(inner, values).map(Markup::from_checked_string)
    }

    pub fn set_adm(&mut self, text: &str) {
        self.adm = Some(Markup::from_text(text));
    }

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

    /// A string member other than `adm` (see [`Bid::adm`]).
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

/// A map key, borrowed from the input when it can be (JSON keys rarely have escapes).
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A visitor for a type with a few known members (`name: Type`, each read as
/// `Option<Type>`) and the rest kept in `rest`; a repeated known member is an error, as with
/// serde's derive. `$build` makes the value from the `Option`s and `rest`.
macro_rules! known_and_rest {
    ($ty:ident, $what:literal, { $($field:ident : $fty:ty),* }, |$rest:ident| $build:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$ty, A::Error> {
                        $(let mut $field: Option<$fty> = None;)*
                        let mut $rest = Rest::new();
                        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                            match key.as_ref() {
                                $(stringify!($field) => {
                                    if $field.is_some() {
                                        return Err(de::Error::duplicate_field(stringify!($field)));
                                    }
                                    $field = Some(map.next_value()?);
                                })*
                                _ => {
                                    let value: Value = map.next_value()?;
                                    $rest.insert(key.into_owned(), value);
                                }
                            }
                        }
                        $build
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}

known_and_rest!(BidRequest, "an OpenRTB BidRequest object",
{ id: String, imp: Vec<Imp>, tmax: Option<i64>, at: Option<i64>, cur: Option<Vec<String>> },
|rest| Ok(BidRequest {
    id: id.unwrap_or_default(),
    imp: imp.unwrap_or_default(),
    tmax: tmax.flatten(),
    at: at.flatten(),
    cur: cur.flatten(),
    rest,
}));

known_and_rest!(Imp, "an OpenRTB Imp object",
{ id: String, bidfloor: Option<f64>, bidfloorcur: Option<String> },
|rest| Ok(Imp {
    id: id.unwrap_or_default(),
    bidfloor: bidfloor.flatten(),
    bidfloorcur: bidfloorcur.flatten(),
    rest,
}));

known_and_rest!(BidResponse, "an OpenRTB BidResponse object",
{ id: String, seatbid: Vec<SeatBid>, bidid: Option<String>, cur: Option<String>,
  nbr: Option<i64>, ext: Option<Value> },
|rest| Ok(BidResponse {
    id: id.ok_or_else(|| de::Error::missing_field("id"))?,
    seatbid: seatbid.unwrap_or_default(),
    bidid: bidid.flatten(),
    cur: cur.flatten(),
    nbr: nbr.flatten(),
    ext: ext.flatten(),
    rest,
}));

known_and_rest!(SeatBid, "an OpenRTB SeatBid object",
{ bid: Vec<Bid>, seat: Option<String> },
|rest| Ok(SeatBid {
    bid: bid.unwrap_or_default(),
    seat: seat.flatten(),
    rest,
}));

known_and_rest!(Bid, "an OpenRTB Bid object",
{ id: String, impid: String, price: f64, adm: Markup },
|rest| Ok(Bid {
    id: id.unwrap_or_default(),
    impid: impid.unwrap_or_default(),
    price: price.ok_or_else(|| de::Error::missing_field("price"))?,
    adm,
    rest,
}));

#[cfg(test)]
mod adm_tests {
    use super::*;

    #[test]
    fn markup_is_read_borrowed_unless_escaped_and_written_back_raw() {
        let b: Bid =
            serde_json::from_str(r#"{"id":"b","impid":"1","price":1,"adm":"<a>"}"#).unwrap();
        assert!(matches!(b.adm(), Some(Cow::Borrowed("<a>"))));
        let b: Bid =
            serde_json::from_str(r#"{"id":"b","impid":"1","price":1,"adm":"<a href=\"x\">"}"#)
                .unwrap();
        assert_eq!(b.adm().as_deref(), Some(r#"<a href="x">"#));
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"id":"b","impid":"1","price":1.0,"adm":"<a href=\"x\">"}"#
        );
        let b: Bid = serde_json::from_str(r#"{"id":"b","impid":"1","price":1,"adm":7}"#).unwrap();
        assert_eq!(b.adm(), None, "not a string");
    }
}
