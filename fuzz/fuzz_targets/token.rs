//! Event tokens. The first byte chooses: verify arbitrary text with a fixed key, or build
//! claims from the input, sign them and verify the token (it must verify, to the same claims).
#![no_main]

use bidgate::events::token::{Claims, Signer};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static SIGNER: LazyLock<Signer> =
    LazyLock::new(|| Signer::new(&["fuzz-key-1".to_string(), "fuzz-key-0".to_string()]));

fn claims(u: &mut Unstructured) -> Result<Claims> {
    Ok(Claims {
        auction: u.arbitrary()?,
        imp: u.arbitrary()?,
        partner: u.arbitrary()?,
        bid: u.arbitrary()?,
        price_micros: u.arbitrary()?,
        currency: u.arbitrary()?,
        expires: u.arbitrary()?,
        burl: u.arbitrary()?,
        user_key: u.arbitrary()?,
        line_item: u.arbitrary()?,
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let token = String::from_utf8_lossy(rest);
        let _ = SIGNER.verify(&token, 1_700_000_000);
        return;
    }
    let mut u = Unstructured::new(rest);
    let Ok(c) = claims(&mut u) else {
        return;
    };
    if let Some(token) = SIGNER.sign(&c) {
        let (back, _id) = SIGNER
            .verify(&token, c.expires)
            .expect("a token bidgate issues verifies");
        assert_eq!(back, c);
    }
});
