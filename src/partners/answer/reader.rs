//! The fast reader: a partner's answer walked once, straight into a `BidResponse`.
//!
//! Why not serde_json on the whole body: markup is nearly all of an answer, and what is left
//! (about ten members per bid, 16 bids an auction) cost serde_json's generic machinery more
//! than finding the markup did: a `Deserializer` per document, every key parsed and UTF-8
//! checked twice, every member through a visitor. This reader knows the shape
//! (`seatbid[].bid[]`), takes keys and plain strings as the bytes they are, small integers
//! and string arrays (`adomain`) directly, and finds the end of each string with the
//! 64-bytes-a-step scanner (`scan::string_end`). Every other value (an `ext` object, a
//! decimal price, a string with escapes) is handed to serde_json on its own bytes, so its
//! meaning is serde_json's. Each choice it makes is the one serde_json and the `openrtb`
//! visitors make (duplicates refused or kept last, `null` for an `Option`, required `id`
//! and `price`); whenever it is not sure, it returns `None` and the caller takes the plain
//! path, which also writes the error messages. The fuzz target `partner_response` and the
//! tests compare both paths.

use super::super::scan::string_end;
use crate::openrtb::{Bid, BidResponse, Markup, Rest, SeatBid};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Nesting this deep inside one member is left to the plain path: serde_json's recursion
/// limit (128) counts the five levels above the member too, which a value read on its own
/// bytes would not.
const MAX_DEPTH: usize = 64;

/// The response in `body`, or `None` when the plain path must decide (unusual or invalid).
pub(super) fn read(body: &[u8]) -> Option<BidResponse> {
    let mut r = Reader { b: body, i: 0 };
    let response = r.response()?;
    r.ws();
    (r.i == body.len()).then_some(response)
}

struct Reader<'a> {
    b: &'a [u8],
    /// The next byte to read.
    i: usize,
}

/// Fills a member's slot; a member given twice is an error (serde's derive), so `None`.
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    slot.replace(value).is_none().then_some(())
}

/// The text of a checked JSON string (no control bytes, valid escapes), `ascii` if no byte is
/// above 0x7F.
fn text(bytes: &[u8], ascii: bool) -> Option<&str> {
    if ascii {
        // SAFETY: every byte is below 0x80 (`string_end` saw no high bit): ASCII is UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::str::from_utf8(bytes).ok()
    }
}

