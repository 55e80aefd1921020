//! build_inline, and the helpers the other test files share.

use super::*;
use quick_xml::events::Event as X;

/// Texts of every `child` element directly under a `parent` element, read by quick-xml
/// independently of the code under test: (child's attributes as raw text, text content).
pub(super) fn texts(doc: &str, parent: &str, child: &str) -> Vec<(String, String)> {
    let mut reader = quick_xml::Reader::from_str(doc);
    let (mut names, mut found, mut current) = (Vec::<String>::new(), Vec::new(), None);
    loop {
        match reader.read_event().expect("well-formed") {
            X::Start(s) => {
                let name = s.local_name().as_ref().to_owned();
                if name == child && names.last().is_some_and(|p| p == parent) {
                    current = Some((
                        names.len(),
                        s.attributes_raw().trim().to_owned(),
                        String::new(),
                    ));
                }
                names.push(name);
            }
            X::End(_) => {
                names.pop();
                if current.as_ref().is_some_and(|c| c.0 == names.len()) {
                    let (_, attrs, text) = current.take().unwrap();
                    found.push((attrs, text.trim().to_owned()));
                }
            }
            X::Text(t) => append(&mut current, &t.xml10_content()),
            X::CData(t) => append(&mut current, &t.xml10_content()),
            X::GeneralRef(r) => {
                let s = quick_xml::escape::resolve_xml_entity(&r).expect("predefined");
                append(&mut current, s)
            }
            X::Eof => return found,
            _ => {}
        }
    }
}

fn append(current: &mut Option<(usize, String, String)>, s: &str) {
    if let Some((_, _, text)) = current {
        text.push_str(s);
    }
}

pub(super) fn urls(doc: &str, parent: &str, child: &str) -> Vec<String> {
    texts(doc, parent, child)
        .into_iter()
        .map(|(_, t)| t)
        .collect()
}

pub(super) fn trackers() -> Vec<Tracker> {
    let t = |e, u: &str| (e, u.to_owned());
    vec![
        t(Event::Impression, "https://bg.example/imp?id=42&x=1"),
        t(Event::Impression, "https://bg.example/imp2?id=42"),
        t(Event::Start, "https://bg.example/ev?e=start&id=42"),
        t(Event::FirstQuartile, "https://bg.example/ev?e=q1&id=42"),
        t(Event::Midpoint, "https://bg.example/ev?e=mid&id=42"),
        t(Event::ThirdQuartile, "https://bg.example/ev?e=q3&id=42"),
        t(Event::Complete, "https://bg.example/ev?e=done&id=42"),
        t(Event::Click, "https://bg.example/click?id=42"),
        t(
            Event::Error,
            "https://bg.example/err?id=42&code=[ERRORCODE]",
        ),
    ]
}

fn audio_media() -> Vec<MediaFile> {
    vec![
        MediaFile {
            url: "https://cdn.example/spot.mp3?a=1&b=2".into(),
            mime: "audio/mpeg".into(),
            bitrate_kbps: Some(128),
            width: None,
            height: None,
        },
        MediaFile {
            url: "https://cdn.example/spot.aac".into(),
            mime: "audio/aac".into(),
            bitrate_kbps: None,
            width: None,
            height: None,
        },
    ]
}

