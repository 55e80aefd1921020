//! The `/v1/ads` body: parse and check against the demo config's placements, then the
//! mapping to an OpenRTB request (privacy applied), which is serialised and validated.
#![no_main]

use bidgate::config::PlacementConfig;
use bidgate::currency::Rates;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

static PLACEMENTS: LazyLock<Vec<PlacementConfig>> = LazyLock::new(|| {
    let text = include_str!("../../config/demo.toml");
    let config = bidgate::config::from_toml_str(text, []).expect("demo config loads");
    config.placements
});
static RATES: LazyLock<Rates> = LazyLock::new(|| Rates::new("USD", HashMap::new()));

fuzz_target!(|data: &[u8]| {
    let Ok(request) = bidgate::ads::parse(data, &PLACEMENTS) else {
        return;
    };
    let _ = bidgate::ads::personal_data_allowed(&request);
    let peer = match data.len() % 3 {
        0 => None,
        1 => Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7))),
        _ => Some(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 3, 4, 5, 6))),
    };
    let mapped = bidgate::ads::to_openrtb(
        &request,
        &PLACEMENTS,
        "0123456789abcdef0123456789abcdef",
        "USD",
        peer,
        |_| Some(bidgate::partners::PartnerIx(0)),
    );
    if let Ok(body) = serde_json::to_vec(&mapped.request)
        && let Ok(again) = bidgate::validation::parse(&body)
    {
        let _ = bidgate::validation::validate(&again, &RATES);
    }
});
