//! Checks on an incoming bid request, before any partner sees it.
//!
//! Each failure is one line naming the field (`request.imp[1].id …`), returned to the client
//! as HTTP 400. Passing validation yields the floors in micros, parsed once for the auction.

use crate::config::is_currency_code;
use crate::currency::Rates;
use crate::money::Micros;
use crate::openrtb::BidRequest;
use serde_json::Value;
use std::collections::HashMap;

mod counts;
use counts::{check_counts, check_request};

/// Parses a JSON body into a `BidRequest`; the error names the offending field.
pub fn parse(body: &[u8]) -> Result<BidRequest, String> {
    // The usual, valid request is read without tracking its path (a tenth of an auction's
    // instructions); only a refused one is read again to say where it went wrong.
    if let Ok(request) = serde_json::from_slice(body) {
        return Ok(request);
    }
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
pub fn validate(r: &BidRequest, rates: &Rates) -> Result<Vec<Micros>, String> {
    let currency = rates.base.as_str();
    if r.id.is_empty() {
        return Err("request.id must be present and non-empty".into());
    }
    if r.imp.is_empty() {
        return Err("request.imp must contain at least one imp".into());
    }
    if r.tmax.is_some_and(|t| t < 0) {
        return Err("request.tmax must be >= 0".into());
    }
    let present: Vec<&str> = ["site", "app", "dooh"]
        .into_iter()
        .filter(|k| r.rest.is_present(k))
        .collect();
    if present.len() > 1 {
        return Err(format!(
            "request has {}: at most one of site, app and dooh",
            present.join(" and ")
        ));
    }
    for (i, cur) in r.cur.iter().flatten().enumerate() {
        if !is_currency_code(cur) {
            return Err(format!(
                "request.cur[{i}] `{cur}` is not an ISO-4217 currency code"
            ));
        }
    }
    // The answer is in the first listed currency bidgate has a rate for (OpenRTB: the
    // currencies the client accepts); with none of them, it could not answer at all.
    if let Some(listed) = r.cur.as_deref().filter(|l| !l.is_empty())
        && rates.answer_currency(listed).is_none()
    {
        return Err(format!(
            "request.cur: none of {} can be answered (no rate from the auction currency {currency})",
            listed.join(", ")
        ));
    }
    let nonempty = |k: &str| {
        r.rest
            .get(k)
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    };
    if nonempty("wseat") && nonempty("bseat") {
        return Err("request.wseat and request.bseat must not both be given".into());
    }
    check_request(&r.rest)?;
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
        check_counts(i, &imp.rest)?;
        check_media(i, &imp.rest)?;
        let mut floor = match imp.bidfloor.map(Micros::from_f64) {
            None => Micros::ZERO,
            Some(Some(f)) if f >= Micros::ZERO => f,
            Some(_) => return Err(format!("request.imp[{i}].bidfloor must be a number >= 0")),
        };
        // OpenRTB: an absent `bidfloorcur` means USD, whatever the auction currency.
        let cur = imp.bidfloorcur.as_deref().unwrap_or("USD");
        if !is_currency_code(cur) {
            return Err(format!(
                "request.imp[{i}].bidfloorcur `{cur}` is not an ISO-4217 currency code"
            ));
        }
        if floor > Micros::ZERO {
            floor = rates.to_base(floor, cur).ok_or_else(|| {
                let named = match imp.bidfloorcur {
                    Some(_) => format!("`{cur}`"),
                    None => "(absent, so USD)".into(),
                };
                format!(
                    "request.imp[{i}].bidfloorcur {named} cannot be converted to the auction currency {currency} (no rate configured)"
                )
            })?;
        }
        floors.push(floor);
    }
    Ok(floors)
}

