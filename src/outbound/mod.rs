//! What each partner is sent: the request as bidgate forwards it (its supply-chain node,
//! `schain`), each partner's own view of it (the imps it is offered, its own `imp.ext`
//! params only, personal data as its privacy decision allows, the fields where its OpenRTB
//! version reads them), and the bytes on the wire
//! (`tmax` spliced in, gzip).
//!
//! The fan-out serialises one body per distinct view, not per partner: the views are keyed
//! by what actually differs, so the usual request (no placement limits, no per-partner
//! params, no privacy stripping) is serialised once however many partners get it.

mod params;
mod schain;
mod version;

pub use params::{Params, scan_params};
pub use schain::{publisher, supply_chain};
pub use version::{body_version, downgrade};

use crate::config::{MediaType, OpenRtbVersion};
use crate::openrtb::{BidRequest, Imp};
use crate::privacy::Reasons;
use bytes::Bytes;

/// Media types as bits (banner 1, video 2, audio 4, native 8), for cheap per-imp masks.
pub fn media_bits(types: &[MediaType]) -> u8 {
    types.iter().fold(0, |bits, t| bits | bit(*t))
}

/// Every media type: a partner that takes all of them needs no per-imp mask.
pub const ALL_MEDIA: u8 = 0b1111;

fn bit(t: MediaType) -> u8 {
    match t {
        MediaType::Banner => 1,
        MediaType::Video => 2,
        MediaType::Audio => 4,
        MediaType::Native => 8,
    }
}

/// The media types an imp offers (its `banner`, `video`, `audio`, `native` objects).
pub fn imp_media(imp: &Imp) -> u8 {
    MediaType::ALL
        .iter()
        .filter(|t| imp.rest.get(t.key()).is_some_and(|v| v.is_object()))
        .fold(0, |bits, t| bits | bit(*t))
}

/// A partner's imp mask: each imp allowed by the placement (`allowed(i)`) and offering one
/// of the partner's media types (`media`, per imp; empty = not limited). Empty when every
/// imp is offered, so that such partners share the unmasked view.
pub fn offered(
    imps: usize,
    allowed: impl Fn(usize) -> bool,
    media: &[u8],
    accepts: u8,
) -> Vec<bool> {
    let mask: Vec<bool> = (0..imps)
        .map(|i| allowed(i) && media.get(i).is_none_or(|m| m & accepts != 0))
        .collect();
    if mask.iter().all(|x| *x) {
        Vec::new()
    } else {
        mask
    }
}

/// The serialised request with only the offered imps (`imps` empty: all of them), with
/// personal data removed or coarsened as the privacy signals in `strip` ask, and with
/// `imp.ext` narrowed to one partner's params (`params`). Always a JSON object (`{…}`).
///
/// `adjustment` (nanos, `UNADJUSTED` for none) is the partner's `bid_adjustment`: its floors
/// (the imp's and its deals') are sent divided by it, because its bids are multiplied by it
/// before they meet the floor: a partner at 0.8 bidding the 1.25 it is sent for a 1.00
/// floor is worth exactly 1.00.
///
/// `version` 2.5 moves the 2.6 fields a 2.5 partner reads from `ext` (`downgrade`), after
/// the privacy stripping, which reads them where 2.6 puts them.
pub fn body(request: &BidRequest, view: &View, params: &Params<'_>) -> Bytes {
    let View {
        imps,
        strip,
        adjustment,
        version,
        ..
    } = view;
    let (strip, adjustment) = (*strip, *adjustment);
    // Serialising maps with string keys and finite numbers cannot fail.
    if imps.iter().all(|x| *x)
        && strip.is_empty()
        && params.is_as_sent()
        && adjustment == UNADJUSTED
        && *version == OpenRtbVersion::V2_6
    {
        return Bytes::from(serde_json::to_vec(request).expect("BidRequest serialises"));
    }
    // A changed body: its members as trees (the shared body above copies them as sent).
    let mut rest = request.rest.to_map();
    crate::privacy::strip(&mut rest, strip);
    if *version == OpenRtbVersion::V2_5 {
        downgrade(&mut rest);
    }
    let partial = BidRequest {
        imp: request
            .imp
            .iter()
            .enumerate()
            .filter(|(i, _)| imps.is_empty() || imps[*i])
            .map(|(_, imp)| {
                let mut imp = params.apply(imp);
                if adjustment != UNADJUSTED {
                    adjust_floors(&mut imp, adjustment);
                }
                imp
            })
            .collect(),
        id: request.id.clone(),
        tmax: request.tmax,
        at: request.at,
        cur: request.cur.clone(),
        rest: rest.into(),
    };
    Bytes::from(serde_json::to_vec(&partial).expect("BidRequest serialises"))
}

/// `bid_adjustment` 1.0 in nanos: floors sent as they are.
pub const UNADJUSTED: i64 = 1_000_000_000;

