//! VAST markup: `vast::summary` (what screening and `/v1/ads` read) and `vast::inject`
//! (tracking added to a winner's markup). Markup that reads must still read once injected.
#![no_main]

use bidgate::vast::{Event, Tracker};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = bidgate::vast::is_vast(text);
    let read = bidgate::vast::summary(text);
    let trackers: Vec<Tracker> = [
        Event::Impression,
        Event::Start,
        Event::FirstQuartile,
        Event::Midpoint,
        Event::ThirdQuartile,
        Event::Complete,
        Event::Click,
        Event::Error,
    ]
    .into_iter()
    .map(|e| (e, format!("https://t.example/e?k={e:?}&a=1&b=<2>")))
    .collect();
    if let Ok(out) = bidgate::vast::inject(text, &trackers)
        && read.is_ok()
    {
        assert!(
            bidgate::vast::summary(&out).is_ok(),
            "VAST read before inject but not after: {out}"
        );
    }
});
