//! A bid (`seatbid[].bid[]`): the members the gateway acts on, typed or in slots of their
//! own, and every other member kept as it came.
//!
//! Why slots: a partner's answer is mostly markup (found and kept raw by `partners::answer`), and
//! what is left, the members of each bid, went into a `Map<String, Value>`: a key
//! allocated and a B-tree insert per member, 16 bids an auction. The members most bids
//! carry (`adomain`, `crid`, `mtype`, the notice URLs…) now each have a slot, filled
//! straight from the parser with the key borrowed; the map keeps the rest. A slot holds a
//! `Value`, whatever the partner sent, so a wrongly typed member is still the screening's to
//! judge (per bid), not a parse error for the whole answer. Read and change members through
//! [`Bid::get`], [`Bid::insert`], [`Bid::remove`] and [`Bid::member_or_insert`], which know
//! both places.

use super::{Key, Markup, Rest};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// Declares the slots: the struct, and lookup by member name.
macro_rules! slots {
    ($($name:ident),* $(,)?) => {
        /// The slotted members (opaque: read them with [`Bid::get`]).
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct Slots {
            $($name: Option<Value>,)*
        }

        impl Slots {
            fn slot(&self, key: &str) -> Option<&Option<Value>> {
                match key {
                    $(stringify!($name) => Some(&self.$name),)*
                    _ => None,
                }
            }

            fn slot_mut(&mut self, key: &str) -> Option<&mut Option<Value>> {
                match key {
                    $(stringify!($name) => Some(&mut self.$name),)*
                    _ => None,
                }
            }

            /// The filled slots, in declaration order.
            fn filled(&self) -> impl Iterator<Item = (&'static str, &Value)> {
                [$((stringify!($name), self.$name.as_ref()),)*]
                    .into_iter()
                    .filter_map(|(k, v)| Some((k, v?)))
            }
        }
    };
}

slots!(
    adomain, cid, crid, mtype, dur, w, h, nurl, burl, lurl, adid, cat, attr, dealid, bundle, iurl,
    language, langb, ext,
);

#[derive(Debug, Clone, Default)]
pub struct Bid {
    pub id: String,
    pub impid: String,
    /// A JSON number is required; its sanity (finite, > 0) is judged by the auction.
    pub price: f64,
    /// The markup, kept as the partner sent it (a JSON string, escapes and all): most bids
    /// lose, and a loser's markup is never read, so it is neither unescaped on the way in
    /// nor escaped again on the way out. Read it with [`Bid::adm`].
    pub adm: Option<Markup>,
    /// Public only so that `Bid { .., ..Bid::default() }` can be written elsewhere.
    pub slots: Slots,
    /// Members without a slot. (A slotted member put here directly is still read and
    /// written, unless its slot is filled too.)
    pub rest: Rest,
}

impl PartialEq for Bid {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.impid == other.impid
            && self.price == other.price
            && self.adm.as_ref().map(|a| a.get()) == other.adm.as_ref().map(|a| a.get())
            && self.members().eq(other.members())
    }
}

impl Bid {
    /// Any member other than `id`, `impid`, `price` and `adm`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self.slots.slot(key) {
            Some(Some(v)) => Some(v),
            _ => self.rest.get(key),
        }
    }

    /// Sets a member other than `id`, `impid`, `price` and `adm`.
    pub fn insert(&mut self, key: &str, value: Value) {
        match self.slots.slot_mut(key) {
            Some(slot) => {
                self.rest.remove(key);
                *slot = Some(value);
            }
            None => {
                self.rest.insert(key.to_string(), value);
            }
        }
    }

    /// Removes a member other than `id`, `impid`, `price` and `adm`.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let slotted = self.slots.slot_mut(key).and_then(Option::take);
        let loose = self.rest.remove(key);
        slotted.or(loose)
    }

    /// The member `key`, inserted as `make()` first when absent.
    pub fn member_or_insert(&mut self, key: &str, make: impl FnOnce() -> Value) -> &mut Value {
        if self.get(key).is_none() {
            self.insert(key, make());
        }
        match self.slots.slot_mut(key) {
            Some(Some(v)) => v,
            _ => self.rest.get_mut(key).expect("inserted above"),
        }
    }

    /// Every member other than `id`, `impid`, `price` and `adm`: the slots in their order,
    /// then the rest by name.
    pub fn members(&self) -> impl Iterator<Item = (&str, &Value)> {
        let slots = &self.slots;
        let filled = slots.filled().map(|(k, v)| -> (&str, &Value) { (k, v) });
        let loose = self
            .rest
            .iter()
            .filter_map(move |(k, v)| match slots.slot(k) {
                Some(Some(_)) => None,
                _ => Some((k.as_str(), v)),
            });
        filled.chain(loose)
    }

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
        // memmem, not `str::contains`: these two look through every winner's markup.
        memchr::memmem::find(inner.as_bytes(), b"${")?;
        if memchr::memmem::find(inner.as_bytes(), b"\\u").is_some() {
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
        self.get("dur")?
            .as_u64()
            .and_then(|d| u32::try_from(d).ok())
    }

    /// The first of `adomain`, the advertiser's domain.
    pub fn first_adomain(&self) -> Option<&str> {
        self.get("adomain")?.as_array()?.first()?.as_str()
    }

    /// A string member other than `adm` (see [`Bid::adm`]).
    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_str()
    }
}

