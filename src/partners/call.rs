//! One bid request to an HTTP partner, and what it answered. With debug output asked for
//! (`ext.debug.httpcalls`), the call also keeps the answer's status and body: only then,
//! since the usual call reads the body once into the parser and keeps nothing.

use super::{BadResponse, Http, Outcome, parse};
use crate::openrtb::VERSION_HEADER;
use bytes::{Bytes, BytesMut};
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};

/// One partner call as debug output shows it (Prebid Server's `ext.debug.httpcalls` entry):
/// where it went, the body sent (gzipped when the partner takes gzip), and, when an answer
/// came before the deadline, its status and body (as far as it was read).
#[derive(Debug, Clone)]
pub struct HttpCall {
    pub uri: String,
    pub request: Bytes,
    /// `request` is gzip (`gzip_requests`): shown inflated.
    pub gzipped: bool,
    /// `None`: no status arrived (timed out, cut at the close, connection failed).
    pub status: Option<u16>,
    pub response: Bytes,
}

/// POSTs `body` (a serialised BidRequest) to the partner. Not time-bounded by itself: the
/// fan-out wraps it in the partner's deadline and drops it, connection and all, when late.
/// With `keep`, the answer's status and body come back too (for debug output; the body of
/// a non-200 answer is then read as well, within the same size cap).
pub async fn call(partner: &Http, body: Bytes, keep: bool) -> (Outcome, Option<(u16, Bytes)>) {
    let max_bytes = partner.max_response_bytes;
    let mut post = partner
        .client()
        .post(partner.endpoint.clone())
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header(VERSION_HEADER.0, partner.openrtb_version.as_str());
    if partner.gzip_requests {
        post = post.header(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    for (name, value) in &partner.headers {
        post = post.header(name, value);
    }
    let sent = post.body(body).send().await;
    let mut resp = match sent {
        Ok(r) => r,
        Err(e) => return (Outcome::Transport(describe(&e)), None),
    };
    let status = resp.status().as_u16();
    let heard = |body: Bytes| keep.then_some((status, body));
    let failed = match status {
        200 => None,
        204 => Some(Outcome::NoBid),
        s => Some(Outcome::BadResponse(BadResponse::Status(s))),
    };
    if let Some(outcome) = failed {
        if !keep {
            return (outcome, None);
        }
        let (_, body) = read(&mut resp, max_bytes).await;
        return (outcome, heard(body));
    }
    if resp.content_length().is_some_and(|n| n > max_bytes as u64) {
        return (
            Outcome::BadResponse(BadResponse::TooLarge(max_bytes)),
            heard(Bytes::new()),
        );
    }
    match read(&mut resp, max_bytes).await {
        (Some(failed), body) => (failed, heard(body)),
        (None, body) => {
            crate::limits::yield_if_behind().await;
            (parse(&body), heard(body))
        }
    }
}

/// The body, up to `max_bytes`: what was read, and the outcome when reading failed (too
/// large: what was read before the chunk that went over).
///
/// A body that comes in one chunk (most do) is read where hyper put it; a longer one is
/// gathered once, into a buffer sized by its Content-Length: growing a buffer as chunks
/// come copies the answer again at every doubling (callgrind: ~4% of an auction).
async fn read(resp: &mut reqwest::Response, max_bytes: usize) -> (Option<Outcome>, Bytes) {
    let expected = resp.content_length().unwrap_or(0) as usize;
    let mut first: Option<Bytes> = None;
    let mut buf = BytesMut::new();
    let gathered = |first: Option<Bytes>, buf: BytesMut| first.unwrap_or_else(|| buf.freeze());
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let have = first.as_ref().map_or(buf.len(), Bytes::len);
                if have + chunk.len() > max_bytes {
                    let too_large = Outcome::BadResponse(BadResponse::TooLarge(max_bytes));
                    return (Some(too_large), gathered(first, buf));
                }
                if first.is_none() && buf.is_empty() {
                    first = Some(chunk);
                    continue;
                }
                if let Some(f) = first.take() {
                    buf.reserve(expected.max(f.len() + chunk.len()));
                    buf.extend_from_slice(&f);
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return (None, gathered(first, buf)),
            Err(e) => return (Some(Outcome::Transport(describe(&e))), gathered(first, buf)),
        }
    }
}

/// reqwest's Display hides the cause ("error sending request"); the chain says what happened.
fn describe(e: &reqwest::Error) -> String {
    let mut msg = if e.is_connect() {
        "connect failed".to_string()
    } else if e.is_body() || e.is_decode() {
        "reading the response failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}
