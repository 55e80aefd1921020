//! The OpenRTB request body of `/openrtb2/auction`: parse, validate, and the request's own
//! bid rules (`bidcheck::RequestRules`), as the handler does before any partner is called.
#![no_main]

use bidgate::currency::Rates;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::sync::LazyLock;

static RATES: LazyLock<Rates> = LazyLock::new(|| Rates::new("USD", HashMap::new()));

fuzz_target!(|data: &[u8]| {
    let Ok(request) = bidgate::validation::parse(data) else {
        return;
    };
    let _ = bidgate::validation::validate(&request, &RATES);
    let _ = bidgate::bidcheck::RequestRules::of(&request, &RATES);
    // What goes out to partners is the request serialised again.
    let _ = serde_json::to_vec(&request);
});
