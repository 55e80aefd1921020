//! gzip bodies: bid requests compressed for partners that take them (`gzip_requests`), and
//! bodies inflated under a cap for both edges that receive them, a client's request
//! (`Content-Encoding: gzip`) and a partner's answer (`http_client.gzip`).

use bytes::Bytes;
use std::io::{Read, Write};

/// A body gzipped (fast level: the partner is waiting, and bid requests compress well
/// at any level).
pub fn compress(body: &[u8]) -> Bytes {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 3 + 64),
        flate2::Compression::fast(),
    );
    // Writing into a Vec cannot fail.
    enc.write_all(body).expect("gzip into memory");
    Bytes::from(enc.finish().expect("gzip into memory"))
}

/// Why a body did not inflate.
#[derive(Debug)]
pub enum Inflate {
    /// More than the cap once inflated.
    TooLarge,
    /// Not gzip, or cut short.
    Corrupt(std::io::Error),
}

/// `gz` inflated into at most `limit` bytes, once the whole (capped) compressed body is in:
/// a gzip bomb costs `limit` bytes of memory and stops there (a streaming decoder would
/// inflate whole network chunks, ~1000× their size, before any cap).
pub fn inflate(gz: &[u8], limit: usize) -> Result<Bytes, Inflate> {
    let mut out = Vec::with_capacity((gz.len() * 4).min(limit));
    flate2::read::GzDecoder::new(gz)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(Inflate::Corrupt)?;
    if out.len() > limit {
        return Err(Inflate::TooLarge);
    }
    Ok(out.into())
}
