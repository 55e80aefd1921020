//! What a tracking event means: the token is verified (forged, tampered and expired ones are
//! refused, never billed), the event is deduplicated (a replayed impression is billed once),
//! and a first impression bills: it fires the winner's `burl`, counts the revenue, and
//! hands the impression to the partner's demand (direct demand counts delivery and
//! frequency caps). The HTTP edge (`http::events`)
//! maps the result to a status and writes the record to the event log.
//!
//! Billing waits for the record: `accept` claims a first event in the deduplication memory,
//! and only `settle`, told that the record is durable, bills it; a lost record un-claims it,
//! so nothing is billed that the log does not show, and the app's retry still counts.

use crate::events::Kind;
use crate::events::dedup::{Claim, Pending};
use crate::events::record::EventRecord;
use crate::events::token::{Claims, TokenError};
use crate::gateway::Gateway;
use crate::notices;
use crate::partners::Impression;
use crate::store::{self, dedup::Remote};
use metrics::counter;

/// Why an event was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Token(TokenError),
    /// The deduplication memory is full of unexpired impressions: billing this one might
    /// mean billing an old one twice later. The app retries.
    MemoryFull,
    /// The same event is being recorded right now.
    InProgress,
}

/// What came of one event.
pub struct Accepted {
    /// Why it was refused; `None`: accepted (to bill, to count, or a duplicate).
    pub refused: Option<Refused>,
    /// The `result` label of `bidgate_events_total` and of the record.
    pub result: &'static str,
    /// The event log's record (its `result` is set by the caller with the label).
    pub record: EventRecord,
    /// A first event: `settle` it once its record is durable (or lost).
    pub pending: Option<Settle>,
}

/// A first event waiting for its record: what billing it takes.
pub struct Settle {
    claim: Pending,
    kind: Kind,
    claims: Claims,
    /// The token id claimed in the shared store, to settle there too.
    shared: Option<u128>,
}

/// Verifies, deduplicates and bills one event of `kind` carrying `token`, at `now_ms`.
pub async fn accept(gw: &Gateway, kind: Kind, token: &str, now_ms: u64) -> Accepted {
    let mut rec = EventRecord {
        ts_ms: now_ms,
        kind: kind.name().into(),
        result: String::new(),
        auction_id: None,
        imp: None,
        partner: None,
        bid_id: None,
        price_micros: None,
        currency: None,
        dedup_unverified: false,
    };
    let (claims, id) = match gw.events.signer.verify(token, now_ms / 1000) {
        Ok(ok) => ok,
        Err(e) => {
            return Accepted {
                refused: Some(Refused::Token(e)),
                result: e.label(),
                record: rec,
                pending: None,
            };
        }
    };
    let (refused, pending, result) = match gw.events.dedup.claim(kind, id, claims.expires) {
        Claim::Duplicate => (None, None, "duplicate"),
        Claim::Full => (Some(Refused::MemoryFull), None, "dedup_full"),
        Claim::InProgress => (Some(Refused::InProgress), None, "in_progress"),
        Claim::First(claim) => {
            // An impression bills: asked of the replicas' shared memory too (when there is
            // one), after this replica's said it is new.
            let remote = if kind == Kind::Impression {
                store::dedup::claim(&gw.state().store, id).await
            } else {
                Remote::NotShared
            };
            match remote {
                Remote::Duplicate => {
                    gw.events.dedup.settle(claim, true);
                    return finish(rec, claims, None, None, "duplicate");
                }
                Remote::InProgress => {
                    gw.events.dedup.settle(claim, false);
                    let refused = Some(Refused::InProgress);
                    return finish(rec, claims, refused, None, "in_progress");
                }
                Remote::Unverified => rec.dedup_unverified = true,
                Remote::First | Remote::NotShared => {}
            }
            let result = if kind == Kind::Impression {
                "billed"
            } else {
                "counted"
            };
            let settle = Settle {
                claim,
                kind,
                claims: claims.clone(),
                shared: (remote == Remote::First).then_some(id),
            };
            (None, Some(settle), result)
        }
    };
    finish(rec, claims, refused, pending, result)
}

/// The answer, its record filled from the token's claims.
fn finish(
    mut rec: EventRecord,
    claims: Claims,
    refused: Option<Refused>,
    pending: Option<Settle>,
    result: &'static str,
) -> Accepted {
    rec.auction_id = Some(claims.auction);
    rec.imp = Some(claims.imp);
    rec.partner = Some(claims.partner);
    rec.bid_id = Some(claims.bid);
    rec.price_micros = Some(claims.price_micros);
    rec.currency = Some(claims.currency);
    Accepted {
        refused,
        result,
        record: rec,
        pending,
    }
}

/// A first event's record is `durable` (then a first impression bills) or was lost (then
/// the event is forgotten, and a retry counts).
pub fn settle(gw: &Gateway, pending: Settle, durable: bool, now_ms: u64) {
    if durable && pending.kind == Kind::Impression {
        bill(gw, &pending.claims, now_ms);
    }
    if let Some(id) = pending.shared {
        let forget_at = pending
            .claims
            .expires
            .saturating_add(crate::events::dedup::SLACK_S);
        store::dedup::settle(&gw.state().store, id, durable, forget_at);
    }
    gw.events.dedup.settle(pending.claim, durable);
}

/// A first impression: the winner's `burl`, its demand's accounting, the revenue.
fn bill(gw: &Gateway, claims: &Claims, now_ms: u64) {
    if let Some(burl) = &claims.burl {
        let allow_private = gw
            .partner_index(&claims.partner)
            .is_some_and(|i| gw.partners[i].notices.allow_private);
        gw.events
            .notifier
            .fire(notices::Kind::Billing, &claims.partner, burl, allow_private);
    }
    // Its demand does its own accounting (direct demand: delivery and frequency caps).
    if let Some(i) = gw.partner_index(&claims.partner) {
        gw.partners[i].demand.on_impression(&Impression {
            line_item: claims.line_item.as_deref(),
            bid_id: &claims.bid,
            user_key: claims.user_key.as_deref(),
            price: crate::money::Micros(claims.price_micros),
            now_unix: now_ms / 1000,
        });
    }
    counter!("bidgate_billed_micros_total", "partner" => claims.partner.clone(), "currency" => claims.currency.clone())
        .increment(claims.price_micros.max(0) as u64);
}
