//! The one reader of partner XML: quick-xml's pull parser plus the checks a gateway needs on
//! hostile input. It refuses a DOCTYPE (no entity can be declared, so none is expanded and
//! nothing external is fetched), caps nesting at [`MAX_DEPTH`], insists on one `<VAST>` root,
//! and reports byte offsets so [`super::inject`] can splice without re-serialising anything.

use super::VastError;
use quick_xml::events::{BytesStart, Event as X};
use quick_xml::{Reader, XmlVersion};
use std::borrow::Cow;
use std::ops::Range;

/// Real VAST nests about 8 deep (VAST/Ad/InLine/Creatives/Creative/Linear/MediaFiles/
/// MediaFile); Extensions add a few more. Deeper is an attack or garbage.
pub(super) const MAX_DEPTH: usize = 64;

/// Partner text quoted in an error message is cut to this many characters.
const MAX_QUOTE: usize = 120;

/// The elements bidgate acts on, by local name (a `vast:` prefix is ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tag {
    Ad,
    InLine,
    Wrapper,
    AdSystem,
    AdTitle,
    Impression,
    Error,
    VastAdTagUri,
    Linear,
    Icons,
    Duration,
    TrackingEvents,
    VideoClicks,
    ClickThrough,
    ClickTracking,
    MediaFiles,
    MediaFile,
    Companion,
    StaticResource,
    CompanionClickThrough,
    Other,
}

impl Tag {
    fn of(local: &str) -> Tag {
        match local {
            "Ad" => Tag::Ad,
            "InLine" => Tag::InLine,
            "Wrapper" => Tag::Wrapper,
            "AdSystem" => Tag::AdSystem,
            "AdTitle" => Tag::AdTitle,
            "Impression" => Tag::Impression,
            "Error" => Tag::Error,
            "VASTAdTagURI" => Tag::VastAdTagUri,
            "Linear" => Tag::Linear,
            "Icons" => Tag::Icons,
            "Duration" => Tag::Duration,
            "TrackingEvents" => Tag::TrackingEvents,
            "VideoClicks" => Tag::VideoClicks,
            "ClickThrough" => Tag::ClickThrough,
            "ClickTracking" => Tag::ClickTracking,
            "MediaFiles" => Tag::MediaFiles,
            "MediaFile" => Tag::MediaFile,
            "Companion" => Tag::Companion,
            "StaticResource" => Tag::StaticResource,
            "CompanionClickThrough" => Tag::CompanionClickThrough,
            _ => Tag::Other,
        }
    }
}

/// One step through the document. `depth` counts the element itself (the root is 1).
/// A self-closing `<X/>` yields an `Open` with `empty` set, then a `Close`.
pub(super) enum Item<'a> {
    Open {
        tag: Tag,
        parent: Option<Tag>,
        depth: usize,
        start: BytesStart<'a>,
        /// The start tag, `<` to `>`.
        span: Range<usize>,
        empty: bool,
    },
    Close {
        tag: Tag,
        depth: usize,
        /// Where the content ends: the end tag's `<`, or the `/>` of an empty element.
        inner_end: usize,
        /// Just past the element.
        end: usize,
    },
    /// Character data inside the root: text, CDATA, or a resolved reference.
    Text(Cow<'a, str>),
}

pub(super) struct Scanner<'a> {
    reader: Reader<&'a [u8]>,
    /// Byte offset of `body` in the caller's input (3 after a BOM), for error positions.
    base: u64,
    stack: Vec<Tag>,
    /// The Close still owed for a self-closing element: (tag, `/>` offset, end).
    owed: Option<(Tag, usize, usize)>,
    root_seen: bool,
    root_done: bool,
}

impl<'a> Scanner<'a> {
    /// Returns the scanner and the document without its BOM, to which all offsets refer.
    pub(super) fn new(input: &'a str) -> (Scanner<'a>, &'a str) {
        let body = input.strip_prefix('\u{feff}').unwrap_or(input);
        let scanner = Scanner {
            reader: Reader::from_str(body),
            base: (input.len() - body.len()) as u64,
            stack: Vec::with_capacity(16),
            owed: None,
            root_seen: false,
            root_done: false,
        };
        (scanner, body)
    }

