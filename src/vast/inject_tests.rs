//! inject: what is added, where, how often, and that nothing else changes.

use super::fixtures::*;
use super::tests::{texts, trackers, urls};
use super::*;

/// Our snippet for one tracker, as inject writes it.
fn snippet(event: Event, url: &str) -> String {
    let url = url.replace("]]>", "]]]]><![CDATA[>");
    match event.tracking_name() {
        Some(name) => format!(r#"<Tracking event="{name}"><![CDATA[{url}]]></Tracking>"#),
        None => {
            let name = match event {
                Event::Impression => "Impression",
                Event::Error => "Error",
                _ => "ClickTracking",
            };
            format!("<{name}><![CDATA[{url}]]></{name}>")
        }
    }
}

/// `doc`'s (parent, child) texts with ours taken out, in order.
fn partners(doc: &str, parent: &str, child: &str, ours: &[Tracker]) -> Vec<(String, String)> {
    let mine: Vec<&str> = ours.iter().map(|(_, u)| u.as_str()).collect();
    let mut found = texts(doc, parent, child);
    found.retain(|(_, url)| !mine.contains(&url.as_str()));
    found
}

#[test]
fn adds_ours_once_per_ad_and_per_linear_and_keeps_theirs() {
    let ours = trackers();
    // (document, InLine/Wrapper ads, Linears)
    for (doc, ads, linears) in [
        (AUDIO_42, 1, 1),
        (VIDEO_3, 1, 1),
        (WRAPPER_4, 1, 1),
        (TWO_ADS, 2, 2),
    ] {
        let out = inject(doc, &ours).expect(doc);
        for (event, url) in &ours {
            let expected = match event {
                Event::Impression | Event::Error => ads,
                _ => linears,
            };
            assert_eq!(
                out.matches(&snippet(*event, url)).count(),
                expected,
                "{url} in {out}"
            );
        }
        for (parent, child) in [
            ("InLine", "Impression"),
            ("Wrapper", "Impression"),
            ("InLine", "Error"),
            ("Wrapper", "Error"),
            ("TrackingEvents", "Tracking"),
            ("VideoClicks", "ClickTracking"),
            ("VideoClicks", "ClickThrough"),
        ] {
            assert_eq!(
                partners(&out, parent, child, &ours),
                texts(doc, parent, child),
                "{parent}/{child} of {doc}"
            );
        }
        assert!(is_vast(&out));
        assert_eq!(summary(&out), summary(doc), "the essentials do not change");
        // Every Linear now has exactly one of each container.
        assert_eq!(
            out.matches("<TrackingEvents>").count(),
            doc.matches("<TrackingEvents>").count().max(linears)
        );
        assert_eq!(out.matches("<VideoClicks>").count(), linears);
    }
}

#[test]
fn nothing_of_the_partners_changes() {
    let ours = trackers();
    let strip = |out: &str| {
        let mut s = out.to_owned();
        for (event, url) in &ours {
            s = s.replace(&snippet(*event, url), "");
        }
        s.replace("<VideoClicks></VideoClicks>", "")
            .replace("<TrackingEvents></TrackingEvents>", "")
    };
    for doc in ALL {
        assert_eq!(strip(&inject(doc, &ours).unwrap()), doc);
    }
    assert_eq!(inject(AUDIO_42, &[]).unwrap(), AUDIO_42);
    assert_eq!(
        inject(&format!("\u{feff}{VIDEO_3}"), &[]).unwrap(),
        VIDEO_3,
        "BOM dropped"
    );
}

#[test]
fn places_ours_where_the_schema_expects_them() {
    let ours = trackers();
    let out = inject(AUDIO_42, &ours).unwrap();
    let at = |s: &str| out.find(s).unwrap_or_else(|| panic!("{s} in {out}"));
    let our_error = at(&snippet(Event::Error, &ours[8].1));
    let our_imp = at(&snippet(Event::Impression, &ours[0].1));
    assert!(at("<Error><![CDATA[https://err.soundssp") < our_error);
    assert!(our_error < at("<Impression id=\"ssp\">"));
    assert!(at("<Impression id=\"dsp\">") < our_imp);
    assert!(our_imp < at(&snippet(Event::Impression, &ours[1].1)));
    assert!(our_imp < at("<AdServingId>"));
    // Tracking at the end of the Linear's TrackingEvents, not the companion's.
    assert!(at("complete?ad=7781") < at(&snippet(Event::Start, &ours[2].1)));
    assert!(at(&snippet(Event::Complete, &ours[6].1)) < at("</TrackingEvents>"));
    assert_eq!(urls(&out, "TrackingEvents", "Tracking").len(), 2 + 5 + 1);
    // A created VideoClicks closes the Linear.
    assert!(out.contains(&format!(
        "</MediaFiles>\n          <VideoClicks>{}</VideoClicks></Linear>",
        snippet(Event::Click, &ours[7].1)
    )));

    let out = inject(VIDEO_3, &ours).unwrap();
    let at = |s: &str| out.find(s).unwrap_or_else(|| panic!("{s} in {out}"));
    assert!(out.contains(&format!(
        "ad=5521</Error>{}",
        snippet(Event::Error, &ours[8].1)
    )));
    assert!(at(&snippet(Event::Error, &ours[8].1)) < at("<Impression>https"));
    assert!(out.contains(&format!(
        "[CACHEBUSTING]</Impression>{}",
        snippet(Event::Impression, &ours[0].1)
    )));
    assert!(out.contains(&format!(
        "click?ad=5521</ClickTracking>{}\n      </VideoClicks>",
        snippet(Event::Click, &ours[7].1)
    )));
}

#[test]
fn creates_what_is_missing_and_opens_up_empty_elements() {
    let ours = [
        (Event::Impression, "https://i/".to_owned()),
        (Event::Error, "https://e/".to_owned()),
        (Event::Start, "https://s/".to_owned()),
        (Event::Click, "https://c/".to_owned()),
    ];
    let (i, e) = (
        "<Impression><![CDATA[https://i/]]></Impression>",
        "<Error><![CDATA[https://e/]]></Error>",
    );
    let (s, c) = (
        r#"<Tracking event="start"><![CDATA[https://s/]]></Tracking>"#,
        "<ClickTracking><![CDATA[https://c/]]></ClickTracking>",
    );
    let cases = [
        (
            "<VAST><Ad><InLine><AdSystem>x</AdSystem><AdTitle>t</AdTitle><Creatives><Creative><Linear><Duration>00:00:05</Duration><MediaFiles/></Linear></Creative></Creatives></InLine></Ad></VAST>",
            format!("<VAST><Ad><InLine><AdSystem>x</AdSystem>{e}{i}<AdTitle>t</AdTitle><Creatives><Creative><Linear><TrackingEvents>{s}</TrackingEvents><Duration>00:00:05</Duration><MediaFiles/><VideoClicks>{c}</VideoClicks></Linear></Creative></Creatives></InLine></Ad></VAST>"),
        ),
        (
            "<VAST><Ad><Wrapper /></Ad></VAST>",
            format!("<VAST><Ad><Wrapper >{e}{i}</Wrapper></Ad></VAST>"),
        ),
        (
            "<VAST><Ad><InLine><Impression/><Creatives><Creative><Linear skipoffset=\"5%\"/></Creative></Creatives></InLine></Ad></VAST>",
            format!("<VAST><Ad><InLine>{e}<Impression/>{i}<Creatives><Creative><Linear skipoffset=\"5%\"><TrackingEvents>{s}</TrackingEvents><VideoClicks>{c}</VideoClicks></Linear></Creative></Creatives></InLine></Ad></VAST>"),
        ),
        (
            "<VAST><Ad><InLine><Linear><Icons><Icon/></Icons><TrackingEvents/><VideoClicks><ClickThrough>https://t/</ClickThrough><CustomClick>x</CustomClick></VideoClicks></Linear></InLine></Ad></VAST>",
            format!("<VAST><Ad><InLine>{e}{i}<Linear><Icons><Icon/></Icons><TrackingEvents>{s}</TrackingEvents><VideoClicks><ClickThrough>https://t/</ClickThrough>{c}<CustomClick>x</CustomClick></VideoClicks></Linear></InLine></Ad></VAST>"),
        ),
        (
            "<VAST><Ad><InLine><Linear><Icons/><VideoClicks/></Linear></InLine></Ad></VAST>",
            format!("<VAST><Ad><InLine>{e}{i}<Linear><Icons/><TrackingEvents>{s}</TrackingEvents><VideoClicks>{c}</VideoClicks></Linear></InLine></Ad></VAST>"),
        ),
        (
            // A Linear outside any ad, and an InLine not under an Ad, are left alone.
            "<VAST><Linear/><Extensions><InLine/></Extensions><Ad><Wrapper></Wrapper></Ad></VAST>",
            format!("<VAST><Linear/><Extensions><InLine/></Extensions><Ad><Wrapper>{e}{i}</Wrapper></Ad></VAST>"),
        ),
        (
            "<v:VAST xmlns:v=\"http://www.iab.com/VAST\"><v:Ad><v:InLine><v:Linear/></v:InLine></v:Ad></v:VAST>",
            "<v:VAST xmlns:v=\"http://www.iab.com/VAST\"><v:Ad><v:InLine><v:Error><![CDATA[https://e/]]></v:Error><v:Impression><![CDATA[https://i/]]></v:Impression><v:Linear><v:TrackingEvents><v:Tracking event=\"start\"><![CDATA[https://s/]]></v:Tracking></v:TrackingEvents><v:VideoClicks><v:ClickTracking><![CDATA[https://c/]]></v:ClickTracking></v:VideoClicks></v:Linear></v:InLine></v:Ad></v:VAST>".to_owned(),
        ),
    ];
    for (doc, expected) in cases {
        assert_eq!(inject(doc, &ours).unwrap(), expected, "{doc}");
    }
    // Only impressions: no empty containers appear.
    let only = inject(cases_first(), &ours[..1]).unwrap();
    assert!(
        !only.contains("<TrackingEvents>") && !only.contains("<VideoClicks>"),
        "{only}"
    );
}

fn cases_first() -> &'static str {
    "<VAST><Ad><InLine><Creatives><Creative><Linear/></Creative></Creatives></InLine></Ad></VAST>"
}