impl<'a> Reader<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// The next byte after whitespace (not consumed).
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// An object: each member's key to `member`, with the reader at the member's value.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.items(b'{', b'}', |r| {
            let key = r.key()?;
            r.eat(b':')?;
            member(r, key)
        })
    }

    /// An array: `element` reads each element.
    fn array(&mut self, element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.items(b'[', b']', element)
    }

    /// A container from `open` to `close`, `item` reading each of its comma-separated items.
    fn items(
        &mut self,
        open: u8,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.eat(open)?;
        if self.peek()? == close {
            self.i += 1;
            return Some(());
        }
        loop {
            item(self)?;
            match self.peek()? {
                b',' => self.i += 1,
                c if c == close => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An array of what `item` reads.
    fn list<T>(&mut self, item: fn(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let mut items = Vec::new();
        self.array(|r| {
            items.push(item(r)?);
            Some(())
        })?;
        Some(items)
    }

    /// A string: where its text starts and ends (the closing quote), whether it is ASCII and
    /// whether it has escapes.
    fn string_token(&mut self) -> Option<(usize, usize, bool, bool)> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.i + 1;
        let (end, ascii, escaped) = string_end(self.b, start)?;
        self.i = end + 1;
        Some((start, end, ascii, escaped))
    }

    /// A key. One written with escapes might spell a known member: the plain path's.
    fn key(&mut self) -> Option<&'a str> {
        let (start, end, ascii, escaped) = self.string_token()?;
        if escaped {
            return None;
        }
        text(&self.b[start..end], ascii)
    }

    /// A string value: its bytes when it has no escapes, else serde_json's reading of it.
    fn string(&mut self) -> Option<String> {
        let (start, end, ascii, escaped) = self.string_token()?;
        if escaped {
            return serde_json::from_slice(&self.b[start - 1..=end]).ok();
        }
        text(&self.b[start..end], ascii).map(str::to_owned)
    }

    /// An `Option<String>` member: `null` or a string.
    fn optional_string(&mut self) -> Option<Option<String>> {
        match self.peek()? {
            b'"' => self.string().map(Some),
            _ => self.value(),
        }
    }

    /// Digits alone (no sign, fraction or exponent, no leading zero), up to 18 of them: a
    /// `u64` exactly as serde_json reads it. `None` (nothing consumed) for any other number.
    fn small_integer(&mut self) -> Option<u64> {
        self.ws();
        let rest = &self.b[self.i..];
        let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        let after = rest.get(digits).copied();
        if digits == 0
            || digits > 18
            || (digits > 1 && rest[0] == b'0')
            || matches!(after, Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        let n = rest[..digits]
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        self.i += digits;
        Some(n)
    }

    /// Any value, read by serde_json from its own bytes.
    fn value<T: DeserializeOwned>(&mut self) -> Option<T> {
        self.ws();
        let start = self.i;
        self.skip()?;
        serde_json::from_slice(&self.b[start..self.i]).ok()
    }

    /// Past one value, checking only what finding its end takes (serde_json reads it next).
    fn skip(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match self.peek()? {
                b'"' => {
                    self.string_token()?;
                }
                b'{' | b'[' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return None;
                    }
                    self.i += 1;
                    continue;
                }
                b'}' | b']' => {
                    depth = depth.checked_sub(1)?;
                    self.i += 1;
                }
                b',' | b':' if depth > 0 => {
                    self.i += 1;
                    continue;
                }
                b',' | b':' => return None,
                _ => {
                    // A number, `true`, `false`, `null`, or bytes serde_json will refuse.
                    let rest = &self.b[self.i..];
                    self.i += rest
                        .iter()
                        .position(|c| {
                            matches!(
                                c,
                                b',' | b':'
                                    | b'{'
                                    | b'}'
                                    | b'['
                                    | b']'
                                    | b'"'
                                    | b' '
                                    | b'\n'
                                    | b'\r'
                                    | b'\t'
                            )
                        })
                        .unwrap_or(rest.len());
                }
            }
            if depth == 0 {
                return Some(());
            }
        }
    }

    /// A member kept as a `Value` (a bid's slots and the rest): plain strings, small integers
    /// and arrays of strings directly, anything else by serde_json.
    fn member(&mut self) -> Option<Value> {
        match self.peek()? {
            b'"' => self.string().map(Value::String),
            b'0'..=b'9' => match self.small_integer() {
                Some(n) => Some(Value::from(n)),
                None => self.value(),
            },
            b'[' => {
                let start = self.i;
                let mut items = Vec::new();
                let strings = self.array(|r| {
                    if r.peek()? != b'"' {
                        return None;
                    }
                    items.push(Value::String(r.string()?));
                    Some(())
                });
                if strings.is_some() {
                    return Some(Value::Array(items));
                }
                self.i = start;
                self.value()
            }
            _ => self.value(),
        }
    }

    fn response(&mut self) -> Option<BidResponse> {
        let (mut id, mut seatbid, mut bidid, mut cur, mut nbr, mut ext) =
            (None, None, None, None, None, None);
        let mut rest = Rest::new();
        self.object(|r, key| match key {
            "id" => once(&mut id, r.string()?),
            "seatbid" => once(&mut seatbid, r.list(Self::seatbid)?),
            "bidid" => once(&mut bidid, r.optional_string()?),
            "cur" => once(&mut cur, r.optional_string()?),
            "nbr" => once(&mut nbr, r.value::<Option<i64>>()?),
            "ext" => once(&mut ext, r.value::<Option<Value>>()?),
            _ => {
                rest.insert(key.to_owned(), r.value()?);
                Some(())
            }
        })?;
        Some(BidResponse {
            id: id?,
            seatbid: seatbid.unwrap_or_default(),
            bidid: bidid.flatten(),
            cur: cur.flatten(),
            nbr: nbr.flatten(),
            ext: ext.flatten(),
            rest,
        })
    }

    fn seatbid(&mut self) -> Option<SeatBid> {
        let (mut bid, mut seat) = (None, None);
        let mut rest = Rest::new();
        self.object(|r, key| match key {
            "bid" => once(&mut bid, r.list(Self::bid)?),
            "seat" => once(&mut seat, r.optional_string()?),
            _ => {
                rest.insert(key.to_owned(), r.value()?);
                Some(())
            }
        })?;
        Some(SeatBid {
            bid: bid.unwrap_or_default(),
            seat: seat.flatten(),
            rest,
        })
    }

    fn bid(&mut self) -> Option<Bid> {
        let mut bid = Bid::default();
        let (mut id, mut impid, mut price, mut adm) = (None, None, None, None);
        self.object(|r, key| match key {
            "id" => once(&mut id, r.string()?),
            "impid" => once(&mut impid, r.string()?),
            "price" => {
                let price_now = match r.small_integer() {
                    // serde_json reads digits alone as a u64, then converts.
                    Some(n) => n as f64,
                    None => r.value::<f64>()?,
                };
                once(&mut price, price_now)
            }
            "adm" => once(&mut adm, r.markup()?),
            // A member given twice keeps its last value, as in `Bid`'s own visitor.
            key => {
                let value = r.member()?;
                bid.insert(key, value);
                Some(())
            }
        })?;
        bid.id = id.unwrap_or_default();
        bid.impid = impid.unwrap_or_default();
        bid.price = price?;
        bid.adm = adm;
        Some(bid)
    }

    /// `adm` as a string literal, checked by the scanner and kept raw; anything but a string
    /// is the plain path's.
    fn markup(&mut self) -> Option<Markup> {
        let (start, end, ascii, _) = self.string_token()?;
        Some(Markup::from_checked_literal(text(
            &self.b[start - 1..=end],
            ascii,
        )?))
    }
}
