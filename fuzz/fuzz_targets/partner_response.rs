//! A partner's 200 body: the fast reader (`partners::read`) against serde_json alone, then
//! `partners::parse` and screening of every bid (size bounds, playable markup incl. reading
//! its VAST, and the request's rules) against a fixed video request with a private-auction
//! deal.
#![no_main]

use bidgate::bidcheck::RequestRules;
use bidgate::currency::Rates;
use bidgate::partners::Outcome;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::sync::LazyLock;

static RULES: LazyLock<RequestRules> = LazyLock::new(|| {
    let rates = Rates::new("USD", HashMap::new());
    let body = include_bytes!("../../fixtures/openrtb/iab-examples/bid-request/2.6/video.json");
    let request = bidgate::validation::parse(body).expect("fixture parses");
    RequestRules::of(&request, &rates)
});

fuzz_target!(|data: &[u8]| {
    // The fast reader (one walk, `partners::answer::reader`) must agree with serde_json alone.
    match (bidgate::partners::read(data), bidgate::partners::read_plain(data)) {
        (Ok(fast), Ok(plain)) => assert_eq!(fast, plain),
        (Err(fast), Err(plain)) => assert_eq!(fast.to_string(), plain.to_string()),
        (fast, plain) => panic!("fast {fast:?} but plain {plain:?}"),
    }
    let Outcome::Bid(response) = bidgate::partners::parse(data) else {
        return;
    };
    for seat in &response.seatbid {
        for bid in &seat.bid {
            let _ = bidgate::bidcheck::bounded(bid);
            let _ = bidgate::exchange::playable_markup(bid);
            // Imp 0 is the fixture's video imp; 1 is an imp the rules do not know.
            for imp in 0..2 {
                for strict in [false, true] {
                    let _ = RULES.check(imp, bid, seat.seat.as_deref(), strict);
                }
            }
            let _ = bid.dur();
            let _ = bid.first_adomain();
        }
    }
});
