//! Debug output, as integrators know it from Prebid Server: `ext.debug.httpcalls`, per
//! partner the call it got (`uri`, `requestbody`) and what it answered (`status`,
//! `responsebody`), bodies cut to `auction.debug_body_limit_bytes`.
//!
//! Who gets it: a `test = 1` auction (nothing in it is billed, its partners were told it is
//! a test), or a request with `ext.debug = 1` from a `[[clients]]` entry with
//! `debug = true`: the answers show every buyer's bids, which only a trusted caller may see.
//! Each entry is what that partner was sent (after privacy stripping, its own params) and
//! what it answered; headers (`Authorization` and the partner's other extra headers) are
//! never shown. Off, the fan-out keeps nothing (`fanout::Called::debug` stays `None`).

use crate::openrtb::BidRequest;
use crate::partners::HttpCall;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;

/// `ext.debug` of the answer.
#[derive(Debug, Default, Serialize)]
pub struct Debug {
    /// Partner id → its calls (one per auction: bidgate calls each partner once).
    pub httpcalls: BTreeMap<String, Vec<ShownCall>>,
}

/// One `ext.debug.httpcalls` entry, in Prebid Server's field names.
#[derive(Debug, Serialize)]
pub struct ShownCall {
    pub uri: String,
    pub requestbody: String,
    /// Absent when no answer came (timed out, cut off at the close, connection failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub responsebody: Option<String>,
}

/// Whether the request asks for debug output: `ext.debug` = 1 (or `true`), or Prebid's
/// `ext.prebid.debug = true`. Whether the caller may have it is the edge's decision.
pub fn asked(request: &BidRequest) -> bool {
    let Some(ext) = request.rest.get("ext") else {
        return false;
    };
    let on = |v: Option<&Value>| {
        matches!(v, Some(Value::Bool(true))) || v.and_then(Value::as_i64) == Some(1)
    };
    on(ext.get("debug")) || on(ext.get("prebid").and_then(|p| p.get("debug")))
}

impl Debug {
    /// Adds `partner`'s call, its bodies cut to `limit` bytes.
    pub fn add(&mut self, partner: &str, call: &HttpCall, limit: usize) {
        let request = if call.gzipped {
            inflate(&call.request, limit)
        } else {
            call.request.to_vec()
        };
        self.httpcalls
            .entry(partner.to_string())
            .or_default()
            .push(ShownCall {
                uri: call.uri.clone(),
                requestbody: clip(&request, limit),
                status: call.status,
                responsebody: call.status.map(|_| clip(&call.response, limit)),
            });
    }
}

/// A gzipped body as sent, inflated to at most a few bytes past `limit` (what is shown).
fn inflate(gz: &[u8], limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = flate2::read::GzDecoder::new(gz)
        .take(limit as u64 + 4)
        .read_to_end(&mut out);
    out
}

/// At most `limit` bytes of `body` as text, cut on a UTF-8 character boundary (a character
/// the limit would split is left out whole); bytes that are not UTF-8 become U+FFFD.
pub fn clip(body: &[u8], limit: usize) -> String {
    let mut head = &body[..body.len().min(limit)];
    if let Err(e) = std::str::from_utf8(head)
        && e.error_len().is_none()
    {
        // Only the last character is incomplete: the limit split it.
        head = &head[..e.valid_up_to()];
    }
    let mut text = String::from_utf8_lossy(head).into_owned();
    // Replacement characters are longer than the bytes they replace.
    if text.len() > limit {
        let mut cut = limit;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_cut_on_a_character_boundary() {
        assert_eq!(clip(b"{\"a\":1}", 100), "{\"a\":1}");
        assert_eq!(clip(b"abcdef", 3), "abc");
        // "é" is two bytes: a limit that splits it leaves it out whole.
        assert_eq!(clip("aé".as_bytes(), 2), "a");
        assert_eq!(clip("aé".as_bytes(), 3), "aé");
        // "€" is three bytes.
        assert_eq!(clip("x€y".as_bytes(), 3), "x");
        assert_eq!(clip(b"", 0), "");
        // Not UTF-8 at all: replaced, and still within the limit.
        let text = clip(&[0xff, 0xfe, 0xfd, 0xfc], 4);
        assert!(text.len() <= 4, "{text:?}");
        assert!(text.starts_with('\u{fffd}'));
    }

    #[test]
    fn debug_is_asked_as_prebid_and_openrtb_callers_ask() {
        let ask = |ext: &str| {
            let r: BidRequest = serde_json::from_str(&format!(
                r#"{{"id":"r","imp":[{{"id":"1","banner":{{"w":1,"h":1}}}}],"ext":{ext}}}"#
            ))
            .unwrap();
            asked(&r)
        };
        assert!(ask(r#"{"debug":1}"#));
        assert!(ask(r#"{"debug":true}"#));
        assert!(ask(r#"{"prebid":{"debug":true}}"#));
        assert!(!ask(r#"{"debug":0}"#));
        assert!(!ask(r#"{"debug":"1"}"#));
        assert!(!ask(r#"{}"#));
    }

    #[test]
    fn a_gzipped_body_is_shown_inflated() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(br#"{"id":"r"}"#).unwrap();
        let call = HttpCall {
            uri: "http://p.example/bid".into(),
            request: gz.finish().unwrap().into(),
            gzipped: true,
            status: None,
            response: bytes::Bytes::new(),
        };
        let mut d = Debug::default();
        d.add("p", &call, 1024);
        let shown = serde_json::to_value(&d).unwrap();
        assert_eq!(
            shown,
            serde_json::json!({"httpcalls": {"p": [
                {"uri": "http://p.example/bid", "requestbody": "{\"id\":\"r\"}"}
            ]}})
        );
    }
}
