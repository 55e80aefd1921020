//! Writing VAST: the small element writer that [`build_inline`] and [`super::inject`] share,
//! and the VAST 4.2 InLine document bidgate builds when it has only a creative's parts.
//!
//! Escaping follows quick-xml (`escape` for text and attributes, `BytesCData::escaped` to
//! split a `]]>` across CDATA sections). Characters XML 1.0 cannot carry at all (most C0
//! controls, U+FFFE, U+FFFF) are dropped: no escape exists for them, and a document that
//! contained one would be refused whole by the player.

use super::{Creative, Event, MediaFile, Tracker, format_duration};
use quick_xml::escape::escape;
use quick_xml::events::BytesCData;
use std::borrow::Cow;

/// Appends elements to a string. Every name gets `prefix` (`"vast:"` when the partner's
/// document is prefixed, usually `""`), so what we add lands in the partner's namespace.
pub(super) struct Xml<'p> {
    out: String,
    prefix: &'p str,
}

impl<'p> Xml<'p> {
    pub(super) fn new(prefix: &'p str) -> Xml<'p> {
        Xml {
            out: String::new(),
            prefix,
        }
    }

    pub(super) fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push('<');
        self.out.push_str(self.prefix);
        self.out.push_str(name);
        for (key, value) in attrs {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            self.out.push_str(&escape(clean(value)));
            self.out.push('"');
        }
        self.out.push('>');
    }

    pub(super) fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(self.prefix);
        self.out.push_str(name);
        self.out.push('>');
    }

    /// An element holding escaped text.
    pub(super) fn text(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.open(name, attrs);
        self.out.push_str(&escape(clean(text)));
        self.close(name);
    }

    /// An element holding a URL, as CDATA: players copy CDATA verbatim, and partners' URLs
    /// are full of `&`.
    pub(super) fn url(&mut self, name: &str, attrs: &[(&str, &str)], url: &str) {
        self.open(name, attrs);
        let url = clean(url.trim());
        for section in BytesCData::escaped(&url) {
            self.out.push_str("<![CDATA[");
            self.out.push_str(&section);
            self.out.push_str("]]>");
        }
        self.close(name);
    }

    /// One `name` element per tracker for `event`.
    pub(super) fn trackers(&mut self, name: &str, trackers: &[Tracker], event: Event) {
        for (_, url) in trackers.iter().filter(|(e, _)| *e == event) {
            self.url(name, &[], url);
        }
    }

    /// One `<Tracking event="…">` per Linear progress tracker, in the given order.
    pub(super) fn tracking(&mut self, trackers: &[Tracker]) {
        for (event, url) in trackers {
            if let Some(name) = event.tracking_name() {
                self.url("Tracking", &[("event", name)], url);
            }
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    pub(super) fn into_string(self) -> String {
        self.out
    }
}

/// Drops the characters XML 1.0 has no way to carry.
fn clean(s: &str) -> Cow<'_, str> {
    fn allowed(c: char) -> bool {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
            || c >= '\u{10000}'
    }
    match s.chars().all(allowed) {
        true => Cow::Borrowed(s),
        false => Cow::Owned(s.chars().filter(|&c| allowed(c)).collect()),
    }
}

/// Our own creatives' registry entry: VAST 4.1+ requires a UniversalAdId and says to write
/// `unknown` when there is none.
const UNKNOWN_AD_ID: &[(&str, &str)] = &[("idRegistry", "unknown")];