/// A partner's `bid_adjustment` as its body's key: `UNADJUSTED` when the request has no
/// floor to divide, so that such a partner shares the common body.
pub fn floor_adjustment(request: &BidRequest, nanos: i64) -> i64 {
    let floored = |imp: &Imp| {
        imp.bidfloor.is_some_and(|f| f > 0.0)
            || imp
                .rest
                .get("pmp")
                .and_then(|p| p.get("deals"))
                .and_then(serde_json::Value::as_array)
                .is_some_and(|d| d.iter().any(|d| d.get("bidfloor").is_some()))
    };
    if nanos == UNADJUSTED || nanos <= 0 || !request.imp.iter().any(floored) {
        UNADJUSTED
    } else {
        nanos
    }
}

/// Divides the imp's floor and its deals' floors (but a fixed price) by `adjustment` (nanos).
fn adjust_floors(imp: &mut Imp, adjustment: i64) {
    let divide = |f: f64| {
        crate::money::Micros::from_f64(f)
            .map_or(f, |m| crate::currency::unscale(m, adjustment).to_f64())
    };
    imp.bidfloor = imp.bidfloor.map(divide);
    let deals = imp
        .rest
        .get_mut("pmp")
        .and_then(|p| p.get_mut("deals"))
        .and_then(serde_json::Value::as_array_mut);
    for deal in deals.into_iter().flatten() {
        // A fixed-price deal's `bidfloor` is the agreed price: the partner pays it as it is
        // (its adjustment does not apply, `exchange::partner_price`), so it is told it as it is.
        if deal.get("at").and_then(serde_json::Value::as_i64) == Some(3) {
            continue;
        }
        if let Some(f) = deal.get("bidfloor").and_then(serde_json::Value::as_f64)
            && let Some(o) = deal.as_object_mut()
        {
            o.insert("bidfloor".into(), divide(f).into());
        }
    }
}

/// What makes two partners' bodies differ (apart from `tmax` and gzip): partners with equal
/// keys share one serialisation.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// The imps offered (empty: all).
    pub imps: Vec<bool>,
    /// What its privacy decision strips.
    pub strip: Reasons,
    /// Whose `imp.ext` params it carries: `Some` only for a partner that has some.
    /// (An index into the gateway's partners; plain, so that `partners` may read this module.)
    pub own: Option<usize>,
    /// Its floors' divisor, its `bid_adjustment` (`floor_adjustment`).
    pub adjustment: i64,
    /// Sent with `test = 1` (a shadow partner that asked for it).
    pub test: bool,
    /// The OpenRTB version its body is shaped for (`body_version`: 2.6 for a 2.5 partner
    /// when the request has nothing to move).
    pub version: OpenRtbVersion,
}

/// One auction's bodies: each view serialised once, each (view, `tmax`, gzip) spliced and
/// compressed once.
#[derive(Default)]
pub struct Bodies {
    views: Vec<(View, Bytes)>,
    sent: Vec<(u64, bool, View, Bytes)>,
}

impl Bodies {
    /// The bytes for `view` with `tmax_ms`, gzipped when `gzip`; `params` says how the view
    /// scopes `imp.ext` (consistent with `view.own`).
    pub fn get(
        &mut self,
        request: &BidRequest,
        view: &View,
        params: &Params<'_>,
        tmax_ms: u64,
        gzip: bool,
    ) -> Bytes {
        if let Some((.., b)) = self
            .sent
            .iter()
            .find(|(t, g, v, _)| *t == tmax_ms && *g == gzip && v == view)
        {
            return b.clone();
        }
        let serialised = match self.views.iter().find(|(v, _)| v == view) {
            Some((_, b)) => b.clone(),
            None => {
                let b = if view.test {
                    // Shadow partners only: a copy of the request marked as a test.
                    let mut marked = request.clone();
                    marked.rest.insert("test".into(), serde_json::json!(1));
                    body(&marked, view, params)
                } else {
                    body(request, view, params)
                };
                self.views.push((view.clone(), b.clone()));
                b
            }
        };
        let mut b = with_tmax(&serialised, tmax_ms);
        if gzip {
            b = crate::gzip::compress(&b);
        }
        self.sent.push((tmax_ms, gzip, view.clone(), b.clone()));
        b
    }

    /// The `tmax` of the last body built, if any.
    pub fn last_tmax(&self) -> Option<u64> {
        self.sent.last().map(|(t, ..)| *t)
    }
}

/// `body` (a serialised JSON object without `tmax`) with `"tmax":N` as its first member.
pub fn with_tmax(body: &[u8], tmax_ms: u64) -> Bytes {
    let mut out = Vec::with_capacity(body.len() + 16);
    out.extend_from_slice(b"{\"tmax\":");
    out.extend_from_slice(tmax_ms.to_string().as_bytes());
    let rest = &body[1..]; // after the opening brace
    if rest.first() != Some(&b'}') {
        out.push(b',');
    }
    out.extend_from_slice(rest);
    Bytes::from(out)
}

#[cfg(test)]
mod tests;
