//! Signed tracking tokens: everything billing needs, carried in the tracking URL itself.
//!
//! A token is `base64url(claims JSON) "." base64url(HMAC-SHA256(key, first part))`. Nothing
//! is stored per auction, so any replica holding the key can verify an event, and a restart
//! loses nothing. The first configured key signs; every configured key verifies, so a key is
//! rotated by putting the new one first and dropping the old one after `token_ttl_s`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::hmac;
use serde::{Deserialize, Serialize};

/// What an event needs to be billed and logged. Short names: this travels in every URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(rename = "a")]
    pub auction: String,
    #[serde(rename = "i")]
    pub imp: String,
    #[serde(rename = "p")]
    pub partner: String,
    #[serde(rename = "b")]
    pub bid: String,
    /// Clearing price in micro-units of `currency`.
    #[serde(rename = "c")]
    pub price_micros: i64,
    #[serde(rename = "u")]
    pub currency: String,
    /// Unix seconds after which the token is refused.
    #[serde(rename = "e")]
    pub expires: u64,
    /// The winner's billing notice URL, macros already substituted.
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub burl: Option<String>,
    /// Direct demand: the listener's key, for frequency caps (only where consent allowed
    /// an id to be used at all).
    #[serde(rename = "k", default, skip_serializing_if = "Option::is_none")]
    pub user_key: Option<String>,
    /// Direct demand: the booked line item the impression delivers (absent from tokens
    /// signed before this claim existed; billing then reads it from the bid id).
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub line_item: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("missing or malformed token")]
    Malformed,
    #[error("token signature does not verify")]
    Forged,
    #[error("token has expired")]
    Expired,
}

impl TokenError {
    /// The `result` label of `bidgate_events_total`.
    pub fn label(self) -> &'static str {
        match self {
            TokenError::Malformed => "malformed",
            TokenError::Forged => "forged",
            TokenError::Expired => "expired",
        }
    }
}

/// The token's identity for deduplication: the first 16 bytes of its signature.
pub type TokenId = u128;

/// Room in a token's `burl` for what macros add to the screened `burl` (an auction id, a
/// price, a bid id); a `burl` that grows more than this makes no token, and its bid is
/// dropped before the answer (code 307).
pub const MACRO_GROWTH_BYTES: usize = 1024;

/// The longest token `sign` issues and `verify` accepts: every field at its bound, in the
/// worst case of JSON escapes (`text::json_len`), base64url-encoded, plus the signature.
/// What bounds each field: the auction id is bidgate's (32 hex digits), the imp id a slot id,
/// the partner id a config id (64 plain characters), the bid id and `burl` screening,
/// the user key `/v1/ads` validation, the currency an ISO code, the numbers 20 digits each,
/// the line item a catalog id (64 plain characters).
pub const MAX_TOKEN_CHARS: usize = {
    let keys = r#"{"a":"","i":"","p":"","b":"","c":,"u":"","e":,"n":"","k":"","l":""}"#.len();
    let fields = 32
        + 6 * crate::vocab::MAX_SLOT_ID_BYTES
        + 64
        + crate::vocab::MAX_BID_ID_BYTES
        + 20
        + 3
        + 20
        + crate::vocab::MAX_BURL_BYTES
        + MACRO_GROWTH_BYTES
        + 2 * crate::vocab::MAX_USER_ID_BYTES
        + 64;
    (keys + fields).div_ceil(3) * 4 + 1 + 43
};

#[derive(Clone)]
pub struct Signer {
    keys: Vec<hmac::Key>,
    /// Whether the key was made up at start (no `events.secrets`): kept across reloads.
    pub random: bool,
}

