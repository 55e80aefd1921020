//! Reading a partner's 200 body into a `BidResponse`, fast.
//!
//! Why a scanner of our own: markup is nearly all of an answer (a 4 KB VAST and a 3 KB
//! display tag per partner, escaped quotes every ~20 bytes), and serde_json's string scan,
//! which pays ~100 instructions at every escape, was a quarter of an auction's
//! instructions. So the body is first walked by [`lift_markup`], which skips strings 64
//! bytes at a time (`scan::string_end`) and tracks just enough structure to know which strings
//! are `seatbid[].bid[].adm`. Each such markup is checked (escapes, control characters, UTF-8 unless ASCII),
//! kept aside, and replaced in a copy of the body by its index, a number: serde_json then
//! reads a body of a few hundred bytes per bid, and the markup goes back into its bid
//! as a [`Markup`]. Anything unusual (a key written with escapes, a non-string `adm`, a
//! body that does not scan) takes the plain serde_json path, which also gives the error
//! messages: the result is the same either way (the fuzz target `partner_response` checks).

use super::scan::string_end;
use crate::openrtb::{BidResponse, Markup};
use crate::outcome::{BadResponse, Outcome};
use std::io::Write;

/// Reads a 200 body: empty or bid-less means no bid; anything but a BidResponse is bad.
pub fn parse(body: &[u8]) -> Outcome {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Outcome::NoBid;
    }
    match read(body) {
        Ok(r) if r.seatbid.iter().all(|s| s.bid.is_empty()) => Outcome::NoBid,
        Ok(r) => Outcome::Bid(r),
        Err(e) => Outcome::BadResponse(BadResponse::Body(format!(
            "response is not an OpenRTB BidResponse: {e}"
        ))),
    }
}

/// The `BidResponse` in `body`: the fast way when it applies, else serde_json's own.
pub fn read(body: &[u8]) -> serde_json::Result<BidResponse> {
    if let Some(lifted) = lift_markup(body)
        && let Ok(mut response) = serde_json::from_slice::<BidResponse>(&lifted.body)
        && restore(&mut response, lifted.markup)
    {
        return Ok(response);
    }
    read_plain(body)
}

/// serde_json alone (the reference the fast path must agree with).
pub fn read_plain(body: &[u8]) -> serde_json::Result<BidResponse> {
    serde_json::from_slice::<BidResponse>(body)
}

/// A body with its bids' markup replaced by indexes into `markup`.
struct Lifted<'a> {
    body: Vec<u8>,
    markup: Vec<&'a str>,
}

/// Where the scanner is: which containers matter on the way to `seatbid[].bid[].adm`.
#[derive(Clone, Copy, PartialEq)]
enum Frame {
    Root,
    Seatbids,
    Seatbid,
    Bids,
    Bid,
    /// Any other container: nothing in it is lifted.
    Other,
}

/// Which key an object member has, as far as the path goes.
#[derive(Clone, Copy, PartialEq)]
enum Key {
    Seatbid,
    Bid,
    Adm,
    Other,
}

fn lift_markup(body: &[u8]) -> Option<Lifted<'_>> {
    let mut out = Vec::with_capacity(1024);
    let mut markup = Vec::new();
    // Containers open now, and for the innermost object the key whose value comes next.
    let mut stack: Vec<Frame> = Vec::with_capacity(8);
    let mut key = Key::Other;
    let mut expect_key = false;
    let mut copied = 0; // body[..copied] is in `out` already
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'"' => {
                let (end, ascii) = string_end(body, i + 1)?;
                let top = stack.last().copied();
                let in_object = matches!(
                    top,
                    Some(Frame::Root | Frame::Seatbid | Frame::Bid | Frame::Other)
                );
                if in_object && expect_key {
                    let name = &body[i + 1..end];
                    if name.contains(&b'\\') && top != Some(Frame::Other) {
                        // A key spelled with escapes might be one of ours: not worth it.
                        return None;
                    }
                    key = match (top, name) {
                        (Some(Frame::Root), b"seatbid") => Key::Seatbid,
                        (Some(Frame::Seatbid), b"bid") => Key::Bid,
                        (Some(Frame::Bid), b"adm") => Key::Adm,
                        _ => Key::Other,
                    };
                } else if top == Some(Frame::Bid) && key == Key::Adm {
                    let literal = if ascii {
                        // SAFETY: every byte of the text is below 0x80 (`string_end` saw no
                        // high bit), and the quotes around it are ASCII: ASCII is UTF-8.
                        unsafe { std::str::from_utf8_unchecked(&body[i..=end]) }
                    } else {
                        std::str::from_utf8(&body[i..=end]).ok()?
                    };
                    out.extend_from_slice(&body[copied..i]);
                    // The index, written in place (no string allocated per bid).
                    let _ = write!(out, "{}", markup.len());
                    copied = end + 1;
                    markup.push(literal);
                }
                i = end + 1;
                continue;
            }
            b'{' | b'[' => {
                let open = body[i];
                let frame = match (stack.last().copied(), key, open) {
                    (None, _, b'{') => Frame::Root,
                    (Some(Frame::Root), Key::Seatbid, b'[') => Frame::Seatbids,
                    (Some(Frame::Seatbids), _, b'{') => Frame::Seatbid,
                    (Some(Frame::Seatbid), Key::Bid, b'[') => Frame::Bids,
                    (Some(Frame::Bids), _, b'{') => Frame::Bid,
                    (Some(Frame::Bid), Key::Adm, _) => return None, // adm that is no string
                    _ => Frame::Other,
                };
                stack.push(frame);
                expect_key = open == b'{';
                key = Key::Other;
            }
            b'}' | b']' => {
                stack.pop()?;
                expect_key = false;
                key = Key::Other;
            }
            b',' => {
                // In one of our objects the next string is a key; elsewhere it does not matter.
                expect_key = matches!(
                    stack.last(),
                    Some(Frame::Root | Frame::Seatbid | Frame::Bid)
                );
                key = Key::Other;
            }
            b':' => expect_key = false,
            b if stack.last() == Some(&Frame::Bid)
                && key == Key::Adm
                && !b.is_ascii_whitespace() =>
            {
                // A number, `true`, `null`… as `adm`: the plain path decides what that means.
                return None;
            }
            _ => {}
        }
        i += 1;
    }
    if markup.is_empty() {
        return None;
    }
    out.extend_from_slice(&body[copied..]);
    Some(Lifted { body: out, markup })
}

