//! summary, is_vast, durations and the refusals.

use super::fixtures::*;
use super::tests::trackers;
use super::*;

#[test]
fn summary_reads_each_fixture() {
    let s = summary(AUDIO_42).unwrap();
    assert_eq!(s.version.as_deref(), Some("4.2"));
    assert_eq!(s.ad_system.as_deref(), Some("SoundSSP"));
    assert_eq!(s.title.as_deref(), Some("Summer Festival 30s"));
    assert_eq!(s.duration_ms, Some(30_000));
    assert_eq!(s.media.len(), 2);
    assert_eq!(
        s.media[1].url,
        "https://cdn.soundssp.example/7781/spot_64.aac"
    );
    assert_eq!(
        (s.media[0].mime.as_str(), s.media[0].bitrate_kbps),
        ("audio/mpeg", Some(128))
    );
    let companion = s.companion.unwrap();
    assert_eq!((companion.width, companion.height), (640, 640));
    assert_eq!(companion.mime.as_deref(), Some("image/jpeg"));
    assert_eq!(
        companion.image_url,
        "https://cdn.soundssp.example/7781/cover_640.jpg"
    );
    assert_eq!(
        companion.click_through.as_deref(),
        Some("https://festival.example/tickets?src=audio")
    );
    assert_eq!(s.click_through, None);

    let s = summary(VIDEO_3).unwrap();
    assert_eq!(
        (s.version.as_deref(), s.duration_ms),
        (Some("3.0"), Some(15_000))
    );
    assert_eq!(
        s.click_through.as_deref(),
        Some("https://sneakers.example/launch?utm=video&id=5521")
    );
    assert_eq!(s.media.len(), 3);
    assert_eq!(
        (s.media[0].width, s.media[0].height, s.media[0].bitrate_kbps),
        (Some(1280), Some(720), Some(2500))
    );
    assert_eq!(s.media[2].bitrate_kbps, None);
    assert_eq!(s.companion, None);

    let s = summary(WRAPPER_4).unwrap();
    assert_eq!(
        s.wrapper_uri.as_deref(),
        Some("https://ads.reachx.example/vast?tag=90&gdpr=1")
    );
    assert_eq!(
        (s.ad_system.as_deref(), s.title, s.duration_ms),
        (Some("ReachX"), None, None)
    );
    assert!(s.media.is_empty());

    let s = summary(TWO_ADS).unwrap();
    assert_eq!(
        (s.title.as_deref(), s.duration_ms),
        (Some("First"), Some(20_500))
    );
    assert_eq!(s.media.len(), 1, "only the first ad's media");
}

#[test]
fn summary_skips_unusable_parts_without_failing() {
    let doc = r#"<VAST version="2.0"><Ad><InLine><AdSystem> </AdSystem>
        <Creatives><Creative><CompanionAds>
          <Companion width="300"><StaticResource>https://x.example/no-height.png</StaticResource></Companion>
          <Companion width="300" height="250"><HTMLResource>&lt;b&gt;hi&lt;/b&gt;</HTMLResource></Companion>
          <Companion width="320" height="50"><StaticResource creativeType="image/png">https://x.example/ok.png</StaticResource></Companion>
        </CompanionAds></Creative>
        <Creative><Linear><Duration>1:2:3</Duration><MediaFiles>
          <MediaFile type="video/mp4" width="wide"> </MediaFile>
          <MediaFile width="640" maxBitrate="900">https://x.example/v.mp4</MediaFile>
        </MediaFiles></Linear></Creative></Creatives></InLine></Ad></VAST>"#;
    let s = summary(doc).unwrap();
    assert_eq!(s.ad_system, None);
    assert_eq!(s.duration_ms, None);
    let c = s.companion.unwrap();
    assert_eq!(
        (c.width, c.height, c.image_url.as_str()),
        (320, 50, "https://x.example/ok.png")
    );
    assert_eq!(s.media.len(), 1);
    assert_eq!(s.media[0].mime, "");
    assert_eq!(
        (s.media[0].width, s.media[0].bitrate_kbps),
        (Some(640), Some(900))
    );
}