impl Signer {
    /// Keys from config; with none, one random key (tokens then verify only in this process).
    pub fn new(secrets: &[String]) -> Self {
        if secrets.is_empty() {
            let rng = ring::rand::SystemRandom::new();
            let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng).expect("system randomness");
            return Self {
                keys: vec![key],
                random: true,
            };
        }
        Self {
            keys: secrets
                .iter()
                .map(|s| hmac::Key::new(hmac::HMAC_SHA256, s.as_bytes()))
                .collect(),
            random: false,
        }
    }

    /// The token for `claims`; `None` when it would be longer than `verify` accepts
    /// (`MAX_TOKEN_CHARS`): a token that can never be verified is never issued.
    pub fn sign(&self, claims: &Claims) -> Option<String> {
        let payload = B64.encode(serde_json::to_vec(claims).expect("claims serialise"));
        if payload.len() + 1 + 43 > MAX_TOKEN_CHARS {
            return None;
        }
        let tag = hmac::sign(&self.keys[0], payload.as_bytes());
        Some(format!("{payload}.{}", B64.encode(tag.as_ref())))
    }

    /// The claims of a genuine, unexpired token, and its id.
    pub fn verify(&self, token: &str, now_unix: u64) -> Result<(Claims, TokenId), TokenError> {
        // Longer than any token `sign` issues: not worth decoding.
        if token.len() > MAX_TOKEN_CHARS {
            return Err(TokenError::Malformed);
        }
        let (payload, tag) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let tag = B64.decode(tag).map_err(|_| TokenError::Malformed)?;
        if tag.len() != 32 {
            return Err(TokenError::Malformed);
        }
        // ring compares in constant time.
        if !self
            .keys
            .iter()
            .any(|k| hmac::verify(k, payload.as_bytes(), &tag).is_ok())
        {
            return Err(TokenError::Forged);
        }
        let json = B64.decode(payload).map_err(|_| TokenError::Malformed)?;
        let claims: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
        if now_unix > claims.expires {
            return Err(TokenError::Expired);
        }
        let id = u128::from_be_bytes(tag[..16].try_into().expect("32 bytes"));
        Ok((claims, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(expires: u64) -> Claims {
        Claims {
            auction: "a1".into(),
            imp: "pre".into(),
            partner: "dsp-a".into(),
            bid: "b7".into(),
            price_micros: 2_500_000,
            currency: "USD".into(),
            expires,
            burl: Some("https://dsp-a.example/bill?p=2.5".into()),
            user_key: None,
            line_item: None,
        }
    }

    const OLD: &str = "an-old-secret-that-is-long-enough-0000";
    const NEW: &str = "a-new-secret-that-is-long-enough-11111";

    #[test]
    fn a_signed_token_verifies_and_round_trips() {
        let s = Signer::new(&[NEW.into()]);
        let t = s.sign(&claims(1000)).unwrap();
        let (c, id) = s.verify(&t, 999).unwrap();
        assert_eq!(c, claims(1000));
        assert_eq!(s.verify(&t, 1000).unwrap().1, id, "same token, same id");
    }

    #[test]
    fn tampering_forging_and_expiry_are_refused() {
        let s = Signer::new(&[NEW.into()]);
        let t = s.sign(&claims(1000)).unwrap();
        assert_eq!(s.verify(&t, 1001).unwrap_err(), TokenError::Expired);
        // A different price in the payload, the signature kept.
        let mut tampered = claims(1000);
        tampered.price_micros = 99_000_000;
        let forged_payload = B64.encode(serde_json::to_vec(&tampered).unwrap());
        let sig = t.split_once('.').unwrap().1;
        assert_eq!(
            s.verify(&format!("{forged_payload}.{sig}"), 0).unwrap_err(),
            TokenError::Forged
        );
        let other = Signer::new(&["someone-elses-secret-long-enough-xxxx".into()]);
        assert_eq!(
            s.verify(&other.sign(&claims(1000)).unwrap(), 0)
                .unwrap_err(),
            TokenError::Forged
        );
        for junk in ["", "abc", "a.b", "a.!!!!", &"x".repeat(MAX_TOKEN_CHARS + 1)] {
            assert_eq!(
                s.verify(junk, 0).unwrap_err(),
                TokenError::Malformed,
                "{junk}"
            );
        }
    }

    #[test]
    fn rotation_old_tokens_verify_while_the_old_key_is_listed() {
        let before = Signer::new(&[OLD.into()]);
        let t = before.sign(&claims(1000)).unwrap();
        let rotating = Signer::new(&[NEW.into(), OLD.into()]);
        assert!(rotating.verify(&t, 0).is_ok());
        assert!(
            rotating
                .verify(&rotating.sign(&claims(1000)).unwrap(), 0)
                .is_ok()
        );
        let after = Signer::new(&[NEW.into()]);
        assert_eq!(after.verify(&t, 0).unwrap_err(), TokenError::Forged);
    }

    /// The largest inputs each bound admits, with the costliest escapes, make a token that
    /// is issued and verifies; one byte of `burl` beyond the macro room makes none.
    #[test]
    fn the_largest_accepted_inputs_make_a_token_that_verifies() {
        use crate::vocab::*;
        let mut c = claims(u64::MAX);
        c.auction = "f".repeat(32);
        c.imp = "\u{1}".repeat(MAX_SLOT_ID_BYTES);
        c.partner = "p".repeat(64);
        c.bid = "\"".repeat(MAX_BID_ID_BYTES / 2);
        c.price_micros = i64::MIN;
        c.currency = "USD".into();
        c.user_key = Some("\\".repeat(MAX_USER_ID_BYTES));
        c.line_item = Some("l".repeat(64));
        let burl = |n: usize| Some(format!("https://x/?{}", "b".repeat(n - 11)));
        c.burl = burl(MAX_BURL_BYTES + MACRO_GROWTH_BYTES);
        let s = Signer::new(&[NEW.into()]);
        let t = s.sign(&c).expect("the largest inputs make a token");
        assert!(t.len() <= MAX_TOKEN_CHARS);
        assert_eq!(s.verify(&t, 0).unwrap().0, c);
        // Before any macro (what screening admits) there is room to spare.
        c.burl = burl(MAX_BURL_BYTES);
        assert!(s.sign(&c).is_some());
        c.burl = Some(format!("https://x/?{}", "\u{1}".repeat(MAX_BURL_BYTES)));
        assert!(s.sign(&c).is_none(), "too long: no token at all");
    }
}