/// Each imp offers at least one format, and what it offers is sane.
fn check_media(i: usize, imp: &crate::openrtb::Rest) -> Result<(), String> {
    let at = |path: &str| format!("request.imp[{i}].{path}");
    let offered: Vec<&str> = ["banner", "video", "audio", "native"]
        .into_iter()
        .filter(|k| imp.get(*k).is_some_and(Value::is_object))
        .collect();
    if offered.is_empty() {
        return Err(format!(
            "request.imp[{i}] must offer at least one of banner, video, audio, native"
        ));
    }
    let num = |o: &Value, k: &str| o.get(k).and_then(Value::as_f64);
    // An interstitial fills the screen: its banner may say 0 × 0 (the IAB's own 2.5
    // `mobile.json` example does).
    let interstitial = imp.get("instl").and_then(Value::as_i64) == Some(1);
    if let Some(b) = imp.get("banner") {
        for k in ["w", "h"] {
            if num(b, k).is_some_and(|v| v < 0.0 || (v == 0.0 && !interstitial)) {
                return Err(format!("{} must be > 0", at(&format!("banner.{k}"))));
            }
        }
        for (j, f) in b
            .get("format")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let sized =
                num(f, "w").is_some_and(|v| v > 0.0) && num(f, "h").is_some_and(|v| v > 0.0);
            let ratio = num(f, "wratio").is_some_and(|v| v > 0.0)
                && num(f, "hratio").is_some_and(|v| v > 0.0);
            if !(sized || ratio || interstitial) {
                return Err(format!(
                    "{} needs w and h > 0 (or wratio and hratio > 0)",
                    at(&format!("banner.format[{j}]"))
                ));
            }
        }
    }
    for kind in ["video", "audio"] {
        let Some(o) = imp.get(kind) else { continue };
        if o.get("mimes")
            .and_then(Value::as_array)
            .is_none_or(|m| m.is_empty())
        {
            return Err(format!(
                "{} must not be empty",
                at(&format!("{kind}.mimes"))
            ));
        }
        let (min, max) = (num(o, "minduration"), num(o, "maxduration"));
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            return Err(format!(
                "{} must be <= {kind}.maxduration",
                at(&format!("{kind}.minduration"))
            ));
        }
        if o.get("rqddurs")
            .and_then(Value::as_array)
            .is_some_and(|d| !d.is_empty())
            && (min.is_some() || max.is_some())
        {
            return Err(format!(
                "{} must not be given together with minduration/maxduration",
                at(&format!("{kind}.rqddurs"))
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) -> Result<Vec<Micros>, String> {
        let rates = Rates::new(
            "USD",
            HashMap::from([("EUR".into(), crate::currency::Rate::from_f64(1.1).unwrap())]),
        );
        validate(&parse(json.as_bytes())?, &rates)
    }

    #[test]
    fn accepts_a_minimal_request_and_parses_floors() {
        let floors = check(
            r#"{"id":"r","imp":[{"id":"1","native":{},"bidfloor":0.5},{"id":"2","native":{}}]}"#,
        )
        .unwrap();
        assert_eq!(floors, [Micros(500_000), Micros::ZERO]);
    }

    #[test]
    fn the_request_objects_counts_are_checked_as_sent() {
        let imp = r#""imp":[{"id":"1","native":{}}]"#;
        let with = |members: &str| check(&format!(r#"{{"id":"r",{imp},{members}}}"#));
        for (members, field) in [
            (r#""device":{"w":-1}"#, "request.device.w"),
            (
                r#""device":{"ppi":2,"geo":{"accuracy":-1}}"#,
                "request.device.geo.accuracy",
            ),
            (
                r#""user":{"geo":{"accuracy":-0.5}}"#,
                "request.user.geo.accuracy",
            ),
            (
                r#""app":{"content":{"len":-30}}"#,
                "request.app.content.len",
            ),
            (
                r#""dooh":{"content":{"len":-1}}"#,
                "request.dooh.content.len",
            ),
        ] {
            let e = with(members).unwrap_err();
            assert_eq!(e, format!("{field} must be >= 0"), "{members}");
        }
        // Negative numbers where the spec allows them, or deeper than checked, pass.
        with(r#""device":{"geo":{"lat":-33.9,"lon":-70.6,"utcoffset":-240},"ext":{"w":-1}}"#)
            .unwrap();
        with(r#""app":{"content":{"len":0,"ext":{"len":-1}}},"user":{"yob":1990}"#).unwrap();
    }

    #[test]
    fn a_floor_without_currency_is_in_usd() {
        let rates = Rates::new(
            "EUR",
            HashMap::from([("USD".into(), crate::currency::Rate::from_f64(0.5).unwrap())]),
        );
        let r = parse(br#"{"id":"r","imp":[{"id":"1","native":{},"bidfloor":2}]}"#).unwrap();
        assert_eq!(
            validate(&r, &rates),
            Ok(vec![Micros(1_000_000)]),
            "2 USD = 1 EUR"
        );
        let no_usd = Rates::new("EUR", HashMap::new());
        assert!(
            validate(&r, &no_usd)
                .unwrap_err()
                .contains("(absent, so USD)")
        );
    }

    #[test]
    fn floors_in_other_currencies_are_converted() {
        let floors =
            check(r#"{"id":"r","imp":[{"id":"1","native":{},"bidfloor":2,"bidfloorcur":"EUR"}]}"#)
                .unwrap();
        assert_eq!(floors, [Micros(2_200_000)]);
    }

    #[test]
    fn names_the_field_at_fault() {
        let cases = [
            (
                r#"{"id":"r","imp":[{"id":"1","native":{}}]"#,
                "request is not valid JSON",
            ),
            (
                r#"{"id":"r","imp":[{"id":"1","native":{}}]} trailing"#,
                "request is not valid JSON",
            ),
            (
                r#"{"imp":[{"id":"1","native":{}}]}"#,
                "request.id must be present",
            ),
            (
                r#"{"id":"","imp":[{"id":"1","native":{}}]}"#,
                "request.id must be present",
            ),
            (r#"{"id":"r"}"#, "request.imp must contain"),
            (r#"{"id":"r","imp":[]}"#, "request.imp must contain"),
            (
                r#"{"id":"r","imp":[{"id":"1","native":{}},{"id":"1","native":{}}]}"#,
                "request.imp[1].id `1` is already used by request.imp[0]",
            ),
            (
                r#"{"id":"r","imp":[{"bidfloor":1,"native":{}}]}"#,
                "request.imp[0].id must be present",
            ),
            (
                r#"{"id":"r","tmax":-1,"imp":[{"id":"1","native":{}}]}"#,
                "request.tmax must be >= 0",
            ),
            (
                r#"{"id":"r","tmax":"fast","imp":[{"id":"1","native":{}}]}"#,
                "request.tmax: invalid type",
            ),
            (
                r#"{"id":"r","imp":[{"id":"1","native":{},"bidfloor":-2}]}"#,
                "request.imp[0].bidfloor must be",
            ),
            (
                r#"{"id":"r","imp":[{"id":"1","native":{},"bidfloor":1,"bidfloorcur":"GBP"}]}"#,
                "request.imp[0].bidfloorcur `GBP` cannot be converted",
            ),
            (
                r#"{"id":"r","imp":[{"id":"1"}]}"#,
                "request.imp[0] must offer at least one of",
            ),
            (
                r#"{"id":"r","imp":[{"id":"1","banner":{"w":0,"h":50}}]}"#,
                "request.imp[0].banner.w must be > 0",
            ),
            (
                r#"{"id":"r","imp":[{"id":"1","banner":{"format":[{"w":320,"h":50},{"w":300}]}}]}"#,
                "request.imp[0].banner.format[1] needs w and h",
            ),
            (
                r#"{"id":"r","imp":[{"id":"1","audio":{"mimes":[]}}]}"#,
                "request.imp[0].audio.mimes must not be empty",
            ),
            (
                r#"{"id":"r","imp":[{"id":"1","native":{}},{"id":"2","video":{"mimes":["video/mp4"],"minduration":30,"maxduration":15}}]}"#,
                "request.imp[1].video.minduration must be <= video.maxduration",
            ),
            (
                r#"{"id":"r","imp":[{"id":"1","audio":{"mimes":["audio/mpeg"],"rqddurs":[15,30],"maxduration":30}}]}"#,
                "request.imp[0].audio.rqddurs must not be given together",
            ),
            (
                r#"{"id":"r","site":{},"app":{},"imp":[{"id":"1","native":{}}]}"#,
                "request has site and app: at most one",
            ),
            (
                r#"{"id":"r","cur":["USD","euro"],"imp":[{"id":"1","native":{}}]}"#,
                "request.cur[1] `euro` is not an ISO-4217",
            ),
            (
                r#"{"id":"r","wseat":["a"],"bseat":["b"],"imp":[{"id":"1","native":{}}]}"#,
                "request.wseat and request.bseat must not both",
            ),
            (
                r#"{"id":"r","imp":[{"id":"1","native":{},"bidfloorcur":"dollars"}]}"#,
                "not an ISO-4217",
            ),
            (
                r#"{"id":7,"imp":[{"id":"1","native":{}}]}"#,
                "request.id: invalid type",
            ),
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
