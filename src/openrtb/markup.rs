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
}

impl<'de> Deserialize<'de> for Markup {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `Box<RawValue>` into `Box<str>` is a move, not a copy.
        Box::<RawValue>::deserialize(d).map(|raw| Markup(raw.into()))
    }
}

impl Serialize for Markup {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // serde_json writes raw JSON only through a `RawValue`, which is built by checking
        // the text again: done for the winners that are written out, never for the losers.
        let raw = RawValue::from_string(self.0.to_string()).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
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
    }
}
