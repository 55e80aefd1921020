//! Adding bidgate's trackers to a partner's VAST.
//!
//! The document is read once with the scanner; each place to add something becomes an edit
//! (an offset, bytes to cut, text to put there), and the output is the partner's text with
//! the edits spliced in. Nothing of theirs is re-serialised, so their element order,
//! attribute order and quoting, CDATA, comments and whitespace come through unchanged.

use super::build::Xml;
use super::scan::{Item, MAX_DEPTH, Scanner, Tag};
use super::splice::{Edit, place, splice};
use super::{Event, Tracker, VastError};

/// More InLine/Wrapper ads, or Linears, than this is refused (an ad pod has a handful).
const MAX_ADS: usize = 64;

/// An element we may write into.
struct Frame {
    kind: Kind,
    depth: usize,
    /// Where its content starts: just past the start tag.
    content: usize,
    /// Its qualified name (to close a `<X/>` we open up) and its prefix length.
    name: String,
    prefix: usize,
    empty: bool,
}

enum Kind {
    /// An InLine or Wrapper directly under an Ad.
    Ad {
        system_end: Option<usize>,
        last_error_end: Option<usize>,
        first_impression: Option<usize>,
        last_impression_end: Option<usize>,
    },
    Linear {
        icons_end: Option<usize>,
        has_tracking: bool,
        has_clicks: bool,
    },
    /// The first TrackingEvents directly under a Linear.
    Tracking,
    /// The first VideoClicks directly under a Linear.
    Clicks {
        through_end: Option<usize>,
        last_tracking_end: Option<usize>,
    },
}

/// Adds bidgate's trackers to a partner's VAST and keeps everything else: in every `<InLine>`
/// and `<Wrapper>`, Impression and Error elements; in every `<Linear>`, Tracking elements
/// (start, firstQuartile, midpoint, thirdQuartile, complete) inside its TrackingEvents
/// (created if absent) and ClickTracking inside VideoClicks (created if absent). Works for
/// VAST 2.0–4.x. Err for malformed XML or a document without any InLine/Wrapper ad.
///
/// Placement, chosen to fit the 4.2 XSD and VAST 2/3 documents as written in practice:
/// - Error: after the last Error; else just before the first Impression (where both
///   4.x and 3.0 have it); else after AdSystem; else first in the InLine/Wrapper.
/// - Impression: after the last Impression; else right after the Errors (ours included).
/// - A created TrackingEvents goes first in the Linear (after Icons, if any), a created
///   VideoClicks last; both as the 4.2 XSD orders Linear.
/// - Tracking elements go at the end of TrackingEvents; ClickTracking after the last
///   ClickTracking, else after ClickThrough, else first in VideoClicks.
///
/// Elements we create take the prefix of the element they go into (for `vast:`-prefixed
/// documents). A leading BOM is dropped. Only a Linear inside an InLine/Wrapper gets
/// trackers; the first TrackingEvents and VideoClicks of each Linear get them once.
pub fn inject(vast: &str, trackers: &[Tracker]) -> Result<String, VastError> {
    let (mut scan, body) = Scanner::new(vast);
    let mut frames: Vec<Frame> = Vec::new();
    let mut edits: Vec<Edit> = Vec::new();
    let (mut ads, mut ads_open, mut linears) = (0usize, 0usize, 0usize);

    while let Some(item) = scan.next()? {
        match item {
            Item::Open {
                tag,
                parent,
                depth,
                start,
                span,
                empty,
            } => {
                let top = frames.last_mut().filter(|f| f.depth + 1 == depth);
                let kind = match (tag, top) {
                    (Tag::InLine | Tag::Wrapper, _) if parent == Some(Tag::Ad) => {
                        ads += 1;
                        ads_open += 1;
                        Some(Kind::Ad {
                            system_end: None,
                            last_error_end: None,
                            first_impression: None,
                            last_impression_end: None,
                        })
                    }
                    (Tag::Linear, _) if ads_open > 0 => {
                        linears += 1;
                        Some(Kind::Linear {
                            icons_end: None,
                            has_tracking: false,
                            has_clicks: false,
                        })
                    }
                    (Tag::Impression, Some(f)) => {
                        if let Kind::Ad {
                            first_impression, ..
                        } = &mut f.kind
                        {
                            first_impression.get_or_insert(span.start);
                        }
                        None
                    }
                    (Tag::TrackingEvents, Some(f)) => match &mut f.kind {
                        Kind::Linear { has_tracking, .. } if !*has_tracking => {
                            *has_tracking = true;
                            Some(Kind::Tracking)
                        }
                        _ => None,
                    },
                    (Tag::VideoClicks, Some(f)) => match &mut f.kind {
                        Kind::Linear { has_clicks, .. } if !*has_clicks => {
                            *has_clicks = true;
                            Some(Kind::Clicks {
                                through_end: None,
                                last_tracking_end: None,
                            })
                        }
                        _ => None,
                    },
                    _ => None,
                };
                if ads > MAX_ADS {
                    return Err(VastError::TooMany {
                        what: "InLine/Wrapper",
                        limit: MAX_ADS,
                    });
                }
                if linears > MAX_ADS {
                    return Err(VastError::TooMany {
                        what: "Linear",
                        limit: MAX_ADS,
                    });
                }
                if let Some(kind) = kind {
                    // What we add nests at most two levels below (VideoClicks/ClickTracking):
                    // keep the output readable by our own depth limit.
                    if depth + 2 > MAX_DEPTH {
                        return Err(VastError::TooDeep(MAX_DEPTH));
                    }
                    let name = start.name().as_ref().to_owned();
                    let prefix = name.len() - start.local_name().as_ref().len();
                    let content = span.end;
                    frames.push(Frame {
                        kind,
                        depth,
                        content,
                        name,
                        prefix,
                        empty,
                    });
                }
            }
            Item::Close {
                tag,
                depth,
                inner_end,
                end,
            } => {
                if let Some(f) = frames.last_mut().filter(|f| f.depth == depth) {
                    if let Kind::Ad { .. } = f.kind {
                        ads_open -= 1;
                    }
                    let parts = close(f, inner_end, trackers);
                    let opened = f.empty.then_some(f.name.as_str());
                    place(&mut edits, opened, inner_end, parts);
                    frames.pop();
                } else if let Some(f) = frames.last_mut().filter(|f| f.depth + 1 == depth) {
                    mark(&mut f.kind, tag, end);
                }
            }
            Item::Text(_) => {}
        }
    }
    if ads == 0 {
        return Err(VastError::NoAd);
    }
    Ok(splice(body, edits))
}

