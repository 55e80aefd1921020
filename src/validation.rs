//! Checks on an incoming bid request, before any partner sees it.
//!
//! Each failure is one line naming the field (`request.imp[1].id …`), returned to the client
//! as HTTP 400. Passing validation yields the floors in micros, parsed once for the auction.

use crate::config::is_currency_code;
use crate::money::Micros;
use crate::openrtb::BidRequest;
use std::collections::HashMap;

/// Parses a JSON body into a `BidRequest`; the error names the offending field.
pub fn parse(body: &[u8]) -> Result<BidRequest, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let request: BidRequest = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        if e.inner().is_syntax() || e.inner().is_eof() || path == "." {
            format!("request is not valid JSON: {}", e.inner())
        } else {
            format!("request.{path}: {}", e.inner())
        }
    })?;
    de.end()
        .map_err(|e| format!("request is not valid JSON: {e}"))?;
    Ok(request)
}

/// Validates the request; returns each imp's floor in the auction currency.
pub fn validate(r: &BidRequest, currency: &str) -> Result<Vec<Micros>, String> {
    if r.id.is_empty() {
        return Err("request.id must be present and non-empty".into());
    }
    if r.imp.is_empty() {
        return Err("request.imp must contain at least one imp".into());
    }
    if r.tmax.is_some_and(|t| t < 0) {
        return Err("request.tmax must be >= 0".into());
    }
    let mut seen = HashMap::with_capacity(r.imp.len());
    let mut floors = Vec::with_capacity(r.imp.len());
    for (i, imp) in r.imp.iter().enumerate() {
        if imp.id.is_empty() {
            return Err(format!("request.imp[{i}].id must be present and non-empty"));
        }
        if let Some(j) = seen.insert(imp.id.as_str(), i) {
            return Err(format!(
                "request.imp[{i}].id `{}` is already used by request.imp[{j}]",
                imp.id
            ));
        }
        let floor = match imp.bidfloor.map(Micros::from_f64) {
            None => Micros::ZERO,
            Some(Some(f)) if f >= Micros::ZERO => f,
            Some(_) => return Err(format!("request.imp[{i}].bidfloor must be a number >= 0")),
        };
        if let Some(cur) = &imp.bidfloorcur {
            if !is_currency_code(cur) {
                return Err(format!(
                    "request.imp[{i}].bidfloorcur `{cur}` is not an ISO-4217 currency code"
                ));
            }
            if cur != currency && floor > Micros::ZERO {
                return Err(format!(
                    "request.imp[{i}].bidfloorcur `{cur}` is not the auction currency {currency} (no conversion rates configured)"
                ));
            }
        }
        floors.push(floor);
    }
    Ok(floors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) -> Result<Vec<Micros>, String> {
        validate(&parse(json.as_bytes())?, "USD")
    }

    #[test]
    fn accepts_a_minimal_request_and_parses_floors() {
        let floors = check(r#"{"id":"r","imp":[{"id":"1","bidfloor":0.5},{"id":"2"}]}"#).unwrap();
        assert_eq!(floors, [Micros(500_000), Micros::ZERO]);
    }

    #[test]
    fn names_the_field_at_fault() {
        let cases = [
            (
                r#"{"id":"r","imp":[{"id":"1"}]"#,
                "request is not valid JSON",
            ),
            (
                r#"{"id":"r","imp":[{"id":"1"}]} trailing"#,
                "request is not valid JSON",
            ),
            (r#"{"imp":[{"id":"1"}]}"#, "request.id must be present"),
            (
                r#"{"id":"","imp":[{"id":"1"}]}"#,
                "request.id must be present",
            ),
            (r#"{"id":"r"}"#, "request.imp must contain"),
            (r#"{"id":"r","imp":[]}"#, "request.imp must contain"),
            (
                r#"{"id":"r","imp":[{"id":"1"},{"id":"1"}]}"#,
                "request.imp[1].id `1` is already used by request.imp[0]",
            ),
            (
                r#"{"id":"r","imp":[{"bidfloor":1}]}"#,
                "request.imp[0].id must be present",
            ),
            (
                r#"{"id":"r","tmax":-1,"imp":[{"id":"1"}]}"#,
                "request.tmax must be >= 0",
            ),
            (
                r#"{"id":"r","tmax":"fast","imp":[{"id":"1"}]}"#,
                "request.tmax: invalid type",
            ),
            (
                r#"{"id":"r","imp":[{"id":"1","bidfloor":-2}]}"#,
                "request.imp[0].bidfloor must be",
            ),
            (
                r#"{"id":"r","imp":[{"id":"1","bidfloor":1,"bidfloorcur":"EUR"}]}"#,
                "request.imp[0].bidfloorcur `EUR` is not the auction currency",
            ),
            (
                r#"{"id":"r","imp":[{"id":"1","bidfloorcur":"dollars"}]}"#,
                "not an ISO-4217",
            ),
            (r#"{"id":7,"imp":[{"id":"1"}]}"#, "request.id: invalid type"),
        ];
        for (json, want) in cases {
            let err = check(json).expect_err(json);
            assert!(
                err.starts_with(want) || err.contains(want),
                "{json} → {err}"
            );
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }
}