#[test]
fn awkward_urls_survive() {
    let url = "https://bg.example/e?a=1&b=]]>&c=<x>&d=\"q\"&e=]]]]>";
    let ours: Vec<Tracker> = [Event::Impression, Event::Midpoint, Event::Click]
        .into_iter()
        .map(|e| (e, url.to_owned()))
        .collect();
    for doc in ALL {
        let out = inject(doc, &ours).unwrap();
        assert!(
            urls(&out, "InLine", "Impression")
                .iter()
                .chain(&urls(&out, "Wrapper", "Impression"))
                .any(|u| u == url)
        );
        assert!(
            urls(&out, "TrackingEvents", "Tracking")
                .iter()
                .any(|u| u == url)
        );
        assert!(
            urls(&out, "VideoClicks", "ClickTracking")
                .iter()
                .any(|u| u == url)
        );
        assert_eq!(summary(&out), summary(doc));
    }
}

#[test]
fn refuses_documents_that_would_grow_without_bound() {
    let ad = "<Ad><InLine><Creatives><Creative><Linear/></Creative></Creatives></InLine></Ad>";
    let ok = format!("<VAST>{}</VAST>", ad.repeat(64));
    assert!(inject(&ok, &trackers()).is_ok());
    let too_many = format!("<VAST>{}</VAST>", ad.repeat(65));
    let err = inject(&too_many, &trackers()).unwrap_err();
    assert!(matches!(err, VastError::TooMany { limit: 64, .. }), "{err}");
    let linears = format!(
        "<VAST><Ad><InLine>{}</InLine></Ad></VAST>",
        "<Linear/>".repeat(65)
    );
    assert!(matches!(
        inject(&linears, &trackers()),
        Err(VastError::TooMany { what: "Linear", .. })
    ));
    // A Linear so deep that what we add would pass the depth limit.
    let deep = format!(
        "<VAST><Ad><InLine>{}<Linear/>{}</InLine></Ad></VAST>",
        "<x>".repeat(59),
        "</x>".repeat(59)
    );
    assert_eq!(inject(&deep, &trackers()), Err(VastError::TooDeep(64)));
}