/// Records where a direct child of a frame ended.
fn mark(kind: &mut Kind, tag: Tag, end: usize) {
    match (kind, tag) {
        (Kind::Ad { system_end, .. }, Tag::AdSystem) => *system_end = Some(end),
        (Kind::Ad { last_error_end, .. }, Tag::Error) => *last_error_end = Some(end),
        (
            Kind::Ad {
                last_impression_end,
                ..
            },
            Tag::Impression,
        ) => *last_impression_end = Some(end),
        (Kind::Linear { icons_end, .. }, Tag::Icons) => *icons_end = Some(end),
        (Kind::Clicks { through_end, .. }, Tag::ClickThrough) => *through_end = Some(end),
        (
            Kind::Clicks {
                last_tracking_end, ..
            },
            Tag::ClickTracking,
        ) => *last_tracking_end = Some(end),
        _ => {}
    }
}

/// What goes into a frame as it closes: (offset, text) in document order.
fn close(f: &Frame, inner_end: usize, trackers: &[Tracker]) -> Vec<(usize, String)> {
    let prefix = &f.name[..f.prefix];
    let render = |write: &dyn Fn(&mut Xml)| {
        let mut x = Xml::new(prefix);
        write(&mut x);
        (!x.is_empty()).then(|| x.into_string())
    };
    let mut parts = Vec::new();
    match f.kind {
        Kind::Ad {
            system_end,
            last_error_end,
            first_impression,
            last_impression_end,
        } => {
            let error_at = last_error_end
                .or(first_impression)
                .or(system_end)
                .unwrap_or(f.content);
            let impression_at = last_impression_end.or(last_error_end).unwrap_or(error_at);
            if let Some(text) = render(&|x| x.trackers("Error", trackers, Event::Error)) {
                parts.push((error_at, text));
            }
            if let Some(text) = render(&|x| x.trackers("Impression", trackers, Event::Impression)) {
                parts.push((impression_at, text));
            }
        }
        Kind::Linear {
            icons_end,
            has_tracking,
            has_clicks,
        } => {
            if !has_tracking && let Some(text) = render(&|x| x.tracking(trackers)) {
                let text = format!("<{prefix}TrackingEvents>{text}</{prefix}TrackingEvents>");
                parts.push((icons_end.unwrap_or(f.content), text));
            }
            let clicks = |x: &mut Xml| x.trackers("ClickTracking", trackers, Event::Click);
            if !has_clicks && let Some(text) = render(&clicks) {
                let text = format!("<{prefix}VideoClicks>{text}</{prefix}VideoClicks>");
                parts.push((inner_end, text));
            }
        }
        Kind::Tracking => {
            if let Some(text) = render(&|x| x.tracking(trackers)) {
                parts.push((inner_end, text));
            }
        }
        Kind::Clicks {
            through_end,
            last_tracking_end,
        } => {
            let at = last_tracking_end.or(through_end).unwrap_or(f.content);
            let clicks = |x: &mut Xml| x.trackers("ClickTracking", trackers, Event::Click);
            if let Some(text) = render(&clicks) {
                parts.push((at, text));
            }
        }
    }
    parts
}
