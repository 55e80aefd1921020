//! The client request's untyped top-level members (`app`, `device`, `user`, `regs`,
//! `source`, `ext`…), each kept as the client sent it and made a `Value` tree only when
//! something reads it.
//!
//! Why: building, serialising and dropping the `serde_json::Value` tree of these members
//! was the largest cost of an auction that bidgate has and a bare forwarder has not (a tenth
//! of its instructions, a third of its allocations), while most of them are only passed
//! on: a partner's body copies the text as sent. A member that is read (privacy signals,
//! validation, direct demand) is parsed once, on first read; one that is changed
//! (`get_mut`, `insert`) is written back from its tree.
//!
//! Nothing parses differently because of this: each member is checked when the request is
//! read ([`Checked`]: the same checks a `Value` parse makes: nesting depth, number range,
//! escapes and surrogates), so a request is refused at the edge when it was refused before
//! (one difference: a member, checked alone, may nest 128 levels deep where inside the whole
//! request 127 were allowed), and a later parse of a member cannot fail.

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;
use std::fmt;
use std::sync::OnceLock;

use super::Rest;

/// Members by key, in key order (the order a `Map` serialises in, so bodies are unchanged).
#[derive(Clone, Default)]
pub struct Members {
    entries: Vec<Entry>,
}

#[derive(Clone)]
struct Entry {
    key: String,
    /// The member as sent; `None` once it was changed (the tree is then the truth).
    raw: Option<Box<RawValue>>,
    /// The member as a tree, parsed on first read (always set when `raw` is `None`).
    tree: OnceLock<Value>,
    /// Where `raw` has a negative number one or two objects down (`w`, `geo.accuracy`),
    /// found by the check that reads it anyway: validation refuses negative counts and
    /// sizes, and finds them here instead of a pass of its own (almost always empty).
    negatives: Vec<Box<str>>,
}

impl Entry {
    fn value(&self) -> &Value {
        self.tree.get_or_init(|| match &self.raw {
            // Checked when read (`Checked`), so this parse succeeds.
            Some(raw) => serde_json::from_str(raw.get()).unwrap_or(Value::Null),
            None => Value::Null,
        })
    }

    fn value_mut(&mut self) -> &mut Value {
        self.value();
        self.raw = None;
        self.tree.get_mut().expect("parsed above")
    }

    fn tree(key: String, value: Value) -> Entry {
        Entry {
            key,
            raw: None,
            tree: OnceLock::from(value),
            negatives: Vec::new(),
        }
    }
}

impl Members {
    pub fn new() -> Self {
        Self::default()
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|e| e.key.as_str().cmp(key))
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        let i = self.find(key).ok()?;
        Some(self.entries[i].value())
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        let i = self.find(key).ok()?;
        Some(self.entries[i].value_mut())
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// The paths (`w`, `geo.accuracy`) of the negative numbers in `key`'s object and in its
    /// objects, while it is as sent (`None` once parsed or changed: then read the tree).
    pub fn negatives_as_sent(&self, key: &str) -> Option<&[Box<str>]> {
        let e = &self.entries[self.find(key).ok()?];
        match (&e.raw, e.tree.get()) {
            (Some(_), None) => Some(&e.negatives),
            _ => None,
        }
    }

    /// Whether `key` is present and not `null`, without parsing it.
    pub fn is_present(&self, key: &str) -> bool {
        match self.find(key) {
            Ok(i) => match &self.entries[i].raw {
                Some(raw) => raw.get() != "null",
                None => !self.entries[i].value().is_null(),
            },
            Err(_) => false,
        }
    }

