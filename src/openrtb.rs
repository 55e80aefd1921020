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

mod bid;
mod markup;
mod members;
pub use bid::Bid;
pub use markup::Markup;
pub use members::Members;

pub type Rest = Map<String, Value>;

/// A JSON object's members by key: a `Map`, or a request's `Members` (read as a tree on
/// demand). For code that reads both the request's top level and objects of its own.
pub trait Lookup {
    fn member(&self, key: &str) -> Option<&Value>;
}

impl Lookup for Rest {
    fn member(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }
}

impl Lookup for Members {
    fn member(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }
}

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
    /// Everything else, as sent until read (`Members`).
    #[serde(flatten)]
    pub rest: Members,
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
        known_and_rest!($ty, $what, { $($field: $fty),* }, Rest,
            |$rest, key, map| {
                let value: Value = map.next_value()?;
                $rest.insert(key.into_owned(), value);
            },
            |$rest| $build);
    };
    ($ty:ident, $what:literal, { $($field:ident : $fty:ty),* }, $rest_ty:ty,
     |$r:ident, $key:ident, $map:ident| $other:block, |$rest:ident| $build:expr) => {
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
                        let mut $r = <$rest_ty>::new();
                        while let Some(Key($key)) = map.next_key::<Key<'de>>()? {
                            match $key.as_ref() {
                                $(stringify!($field) => {
                                    if $field.is_some() {
                                        return Err(de::Error::duplicate_field(stringify!($field)));
                                    }
                                    $field = Some(map.next_value()?);
                                })*
                                _ => {
                                    let $map = &mut map;
                                    $other
                                }
                            }
                        }
                        let $rest = $r;
                        $build
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}

// The request's other members are kept as sent (`Members`), each checked as a parse would.
known_and_rest!(BidRequest, "an OpenRTB BidRequest object",
{ id: String, imp: Vec<Imp>, tmax: Option<i64>, at: Option<i64>, cur: Option<Vec<String>> },
Members, |members, key, map| { members.read_next(key.into_owned(), map)?; },
|read| Ok(BidRequest {
    id: id.unwrap_or_default(),
    imp: imp.unwrap_or_default(),
    tmax: tmax.flatten(),
    at: at.flatten(),
    cur: cur.flatten(),
    rest: read.sorted(),
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
