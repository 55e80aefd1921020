//! Hostile input never panics, and what inject accepts it leaves readable and unchanged in
//! substance.

use super::fixtures::ALL;
use super::tests::trackers;
use super::*;
use proptest::prelude::*;

/// Pieces that make scanner-relevant shapes far more often than random characters do.
const TOKENS: &[&str] = &[
    "<VAST>",
    "<VAST version=\"4.2\">",
    "</VAST>",
    "<Ad>",
    "</Ad>",
    "<InLine>",
    "</InLine>",
    "<Wrapper>",
    "</Wrapper>",
    "<Linear>",
    "</Linear>",
    "<Linear/>",
    "<TrackingEvents>",
    "</TrackingEvents>",
    "<TrackingEvents/>",
    "<VideoClicks>",
    "</VideoClicks>",
    "<Impression>",
    "</Impression>",
    "<Impression/>",
    "<Error>",
    "</Error>",
    "<Duration>00:00:15</Duration>",
    "<MediaFile type=\"audio/mpeg\">",
    "</MediaFile>",
    "<Companion width=\"1\" height=\"2\">",
    "<StaticResource>",
    "</StaticResource>",
    "</Companion>",
    "<![CDATA[",
    "]]>",
    "&amp;",
    "&",
    "&#x41;",
    "&#0;",
    "&bogus;",
    "<!--",
    "-->",
    "<!DOCTYPE VAST>",
    "<?xml version=\"1.0\"?>",
    "<?pi?>",
    "\u{feff}",
    "x",
    "é",
    " ",
    "\n",
    "\"",
    "'",
    "=",
    "<",
    ">",
    "/>",
    "</",
    " a=\"1\"",
    "<v:VAST>",
    "</v:VAST>",
    ":",
];

fn tokens() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..80).prop_map(|t| t.concat())
}

/// One edit of a valid document: cut a range, insert a token or copy a range elsewhere.
#[derive(Debug, Clone)]
enum Mutation {
    Cut(usize, usize),
    Insert(usize, &'static str),
    Copy(usize, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(at, n)| Mutation::Cut(at, n)),
        (any::<usize>(), prop::sample::select(TOKENS)).prop_map(|(at, t)| Mutation::Insert(at, t)),
        (any::<usize>(), 0usize..200, any::<usize>()).prop_map(|(a, n, b)| Mutation::Copy(a, n, b)),
    ]
}

/// The char boundary nearest below `at % (len + 1)`.
fn boundary(s: &str, at: usize) -> usize {
    let mut at = at % (s.len() + 1);
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn mutate(doc: &str, mutations: &[Mutation]) -> String {
    let mut s = doc.to_owned();
    for m in mutations {
        match *m {
            Mutation::Cut(at, n) => {
                let from = boundary(&s, at);
                let to = boundary(&s, (from + n).min(s.len()));
                s.replace_range(from..to, "");
            }
            Mutation::Insert(at, token) => {
                let at = boundary(&s, at);
                s.insert_str(at, token);
            }
            Mutation::Copy(from, n, to) => {
                let from = boundary(&s, from);
                let end = boundary(&s, (from + n).min(s.len()));
                let piece = s[from..end].to_owned();
                let to = boundary(&s, to);
                s.insert_str(to, &piece);
            }
        }
    }
    s
}

/// Everything the module offers, on one input, with the relations that must hold.
fn check(input: &str) -> Result<(), TestCaseError> {
    let vast = is_vast(input);
    let read = summary(input);
    if read.is_ok() {
        prop_assert!(vast, "summary read a document is_vast refused");
    }
    if let Ok(out) = inject(input, &trackers()) {
        prop_assert!(is_vast(&out));
        prop_assert_eq!(summary(&out), read, "inject changed the essentials");
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(input in any::<String>()) {
        check(&input)?;
    }

    #[test]
    fn token_soup_never_panics(input in tokens()) {
        check(&input)?;
    }

    #[test]
    fn mutated_documents_never_panic(
        which in 0..ALL.len(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        check(&mutate(ALL[which], &mutations))?;
    }

    #[test]
    fn built_documents_always_read_back(
        text in any::<String>(),
        url in any::<String>(),
        duration_ms in 0u64..=u64::MAX / 2,
        width in any::<u32>(),
    ) {
        let media = [MediaFile { url: url.clone(), mime: text.clone(), bitrate_kbps: Some(width), width: None, height: Some(width) }];
        let companion = Companion { width, height: width, image_url: url.clone(), mime: Some(text.clone()), click_through: Some(url.clone()) };
        let creative = Creative {
            ad_id: &text, ad_system: &text, title: &text, advertiser: Some(&text), duration_ms,
            media: &media, click_through: Some(&url), companion: Some(&companion),
        };
        let ours = [(Event::Impression, url.clone()), (Event::Start, url.clone())];
        let doc = build_inline(&creative, &ours);
        let read = summary(&doc);
        prop_assert!(read.is_ok(), "{:?}: {}", read, doc);
        prop_assert_eq!(read.unwrap().duration_ms, Some(duration_ms));
        check(&doc)?;
    }
}