#[test]
fn a_megabyte_takes_milliseconds() {
    // A 64-ad pod padded with extensions to ~1 MiB: linear work, whatever the shape.
    let ad = TWO_ADS
        .split("<Ad ")
        .nth(1)
        .unwrap()
        .split("</Ad>")
        .next()
        .unwrap();
    let ext: String = (0..16000)
        .map(|i| format!("<Ext n=\"{i}\"><![CDATA[https://x.example/{i}?a=1&b=2]]></Ext>\n"))
        .collect();
    let ads: String = (0..63).map(|_| format!("<Ad {ad}</Ad>")).collect();
    let doc = format!(
        "<VAST version=\"3.0\">{ads}<Ad><InLine><Extensions>{ext}</Extensions></InLine></Ad></VAST>"
    );
    assert!(doc.len() > 1_000_000, "{}", doc.len());
    let started = std::time::Instant::now();
    let out = inject(&doc, &trackers()).unwrap();
    let injected = started.elapsed();
    let s = summary(&out).unwrap();
    let total = started.elapsed();
    assert_eq!(s.title.as_deref(), Some("First"));
    // Generous: this is an unoptimised test build on a shared machine.
    assert!(
        total.as_millis() < 2000,
        "inject {injected:?}, both {total:?}"
    );
    eprintln!(
        "{} bytes: inject {injected:?}, inject+summary {total:?}",
        doc.len()
    );
}
