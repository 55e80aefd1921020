//! Reading a VAST document's essentials for the client.

use super::scan::{Item, Scanner, Tag, attr, attr_u32};
use super::{Companion, MediaFile, Summary, VastError, parse_duration};

/// What the text being collected is for.
enum Field {
    AdSystem,
    Title,
    WrapperUri,
    Duration,
    Media(MediaFile),
    ClickThrough,
    Image,
    CompanionClick,
}

/// A companion being read; kept only if it turns out to have a StaticResource.
struct Candidate {
    depth: usize,
    companion: Companion,
}

/// The first ad's essentials (first Linear's duration and media files, first Companion with a
/// StaticResource).
///
/// "First ad" is the first `<Ad>` holding an InLine or Wrapper, in document order. The
/// whole document is still read, so a malformed tail is an error here as it is for
/// [`super::inject`]. Text is trimmed; an element whose text is empty counts as absent.
/// MediaFiles without a URL are skipped; `bitrate` falls back to `maxBitrate`. A Companion
/// needs numeric `width` and `height` to count. Undefined entities are errors (no DTD can
/// define one), as they are for players.
pub fn summary(vast: &str) -> Result<Summary, VastError> {
    let (mut scan, _) = Scanner::new(vast);
    let mut s = Summary::default();
    // Depth of the first ad's InLine/Wrapper while inside it; `found` once there was one.
    let (mut ad, mut found) = (None::<usize>, false);
    let (mut linear, mut linear_done, mut duration_seen) = (None::<usize>, false, false);
    let mut candidate: Option<Candidate> = None;
    let mut capture: Option<(usize, Field, String)> = None;

    while let Some(item) = scan.next()? {
        match item {
            Item::Open {
                tag,
                parent,
                depth,
                start,
                ..
            } => {
                if depth == 1 {
                    s.version = attr(&start, "version");
                    continue;
                }
                if matches!(tag, Tag::InLine | Tag::Wrapper) && parent == Some(Tag::Ad) && !found {
                    (ad, found) = (Some(depth), true);
                    continue;
                }
                let Some(ad) = ad else { continue };
                if capture.is_some() {
                    continue;
                }
                let in_linear = |levels: usize| linear.is_some_and(|l| depth == l + levels);
                let in_companion = candidate.as_ref().is_some_and(|c| depth == c.depth + 1);
                let field = match tag {
                    Tag::AdSystem if depth == ad + 1 && s.ad_system.is_none() => {
                        Some(Field::AdSystem)
                    }
                    Tag::AdTitle if depth == ad + 1 && s.title.is_none() => Some(Field::Title),
                    Tag::VastAdTagUri if depth == ad + 1 && s.wrapper_uri.is_none() => {
                        Some(Field::WrapperUri)
                    }
                    Tag::Linear if linear.is_none() && !linear_done => {
                        linear = Some(depth);
                        None
                    }
                    Tag::Duration if in_linear(1) && !duration_seen => {
                        duration_seen = true;
                        Some(Field::Duration)
                    }
                    Tag::MediaFile if in_linear(2) && parent == Some(Tag::MediaFiles) => {
                        Some(Field::Media(MediaFile {
                            url: String::new(),
                            mime: attr(&start, "type").unwrap_or_default(),
                            bitrate_kbps: attr_u32(&start, "bitrate")
                                .or_else(|| attr_u32(&start, "maxBitrate")),
                            width: attr_u32(&start, "width"),
                            height: attr_u32(&start, "height"),
                        }))
                    }
                    Tag::ClickThrough
                        if in_linear(2)
                            && parent == Some(Tag::VideoClicks)
                            && s.click_through.is_none() =>
                    {
                        Some(Field::ClickThrough)
                    }
                    Tag::Companion if s.companion.is_none() && candidate.is_none() => {
                        let size = (attr_u32(&start, "width"), attr_u32(&start, "height"));
                        if let (Some(width), Some(height)) = size {
                            let companion = Companion {
                                width,
                                height,
                                image_url: String::new(),
                                mime: None,
                                click_through: None,
                            };
                            candidate = Some(Candidate { depth, companion });
                        }
                        None
                    }
                    Tag::StaticResource if in_companion => {
                        let c = candidate.as_mut().map(|c| &mut c.companion);
                        match c {
                            Some(c) if c.image_url.is_empty() => {
                                c.mime = attr(&start, "creativeType").filter(|m| !m.is_empty());
                                Some(Field::Image)
                            }
                            _ => None,
                        }
                    }
                    Tag::CompanionClickThrough if in_companion => Some(Field::CompanionClick),
                    _ => None,
                };
                capture = field.map(|f| (depth, f, String::new()));
            }
            Item::Text(text) => {
                if let Some((_, _, buffer)) = &mut capture {
                    buffer.push_str(&text);
                }
            }
            Item::Close { tag, depth, .. } => {
                if capture.as_ref().is_some_and(|(d, _, _)| *d == depth)
                    && let Some((_, field, text)) = capture.take()
                {
                    store(&mut s, candidate.as_mut(), field, text);
                }
                if tag == Tag::Linear && linear == Some(depth) {
                    (linear, linear_done) = (None, true);
                }
                if candidate.as_ref().is_some_and(|c| c.depth == depth)
                    && let Some(c) = candidate.take()
                    && !c.companion.image_url.is_empty()
                {
                    s.companion = Some(c.companion);
                }
                if ad == Some(depth) {
                    ad = None;
                }
            }
        }
    }
    match found {
        true => Ok(s),
        false => Err(VastError::NoAd),
    }
}

fn store(s: &mut Summary, candidate: Option<&mut Candidate>, field: Field, text: String) {
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    let owned = Some(text.to_owned());
    match field {
        Field::AdSystem => s.ad_system = owned,
        Field::Title => s.title = owned,
        Field::WrapperUri => s.wrapper_uri = owned,
        Field::Duration => s.duration_ms = parse_duration(text),
        Field::Media(mut media) => {
            media.url = text.to_owned();
            s.media.push(media);
        }
        Field::ClickThrough => s.click_through = owned,
        Field::Image => {
            if let Some(c) = candidate {
                c.companion.image_url = text.to_owned();
            }
        }
        Field::CompanionClick => {
            if let Some(c) = candidate {
                c.companion.click_through = owned;
            }
        }
    }
}
