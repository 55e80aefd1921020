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

    pub fn sign(&self, claims: &Claims) -> String {
        let payload = B64.encode(serde_json::to_vec(claims).expect("claims serialise"));
        let tag = hmac::sign(&self.keys[0], payload.as_bytes());
        format!("{payload}.{}", B64.encode(tag.as_ref()))
    }

    /// The claims of a genuine, unexpired token, and its id.
    pub fn verify(&self, token: &str, now_unix: u64) -> Result<(Claims, TokenId), TokenError> {
        // A real token is a few hundred bytes; a huge one is not worth decoding.
        if token.len() > 4096 {
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
        let t = s.sign(&claims(1000));
        let (c, id) = s.verify(&t, 999).unwrap();
        assert_eq!(c, claims(1000));
        assert_eq!(s.verify(&t, 1000).unwrap().1, id, "same token, same id");
    }

    #[test]
    fn tampering_forging_and_expiry_are_refused() {
        let s = Signer::new(&[NEW.into()]);
        let t = s.sign(&claims(1000));
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
            s.verify(&other.sign(&claims(1000)), 0).unwrap_err(),
            TokenError::Forged
        );
        for junk in ["", "abc", "a.b", "a.!!!!", &"x".repeat(5000)] {
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
        let t = before.sign(&claims(1000));
        let rotating = Signer::new(&[NEW.into(), OLD.into()]);
        assert!(rotating.verify(&t, 0).is_ok());
        assert!(rotating.verify(&rotating.sign(&claims(1000)), 0).is_ok());
        let after = Signer::new(&[NEW.into()]);
        assert_eq!(after.verify(&t, 0).unwrap_err(), TokenError::Forged);
    }
}