    /// Sets `key` to `value`; returns the value it had.
    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(self.entries[i].value_mut(), value)),
            Err(i) => {
                self.entries.insert(i, Entry::tree(key, value));
                None
            }
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.find(key).ok()?;
        let mut e = self.entries.remove(i);
        e.value();
        e.tree.take()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every member, parsed, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.entries.iter().map(|e| (&e.key, e.value()))
    }

    /// A copy as a `Map`, every member parsed (for the rare bodies that change members).
    pub fn to_map(&self) -> Rest {
        self.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Puts the members read (`read_next`, in the order sent) in key order, the last of a
    /// repeated key kept, as a `Map` keeps it. Once, at the end: a sorted insert per member
    /// would move the whole list for each of a hostile body's ten thousand members.
    pub(super) fn sorted(mut self) -> Self {
        // Stable: a repeated key's copies stay in the order sent.
        self.entries.sort_by(|a, b| a.key.cmp(&b.key));
        // `dedup_by` keeps the first of a run: the later copy is swapped into its place.
        self.entries.dedup_by(|later, kept| {
            let same = later.key == kept.key;
            if same {
                std::mem::swap(later, kept);
            }
            same
        });
        self
    }

    /// Reads the next member's value as sent, checked as a tree parse would check it (the
    /// visitor of `BidRequest`; [`Members::sorted`] once all are read).
    pub(super) fn read_next<'de, A: MapAccess<'de>>(
        &mut self,
        key: String,
        map: &mut A,
    ) -> Result<(), A::Error> {
        let raw: Box<RawValue> = map.next_value()?;
        let mut negatives = Vec::new();
        let mut de = serde_json::Deserializer::from_str(raw.get());
        Noting {
            at: At::Top,
            found: &mut negatives,
        }
        .deserialize(&mut de)
        .map_err(de::Error::custom)?;
        self.entries.push(Entry {
            key,
            raw: Some(raw),
            tree: OnceLock::new(),
            negatives,
        });
        Ok(())
    }
}

impl From<Rest> for Members {
    fn from(map: Rest) -> Self {
        // A Map iterates in key order: the entries come out sorted.
        Members {
            entries: map.into_iter().map(|(k, v)| Entry::tree(k, v)).collect(),
        }
    }
}

impl PartialEq for Members {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for Members {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Members {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.entries.len()))?;
        for e in &self.entries {
            match &e.raw {
                // Text as sent: a serde_json writer copies it (other serialisers parse it).
                Some(raw) => map.serialize_entry(&e.key, raw)?,
                None => map.serialize_entry(&e.key, e.value())?,
            }
        }
        map.end()
    }
}

/// [`Checked`], noting where negative numbers are down to two objects deep.
struct Noting<'a, 'k> {
    at: At<'k>,
    found: &'a mut Vec<Box<str>>,
}

/// Where a value sits: the member itself, a member of it, or one of that one's.
#[derive(Clone, Copy)]
enum At<'k> {
    Top,
    One(&'k str),
    Two(&'k str, &'k str),
}

impl<'de> DeserializeSeed<'de> for Noting<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Noting<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.number(v as f64);
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.number(v);
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        Checked.visit_seq(seq).map(|_| ())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(super::Key(key)) = map.next_key()? {
            let at = match self.at {
                At::Top => At::One(&key),
                At::One(parent) => At::Two(parent, &key),
                At::Two(..) => {
                    map.next_value::<Checked>()?;
                    continue;
                }
            };
            map.next_value_seed(Noting {
                at,
                found: &mut *self.found,
            })?;
        }
        Ok(())
    }
}

impl Noting<'_, '_> {
    fn number(self, v: f64) {
        if v < 0.0 {
            match self.at {
                At::Top => {}
                At::One(k) => self.found.push(k.into()),
                At::Two(p, k) => self.found.push(format!("{p}.{k}").into()),
            }
        }
    }
}

/// A JSON value read through and dropped: serde_json's own checks, nothing allocated
/// (`IgnoredAny` would skip the checks: serde_json ignores values without them).
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Checked)
    }
}

impl<'de> Visitor<'de> for Checked {
    type Value = Checked;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_key::<Checked>()?.is_some() {
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

#[cfg(test)]
mod tests;
