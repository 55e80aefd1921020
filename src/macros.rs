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
    replace(text, v, Encode::Plain)
}

/// The same for notice URLs (`nurl`, `burl`, `lurl`): values are percent-encoded, because
/// some come from the client (imp and auction ids) and must not add query parameters
/// (`imp=x&price=0.01`) to a URL that bills.
pub fn substitute_url<'t>(text: &'t str, v: &Values<'_>) -> Cow<'t, str> {
    replace(text, v, Encode::Url)
}

/// The same for markup still in its JSON form (a raw JSON string's text between the quotes,
/// escapes and all, as `Bid::adm` keeps it): values are JSON-escaped, so a winner's markup
/// is neither unescaped nor escaped again just to put a price in it. The caller makes sure
/// the text has no `\\u` escapes (which could spell a macro in disguise).
pub fn substitute_json<'t>(text: &'t str, v: &Values<'_>) -> Cow<'t, str> {
    replace(text, v, Encode::Json)
}

/// [`substitute_json`] written as a whole JSON string literal, quotes included (a winner's
/// `adm` on its way out), so that adding the quotes is not one more copy of the markup;
/// `None` when `text` has no `${`.
pub fn substitute_json_literal(text: &str, v: &Values<'_>) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 66);
    out.push('"');
    if !replace_into(text, v, Encode::Json, &mut out) {
        return None;
    }
    out.push('"');
    Some(out)
}

/// How a value is written into the text.
#[derive(Clone, Copy)]
enum Encode {
    /// As it is: markup.
    Plain,
    /// Percent-encoded: notice URLs.
    Url,
    /// JSON-string-escaped: markup in its raw JSON form.
    Json,
}

fn json_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
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

/// Why by hand and byte by byte: markup carries dozens of macros (one per tracking URL), and
/// a `str::find("${")` per macro (a substring searcher set up each time) plus a `String` per
/// value made this a tenth of a winner's cost. Each value is encoded once per text, on first
/// use: a VAST repeats `${AUCTION_ID}` in every tracking URL.
fn replace<'t>(text: &'t str, v: &Values<'_>, encode: Encode) -> Cow<'t, str> {
    let mut out = String::new();
    if replace_into(text, v, encode, &mut out) {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

/// Appends `text` with its known macros replaced to `out` and returns `true`; or leaves `out`
/// alone and returns `false` when `text` has no `${` at all (the caller keeps `text`).
fn replace_into(text: &str, v: &Values<'_>, encode: Encode, out: &mut String) -> bool {
    // Byte searches (SIMD memchr): markup carries ~30 macros in ~4 KB, and `str::find` with
    // its per-call setup cost ~600 instructions a macro (callgrind, loadtest/README.md).
    // Every index found is that of an ASCII byte (`$`, `{`, `}`), so slicing `text` there
    // stays on char boundaries.
    let bytes = text.as_bytes();
    let open = |from: usize| {
        let mut at = from;
        while let Some(i) = memchr::memchr(b'$', &bytes[at..]) {
            let i = at + i;
            if bytes.get(i + 1) == Some(&b'{') {
                return Some(i);
            }
            at = i + 1;
        }
        None
    };
    let Some(mut start) = open(0) else {
        return false;
    };
    out.reserve(text.len() + 64);
    let mut copied = 0;
    let mut encoded: [Option<String>; KNOWN.len()] = Default::default();
    loop {
        let after = start + 2;
        let Some(end) = memchr::memchr(b'}', &bytes[after..]) else {
            break;
        };
        let close = after + end + 1;
        if let Some(k) = known(&text[after..after + end]) {
            out.push_str(&text[copied..start]);
            out.push_str(encoded[k].get_or_insert_with(|| value(k, v, encode)));
            copied = close;
        }
        match open(close) {
            Some(next) => start = next,
            None => break,
        }
    }
    out.push_str(&text[copied..]);
    true
}

/// The index in `KNOWN` of a macro's name.
fn known(name: &str) -> Option<usize> {
    Some(match name {
        "AUCTION_ID" => 0,
        "AUCTION_BID_ID" => 1,
        "AUCTION_IMP_ID" => 2,
        "AUCTION_SEAT_ID" => 3,
        "AUCTION_AD_ID" => 4,
        "AUCTION_CURRENCY" => 5,
        "AUCTION_PRICE" => 6,
        "AUCTION_MIN_TO_WIN" => 7,
        "AUCTION_LOSS" => 8,
        _ => return None,
    })
}

/// The macros replaced, in the order `value` knows them by.
const KNOWN: [&str; 9] = [
    "AUCTION_ID",
    "AUCTION_BID_ID",
    "AUCTION_IMP_ID",
    "AUCTION_SEAT_ID",
    "AUCTION_AD_ID",
    "AUCTION_CURRENCY",
    "AUCTION_PRICE",
    "AUCTION_MIN_TO_WIN",
    "AUCTION_LOSS",
];

/// The value of `KNOWN[k]` (empty when it has none), encoded for where it goes.
fn value(k: usize, v: &Values<'_>, encode: Encode) -> String {
    let number;
    let text: &str = match k {
        0 => v.auction_id,
        1 => v.bid_id.unwrap_or_default(),
        2 => v.imp_id,
        3 => v.seat_id,
        4 => v.ad_id.unwrap_or_default(),
        5 => v.currency,
        _ => {
            number = match k {
                6 => v.price.map(|m| m.to_f64().to_string()),
                7 => v.min_to_win.map(|m| m.to_f64().to_string()),
                _ => v.loss.map(|l| l.to_string()),
            };
            number.as_deref().unwrap_or_default()
        }
    };
    let mut out = String::with_capacity(text.len());
    match encode {
        Encode::Plain => out.push_str(text),
        Encode::Url => percent_encode(text, &mut out),
        Encode::Json => json_escape(text, &mut out),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_known_name_maps_to_its_place_in_known() {
        for (k, name) in KNOWN.iter().enumerate() {
            assert_eq!(known(name), Some(k), "{name}");
        }
        assert_eq!(known("AUCTION_PRICE:B64"), None);
        assert_eq!(known(""), None);
    }

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
        let quoted = Values {
            imp_id: "a\"b\\c\n",
            ..v
        };
        let raw = r#"<i a=\"${AUCTION_IMP_ID}\">${AUCTION_PRICE}</i>"#;
        let out = substitute_json(raw, &quoted);
        assert_eq!(out, r#"<i a=\"a\"b\\c\u000a\">2.5</i>"#);
        let back: String = serde_json::from_str(&format!("\"{out}\"")).unwrap();
        assert_eq!(
            back, "<i a=\"a\"b\\c\n\">2.5</i>",
            "the same as substituting unescaped"
        );
    }
}