#[test]
fn durations() {
    for (text, ms) in [
        ("00:00:15", Some(15_000)),
        ("00:00:30.000", Some(30_000)),
        (" 01:02:03.456 ", Some(3_723_456)),
        ("00:00:20.5", Some(20_500)),
        ("100:00:00", Some(360_000_000)),
        ("00:60:00", None),
        ("00:00:61", None),
        ("0:0:5", None),
        ("00:00:05.1234", None),
        ("00:00:05.", None),
        ("-1:00:00", None),
        ("+1:00:00", None),
        ("00:00", None),
        ("00:00:00:00", None),
        ("99999999999999999999:00:00", None),
        ("", None),
        ("PT15S", None),
    ] {
        assert_eq!(parse_duration(text), ms, "{text:?}");
    }
    assert_eq!(format_duration(15_000), "00:00:15.000");
    assert_eq!(format_duration(3_723_456), "01:02:03.456");
    for ms in [0, 1, 999, 59_999, 3_599_999, 86_400_000, u64::MAX / 2] {
        assert_eq!(parse_duration(&format_duration(ms)), Some(ms));
    }
}

#[test]
fn is_vast_reads_only_the_prolog() {
    for yes in [
        "<VAST version=\"4.2\"/>",
        "\u{feff}<?xml version=\"1.0\"?>\n<!-- c --> \n<?pi x?><VAST>",
        "  \r\n\t<VAST version=\"3.0\"><Ad>…unfinished",
        "<vast:VAST xmlns:vast=\"http://www.iab.com/VAST\">",
    ] {
        assert!(is_vast(yes), "{yes:?}");
    }
    for no in [
        "",
        "   ",
        "<html><VAST/></html>",
        "{\"vast\":1}",
        "text <VAST/>",
        "<vast/>",
        "<VASTX/>",
        "<!DOCTYPE VAST><VAST/>",
        "<!-- unclosed comment <VAST/>",
        "<",
    ] {
        assert!(!is_vast(no), "{no:?}");
    }
}

#[test]
fn refusals_are_errors_with_short_messages() {
    let deep = format!(
        "<VAST><Ad><InLine>{}</InLine></Ad></VAST>",
        "<a>".repeat(70)
    );
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE VAST [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><VAST><Ad><InLine><AdTitle>&b;</AdTitle></InLine></Ad></VAST>"#;
    let xxe = r#"<!DOCTYPE VAST [<!ENTITY x SYSTEM "file:///etc/passwd">]><VAST>&x;</VAST>"#;
    let long = format!("<{}/>", "X".repeat(5000));
    let cases: Vec<(&str, Expect)> = vec![
        ("", |e| matches!(e, VastError::NotVast(_))),
        ("<html><body/></html>", |e| {
            matches!(e, VastError::NotVast(_))
        }),
        (&long, |e| matches!(e, VastError::NotVast(_))),
        (laughs, |e| *e == VastError::Doctype),
        (xxe, |e| *e == VastError::Doctype),
        (&deep, |e| *e == VastError::TooDeep(64)),
        ("<VAST version=\"3.0\"/>", |e| *e == VastError::NoAd),
        ("<VAST><Error>https://x/</Error></VAST>", |e| {
            *e == VastError::NoAd
        }),
        ("<VAST><InLine/></VAST>", |e| *e == VastError::NoAd),
        ("<VAST><Ad><InLine></Ad></VAST>", malformed),
        ("<VAST><Ad><InLine></InLine></Ad>", malformed),
        (
            "<VAST><Ad><InLine><AdTitle>&nbsp;</AdTitle></InLine></Ad></VAST>",
            malformed,
        ),
        ("<VAST><Ad a=\"1\" a=\"2\"><InLine/></Ad></VAST>", malformed),
        ("<VAST><Ad a=1><InLine/></Ad></VAST>", malformed),
        ("<VAST><Ad><InLine/></Ad></VAST><VAST/>", malformed),
        ("<VAST><Ad><InLine/></Ad></VAST>trailing", malformed),
        ("<VAST><Ad><InLine>a & b</InLine></Ad></VAST>", malformed),
        ("</VAST>", malformed),
        (
            "<VAST><Ad><InLine><![CDATA[x</InLine></Ad></VAST>",
            malformed,
        ),
    ];
    for (doc, expected) in cases {
        for result in [
            summary(doc).map(|_| ()),
            inject(doc, &trackers()).map(|_| ()),
        ] {
            let err = result.expect_err(doc);
            assert!(expected(&err), "{doc:?}: {err:?}");
            assert!(err.to_string().len() < 200, "{err}");
        }
    }
    let err = summary("<VAST><Ad><InLine>\n</Oops></Ad></VAST>").unwrap_err();
    assert!(
        matches!(err, VastError::Malformed { at, .. } if at > 0),
        "{err}"
    );
}

type Expect = fn(&VastError) -> bool;

fn malformed(e: &VastError) -> bool {
    matches!(e, VastError::Malformed { .. })
}
