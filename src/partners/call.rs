//! One bid request to an HTTP partner, and what it answered. With debug output asked for
//! (`ext.debug.httpcalls`), the call also keeps the answer's status and body: only then,
//! since the usual call reads the body once into the parser and keeps nothing.

use super::client::Body;
use super::{BadResponse, Http, Outcome, parse};
use crate::gzip::Inflate;
use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use http_body_util::BodyExt;
use hyper::body::Incoming;

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
    let mut post = http::Request::new(Body::new(body));
    *post.method_mut() = http::Method::POST;
    *post.uri_mut() = partner.uri.clone();
    *post.headers_mut() = partner.heads.clone();
    let (resp, lease) = match partner.with_client(|c| c.request(post)).await {
        Ok(r) => r,
        Err(e) => return (Outcome::Transport(describe(&e)), None),
    };
    let status = resp.status().as_u16();
    // Inflated only when asked for (`gzip`); otherwise a gzip body is what it is: bad JSON.
    let gzipped = partner.http.gzip
        && resp
            .headers()
            .get(CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let length = resp
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let mut resp = resp.into_body();
    let heard = |body: Bytes| keep.then_some((status, body));
    let failed = match status {
        200 => None,
        204 => Some(Outcome::NoBid),
        s => Some(Outcome::BadResponse(BadResponse::Status(s))),
    };
    if let Some(outcome) = failed {
        if !keep {
            // A 204 has no body: its connection is free at once. Another status's body
            // is not read, and its connection closes with the lease.
            if status == 204 {
                lease.done();
            }
            return (outcome, None);
        }
        let (failed, body) = read(&mut resp, length, max_bytes).await;
        if failed.is_none() {
            lease.done();
        }
        // Shown as it reads, when it inflates.
        let body = if gzipped {
            inflate(&body, max_bytes).unwrap_or(body)
        } else {
            body
        };
        return (outcome, heard(body));
    }
    // The cap counts inflated bytes: a gzip body's length says nothing of those.
    if !gzipped && length.is_some_and(|n| n > max_bytes as u64) {
        return (
            Outcome::BadResponse(BadResponse::TooLarge(max_bytes)),
            heard(Bytes::new()),
        );
    }
    let body = match read(&mut resp, length, max_bytes).await {
        (Some(failed), body) => return (failed, heard(body)),
        (None, body) => {
            lease.done();
            body
        }
    };
    let body = if gzipped {
        match inflate(&body, max_bytes) {
            Ok(body) => body,
            Err(bad) => return (Outcome::BadResponse(bad), heard(Bytes::new())),
        }
    } else {
        body
    };
    crate::limits::yield_if_behind().await;
    (parse(&body), heard(body))
}

/// A gzip body inflated, up to `max_bytes` (a gzip bomb stops there).
fn inflate(gzip: &[u8], max_bytes: usize) -> Result<Bytes, BadResponse> {
    crate::gzip::inflate(gzip, max_bytes).map_err(|e| match e {
        Inflate::TooLarge => BadResponse::TooLarge(max_bytes),
        Inflate::Corrupt(e) => BadResponse::Body(format!("the gzip body does not inflate: {e}")),
    })
}

/// The body, up to `max_bytes`: what was read, and the outcome when reading failed (too
/// large: what was read before the chunk that went over).
///
/// A body that comes in one chunk (most do) is read where hyper put it; a longer one is
/// gathered once, into a buffer sized by its Content-Length: growing a buffer as chunks
/// come copies the answer again at every doubling (callgrind: ~4% of an auction).
async fn read(
    resp: &mut Incoming,
    length: Option<u64>,
    max_bytes: usize,
) -> (Option<Outcome>, Bytes) {
    let expected = length.unwrap_or(0).min(max_bytes as u64) as usize;
    let mut first: Option<Bytes> = None;
    let mut buf = BytesMut::new();
    let gathered = |first: Option<Bytes>, buf: BytesMut| first.unwrap_or_else(|| buf.freeze());
    loop {
        match resp.frame().await {
            Some(Ok(frame)) => {
                // Trailers, the only other kind of frame, carry nothing a bid needs.
                let Ok(chunk) = frame.into_data() else {
                    continue;
                };
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
            None => return (None, gathered(first, buf)),
            Some(Err(e)) => {
                let failed = Outcome::Transport(chain("reading the response failed", &e));
                return (Some(failed), gathered(first, buf));
            }
        }
    }
}

/// The client's Display names only the category; the chain says what happened.
fn describe(e: &super::client::Error) -> String {
    let what = if e.is_connect() {
        "connect failed"
    } else {
        "request failed"
    };
    chain(what, e)
}

/// `what`, then each cause of `e` (the error itself is only a category).
fn chain(what: &str, e: &dyn std::error::Error) -> String {
    let mut msg = what.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gzip::compress as gzip;

    #[test]
    fn gzip_bodies_inflate_up_to_the_cap_and_garbage_is_a_bad_body() {
        let body = br#"{"id":"r"}"#;
        assert_eq!(inflate(&gzip(body), 10).unwrap(), &body[..]);
        assert!(matches!(
            inflate(&gzip(body), 9),
            Err(BadResponse::TooLarge(9))
        ));
        let bomb = gzip(&vec![b' '; 1 << 20]);
        assert!(matches!(
            inflate(&bomb, 1000),
            Err(BadResponse::TooLarge(1000))
        ));
        assert!(
            matches!(inflate(b"not gzip", 100), Err(BadResponse::Body(m)) if m.contains("gzip"))
        );
        let cut = gzip(body);
        assert!(matches!(
            inflate(&cut[..cut.len() / 2], 100),
            Err(BadResponse::Body(_))
        ));
    }
}
