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
    // The request's other members are kept as sent and parsed when read (`openrtb::Members`):
    // what the reader accepted, a tree parse of the whole body accepts, and each member read
    // later is that tree's (the last of a repeated key, as a map keeps it).
    let tree: serde_json::Value = match serde_json::from_slice(data) {
        Ok(tree) => tree,
        // The one difference allowed: a member is checked alone, so it may nest one level
        // deeper than it could inside the whole request (128 levels, not 127).
        Err(e) => {
            assert!(e.to_string().contains("recursion limit"), "{e}");
            return;
        }
    };
    for (key, value) in request.rest.iter() {
        assert_eq!(Some(value), tree.get(key.as_str()), "member {key}");
    }
    // What goes out to partners is the request serialised again: valid JSON, the same members.
    let body = serde_json::to_vec(&request).expect("serialises");
    let sent: serde_json::Value = serde_json::from_slice(&body).expect("the body is valid JSON");
    for (key, value) in request.rest.iter() {
        assert_eq!(Some(value), sent.get(key.as_str()), "member {key} as sent");
    }
});