/// A VAST 4.2 InLine document: Ad/InLine with AdSystem, AdTitle, Advertiser, Impression(s),
/// Error, Creatives/Creative/Linear (Duration HH:MM:SS.mmm, TrackingEvents, VideoClicks
/// ClickThrough/ClickTracking, MediaFiles) and, with a companion, a second Creative with
/// CompanionAds/Companion/StaticResource (+ CompanionClickThrough). URLs in CDATA (split any
/// "]]>" correctly), attributes escaped.
///
/// Elements follow the 4.2 XSD's sequences: InLine is AdSystem, Error, Impression,
/// AdServingId, AdTitle, Advertiser, Creatives; Linear is TrackingEvents, Duration,
/// MediaFiles, VideoClicks; each Creative ends with `<UniversalAdId idRegistry="unknown">`.
/// AdServingId (required by 4.2) carries `ad_id`; `Ad@adType="audio"` is set when every media
/// file is `audio/*`. Where the XSD wants a value bidgate does not know, the attribute is left
/// out rather than invented: MediaFile `width`/`height` without dimensions (audio), and
/// `StaticResource@creativeType` without a mime. MediaFile `delivery` is `streaming` for HLS
/// and DASH manifests, otherwise `progressive`.
pub fn build_inline(c: &Creative, trackers: &[Tracker]) -> String {
    let mut x = Xml::new("");
    x.out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    x.open(
        "VAST",
        &[("version", "4.2"), ("xmlns", "http://www.iab.com/VAST")],
    );
    let audio = !c.media.is_empty() && c.media.iter().all(|m| m.mime.starts_with("audio/"));
    let mut ad = vec![("id", c.ad_id)];
    if audio {
        ad.push(("adType", "audio"));
    }
    x.open("Ad", &ad);
    x.open("InLine", &[]);
    x.text("AdSystem", &[], c.ad_system);
    x.trackers("Error", trackers, Event::Error);
    x.trackers("Impression", trackers, Event::Impression);
    x.text("AdServingId", &[], c.ad_id);
    x.text("AdTitle", &[], c.title);
    if let Some(advertiser) = c.advertiser {
        x.text("Advertiser", &[], advertiser);
    }
    x.open("Creatives", &[]);

    x.open("Creative", &[("sequence", "1")]);
    x.open("Linear", &[]);
    if trackers.iter().any(|(e, _)| e.tracking_name().is_some()) {
        x.open("TrackingEvents", &[]);
        x.tracking(trackers);
        x.close("TrackingEvents");
    }
    x.text("Duration", &[], &format_duration(c.duration_ms));
    x.open("MediaFiles", &[]);
    for media in c.media {
        media_file(&mut x, media);
    }
    x.close("MediaFiles");
    let clicks = trackers.iter().any(|(e, _)| *e == Event::Click);
    if c.click_through.is_some() || clicks {
        x.open("VideoClicks", &[]);
        if let Some(url) = c.click_through {
            x.url("ClickThrough", &[], url);
        }
        x.trackers("ClickTracking", trackers, Event::Click);
        x.close("VideoClicks");
    }
    x.close("Linear");
    x.text("UniversalAdId", UNKNOWN_AD_ID, "unknown");
    x.close("Creative");

    if let Some(companion) = c.companion {
        x.open("Creative", &[("sequence", "1")]);
        x.open("CompanionAds", &[]);
        let (width, height) = (companion.width.to_string(), companion.height.to_string());
        x.open("Companion", &[("width", &width), ("height", &height)]);
        let kind: Vec<(&str, &str)> = companion
            .mime
            .iter()
            .map(|m| ("creativeType", m.as_str()))
            .collect();
        x.url("StaticResource", &kind, &companion.image_url);
        if let Some(url) = &companion.click_through {
            x.url("CompanionClickThrough", &[], url);
        }
        x.close("Companion");
        x.close("CompanionAds");
        x.text("UniversalAdId", UNKNOWN_AD_ID, "unknown");
        x.close("Creative");
    }

    x.close("Creatives");
    x.close("InLine");
    x.close("Ad");
    x.close("VAST");
    x.into_string()
}

fn media_file(x: &mut Xml, m: &MediaFile) {
    let streaming = matches!(
        m.mime.to_ascii_lowercase().as_str(),
        "application/x-mpegurl" | "application/vnd.apple.mpegurl" | "application/dash+xml"
    );
    let delivery = if streaming {
        "streaming"
    } else {
        "progressive"
    };
    let numbers: Vec<(&str, String)> = [
        ("width", m.width),
        ("height", m.height),
        ("bitrate", m.bitrate_kbps),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k, v?.to_string())))
    .collect();
    let mut attrs = vec![("delivery", delivery), ("type", m.mime.as_str())];
    attrs.extend(numbers.iter().map(|(k, v)| (*k, v.as_str())));
    x.url("MediaFile", &attrs, &m.url);
}
