//! OpenRTB substitution macros (spec §4.4) in markup and notice URLs.
//!
//! Partners put `${AUCTION_PRICE}` and friends in `adm`, `nurl`, `burl` and `lurl`; the
//! exchange replaces them once the auction is decided. Unknown macros stay as they are (they
//! may be the partner's own, for a later hop); known ones without a value become empty.

use crate::money::Micros;
use std::borrow::Cow;

#[derive(Debug, Default, Clone, Copy)]
pub struct Values<'a> {
    pub auction_id: &'a str,
    /// The response's `bidid`.
    pub bid_id: Option<&'a str>,
    pub imp_id: &'a str,
    pub seat_id: &'a str,
    /// The bid's `adid`.
    pub ad_id: Option<&'a str>,
    /// The clearing price.
    pub price: Option<Micros>,
    pub currency: &'a str,
    /// Loss reason code (for `lurl`).
    pub loss: Option<u32>,
    pub min_to_win: Option<Micros>,
}

/// `text` with every known macro replaced; borrowed when there is none. For markup (`adm`).
pub fn substitute<'t>(text: &'t str, v: &Values<'_>) -> Cow<'t, str> {
    replace(text, v, false)
}

/// The same for notice URLs (`nurl`, `burl`, `lurl`): values are percent-encoded, because
/// some come from the client (imp and auction ids) and must not add query parameters
/// (`imp=x&price=0.01`) to a URL that bills.
pub fn substitute_url<'t>(text: &'t str, v: &Values<'_>) -> Cow<'t, str> {
    replace(text, v, true)
}

/// RFC 3986 unreserved characters pass; everything else is `%XX`.
fn percent_encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

fn replace<'t>(text: &'t str, v: &Values<'_>, encode: bool) -> Cow<'t, str> {
    if !text.contains("${") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Cow::Owned(out);
        };
        let name = &after[..end];
        match value(name, v) {
            Some(val) if encode => percent_encode(&val, &mut out),
            Some(val) => out.push_str(&val),
            None => out.push_str(&rest[start..start + 2 + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn value(name: &str, v: &Values<'_>) -> Option<String> {
    let money = |m: Option<Micros>| m.map(|m| m.to_f64().to_string()).unwrap_or_default();
    Some(match name {
        "AUCTION_ID" => v.auction_id.to_string(),
        "AUCTION_BID_ID" => v.bid_id.unwrap_or_default().to_string(),
        "AUCTION_IMP_ID" => v.imp_id.to_string(),
        "AUCTION_SEAT_ID" => v.seat_id.to_string(),
        "AUCTION_AD_ID" => v.ad_id.unwrap_or_default().to_string(),
        "AUCTION_PRICE" => money(v.price),
        "AUCTION_CURRENCY" => v.currency.to_string(),
        "AUCTION_LOSS" => v.loss.map(|l| l.to_string()).unwrap_or_default(),
        "AUCTION_MIN_TO_WIN" => money(v.min_to_win),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_macros_are_replaced_and_unknown_ones_kept() {
        let v = Values {
            auction_id: "a1",
            bid_id: Some("r9"),
            imp_id: "slot-1",
            seat_id: "dsp-a",
            ad_id: None,
            price: Some(Micros(2_500_000)),
            currency: "USD",
            loss: None,
            min_to_win: None,
        };
        let url = "https://x/b?p=${AUCTION_PRICE}&c=${AUCTION_CURRENCY}&a=${AUCTION_ID}&i=${AUCTION_IMP_ID}&s=${AUCTION_SEAT_ID}&b=${AUCTION_BID_ID}&ad=${AUCTION_AD_ID}&l=${AUCTION_LOSS}&own=${PARTNER_THING}&open=${AUCTION";
        assert_eq!(
            substitute(url, &v),
            "https://x/b?p=2.5&c=USD&a=a1&i=slot-1&s=dsp-a&b=r9&ad=&l=&own=${PARTNER_THING}&open=${AUCTION"
        );
        assert!(matches!(substitute("no macros", &v), Cow::Borrowed(_)));
    }

    #[test]
    fn values_in_urls_cannot_add_parameters() {
        let v = Values {
            auction_id: "a1",
            imp_id: "s&p=0.000001#",
            price: Some(Micros(2_500_000)),
            currency: "USD",
            ..Values::default()
        };
        assert_eq!(
            substitute_url("https://x/b?imp=${AUCTION_IMP_ID}&p=${AUCTION_PRICE}", &v),
            "https://x/b?imp=s%26p%3D0.000001%23&p=2.5"
        );
        assert_eq!(
            substitute("<i>${AUCTION_IMP_ID}</i>", &v),
            "<i>s&p=0.000001#</i>"
        );
    }
}