    /// The next item, `Ok(None)` at a well-formed end.
    pub(super) fn next(&mut self) -> Result<Option<Item<'a>>, VastError> {
        if let Some((tag, inner_end, end)) = self.owed.take() {
            self.root_done |= self.stack.is_empty();
            let depth = self.stack.len() + 1;
            return Ok(Some(Item::Close {
                tag,
                depth,
                inner_end,
                end,
            }));
        }
        loop {
            let from = self.reader.buffer_position() as usize;
            let event = self.reader.read_event().map_err(|e| {
                let at = self.base + self.reader.error_position();
                malformed(at, &e.to_string())
            })?;
            let to = self.reader.buffer_position() as usize;
            match event {
                X::Start(start) => return self.open(start, from..to, false).map(Some),
                X::Empty(start) => return self.open(start, from..to, true).map(Some),
                X::End(_) => {
                    // quick-xml has already matched the name against its own open list.
                    let Some(tag) = self.stack.pop() else {
                        return Err(self.here(from, "end tag without a start tag"));
                    };
                    self.root_done |= self.stack.is_empty();
                    let depth = self.stack.len() + 1;
                    return Ok(Some(Item::Close {
                        tag,
                        depth,
                        inner_end: from,
                        end: to,
                    }));
                }
                X::Text(text) => {
                    if !self.stack.is_empty() {
                        return Ok(Some(Item::Text(text.xml10_content())));
                    }
                    if !text.bytes().all(|b| b.is_ascii_whitespace()) {
                        return Err(self.here(from, "text outside the root element"));
                    }
                }
                X::CData(data) => {
                    self.inside_root(from)?;
                    return Ok(Some(Item::Text(data.xml10_content())));
                }
                X::GeneralRef(reference) => {
                    self.inside_root(from)?;
                    let resolved = match reference.resolve_char_ref() {
                        Ok(Some(c)) => Cow::Owned(c.to_string()),
                        Ok(None) => match quick_xml::escape::resolve_xml_entity(&reference) {
                            Some(s) => Cow::Borrowed(s),
                            None => {
                                let why = format!("undefined entity &{};", &*reference);
                                return Err(self.here(from, &why));
                            }
                        },
                        Err(e) => return Err(self.here(from, &e.to_string())),
                    };
                    return Ok(Some(Item::Text(resolved)));
                }
                X::DocType(_) => return Err(VastError::Doctype),
                X::Decl(_) | X::PI(_) | X::Comment(_) => {}
                X::Eof if !self.stack.is_empty() => {
                    return Err(self.here(to, "document ends inside an element"));
                }
                X::Eof if !self.root_seen => {
                    return Err(VastError::NotVast("no root element".into()));
                }
                X::Eof => return Ok(None),
            }
        }
    }

    fn open(
        &mut self,
        start: BytesStart<'a>,
        span: Range<usize>,
        empty: bool,
    ) -> Result<Item<'a>, VastError> {
        let depth = self.stack.len() + 1;
        if depth > MAX_DEPTH {
            return Err(VastError::TooDeep(MAX_DEPTH));
        }
        if self.root_done {
            return Err(self.here(span.start, "a second root element"));
        }
        let local = start.local_name();
        if depth == 1 {
            if local.as_ref() != "VAST" {
                let name = start.name().as_ref().to_owned();
                return Err(VastError::NotVast(format!(
                    "the root element is <{}>",
                    clip(&name)
                )));
            }
            self.root_seen = true;
        }
        // quick-xml checks attributes only when asked: ask, so that a bad one is an error
        // here and not a surprise for the player.
        for attribute in start.attributes() {
            let attribute = attribute.map_err(|e| self.here(span.start, &e.to_string()))?;
            attribute
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| self.here(span.start, &e.to_string()))?;
        }
        let tag = Tag::of(local.as_ref());
        let parent = self.stack.last().copied();
        if empty {
            self.owed = Some((tag, span.end - 2, span.end));
        } else {
            self.stack.push(tag);
        }
        Ok(Item::Open {
            tag,
            parent,
            depth,
            start,
            span,
            empty,
        })
    }

    fn inside_root(&self, at: usize) -> Result<(), VastError> {
        match self.stack.is_empty() {
            true => Err(self.here(at, "character data outside the root element")),
            false => Ok(()),
        }
    }

    fn here(&self, at: usize, reason: &str) -> VastError {
        malformed(self.base + at as u64, reason)
    }
}

fn malformed(at: u64, reason: &str) -> VastError {
    VastError::Malformed {
        at,
        reason: clip(reason).into_owned(),
    }
}

/// Cuts partner text for an error message, on a character boundary.
fn clip(s: &str) -> Cow<'_, str> {
    match s.char_indices().nth(MAX_QUOTE) {
        Some((cut, _)) => Cow::Owned(format!("{}…", &s[..cut])),
        None => Cow::Borrowed(s),
    }
}

/// An attribute's value by local name, unescaped and trimmed (the scanner has checked it).
pub(super) fn attr(start: &BytesStart, name: &str) -> Option<String> {
    start
        .attributes()
        .filter_map(Result::ok)
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| a.normalized_value(XmlVersion::Implicit1_0).ok())
        .map(|v| v.trim().to_owned())
}

/// An attribute parsed as a number; `None` when absent or not one.
pub(super) fn attr_u32(start: &BytesStart, name: &str) -> Option<u32> {
    attr(start, name)?.parse().ok()
}