/// Puts each lifted markup back into its bid; `false` (use the plain path) unless every
/// index is used exactly once.
fn restore(response: &mut BidResponse, markup: Vec<&str>) -> bool {
    let mut used = vec![false; markup.len()];
    for bid in response.seatbid.iter_mut().flat_map(|s| s.bid.iter_mut()) {
        let Some(adm) = &bid.adm else { continue };
        let Ok(n) = adm.get().parse::<usize>() else {
            return false;
        };
        match used.get_mut(n) {
            Some(u) if !*u => *u = true,
            _ => return false,
        }
        bid.adm = Some(Markup::from_checked_literal(markup[n]));
    }
    used.iter().all(|u| *u)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(body: &str) {
        let fast = read(body.as_bytes()).map_err(|e| e.to_string());
        let plain = read_plain(body.as_bytes()).map_err(|e| e.to_string());
        assert_eq!(fast, plain, "{body}");
    }

    #[test]
    fn lifts_bid_markup_and_agrees_with_serde_json() {
        let body = r#"{"id":"r","seatbid":[{"seat":"s","bid":[
            {"id":"a","impid":"1","price":1.5,"adm":"<VAST version=\"4.2\">\u00e9</VAST>","ext":{"adm":"x"}},
            {"id":"b","impid":"2","price":2,"adm":"<img src=\"y\">","nurl":"n"},
            {"id":"c","impid":"3","price":3}]},
            {"bid":[{"id":"d","impid":"1","price":1,"adm":""}]}],"ext":{"adm":[1,2]}}"#;
        let lifted = lift_markup(body.as_bytes()).expect("lifts");
        assert_eq!(lifted.markup.len(), 3);
        assert!(lifted.body.len() < body.len());
        same(body);
        let r = read(body.as_bytes()).unwrap();
        assert_eq!(
            r.seatbid[0].bid[0].adm().as_deref(),
            Some("<VAST version=\"4.2\">é</VAST>")
        );
        assert_eq!(
            r.seatbid[0].bid[1].adm.as_ref().unwrap().get(),
            r#""<img src=\"y\">""#
        );
        assert_eq!(r.seatbid[0].bid[2].adm, None);
    }

    #[test]
    fn unusual_bodies_take_the_plain_path_with_the_same_result() {
        for body in [
            r#"{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":1,"adm":7}]}]}"#,
            r#"{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":1,"\u0061dm":"x"}]}]}"#,
            r#"{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":1,"adm":"x","adm":"y"}]}]}"#,
            r#"{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":1,"adm":"bad \q escape"}]}]}"#,
            "{\"id\":\"r\",\"seatbid\":[{\"bid\":[{\"id\":\"a\",\"impid\":\"1\",\"price\":1,\"adm\":\"raw \n newline\"}]}]}",
            r#"{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":1,"adm":"unterminated}]}]}"#,
            r#"{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":1,"adm":"x"}]}]} trailing"#,
            r#"{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":1,"adm":"x"}]}"#,
            r#"[{"seatbid":[{"bid":[{"adm":"x"}]}]}]"#,
            r#"{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":1,"adm":"\ud800"}]}]}"#,
            r#"{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":1,"adm": "0"}]}]}"#,
            r#"{"id":"r","seatbid":{"bid":[{"adm":"x"}]}}"#,
        ] {
            same(body);
        }
    }

    #[test]
    fn invalid_utf8_in_markup_is_refused_as_serde_json_refuses_it() {
        let mut body =
            br#"{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":1,"adm":"xx"}]}]}"#
                .to_vec();
        let at = body.windows(2).position(|w| w == b"xx").unwrap();
        body[at] = 0xff;
        assert!(lift_markup(&body).is_none());
        assert!(read(&body).is_err());
    }
}
