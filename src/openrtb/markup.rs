//! A bid's markup (`adm`) as the partner sent it: the raw JSON value, escapes and all.
//!
//! Why not `Box<serde_json::RawValue>`: markup is most of a partner's answer (8 answers of
//! ~8 KB per auction), and serde_json's scan over escaped markup was a quarter of an
//! auction's instructions. `partners::parse` finds the markup with a faster scanner of its
//! own and needs to hand over text it has already validated, which `RawValue` (built only by
//! re-parsing) cannot take. A `Markup` is built three ways, all of which guarantee that it
//! holds one valid JSON value: deserialised (serde_json validated it), from text
//! ([`Markup::from_text`], serde_json escapes it), or from a literal that a scanner checked
//! ([`Markup::from_checked_literal`]).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Markup(Box<str>);

impl Markup {
    /// The raw JSON text (for a string: with its quotes and escapes).
    pub fn get(&self) -> &str {
        &self.0
    }

    /// The markup of `text`, escaped as a JSON string.
    pub fn from_text(text: &str) -> Self {
        // A `&str` always serialises.
        Markup(serde_json::to_string(text).unwrap_or_default().into())
    }

    /// A JSON string literal (quotes included) that the caller has checked: quoted at both
    /// ends, no raw control characters, only valid escapes, valid UTF-8 (it is a `str`).
    pub(crate) fn from_checked_literal(literal: &str) -> Self {
        debug_assert!(literal.len() >= 2 && literal.starts_with('"') && literal.ends_with('"'));
        Markup(literal.into())
    }

    /// [`Markup::from_checked_literal`] for a literal the caller built and owns (not copied).
    pub(crate) fn from_checked_string(literal: String) -> Self {
        debug_assert!(literal.len() >= 2 && literal.starts_with('"') && literal.ends_with('"'));
        Markup(literal.into_boxed_str())
    }
}

impl<'de> Deserialize<'de> for Markup {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `Box<RawValue>` into `Box<str>` is a move, not a copy.
        Box::<RawValue>::deserialize(d).map(|raw| Markup(raw.into()))
    }
}

/// The struct name (and field name) by which serde_json's serializers recognise raw JSON to
/// write as it is: the name `RawValue`'s own `Serialize` uses (serde_json's `raw.rs`).
/// Written here because the only public way, `RawValue::from_string`, parses the text again
/// first: for a winner's 4 KB of escaped VAST that was ~25,000 instructions, 3.5% of an
/// auction, to re-check what the `Markup` constructors already guarantee. Should serde_json
/// ever rename it, `tests::round_trips_raw_and_escapes_text` fails (the markup would come out
/// wrapped in an object).
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

impl Serialize for Markup {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut raw = s.serialize_struct(RAW_VALUE_TOKEN, 1)?;
        raw.serialize_field(RAW_VALUE_TOKEN, &*self.0)?;
        raw.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_raw_and_escapes_text() {
        let m: Markup = serde_json::from_str(r#""<a href=\"x\">""#).unwrap();
        assert_eq!(m.get(), r#""<a href=\"x\">""#);
        assert_eq!(serde_json::to_string(&m).unwrap(), r#""<a href=\"x\">""#);
        assert_eq!(Markup::from_text("<a href=\"x\">\n"), {
            let m: Markup = serde_json::from_str(r#""<a href=\"x\">\n""#).unwrap();
            m
        });
        let n: Markup = serde_json::from_str("7").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "7");
        // Every serde_json writer takes it raw: pretty, into a `Value`, inside a struct.
        assert_eq!(serde_json::to_string_pretty(&m).unwrap(), m.get());
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            serde_json::Value::String("<a href=\"x\">".into())
        );
        assert_eq!(
            serde_json::to_string(&[Some(&m), None]).unwrap(),
            format!("[{},null]", m.get())
        );
    }
}