impl Serialize for Bid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("impid", &self.impid)?;
        m.serialize_entry("price", &self.price)?;
        if let Some(adm) = &self.adm {
            m.serialize_entry("adm", adm)?;
        }
        for (k, v) in self.members() {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Bid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Bid;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an OpenRTB Bid object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Bid, A::Error> {
                /// A typed member given twice is an error, as with serde's derive.
                fn once<T, E: de::Error>(
                    slot: &mut Option<T>,
                    v: T,
                    name: &'static str,
                ) -> Result<(), E> {
                    if slot.replace(v).is_some() {
                        return Err(E::duplicate_field(name));
                    }
                    Ok(())
                }
                let mut bid = Bid::default();
                let (mut id, mut impid, mut price) = (None, None, None);
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    match key.as_ref() {
                        "id" => once(&mut id, map.next_value::<String>()?, "id")?,
                        "impid" => once(&mut impid, map.next_value::<String>()?, "impid")?,
                        "price" => once(&mut price, map.next_value::<f64>()?, "price")?,
                        "adm" => once(&mut bid.adm, map.next_value::<Markup>()?, "adm")?,
                        // A member given twice keeps its last value, as a map would.
                        k => match bid.slots.slot_mut(k) {
                            Some(slot) => *slot = Some(map.next_value()?),
                            None => {
                                let value: Value = map.next_value()?;
                                bid.rest.insert(key.into_owned(), value);
                            }
                        },
                    }
                }
                bid.id = id.unwrap_or_default();
                bid.impid = impid.unwrap_or_default();
                bid.price = price.ok_or_else(|| de::Error::missing_field("price"))?;
                Ok(bid)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
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
    #[test]
    fn slotted_and_loose_members_read_write_and_round_trip_alike() {
        let text = r#"{"id":"b","impid":"1","price":2,"crid":"c-1","mtype":"3","zz":1,"adomain":["a.example"],"crid":"c-2","nurl":"https://n"}"#;
        let mut b: Bid = serde_json::from_str(text).unwrap();
        // Slotted (crid, a repeat keeps the last), wrongly typed (mtype) and loose (zz) alike.
        assert_eq!(b.str_field("crid"), Some("c-2"));
        assert_eq!(b.get("mtype"), Some(&Value::from("3")));
        assert_eq!(b.get("zz"), Some(&Value::from(1)));
        assert_eq!(b.first_adomain(), Some("a.example"));
        assert_eq!(b.remove("nurl"), Some(Value::from("https://n")));
        assert_eq!(b.get("nurl"), None);
        b.insert("burl", "https://b".into());
        b.insert("yy", true.into());
        b.member_or_insert("ext", || serde_json::json!({}))["k"] = 7.into();
        let back: Value = serde_json::to_value(&b).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"id":"b","impid":"1","price":2.0,"crid":"c-2","mtype":"3",
                "adomain":["a.example"],"burl":"https://b","ext":{"k":7},"zz":1,"yy":true})
        );
        let again: Bid = serde_json::from_value(back).unwrap();
        assert_eq!(again, b);
        // A slotted member put straight into `rest` is still seen, and written once.
        let mut direct = Bid::default();
        direct.rest.insert("cid".into(), "x".into());
        assert_eq!(direct.str_field("cid"), Some("x"));
        direct.insert("cid", "y".into());
        let written = serde_json::to_string(&direct).unwrap();
        assert_eq!(written.matches("\"cid\"").count(), 1, "{written}");
        assert_eq!(direct.str_field("cid"), Some("y"));
        // Typed members given twice are refused, as before.
        assert!(serde_json::from_str::<Bid>(r#"{"id":"a","id":"b","price":1}"#).is_err());
        assert!(
            serde_json::from_str::<Bid>(r#"{"id":"a"}"#).is_err(),
            "price is required"
        );
    }
}
