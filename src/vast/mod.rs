//! VAST documents: the ad markup that audio and video clients play.
//!
//! A winning bid carries a partner's VAST (2.0 to 4.x, InLine or Wrapper) in `adm`, or only
//! the parts of a creative. bidgate then either adds its own tracking URLs to the partner's
//! document ([`inject`]), or writes a VAST 4.2 InLine itself ([`build_inline`]); either way it
//! can read the essentials back out to report them to the client ([`summary`]).
//!
//! A partner's document is hostile input: everything that reads one goes through one scanner
//! (`scan.rs`) built on quick-xml, which refuses DOCTYPE (so no entity expansion, internal or
//! external), caps nesting depth, and turns every defect into a [`VastError`], never a panic.
//! [`inject`] splices our elements into the partner's text at offsets the parser reports, so
//! everything of theirs (element order, attribute order, CDATA, comments) stays byte for byte.

mod build;
mod inject;
mod scan;
mod splice;
mod summary;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod inject_tests;
#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod read_tests;
#[cfg(test)]
mod tests;

pub use build::build_inline;
pub use inject::inject;
pub use summary::summary;

/// An event bidgate wants to hear about from the player.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Impression,
    Start,
    FirstQuartile,
    Midpoint,
    ThirdQuartile,
    Complete,
    Click,
    Error,
}

impl Event {
    /// The `event` attribute of a Linear `<Tracking>` element; `None` for the events VAST
    /// reports through other elements (Impression, ClickTracking, Error).
    fn tracking_name(self) -> Option<&'static str> {
        match self {
            Event::Start => Some("start"),
            Event::FirstQuartile => Some("firstQuartile"),
            Event::Midpoint => Some("midpoint"),
            Event::ThirdQuartile => Some("thirdQuartile"),
            Event::Complete => Some("complete"),
            Event::Impression | Event::Click | Event::Error => None,
        }
    }
}

/// A tracking URL for an event.
pub type Tracker = (Event, String);

/// A companion banner (the 640×640 image an audio app shows while the spot plays).
#[derive(Debug, Clone, PartialEq)]
pub struct Companion {
    pub width: u32,
    pub height: u32,
    pub image_url: String,
    /// The image's MIME type (`StaticResource@creativeType`).
    pub mime: Option<String>,
    pub click_through: Option<String>,
}

/// One encoding of the spot itself.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaFile {
    pub url: String,
    /// `MediaFile@type`; empty when a partner's document leaves it out.
    pub mime: String,
    pub bitrate_kbps: Option<u32>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// What bidgate knows about a creative when it builds the document itself.
pub struct Creative<'a> {
    pub ad_id: &'a str,
    pub ad_system: &'a str,
    pub title: &'a str,
    pub advertiser: Option<&'a str>,
    pub duration_ms: u64,
    pub media: &'a [MediaFile],
    pub click_through: Option<&'a str>,
    pub companion: Option<&'a Companion>,
}

/// The essentials of a VAST document's first ad, for the client.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    /// The root's `version` attribute.
    pub version: Option<String>,
    /// A Wrapper's `VASTAdTagURI`: the player fetches the real ad from there.
    pub wrapper_uri: Option<String>,
    pub ad_system: Option<String>,
    pub title: Option<String>,
    /// The first Linear's Duration; `None` when absent or not `HH:MM:SS[.mmm]`.
    pub duration_ms: Option<u64>,
    pub media: Vec<MediaFile>,
    pub companion: Option<Companion>,
    /// The first Linear's VideoClicks/ClickThrough.
    pub click_through: Option<String>,
}

/// Why a document could not be read or rewritten. Messages are one short line; any partner
/// text in them is clipped, so they can go into logs and `ext.errors` as they are.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum VastError {
    #[error("malformed XML at byte {at}: {reason}")]
    Malformed { at: u64, reason: String },
    /// Refused outright: a DTD is the door to entity expansion and external entities.
    #[error("DOCTYPE is not allowed in VAST")]
    Doctype,
    #[error("XML nested deeper than {0} elements")]
    TooDeep(usize),
    #[error("not a VAST document: {0}")]
    NotVast(String),
    #[error("no InLine or Wrapper ad in the VAST document")]
    NoAd,
    /// More ads or Linears than any real document has: adding trackers to each would let a
    /// small document grow our output without bound.
    #[error("more than {limit} {what} elements")]
    TooMany { what: &'static str, limit: usize },
}

/// Whether `adm` looks like a VAST document: an optional BOM, XML declaration, comments,
/// processing instructions and whitespace, then a `<VAST>` start tag. Only the prolog is
/// read, so this is cheap enough to ask of every bid; whether the rest is well-formed is for
/// [`inject`] and [`summary`] to find out. A DOCTYPE makes it `false`.
pub fn is_vast(adm: &str) -> bool {
    use quick_xml::events::Event as X;
    let body = adm.strip_prefix('\u{feff}').unwrap_or(adm);
    let mut reader = quick_xml::Reader::from_str(body);
    loop {
        match reader.read_event() {
            Ok(X::Decl(_) | X::Comment(_) | X::PI(_)) => {}
            Ok(X::Text(t)) if t.bytes().all(|b| b.is_ascii_whitespace()) => {}
            Ok(X::Start(s) | X::Empty(s)) => return s.local_name().as_ref() == "VAST",
            _ => return false,
        }
    }
}

/// Parses a VAST Duration, `HH:MM:SS` or `HH:MM:SS.mmm` (one to three fraction digits are
/// read as a decimal fraction). Anything else, including minutes or seconds past 59, is `None`.
pub fn parse_duration(text: &str) -> Option<u64> {
    let (hms, frac) = match text.trim().split_once('.') {
        Some((hms, frac)) => (hms, Some(frac)),
        None => (text.trim(), None),
    };
    let mut parts = hms.split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || m.len() != 2 || s.len() != 2 {
        return None;
    }
    let (h, m, s) = (digits(h)?, digits(m)?, digits(s)?);
    if m > 59 || s > 59 {
        return None;
    }
    let ms = match frac {
        None => 0,
        Some(f) if (1..=3).contains(&f.len()) => digits(f)? * 10u64.pow(3 - f.len() as u32),
        Some(_) => return None,
    };
    h.checked_mul(3_600_000)?
        .checked_add(m * 60_000 + s * 1000 + ms)
}

/// Only ASCII digits (`u64::from_str` would also take a sign).
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Formats milliseconds as a VAST Duration, `HH:MM:SS.mmm`.
pub fn format_duration(ms: u64) -> String {
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    format!("{h:02}:{m:02}:{:02}.{:03}", rest / 1000, rest % 1000)
}