#[test]
fn build_inline_reparses_to_the_same_creative() {
    let media = audio_media();
    let companion = Companion {
        width: 640,
        height: 640,
        image_url: "https://cdn.example/cover.jpg?x=]]>&y=<1>".into(),
        mime: Some("image/jpeg".into()),
        click_through: Some("https://brand.example/?a=1&b=\"2\"".into()),
    };
    let c = Creative {
        ad_id: "ad-1 & <co>",
        ad_system: "bidgate",
        title: "Title with <markup> & \"quotes\" ]]>",
        advertiser: Some("Brand & Sons"),
        duration_ms: 30_250,
        media: &media,
        click_through: Some("https://brand.example/go?u=]]>x&v=1"),
        companion: Some(&companion),
    };
    let trackers = trackers();
    let doc = build_inline(&c, &trackers);
    assert!(is_vast(&doc), "{doc}");
    let s = summary(&doc).expect("our own document reads back");
    assert_eq!(s.version.as_deref(), Some("4.2"));
    assert_eq!(s.duration_ms, Some(30_250));
    assert_eq!(s.media, media);
    assert_eq!(s.companion.as_ref(), Some(&companion));
    assert_eq!(s.click_through.as_deref(), c.click_through);
    assert_eq!(s.ad_system.as_deref(), Some("bidgate"));
    assert_eq!(s.title.as_deref(), Some(c.title));
    assert_eq!(s.wrapper_uri, None);
    assert!(doc.contains(r#"<Ad id="ad-1 &amp; &lt;co&gt;" adType="audio">"#));
    assert_eq!(urls(&doc, "InLine", "Advertiser"), ["Brand & Sons"]);
    assert_eq!(urls(&doc, "InLine", "AdServingId"), ["ad-1 & <co>"]);
    assert!(doc.contains("<Duration>00:00:30.250</Duration>"));

    // Each tracker exactly once, in its element.
    for (event, url) in &trackers {
        let (parent, child) = match event {
            Event::Impression => ("InLine", "Impression"),
            Event::Error => ("InLine", "Error"),
            Event::Click => ("VideoClicks", "ClickTracking"),
            _ => ("TrackingEvents", "Tracking"),
        };
        let found = texts(&doc, parent, child);
        let hits: Vec<_> = found.iter().filter(|(_, u)| u == url).collect();
        assert_eq!(hits.len(), 1, "{url} in {doc}");
        if let Some(name) = event.tracking_name() {
            assert_eq!(hits[0].0, format!(r#"event="{name}""#));
        }
        assert_eq!(doc.matches(url.as_str()).count(), 1, "{url}");
    }
    // XSD order inside InLine and Linear.
    let at = |needle: &str| doc.find(needle).unwrap_or_else(|| panic!("{needle}"));
    assert!(at("<AdSystem>") < at("<Error>"));
    assert!(at("<Error>") < at("<Impression>"));
    assert!(at("<Impression>") < at("<AdServingId>"));
    assert!(at("<AdServingId>") < at("<AdTitle>"));
    assert!(at("<TrackingEvents>") < at("<Duration>"));
    assert!(at("<MediaFiles>") < at("<VideoClicks>"));
    assert!(at("</Linear>") < at("<UniversalAdId"));
    assert!(at("<CompanionAds>") > at("</Linear>"));
}

#[test]
fn build_inline_minimal_video_has_one_creative_and_no_empty_containers() {
    let media = [MediaFile {
        url: "https://cdn.example/v.m3u8".into(),
        mime: "application/x-mpegURL".into(),
        bitrate_kbps: None,
        width: Some(1920),
        height: Some(1080),
    }];
    let c = Creative {
        ad_id: "v1",
        ad_system: "bidgate",
        title: "t",
        advertiser: None,
        duration_ms: 3_600_000 * 2 + 5,
        media: &media,
        click_through: None,
        companion: None,
    };
    let doc = build_inline(&c, &[]);
    assert_eq!(doc.matches("<Creative ").count(), 1);
    for absent in [
        "TrackingEvents",
        "VideoClicks",
        "Impression",
        "Error",
        "adType",
        "Advertiser",
    ] {
        assert!(!doc.contains(absent), "{absent} in {doc}");
    }
    assert!(doc.contains(r#"delivery="streaming""#));
    let s = summary(&doc).unwrap();
    assert_eq!(
        (s.duration_ms, s.media.as_slice()),
        (Some(7_200_005), &media[..])
    );
}

#[test]
fn build_inline_drops_characters_xml_cannot_carry() {
    let c = Creative {
        ad_id: "a\u{0}b",
        ad_system: "sys\u{1b}",
        title: "ti\u{FFFE}tle",
        advertiser: None,
        duration_ms: 1000,
        media: &[],
        click_through: Some("https://x.example/\u{7}y"),
        companion: None,
    };
    let s = summary(&build_inline(&c, &[])).unwrap();
    assert_eq!(s.title.as_deref(), Some("title"));
    assert_eq!(s.ad_system.as_deref(), Some("sys"));
    assert_eq!(s.click_through.as_deref(), Some("https://x.example/y"));
}
